"""Several gateway nodes (issue #15 item 4; docs/deployment.md): three
gateways on loopback, each its own httpd, audit log and chain (PDSNodeName
gw1..gw3) with the same keys, one PostgreSQL consent store and one memcached
as the shared consent cache (mod_socache_memcache). Mixed traffic through
all three; a revocation taken by one node is refused by the others within
the cache TTL (measured); PostgreSQL stopped: consent requests refused 503
consent-store-unavailable on every node, audited, until it returns;
memcached stopped: every node falls back to the store (the cache is an
optimisation) and revocations stay immediate, caching resumes when it
returns; at the end `pds-audit verify --nodes` over the three logs and
`pds-audit query --nodes` merged across them.

The tests run in order on one cluster (module fixture) and take about half
a minute. They skip only when PostgreSQL's binaries are missing
(tools/install-deps.sh installs them; CI runs it). The figures printed
(pytest -s) are the ones docs/deployment.md quotes."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import pds_harness as H
import pds_postgres
from pds_configs import (CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS, OTHER_SUBJECT,
                         PATH, SUBJECT, AUTH_MODULES)
from test_consent import CONSENT_AGREEMENT, nobody_owned_dir
from test_consent_deploy import (GRANT, MEMCACHED, call, consented_location, htpasswd_file,
                                 person_api, receipt_key)
from test_pds_audit import audit_directives, make_keys, run

NODES = ("gw1", "gw2", "gw3")
TTL = 3                         # PDSConsentCache ... TTL: the revocation bound, seconds
MARGIN = 1.5                    # for a loaded 2-core machine
CACHE_HUNG = 1.0                # CACHE_HUNG_MS of mod_pds_consent_cache.c
CONSENTED = "/consented/%s/record" % SUBJECT
UNCONSENTED = "/consented/%s/record" % OTHER_SUBJECT
# PDS00533-PDS00536, PDS00540: the index of disclosures, kept from the background
STORE_DOWN_LOGS = ("PDS00088", "PDS00093", "PDS00094", "PDS00095", r"PDS005(3[3-6]|40)")
CACHE_DOWN_LOGS = (r"scache_mc", r"AH0079\d", r"AH0078\d")     # mod_socache_memcache


class Memcached:
    """memcached on 127.0.0.1 on a free port outside the ephemeral range (so
    that it can come back on the same port), stopped at the end."""

    def __init__(self):
        if not os.access(MEMCACHED, os.X_OK):
            pytest.fail("memcached is not installed (tools/install-deps.sh installs it)")
        self.port = pds_postgres.pick_port()
        self.proc = None

    def start(self):
        args = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "16"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        H.wait_for_ports([self.port], 10)

    def kill(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def command(self, line):
        """memcached's answer to one text-protocol command ending in END."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(line.encode() + b"\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode().splitlines()

    def metadump(self):
        """{key: seconds to expiry (-1: none)} of every item (lru_crawler)."""
        now, out = time.time(), {}
        for line in self.command("lru_crawler metadump all"):
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if "key" in fields:
                exp = int(fields.get("exp", "-1"))
                out[fields["key"]] = exp - now if exp > 0 else -1
        return out

    def items(self):
        """curr_items from memcached's stats."""
        for line in self.command("stats"):
            if line.startswith("STAT curr_items "):
                return int(line.split()[2])
        return 0


