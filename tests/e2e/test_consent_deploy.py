"""Consent deployments beyond the default: a cache shared by several
gateways (memcache), a PostgreSQL store that is down when httpd starts, and
the person's subject taken from a variable an authentication module sets
(PDSPersonSubject env:NAME), the store's file modes and the receipts' issuer.
SPEC: Issue 3 items 1, 3, 6, 7; issue #10 items 10, 11."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
import pds_postgres
from pds_configs import AUTH_MODULES, ORGANISATIONS, SUBJECT, person_location
from test_consent import CONSENT_AGREEMENT, nobody_owned_dir

MEMCACHED = "/usr/bin/memcached"


def receipt_key(directory):
    path = os.path.join(directory, "receipt.key")
    H.write_private(path, ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return path


def consented_location():
    return ("<Location /consented/>\n    PDSGateway on\n"
            "    ProxyPass %(backend)s/api/citizens/\n</Location>\n")


def person_api(htpasswd, extra=""):
    return "\n" + person_location("/my/consents", "pds-consent", htpasswd, extra)


def htpasswd_file(directory, users):
    return H.write_htpasswd(os.path.join(directory, "htpasswd"), users)


def call(gw, method, path, auth, body=None):
    s = H.requests.Session()
    s.trust_env = False
    kw = {"timeout": 20, "auth": auth, "verify": gw.pki.ca_cert}
    if body is not None:
        kw["data"] = json.dumps(body)
        kw["headers"] = {"Content-Type": "application/json"}
    with s:
        return s.request(method, gw.url("/my/consents" + path), **kw)


GRANT = {"organisation": "health-board", "purpose": "care-planning",
         "fields": ["name.given"], "notice": "n-1"}


@pytest.fixture
def memcached():
    if not os.access(MEMCACHED, os.X_OK):
        pytest.fail("memcached is not installed (tools/install-deps.sh installs it)")
    port = H.free_port()
    args = [MEMCACHED, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    H.wait_for_ports([port], 10)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_a_shared_cache_makes_revocation_immediate_on_every_node(gateway_factory, memcached,
                                                                 tmp_path_factory):
    """Two gateways, one store, one memcache: a revocation taken by the first
    evicts the shared entry, so the second refuses at once, although the
    TTL (60 s) would have let it release data for a minute."""
    shared = nobody_owned_dir("pds-e2e-memcache-")
    try:
        pw = htpasswd_file(shared, [(SUBJECT, "pw")])
        body = (ORGANISATIONS
                + 'PDSConsentStore sqlite3 "%s/consent.db"\n' % shared
                + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
                + "PDSConsentCache memcache:127.0.0.1:%d 60\n" % memcached
                + CONSENT_AGREEMENT + consented_location() + person_api(pw))
        modules = AUTH_MODULES + [("socache_memcache_module", "mod_socache_memcache.so")]
        a = gateway_factory(body, extra_modules=modules)
        b = gateway_factory(body, extra_modules=modules)
        g = call(a, "POST", "/consents", (SUBJECT, "pw"), GRANT)
        assert g.status_code == 201, H.describe(g)
        cid = g.json()["consent"]["id"]
        path = "/consented/%s/record" % SUBJECT
        assert a.get(path, purpose="care-planning").status_code == 200
        assert b.get(path, purpose="care-planning").status_code == 200   # cached, shared
        r = call(a, "POST", "/consents/%s/revoke" % cid, (SUBJECT, "pw"))
        assert r.status_code == 200, H.describe(r)
        H.assert_problem(b.get(path, purpose="care-planning"), "consent-revoked", 403)
        H.assert_problem(a.get(path, purpose="care-planning"), "consent-revoked", 403)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


class SlowSetProxy:
    """A TCP proxy in front of memcached that can hold back the next cache
    put ("set") for a while, letting everything else (get, delete) through:
    the window in which a fill that read the store before a revocation lands
    after the revocation cleared the entry, made wide enough to test every time."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.hold = 0.0
        self.held = threading.Event()
        self.sets = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def hold_next_set(self, seconds):
        with self.lock:
            self.hold = seconds
            self.held.clear()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, src, dst, to_memcached):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if to_memcached and data.startswith(b"set "):
                    with self.lock:
                        self.sets += 1
                        hold, self.hold = self.hold, 0.0
                    if hold:
                        self.held.set()
                        time.sleep(hold)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.listener.close()


