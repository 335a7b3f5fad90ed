"""A reload never takes the server down: whatever the start would fail on
(the audit log's directory gone, the consent store's directory gone, the
trust registry gone, a cache provider not loaded) fails `httpd -t` with the
file, the line and what to do, so that `apachectl graceful` (which runs the
test first) refuses and the running server keeps answering. Issue #10, item 12.

httpd itself cannot keep the old generation when a configuration fails
during a restart (its parent exits), so the only protection is that the
test run by apachectl catches everything the start would fail on."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, HB_FIELDS, ORGANISATIONS, PATH, SUBJECT

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION
APACHECTL = "/usr/sbin/apache2ctl"


@pytest.fixture
def started(request, httpd_factory, pki, token_keys, backend):
    """start(body, **opts) -> a started Gateway, with `prepare(httpd)` run
    before the start; stopped at the end of the test."""
    made = []

    def start(body, prepare=None, **opts):
        h = httpd_factory(body, **opts)
        if prepare is not None:
            prepare(h)
        h.start()
        gw = H.Gateway(h, pki, token_keys, backend)
        made.append(gw)
        return gw

    yield start
    H.stop_gateways(made)


def apachectl(h, action):
    """Debian's apache2ctl on this test's httpd: (exit status, output)."""
    run = os.path.join(h.root, "run")
    env = dict(H.httpd_env(), APACHE_CONFDIR=os.path.join(h.root, "conf"),
               APACHE_ENVVARS=os.path.join(h.root, "conf", "no-envvars"),
               APACHE_ARGUMENTS="-f %s" % h.conf_path, APACHE_HTTPD=h.httpd_bin,
               APACHE_RUN_DIR=run, APACHE_LOCK_DIR=os.path.join(run, "lock"),
               APACHE_RUN_USER="nobody", APACHE_ULIMIT_MAX_FILES="true")
    proc = subprocess.run([APACHECTL, action], capture_output=True, text=True, timeout=60,
                          env=env)
    return proc.returncode, proc.stdout + proc.stderr


def generations(h):
    return h.error_log_text().count("resuming normal operations")


def wait_for_generation(h, count):
    deadline = time.monotonic() + 15
    while generations(h) < count:
        assert h.running, "httpd exited on the graceful restart:\n" + h.error_log_text()
        assert time.monotonic() < deadline, "no graceful restart seen:\n" + h.error_log_text()
        time.sleep(0.05)


def assert_answers(gw, residents, audited=True, denial=None):
    """The gateway answers with the filtered record (audited=False: the
    audit log was removed under it, so its record is not on the path), or,
    with what it depends on gone, possibly with this denial (it fails
    closed, unless a connection opened before still works)."""
    gw.close_sessions()
    r = gw.get(PATH)
    expected = H.pick(residents[SUBJECT], *HB_FIELDS)
    if denial is not None and r.status_code != 200:
        H.assert_problem(r, denial)
    elif audited:
        H.assert_allowed(gw, r, expected, "hb-direct-care", "3")
    else:
        assert r.status_code == 200 and r.json() == expected, H.describe(r)


def assert_refused(h, rc, out, directive, line_text, words):
    assert rc != 0, "the configuration was accepted:\n" + out
    assert directive in out, out
    assert h.conf_path in out, "the file is not named:\n" + out
    n = h.line_of(line_text)
    assert re.search(r"line %d\b" % n, out), "line %d is not named:\n%s" % (n, out)
    assert any(w in out for w in words), "none of %r in:\n%s" % (words, out)


def graceful_is_refused_and_server_keeps_answering(gw, residents, directive, line_text,
                                                   words, audited=True, denial=None):
    h = gw.httpd
    before = generations(h)
    rc, out = h.config_test()
    assert_refused(h, rc, out, directive, line_text, words)
    rc, out = apachectl(h, "graceful")
    assert_refused(h, rc, out, directive, line_text, words)
    time.sleep(1.0)         # a restart, had one been signalled, would be under way
    assert h.running, "the server exited:\n" + h.error_log_text()
    assert generations(h) == before
    assert_answers(gw, residents, audited, denial)


def graceful_works_again(gw, residents):
    h = gw.httpd
    before = generations(h)
    rc, out = apachectl(h, "graceful")
    assert rc == 0, out
    wait_for_generation(h, before + 1)
    assert_answers(gw, residents)


def test_audit_log_directory_removed(started, residents):
    audit_dir = None

    def prepare(h):
        nonlocal audit_dir
        audit_dir = os.path.join(h.root, "audit")
        os.makedirs(audit_dir)

    gw = started(CONFIG, prepare=prepare, audit_log="audit/audit.jsonl")
    assert_answers(gw, residents)
    shutil.rmtree(audit_dir)
    graceful_is_refused_and_server_keeps_answering(
        gw, residents, "PDSAuditLog", "PDSAuditLog", ["mkdir -p %s" % audit_dir],
        audited=False)
    os.makedirs(audit_dir)
    graceful_works_again(gw, residents)


def test_audit_key_removed(started, residents):
    """A key file gone: its directive fails `-t` (keys are read by their
    directives), so the graceful restart is refused."""
    gw = started(CONFIG)
    key = gw.httpd.audit_key_path
    os.rename(key, key + ".moved")
    try:
        graceful_is_refused_and_server_keeps_answering(
            gw, residents, "PDSAuditKey", "PDSAuditKey", ["cannot read"])
    finally:
        os.rename(key + ".moved", key)
    graceful_works_again(gw, residents)


def test_audit_log_path_is_a_directory(httpd_factory):
    h = httpd_factory(CONFIG)
    os.makedirs(h.audit_path)
    rc, out = h.config_test()
    assert_refused(h, rc, out, "PDSAuditLog", "PDSAuditLog", ["a directory, not a file"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any directory")
def test_audit_log_directory_not_writable(httpd_factory):
    h = httpd_factory(CONFIG)
    os.chmod(os.path.dirname(h.audit_path), 0o555)
    try:
        rc, out = h.config_test()
    finally:
        os.chmod(os.path.dirname(h.audit_path), 0o755)
    assert_refused(h, rc, out, "PDSAuditLog", "PDSAuditLog", ["not writable"])


def receipt_key(h):
    path = os.path.join(h.root, "conf", "receipt.pem")
    H.write_private(path, ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return path


def add_consent_store(h, db, extra=""):
    h.body += ('\nPDSConsentStore sqlite3 "%s"\nPDSConsentReceiptKey "%s"\n%s'
               % (db, receipt_key(h), extra))
    h.write_conf()


@pytest.mark.allow_log("PDS00088", "PDS00093", "PDS00094")
def users_dir(prefix="pds-reload-"):
    """A directory httpd's children (nobody, when root) can reach and write."""
    d = tempfile.mkdtemp(prefix=prefix)
    own(d)
    return d