class Cluster:
    def __init__(self, gws, pg, mc, keys, pw):
        self.gws, self.pg, self.mc, self.keys, self.pw = gws, pg, mc, keys, pw
        self.sent = []          # (node, request id, status): every audited request
        self.live = None        # the id of SUBJECT's live consent

    def ask(self, i, path, who="health-board", purpose="care-planning"):
        r = self.gws[i].get(path, who=who, purpose=purpose)
        self.sent.append((NODES[i], r.headers.get("PDS-Request-Id"), r.status_code))
        return r

    def grant(self, i, subject=SUBJECT):
        g = call(self.gws[i], "POST", "/consents", (subject, "pw"), GRANT)
        assert g.status_code == 201, H.describe(g)
        self.sent.append((NODES[i], g.headers.get("PDS-Request-Id"), 201))
        return g.json()["consent"]["id"]

    def revoke(self, i, cid, subject=SUBJECT):
        r = call(self.gws[i], "POST", "/consents/%s/revoke" % cid, (subject, "pw"))
        assert r.status_code == 200, H.describe(r)
        self.sent.append((NODES[i], r.headers.get("PDS-Request-Id"), 200))

    def until(self, i, path, status, timeout):
        """Asks node i until it answers status; seconds it took."""
        start = time.monotonic()
        while True:
            r = self.ask(i, path)
            if r.status_code == status:
                return time.monotonic() - start, r
            assert time.monotonic() - start < timeout, (
                "node %s still answers %d after %.1f s:\n%s"
                % (NODES[i], r.status_code, timeout, H.describe(r)))
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(gateway_factory, tmp_path_factory):
    ok, why = pds_postgres.postgres_available()
    if not ok:
        pytest.skip("PostgreSQL is needed (tools/install-deps.sh installs it): " + why)
    pg = pds_postgres.Postgres()
    mc = Memcached()
    shared = nobody_owned_dir("pds-e2e-multinode-")
    try:
        pg.start()
        mc.start()
        keydir = str(tmp_path_factory.mktemp("cluster-keys"))
        keys = make_keys(keydir)            # the same audit and checkpoint keys everywhere
        receipt = receipt_key(keydir)       # and the same receipt key
        pw = htpasswd_file(shared, [(SUBJECT, "pw"), (OTHER_SUBJECT, "pw")])
        modules = AUTH_MODULES + [("socache_memcache_module", "mod_socache_memcache.so")]
        gws = []
        for node in NODES:
            body = ("PDSNodeName %s\n" % node + ORGANISATIONS
                    + 'PDSConsentStore pgsql "%s"\n' % pg.conninfo
                    + "PDSConsentStoreTimeout 500\n"
                    + 'PDSConsentReceiptKey "%s"\n' % receipt
                    + "PDSConsentCache memcache:127.0.0.1:%d %d\n" % (mc.port, TTL)
                    + HB_DIRECT_CARE + CITIZENS_LOCATION
                    + CONSENT_AGREEMENT + consented_location() + person_api(pw))
            gws.append(gateway_factory(body, extra_modules=modules,
                                       audit_directives=audit_directives(keys)))
        yield Cluster(gws, pg, mc, keys, pw)
    finally:
        mc.kill()
        pg.stop()
        shutil.rmtree(shared, ignore_errors=True)


def test_mixed_traffic_through_every_node(cluster):
    c = cluster
    c.live = c.grant(0)                     # SUBJECT's one live consent
    for i in range(3):
        assert c.ask(i, PATH, purpose="direct-care").status_code == 200       # public task
        H.assert_problem(c.ask(i, PATH, who=None), "unknown-caller", 401)
        H.assert_problem(c.ask(i, PATH, purpose="marketing"), "purpose-mismatch", 403)
        assert c.ask(i, CONSENTED).status_code == 200                          # consent
        H.assert_problem(c.ask(i, UNCONSENTED), "consent-missing", 403)
    assert c.mc.items() > 0, "nothing was put in memcached"
    # no subject in a key (docs/deployment.md), and each entry expires
    # within the TTL in memcached too
    dump = c.mc.metadump()
    assert dump and not any(SUBJECT.encode().hex() in k or SUBJECT in k for k in dump), dump
    assert all(0 < left <= TTL + 1 for left in dump.values()), dump
    for i, gw in enumerate(c.gws):
        for rec in gw.httpd.audit_records():
            assert rec["node"] == NODES[i], rec