def test_a_late_fill_never_outlives_a_revocation(gateway_factory, memcached, tmp_path_factory):
    """Issue #10 item 6, the window held open: a read misses the cache, reads
    the store (consent active), and its put is held back until the person's
    revocation has committed and cleared the entry; the put then lands. After
    the revocation's answer the server that took it refuses at once, whether
    the late fill was its own or another server's (both share the memcache),
    and the cache still serves hits."""
    shared = nobody_owned_dir("pds-e2e-latefill-")
    proxy = SlowSetProxy(memcached)
    try:
        pw = htpasswd_file(shared, [(SUBJECT, "pw")])
        body = (ORGANISATIONS
                + 'PDSConsentStore sqlite3 "%s/consent.db"\n' % shared
                + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
                + "PDSConsentCache memcache:127.0.0.1:%d 60\n" % proxy.port
                + CONSENT_AGREEMENT + consented_location() + person_api(pw))
        modules = AUTH_MODULES + [("socache_memcache_module", "mod_socache_memcache.so")]
        a = gateway_factory(body, extra_modules=modules)
        b = gateway_factory(body, extra_modules=modules)
        path = "/consented/%s/record" % SUBJECT

        def read(gw):
            s = H.requests.Session()
            s.trust_env = False
            s.verify = gw.pki.ca_cert
            c = gw.pki["health-board"]
            s.cert = (c.cert, c.key)
            with s:
                return s.get(gw.url(path), headers={"PDS-Purpose": "care-planning"},
                             timeout=20).status_code

        for filler in (a, b, a):
            g = call(a, "POST", "/consents", (SUBJECT, "pw"), GRANT)
            assert g.status_code == 201, H.describe(g)
            proxy.hold_next_set(1.0)
            result = []
            t = threading.Thread(target=lambda: result.append(read(filler)))
            t.start()
            assert proxy.held.wait(10), "the read did not try to fill the cache"
            r = call(a, "POST", "/consents/%s/revoke" % g.json()["consent"]["id"],
                     (SUBJECT, "pw"))
            assert r.status_code == 200, H.describe(r)
            t.join(20)
            assert result == [200]          # it read the store before the revocation
            # the late entry is in the cache now; this server does not believe it
            H.assert_problem(a.get(path, purpose="care-planning"), "consent-revoked", 403)
            H.assert_problem(a.get(path, purpose="care-planning"), "consent-revoked", 403)

        # and the cache still caches: a second read is a hit (no second put)
        g = call(a, "POST", "/consents", (SUBJECT, "pw"), GRANT)
        assert g.status_code == 201, H.describe(g)
        before = proxy.sets
        assert a.get(path, purpose="care-planning").status_code == 200
        assert a.get(path, purpose="care-planning").status_code == 200
        assert a.get(path, purpose="care-planning").status_code == 200
        assert proxy.sets == before + 1
    finally:
        proxy.close()
        shutil.rmtree(shared, ignore_errors=True)