def own(d):
    os.chmod(d, 0o755)
    if os.geteuid() == 0:
        shutil.chown(d, "nobody", "nogroup")


@pytest.fixture
def store_dir():
    d = users_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_consent_store_directory_removed(started, residents, store_dir):
    def prepare(h):
        add_consent_store(h, os.path.join(store_dir, "consent.db"))

    gw = started(CONFIG, prepare=prepare)
    assert_answers(gw, residents)
    shutil.rmtree(store_dir)
    graceful_is_refused_and_server_keeps_answering(
        gw, residents, "PDSConsentStore", "PDSConsentStore", ["mkdir -p %s" % store_dir],
        denial="consent-store-unavailable")
    os.makedirs(store_dir)
    own(store_dir)
    graceful_works_again(gw, residents)


@pytest.mark.skipif(os.geteuid() != 0, reason="User applies only when httpd starts as root")
def test_consent_store_directory_not_writable_by_user(httpd_factory, store_dir):
    h = httpd_factory(CONFIG)
    shutil.chown(store_dir, "root", "root")     # 0755 root's: the children cannot write
    add_consent_store(h, os.path.join(store_dir, "consent.db"))
    rc, out = h.config_test()
    assert_refused(h, rc, out, "PDSConsentStore", "PDSConsentStore",
                   ["chown nobody %s" % store_dir])


@pytest.mark.skipif(os.geteuid() != 0, reason="User applies only when httpd starts as root")
def test_consent_store_directory_not_reachable_by_user(httpd_factory, store_dir):
    h = httpd_factory(CONFIG)
    inner = os.path.join(store_dir, "inner")
    os.makedirs(inner)
    own(inner)
    shutil.chown(store_dir, "root", "root")
    os.chmod(store_dir, 0o700)                  # nobody cannot pass through it
    add_consent_store(h, os.path.join(inner, "consent.db"))
    rc, out = h.config_test()
    assert_refused(h, rc, out, "PDSConsentStore", "PDSConsentStore",
                   ["chmod o+x %s" % store_dir])


def test_trust_registry_removed(started, residents):
    registry = None

    def prepare(h):
        nonlocal registry
        registry = os.path.join(h.root, "conf", "trust-registry.json")
        with open(registry, "w") as f:
            json.dump({"issuers": [], "revoked": []}, f)
        h.body += '\nPDSConsentTrustRegistry "%s"\n' % registry
        h.write_conf()

    gw = started(CONFIG, prepare=prepare)
    assert_answers(gw, residents)
    os.rename(registry, registry + ".moved")
    graceful_is_refused_and_server_keeps_answering(
        gw, residents, "PDSConsentTrustRegistry", "PDSConsentTrustRegistry",
        [registry])
    os.rename(registry + ".moved", registry)
    graceful_works_again(gw, residents)


def test_consent_cache_provider_not_loaded(httpd_factory, store_dir):
    h = httpd_factory(CONFIG)
    add_consent_store(h, os.path.join(store_dir, "consent.db"),
                      "PDSConsentCache redis:127.0.0.1:6379\n")
    rc, out = h.config_test()
    assert_refused(h, rc, out, "PDSConsentCache", "PDSConsentCache",
                   ["LoadModule socache_redis_module"])


def test_consent_cache_arguments_refused(httpd_factory, store_dir):
    h = httpd_factory(CONFIG)
    add_consent_store(h, os.path.join(store_dir, "consent.db"),
                      "PDSConsentCache shmcb:%s/cache(1)\n" % h.root)
    rc, out = h.config_test()
    assert_refused(h, rc, out, "PDSConsentCache", "PDSConsentCache", ["shmcb"])