def test_a_revocation_on_one_node_is_refused_by_the_others_within_the_ttl(cluster):
    c = cluster
    cid = c.live                            # granted through gw1, revoked through gw2
    for i in range(3):                      # every node has read (and cached) it
        assert c.ask(i, CONSENTED).status_code == 200
        assert c.ask(i, CONSENTED).status_code == 200
    c.revoke(1, cid)
    revoked = time.monotonic()
    H.assert_problem(c.ask(1, CONSENTED), "consent-revoked", 403)   # at once where taken
    took = {}
    for i in (0, 2):
        c.until(i, CONSENTED, 403, TTL + MARGIN)
        took[NODES[i]] = time.monotonic() - revoked
    print("\nrevocation on gw2 refused by gw1 after %.2f s, gw3 after %.2f s (TTL %d s)"
          % (took["gw1"], took["gw3"], TTL))
    assert max(took.values()) <= TTL + MARGIN, took
    c.live = c.grant(1)                     # a live consent again for what follows


@pytest.mark.allow_log(*STORE_DOWN_LOGS)
def test_postgresql_down_every_node_refuses_503_audited_then_recovers(cluster):
    c = cluster
    for i in range(3):
        assert c.ask(i, CONSENTED).status_code == 200
    c.pg.kill()
    down = time.monotonic()
    # a decision cached before the store went down may be served until the TTL
    for i in range(3):
        _, r = c.until(i, CONSENTED, 503, TTL + MARGIN + 2)
        H.assert_problem(r, "consent-store-unavailable", 503)
        rec = c.gws[i].audit_for(r)
        assert (rec["decision"], rec["reason"], rec["status"], rec["node"]) == (
            "deny", "consent-store-unavailable", 503, NODES[i]), rec
    refused_after = time.monotonic() - down
    before = len(c.gws[0].backend.requests())
    for i in range(3):
        H.assert_problem(c.ask(i, CONSENTED), "consent-store-unavailable", 503)
        # public task checks the opt-out register: refused too, never released
        H.assert_problem(c.ask(i, PATH, purpose="direct-care"), "consent-store-unavailable",
                         503)
        # what needs no store is decided as before
        H.assert_problem(c.ask(i, PATH, who=None), "unknown-caller", 401)
        api = call(c.gws[i], "GET", "/consents", (SUBJECT, "pw"))
        H.assert_problem(api, "consent-store-unavailable", 503)
    assert len(c.gws[0].backend.requests()) == before, "the back end was reached"
    c.pg.restart()
    back = time.monotonic()
    recovered = max(c.until(i, CONSENTED, 200, 15)[0] for i in range(3))
    print("\nPostgreSQL down: every node 503 after %.2f s (TTL %d s); back: every node "
          "serves again %.2f s after the restart" % (refused_after, TTL, recovered))
    assert refused_after <= TTL + MARGIN + 2
    assert time.monotonic() - back < 15


@pytest.mark.allow_log(*CACHE_DOWN_LOGS)
def test_memcached_down_every_node_reads_the_store_then_caches_again(cluster):
    c = cluster
    c.mc.kill()
    timings = []
    for i in range(3):
        t = time.monotonic()
        assert c.ask(i, CONSENTED).status_code == 200, "no fallback to the store"
        timings.append(time.monotonic() - t)
        assert c.ask(i, PATH, purpose="direct-care").status_code == 200
    # revocation stays immediate everywhere: no cache to hold the old answer
    cid = c.grant(2, OTHER_SUBJECT)
    for i in range(3):
        assert c.ask(i, UNCONSENTED).status_code == 200
    c.revoke(2, cid, OTHER_SUBJECT)
    for i in range(3):
        H.assert_problem(c.ask(i, UNCONSENTED), "consent-revoked", 403)
    c.mc.start()
    back = time.monotonic()
    while c.mc.items() == 0:
        for i in range(3):
            assert c.ask(i, CONSENTED).status_code == 200
        assert time.monotonic() - back < 30, "the nodes never used memcached again"
        time.sleep(0.2)
    resumed = time.monotonic() - back
    for gw in c.gws:
        text = H.read_text(gw.httpd.error_log)
        assert "scache_mc" in text      # mod_socache_memcache says the cache is out
        assert SUBJECT not in text and SUBJECT.encode().hex() not in text
    print("\nmemcached down: requests served from the store (slowest %.3f s); caching "
          "resumed %.2f s after memcached came back" % (max(timings), resumed))
    # and a revocation after the cache returned is still refused by the others
    cid = c.grant(0, OTHER_SUBJECT)
    for i in range(3):
        assert c.ask(i, UNCONSENTED).status_code == 200
    c.revoke(0, cid, OTHER_SUBJECT)
    revoked = time.monotonic()
    for i in (1, 2):
        c.until(i, UNCONSENTED, 403, TTL + MARGIN)
    assert time.monotonic() - revoked <= TTL + MARGIN


