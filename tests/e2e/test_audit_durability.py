"""Durable before release, with group commit (PDSAuditSync on, the default;
issue #13): the whole server is killed with SIGKILL while eight clients load
it; afterwards `pds-audit verify` accepts the log, every response a client
received with 200 has its record in it, and the server starts again on that
log and goes on with the chain. Run under the event MPM (threads in two
processes) and prefork (processes only), since the syncer and its waiters
may be in different processes.

What this proves: no response leaves before its record was written and a
sync covering it completed, and a syncer killed in the middle hangs nobody.
A killed process leaves the page cache intact, so it cannot prove the sync
itself reached the platter; the unit tests (tests/unit/test_group_commit.c)
show a response is never released before the sync covering it returned."""
import concurrent.futures
import re
import os
import signal
import subprocess
import threading
import time

import pytest

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS, PATH

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION
CLIENTS = 8
MAX_LOAD_SECONDS = 10
KILL_AFTER_SECONDS = 2.0


def _load_until_killed(gw):
    """CLIENTS keep-alive clients until the server dies (or MAX_LOAD_SECONDS);
    returns the PDS-Request-Id of every 200 received in full, and the count
    of requests that failed (the kill cuts them)."""
    c = gw.pki["health-board"]
    stop = threading.Event()
    deadline = time.monotonic() + MAX_LOAD_SECONDS

    def client(_):
        ok, failed = [], 0
        s = H.requests.Session()
        s.trust_env = False
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = s.get(gw.url(PATH), cert=(c.cert, c.key), verify=gw.pki.ca_cert,
                              timeout=5, headers={"PDS-Purpose": "direct-care"})
                except (H.requests.ConnectionError, H.requests.Timeout):
                    failed += 1
                    if failed > 20:
                        return ok, failed     # the server is gone
                    time.sleep(0.01)
                    continue
                if r.status_code == 200:
                    r.json()                  # the whole body arrived
                    ok.append(r.headers["PDS-Request-Id"])
        finally:
            s.close()
        return ok, failed

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, n) for n in range(CLIENTS)]
        time.sleep(KILL_AFTER_SECONDS)
        # The whole server at once: parent and every child (its own session).
        os.killpg(gw.httpd.proc.pid, signal.SIGKILL)
        gw.httpd.proc.wait(10)
        time.sleep(0.5)
        stop.set()
        results = [f.result() for f in futures]
    return [rid for ok, _ in results for rid in ok], sum(f for _, f in results)


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_every_response_survives_a_kill(gateway_factory, mpm):
    gw = gateway_factory(CONFIG + ("StartServers 2\n" if mpm == "event" else ""), mpm=mpm)
    h = gw.httpd
    released, failed = _load_until_killed(gw)
    assert len(released) > 50, "too little load before the kill (%d responses)" % len(released)
    assert failed > 0 or len(released) > 0

    # The log verifies as a whole chain, cut wherever the kill fell.
    p = subprocess.run([H.audit_tool(), "verify", "--key", h.audit_key_path, "--public-key",
                        h.audit_public_key_path, h.audit_path],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "pds-audit verify after kill -9: exit %d\n%s%s" % (
        p.returncode, p.stdout, p.stderr)

    # Every response a client received has its record.
    ids = {rec.get("request_id") for rec in h.audit_records()}
    missing = [rid for rid in released if rid not in ids]
    assert not missing, "%d of %d released responses have no audit record: %s" % (
        len(missing), len(released), missing[:5])

    # And the server starts again on that log, continuing the chain.
    last = len(h.audit_all_lines())
    h.proc = None
    os.remove(os.path.join(h.root, "run", "httpd.pid"))   # as a kill leaves it
    gw.close_sessions()
    h.start()
    r = gw.get(PATH)
    assert r.status_code == 200
    assert gw.audit_for(r)["seq"] > last


# ------------------------------------------------------------ syncs are shared

from test_audit_integrity import slow_sync  # noqa: E402,F401  (the fixture: 20 ms syncs)

METRICS = """
<Location /metrics>
    SetHandler pds-metrics
</Location>
"""


def _counter(text, name):
    m = re.search(r'^%s\{result="ok"\} (\d+)' % re.escape(name), text, re.M)
    return int(m.group(1)) if m else 0


def test_one_sync_covers_the_records_written_before_it(gateway_factory, slow_sync, monkeypatch):
    """With a disk whose sync takes 20 ms, eight clients asking without pause
    share syncs: far fewer syncs than records, every response 200 with its
    record, across two child processes."""
    monkeypatch.setenv("LD_PRELOAD", slow_sync)
    gw = gateway_factory(CONFIG + METRICS + "StartServers 2\n")
    monkeypatch.delenv("LD_PRELOAD")
    before = gw.get("/metrics", plain=True, purpose=None).text
    c = gw.pki["health-board"]

    def client(_):
        s = H.load_session()
        try:
            return [s.get(gw.url(PATH), cert=(c.cert, c.key), verify=gw.pki.ca_cert,
                          timeout=20, headers={"PDS-Purpose": "direct-care"})
                    for _ in range(20)]
        finally:
            s.close()

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        responses = [r for batch in pool.map(client, range(CLIENTS)) for r in batch]
    assert [r.status_code for r in responses] == [200] * len(responses)
    ids = {rec.get("request_id") for rec in gw.httpd.audit_records()}
    assert all(r.headers["PDS-Request-Id"] in ids for r in responses)
    after = gw.get("/metrics", plain=True, purpose=None).text
    records = (_counter(after, "pds_audit_writes_total")
               - _counter(before, "pds_audit_writes_total"))
    syncs = (_counter(after, "pds_audit_syncs_total")
             - _counter(before, "pds_audit_syncs_total"))
    assert records >= len(responses)
    assert 1 <= syncs <= records // 2, "%d syncs for %d records" % (syncs, records)
