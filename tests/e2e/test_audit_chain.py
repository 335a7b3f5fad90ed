"""The tamper-evident audit log through a real httpd: one chain across child
processes and threads, graceful and full restarts, rotation, refusal to
continue a chain it cannot vouch for, key discipline, pseudonymous subjects
and the fail-open policy. The chain is checked here by an independent Python
reading of the format in lib/pds_chain.h, not by our own C verifier.
SPEC: Issue 4 (PDSAuditKey, PDSAuditSigningKey, PDSAuditCheckpoint,
PDSAuditSubject, PDSAuditOnFailure), Rotation."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import time

import pytest
from cryptography.hazmat.primitives import serialization

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS, PATH, SUBJECT

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION
MAC_SUFFIX = re.compile(r',"mac":"([0-9a-f]{64})"\}$')
ZERO = "0" * 64


def _b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Chain:
    """Reads chained audit files (oldest first) and checks every rule."""

    def __init__(self, key_hex, public_pem):
        self.key = bytes.fromhex(key_hex.strip())
        self.public = serialization.load_pem_public_key(public_pem)
        self.lines = []          # (file, parsed record)
        self.checkpoints = 0

    def check(self, *paths):
        prev_line, prev_seq = None, 0
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            assert data.endswith(b"\n"), "%s ends with a partial line" % path
            for n, raw in enumerate(data.decode().split("\n")[:-1], 1):
                where = "%s:%d" % (path, n)
                m = MAC_SUFFIX.search(raw)
                assert m, "%s: no mac at the end: %s" % (where, raw[-90:])
                want = hmac.new(self.key, (raw[:m.start()] + "}").encode(),
                                hashlib.sha256).hexdigest()
                assert hmac.compare_digest(want, m.group(1)), "%s: bad mac" % where
                rec = json.loads(raw)
                assert list(rec)[:2] == ["seq", "prev"] and list(rec)[-1] == "mac", where
                assert rec["seq"] == prev_seq + 1, "%s: seq %s after %s" % (
                    where, rec["seq"], prev_seq)
                expected_prev = (hashlib.sha256(prev_line.encode()).hexdigest()
                                 if prev_line is not None else ZERO)
                assert rec["prev"] == expected_prev, "%s: broken chain" % where
                if n == 1 and prev_line is not None:
                    assert rec.get("type") == "file-start", "%s: no file-start" % where
                if rec.get("type") == "checkpoint":
                    self._check_signature(rec, where)
                prev_line, prev_seq = raw, rec["seq"]
                self.lines.append((path, rec))
        return self

    def _check_signature(self, rec, where):
        header, payload, sig = rec["sig"].split(".")
        assert json.loads(_b64url(header))["alg"] == "EdDSA", where
        self.public.verify(_b64url(sig), ("%s.%s" % (header, payload)).encode())
        body = json.loads(_b64url(payload))
        assert body == {"seq": rec["seq"], "prev": rec["prev"]}, where
        self.checkpoints += 1

    def decisions(self):
        return [rec for _, rec in self.lines if "type" not in rec]


def chain_of(gw, *paths):
    h = gw.httpd
    with open(h.audit_key_path) as f:
        key = f.read()
    with open(h.audit_public_key_path, "rb") as f:
        public = f.read()
    return Chain(key, public).check(*(paths or (h.audit_path,)))


def _get(gw, purpose="direct-care", session=None):
    c = gw.pki["health-board"]
    s = session or H.requests.Session()
    s.trust_env = False
    return s.get(gw.url(PATH), cert=(c.cert, c.key), verify=gw.pki.ca_cert, timeout=30,
                 headers={"PDS-Purpose": purpose})


def _burst(gw, total, workers):
    """`total` requests from `workers` keep-alive clients; one in three is
    refused (a purpose the agreement lacks)."""
    def one(purpose, s):
        try:
            return _get(gw, purpose, s)
        except H.requests.ConnectionError:
            # The server may close an idle keep-alive connection just as the
            # client reuses it (nothing was sent to the gateway): ask again.
            return _get(gw, purpose, s)

    def client(n):
        s = H.requests.Session()
        try:
            return [one("marketing" if (n + i) % 3 == 0 else "direct-care", s)
                    for i in range(total // workers)]
        finally:
            s.close()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return [r for batch in pool.map(client, range(workers)) for r in batch]


def _children(gw):
    out = os.popen("pgrep -P %d" % gw.httpd.proc.pid).read().split()
    return [int(p) for p in out]


def _wait_for(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def _graceful(gw):
    log = gw.httpd.error_log
    seen = H.read_text(log).count("resuming normal operations")
    os.kill(gw.httpd.proc.pid, signal.SIGUSR1)
    _wait_for(lambda: H.read_text(log).count("resuming normal operations") > seen,
              "a graceful restart")


# --------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def gw(gateway_factory):
    # Two child processes from the start, so the chain spans processes.
    return gateway_factory(CONFIG + "StartServers 2\n")


def test_one_chain_across_processes_and_threads(gw):
    assert len(_children(gw)) >= 2, "expected several httpd children"
    responses = _burst(gw, total=1200, workers=12)
    assert len(responses) == 1200
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 800 and statuses.count(403) == 400, set(statuses)
    chain = chain_of(gw)
    ids = [rec["request_id"] for rec in chain.decisions()]
    # Exactly one record per request, and one chain with no gap.
    for r in responses:
        assert ids.count(r.headers["PDS-Request-Id"]) == 1
    assert len(ids) == len(set(ids))
    # PDSAuditCheckpoint 50 5 (the harness's): signed checkpoints were written.
    assert chain.checkpoints >= 1200 // 50


def test_graceful_restart_continues_the_chain(gw):
    before = chain_of(gw).lines[-1][1]["seq"]
    _get(gw)
    _graceful(gw)
    responses = [_get(gw) for _ in range(5)]
    assert all(r.status_code == 200 for r in responses)
    chain = chain_of(gw)
    assert chain.lines[-1][1]["seq"] > before + 5
    ids = {rec["request_id"] for rec in chain.decisions()}
    assert all(r.headers["PDS-Request-Id"] in ids for r in responses)


def test_full_restart_continues_the_chain(gw):
    _get(gw)
    last = chain_of(gw).lines[-1][1]["seq"]
    gw.close_sessions()
    gw.httpd.stop()
    gw.httpd.start()
    r = _get(gw)
    assert r.status_code == 200
    chain = chain_of(gw)
    rec = [x for x in chain.decisions() if x["request_id"] == r.headers["PDS-Request-Id"]]
    assert len(rec) == 1 and rec[0]["seq"] == last + 1


def test_rotation_starts_a_file_that_names_the_last(gw):
    path = gw.httpd.audit_path
    _get(gw)
    rotated = path + ".1"
    os.rename(path, rotated)
    _graceful(gw)
    assert os.path.exists(path), "no new audit file after the rotation"
    responses = [_get(gw) for _ in range(3)]
    with open(path) as f:
        first = json.loads(f.readline())
    assert first["type"] == "file-start" and first["previous_file"] == path
    chain = chain_of(gw, rotated, path)     # checks the link between the files too
    ids = {rec["request_id"] for rec in chain.decisions()}
    assert all(r.headers["PDS-Request-Id"] in ids for r in responses)
    with open(path) as f:
        new_ids = {json.loads(l).get("request_id") for l in f}
    assert all(r.headers["PDS-Request-Id"] in new_ids for r in responses)


def test_a_changed_last_line_stops_the_gateway_from_continuing(gw, log_allow):
    _get(gw)
    gw.close_sessions()
    gw.httpd.stop()
    path = gw.httpd.audit_path
    with open(path) as f:
        lines = f.read().split("\n")
    original = "\n".join(lines)
    lines[-2] = lines[-2].replace('"seq":', '"seq": ', 1)   # one byte more, same JSON
    with open(path, "w") as f:
        f.write("\n".join(lines))
    try:
        with pytest.raises(H.HttpdError) as failed:
            gw.httpd.start()
        assert "PDS00048" in str(failed.value)
    finally:
        with open(path, "w") as f:
            f.write(original)
        gw.httpd.start()
    assert _get(gw).status_code == 200


# ------------------------------------------------------------ configuration

def test_audit_log_needs_a_key(httpd_factory):
    h = httpd_factory(CONFIG, audit_directives="")
    rc, out = h.config_test()
    assert rc != 0 and "PDS00005" in out and "PDSAuditKey" in out, out


def test_key_readable_by_others_is_refused(httpd_factory):
    h = httpd_factory(CONFIG)
    os.chmod(h.audit_key_path, 0o644)
    rc, out = h.config_test()
    assert rc != 0 and "PDSAuditKey" in out and "chmod 600" in out, out


def test_key_that_is_not_a_key_is_refused(httpd_factory):
    h = httpd_factory(CONFIG)
    with open(h.audit_key_path, "w") as f:
        f.write("not-hex\n")
    rc, out = h.config_test()
    assert rc != 0 and "PDSAuditKey" in out and "pds-audit keygen" in out, out


def test_rsa_signing_key_is_refused(httpd_factory, token_keys):
    h = httpd_factory(CONFIG, audit_directives=None)
    shutil.copy(os.path.join(token_keys.dir, "rsa.key.pem"), h.audit_signing_key_path)
    os.chmod(h.audit_signing_key_path, 0o600)
    rc, out = h.config_test()
    assert rc != 0 and "PDSAuditSigningKey" in out and "Ed25519" in out, out


# ------------------------------------------------------------------ subjects

@pytest.fixture(scope="module")
def pseudonymous_gw(gateway_factory, tmp_path_factory):
    keyfile = str(tmp_path_factory.mktemp("pskey") / "subjects.key")
    H.write_private(keyfile, (os.urandom(32).hex() + "\n").encode())
    gw = gateway_factory(CONFIG + 'PDSAuditSubject pseudonym "%s"\n' % keyfile)
    gw.pseudonym_key = keyfile
    return gw


def test_subjects_can_be_pseudonymous(pseudonymous_gw):
    gw = pseudonymous_gw
    r = _get(gw)
    assert r.status_code == 200
    rec = gw.audit_for(r)
    with open(gw.pseudonym_key) as f:
        key = bytes.fromhex(f.read().strip())
    expected = "ps:" + hmac.new(key, SUBJECT.encode(), hashlib.sha256).hexdigest()[:32]
    assert rec["subject"] == expected
    assert SUBJECT not in "\n".join(gw.httpd.audit_all_lines())
    chain_of(gw)


# ------------------------------------------------------------ failure policy

@pytest.fixture(scope="module")
def fail_open_gw(gateway_factory):
    return gateway_factory(CONFIG + "PDSAuditOnFailure allow\n", audit_log="/dev/full")


def test_fail_open_is_an_explicit_choice(fail_open_gw, log_allow):
    log_allow.extend(["PDS00045", "PDS00055"])
    r = _get(fail_open_gw)
    assert r.status_code == 200
    text = fail_open_gw.httpd.error_log_text()
    assert "PDS00055" in text and "WITHOUT an audit record" in text
    assert os.stat("/dev/full").st_uid == 0, "the module changed the owner of /dev/full"
    assert not os.path.exists("/dev/full.head"), "a head file beside a device"


# -------------------------------------------------------------------- prefork

@pytest.fixture(scope="module")
def prefork_gw(gateway_factory):
    return gateway_factory(CONFIG, mpm="prefork")


def test_one_chain_under_the_prefork_mpm(prefork_gw):
    gw = prefork_gw
    assert len(_children(gw)) >= 2, "expected several prefork children"
    responses = _burst(gw, total=400, workers=4)
    assert all(r.status_code in (200, 403) for r in responses)
    assert 200 in [r.status_code for r in responses] and 403 in [r.status_code for r in responses]
    chain = chain_of(gw)
    ids = [rec["request_id"] for rec in chain.decisions()]
    assert len(ids) == len(set(ids))
    for r in responses:
        assert ids.count(r.headers["PDS-Request-Id"]) == 1