def own_session_get(gw):
    """A consent request on a session of its own (a thread may wait in it)."""
    with H.requests.Session() as s:
        s.trust_env = False
        s.verify = gw.pki.ca_cert
        cert = gw.pki["health-board"]
        s.cert = (cert.cert, cert.key)
        return s.get(gw.url(CONSENTED), headers={"PDS-Purpose": "care-planning"},
                     timeout=60).status_code


@pytest.mark.allow_log("PDS00472")
def test_memcached_hung_every_node_leaves_it_out_then_uses_it_again(cluster):
    """A memcached that accepts and never answers (stopped): apr_memcache
    reads without a timeout, so the call that meets it waits; once calls
    have been pending a second, the node's other lookups leave the cache out
    and read the store; when memcached answers again, so does the cache."""
    c = cluster
    stuck = []
    c.mc.proc.send_signal(signal.SIGSTOP)
    try:
        for i in range(3):
            t = threading.Thread(target=lambda i=i: stuck.append(own_session_get(c.gws[i])))
            t.start()
        time.sleep(CACHE_HUNG + 0.3)
        slowest = 0.0
        for i in range(3):
            t = time.monotonic()
            assert c.ask(i, CONSENTED).status_code == 200
            slowest = max(slowest, time.monotonic() - t)
        # a revocation meanwhile is refused everywhere at once (no cache read)
        cid = c.grant(1, OTHER_SUBJECT)
        c.revoke(1, cid, OTHER_SUBJECT)
        for i in range(3):
            H.assert_problem(c.ask(i, UNCONSENTED), "consent-revoked", 403)
    finally:
        c.mc.proc.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 20
    while len(stuck) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stuck == [200, 200, 200], stuck
    for gw in c.gws:
        text = H.read_text(gw.httpd.error_log)
        assert "PDS00472" in text and "PDS00473" in text, text[-2000:]
    print("\nmemcached hung: one call per node waits for it; after %.1f s the others read "
          "the store (slowest %.3f s); the cache answers again on SIGCONT"
          % (CACHE_HUNG, slowest))
    assert slowest < 1.0


def test_pds_audit_verifies_every_chain_and_merges_them(cluster):
    c = cluster
    logs = [gw.httpd.audit_path for gw in c.gws]
    rc, out, err = run("verify", "--key", c.keys["hmac"], "--public-key", c.keys["public"],
                       "--nodes", *logs)
    assert rc == 0, out + err
    assert "all 3 node logs intact: gw1 (%s) gw2 (%s) gw3 (%s)" % tuple(logs) in out, out
    rc, out, err = run("query", "--nodes", "--format", "jsonl", *logs)
    assert rc == 0, out + err
    recs = [json.loads(l) for l in out.splitlines()]
    assert [r["time"] for r in recs] == sorted(r["time"] for r in recs)
    got = {(r["node"], r["request_id"]) for r in recs}
    sent = {(n, rid) for n, rid, _ in c.sent if rid}
    assert sent <= got, sorted(sent - got)[:5]
    assert {r["node"] for r in recs} == set(NODES)
    assert len(recs) == sum(len(gw.httpd.audit_records()) for gw in c.gws)
    refusals = [r for r in recs if r["reason"] == "consent-store-unavailable"]
    assert {r["node"] for r in refusals} == set(NODES)