def test_the_consent_cache_across_graceful_restarts(gateway_factory, tmp_path_factory):
    """The fill generations live in shared memory kept across graceful
    restarts (httpd's lifecycle: made once in post_config, inherited by every
    child): after each restart, reads are cached and a revocation still takes
    effect at once, with nothing in the error log."""
    shared = nobody_owned_dir("pds-e2e-cache-graceful-")
    try:
        pw = htpasswd_file(shared, [(SUBJECT, "pw")])
        body = (ORGANISATIONS + 'PDSConsentStore sqlite3 "%s/consent.db"\n' % shared
                + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
                + "PDSConsentCache shmcb 60\n"
                + CONSENT_AGREEMENT + consented_location() + person_api(pw))
        gw = gateway_factory(body, extra_modules=AUTH_MODULES)
        path = "/consented/%s/record" % SUBJECT
        log = gw.httpd.error_log
        for _ in range(3):
            g = call(gw, "POST", "/consents", (SUBJECT, "pw"), GRANT)
            assert g.status_code == 201, H.describe(g)
            assert gw.get(path, purpose="care-planning").status_code == 200
            restarts = H.read_text(log).count("resuming normal operations")
            os.kill(gw.httpd.proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while H.read_text(log).count("resuming normal operations") <= restarts:
                assert time.monotonic() < deadline, "no graceful restart:\n" + H.read_text(log)
                time.sleep(0.05)
            gw.close_sessions()
            assert gw.get(path, purpose="care-planning").status_code == 200
            assert gw.get(path, purpose="care-planning").status_code == 200
            r = call(gw, "POST", "/consents/%s/revoke" % g.json()["consent"]["id"],
                     (SUBJECT, "pw"))
            assert r.status_code == 200, H.describe(r)
            H.assert_problem(gw.get(path, purpose="care-planning"), "consent-revoked", 403)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.allow_log("PDS00084", "PDS00088", "PDS00093", "PDS00095", r"PDS005(3[3-6]|40)")
def test_postgresql_down_at_start_then_up(gateway_factory, tmp_path_factory, log_allow):
    """httpd starts although its PostgreSQL store is down, refuses consent
    requests with 503 meanwhile, and works once the server is up (the schema
    is created then)."""
    ok, why = pds_postgres.postgres_available()
    if not ok:
        pytest.fail("PostgreSQL is needed: " + why)
    port = H.free_port()
    pg = pds_postgres.Postgres(port=port)
    shared = nobody_owned_dir("pds-e2e-pgdown-")
    try:
        pw = htpasswd_file(shared, [(SUBJECT, "pw")])
        conninfo = "host=127.0.0.1 port=%d dbname=pds user=pds password=pds-test" % port
        body = (ORGANISATIONS + 'PDSConsentStore pgsql "%s"\n' % conninfo
                + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
                + "PDSConsentStoreTimeout 500\n"
                + CONSENT_AGREEMENT + consented_location() + person_api(pw))
        gw = gateway_factory(body, extra_modules=AUTH_MODULES, allow_startup=["PDS00084"])
        path = "/consented/%s/record" % SUBJECT
        r = gw.get(path, purpose="care-planning")
        H.assert_problem(r, "consent-store-unavailable", 503)
        assert gw.backend.requests() == []
        H.assert_problem(call(gw, "GET", "/consents", (SUBJECT, "pw")),
                         "consent-store-unavailable", 503)
        pg.start()
        deadline = time.monotonic() + 10
        while True:
            r = gw.get(path, purpose="care-planning")
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        H.assert_problem(r, "consent-missing", 403)
        assert call(gw, "POST", "/consents", (SUBJECT, "pw"), GRANT).status_code == 201
        assert gw.get(path, purpose="care-planning").status_code == 200
        assert "pds_consents" in pg.psql("SELECT tablename FROM pg_tables")
        H.stop_gateways([gw])       # with its store (it would go on indexing into it)
    finally:
        pg.stop()
        shutil.rmtree(shared, ignore_errors=True)


def test_the_person_can_come_from_an_authentication_variable(gateway_factory,
                                                             tmp_path_factory):
    """PDSPersonSubject env:NAME: the subject is what the authentication
    layer put in NAME (here mod_rewrite maps the login "resident-<id>" to
    <id> once Basic auth has run), not the user name itself."""
    shared = nobody_owned_dir("pds-e2e-envsubject-")
    try:
        pw = htpasswd_file(shared, [("resident-" + SUBJECT, "pw"), ("someone", "pw")])
        mapping = """    PDSPersonSubject env:PDS_PERSON
    RewriteEngine on
    RewriteCond %%{REMOTE_USER} ^resident-([0-9]+)$
    RewriteRule ^ - [E=PDS_PERSON:%%1]"""
        body = (ORGANISATIONS
                + 'PDSConsentStore sqlite3 "%s/consent.db"\n' % shared
                + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
                + CONSENT_AGREEMENT + consented_location() + person_api(pw, mapping))
        gw = gateway_factory(body, extra_modules=AUTH_MODULES
                             + [("rewrite_module", "mod_rewrite.so")])
        r = call(gw, "GET", "/consents", ("resident-" + SUBJECT, "pw"))
        assert r.status_code == 200, H.describe(r)
        assert r.json()["subject"] == SUBJECT
        # a login the mapping does not cover is no person
        H.assert_problem(call(gw, "GET", "/consents", ("someone", "pw")),
                         "person-not-identified", 401)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def consent_files(path):
    return [path + suffix for suffix in ("", "-wal", "-shm")]


def test_the_sqlite_store_and_its_journal_are_private(gateway_factory, tmp_path_factory):
    """Issue #10 item 11: consent.db, -wal and -shm hold every person's
    consents: owner-only (0600) and owned by httpd's User, however they came
    to exist (created by the gateway, by SQLite in a child, or left 0644 by an
    older version), while the gateway serves requests and after it stops."""
    shared = nobody_owned_dir("pds-e2e-store-mode-")
    old_umask = os.umask(0o022)
    try:
        pw = htpasswd_file(shared, [(SUBJECT, "pw")])
        db = os.path.join(shared, "consent.db")
        body = (ORGANISATIONS + 'PDSConsentStore sqlite3 "%s"\n' % db
                + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
                + CONSENT_AGREEMENT + consented_location() + person_api(pw))
        gw = gateway_factory(body, extra_modules=AUTH_MODULES)
        g = call(gw, "POST", "/consents", (SUBJECT, "pw"), GRANT)
        assert g.status_code == 201, H.describe(g)
        assert gw.get("/consented/%s/record" % SUBJECT, purpose="care-planning").status_code == 200
        r = call(gw, "POST", "/consents/%s/pause" % g.json()["consent"]["id"], (SUBJECT, "pw"))
        assert r.status_code == 200, H.describe(r)
        files = consent_files(db)
        assert all(os.path.exists(f) for f in files), os.listdir(shared)
        for f in files:
            st = os.stat(f)
            assert st.st_mode & 0o077 == 0, "%s is mode %o" % (f, st.st_mode & 0o777)
            if os.geteuid() == 0:
                assert pwd.getpwuid(st.st_uid).pw_name == "nobody", f
        gw.httpd.stop()
        for f in consent_files(db):
            if os.path.exists(f):
                assert os.stat(f).st_mode & 0o077 == 0, f

        # a store an older version left world-readable is tightened at startup
        for f in consent_files(db):
            if os.path.exists(f):
                os.chmod(f, 0o644)
        gw2 = gateway_factory(body, extra_modules=AUTH_MODULES)
        r = call(gw2, "GET", "/consents", (SUBJECT, "pw"))
        assert r.status_code == 200 and len(r.json()["consents"]) == 1, H.describe(r)
        for f in consent_files(db):
            if os.path.exists(f):
                st = os.stat(f)
                assert st.st_mode & 0o077 == 0, "%s is mode %o" % (f, st.st_mode & 0o777)
    finally:
        os.umask(old_umask)
        shutil.rmtree(shared, ignore_errors=True)


def test_the_receipt_issuer_defaults_to_the_server_name(gateway_factory, tmp_path_factory):
    """Issue #10 item 10: without PDSConsentReceiptIssuer a receipt's iss is
    the main server's ServerName (localhost in the harness), never the Host
    the client sent."""
    shared = nobody_owned_dir("pds-e2e-issuer-")
    try:
        pw = htpasswd_file(shared, [(SUBJECT, "pw")])
        body = (ORGANISATIONS + 'PDSConsentStore sqlite3 "%s/consent.db"\n' % shared
                + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
                + CONSENT_AGREEMENT + consented_location() + person_api(pw))
        gw = gateway_factory(body, extra_modules=AUTH_MODULES)
        s = H.requests.Session()
        s.trust_env = False
        with s:
            r = s.post(gw.url("/my/consents/consents"), auth=(SUBJECT, "pw"),
                       verify=gw.pki.ca_cert, timeout=20, data=json.dumps(GRANT),
                       headers={"Content-Type": "application/json", "Host": "evil.example"})
        assert r.status_code == 201, H.describe(r)
        payload = json.loads(H.b64url_decode(r.json()["receipt"].split(".")[1]))
        assert payload["iss"] == "localhost"
    finally:
        shutil.rmtree(shared, ignore_errors=True)
