"""The gateway across a graceful restart, with requests in flight: every
answer is still exactly the filtered one, and every decision is audited."""
import concurrent.futures
import os
import signal
import time

import pytest

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, HB_FIELDS, ORGANISATIONS, PATH, SUBJECT

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


def _one(gw):
    s = H.requests.Session()
    s.trust_env = False
    c = gw.pki["health-board"]
    try:
        return s.get(gw.url(PATH), cert=(c.cert, c.key), verify=gw.pki.ca_cert, timeout=20,
                     headers={"PDS-Purpose": "direct-care", "Connection": "close"})
    finally:
        s.close()


def test_graceful_restart_under_load(gw, residents):
    expected = H.pick(residents[SUBJECT], *HB_FIELDS)
    log = gw.httpd.error_log
    restarts = H.read_text(log).count("resuming normal operations")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(_one, gw) for _ in range(20)]
        time.sleep(0.1)
        os.kill(gw.httpd.proc.pid, signal.SIGUSR1)
        futures += [pool.submit(_one, gw) for _ in range(20)]
        responses = [f.result() for f in futures]
    deadline = time.monotonic() + 10
    while H.read_text(log).count("resuming normal operations") <= restarts:
        assert time.monotonic() < deadline, "no graceful restart seen:\n" + H.read_text(log)
        time.sleep(0.05)
    responses.append(_one(gw))      # served by the new generation
    for r in responses:
        H.assert_allowed(gw, r, expected, "hb-direct-care", "3")
    ids = [r.headers["PDS-Request-Id"] for r in responses]
    assert len(set(ids)) == len(ids)
