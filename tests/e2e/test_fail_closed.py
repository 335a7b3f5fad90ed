"""Fail closed: whatever the back end does wrong, the client gets a gateway
error (or a correctly filtered answer) and nothing of the back end's own
answer. SPEC: backend-error, not-found, backend-bad-response,
backend-too-large, backend-unavailable, backend-timeout; PDSMaxBodySize,
PDSMaxDepth; back-end 204."""
import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, SUBJECT, agreement, location

RELEASED = ["name.given", "name.family", "dob"]
DEAD_PORT = H.free_port()     # nothing listens there

MODES = ["extra-field", "gzip", "partial", "chunked", "error500", "error503", "error404-pii",
         "html", "no-content-type", "not-json", "trailing-garbage", "top-level-array",
         "scalar", "empty", "duplicate-keys", "deep", "redirect", "close-early", "204"]
BIG = ["big-4096", "big-4097", "big-65536", "big-1048576", "big-1048577", "chunked",
       "slow-0.2", "ok"]

# The slow location comes first: its worker (with its own timeout) must be
# defined before the shorter /api/misbehave/ URL, or mod_proxy shares one worker.
# ErrorDocument pages naming the back end must never replace the problem.
CONFIG = ORGANISATIONS + (
    """
ErrorDocument 502 "LegacyCare bad gateway: care-db-01.internal"
ErrorDocument 503 "LegacyCare maintenance: care-db-01.internal"
ErrorDocument 504 "LegacyCare timeout: care-db-01.internal"
ErrorDocument 404 "LegacyCare: no such record on care-db-01.internal"
<Location /slow/>
    PDSGateway on
    ProxyPass %(backend)s/api/misbehave/slow-4/ timeout=2
</Location>
<PDSAgreement hb-misbehave>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
%(resources)s
    Release     name.given name.family dob
</PDSAgreement>
""" +
    agreement("hb-dead", "health-board", "direct-care", "GET /dead/{subject}/record",
              "Release name.given")).replace("%(resources)s", "\n".join(
    "    Resource    GET /%s/%s/{subject}/record" % (loc, mode)
    for loc, modes in (("misbehave", MODES + BIG), ("limit", BIG),
                       ("shallow", ["ok"]), ("depth3", ["ok"]))
    for mode in modes) + "\n    Resource    GET /slow/{subject}/record") \
    + location("/misbehave/", "/api/misbehave/") \
    + location("/limit/", "/api/misbehave/", "    PDSMaxBodySize 4096") \
    + location("/shallow/", "/api/misbehave/", "    PDSMaxDepth 2") \
    + location("/depth3/", "/api/misbehave/", "    PDSMaxDepth 3") \
    + """
<Location /dead/>
    PDSGateway on
    ProxyPass http://127.0.0.1:""" + str(DEAD_PORT) + """/api/citizens/ retry=0
</Location>
"""

# mode -> (status, reason or None for an allowed answer)
EXPECTED = {
    "extra-field": (200, None),
    "chunked": (200, None),
    "204": (204, None),
    "gzip": (502, "backend-bad-response"),
    "partial": (502, "backend-bad-response"),
    "html": (502, "backend-bad-response"),
    "no-content-type": (502, "backend-bad-response"),
    "not-json": (502, "backend-bad-response"),
    "trailing-garbage": (502, "backend-bad-response"),
    "top-level-array": (502, "backend-bad-response"),
    "scalar": (502, "backend-bad-response"),
    "empty": (502, "backend-bad-response"),
    "duplicate-keys": (502, "backend-bad-response"),
    "deep": (502, "backend-bad-response"),
    "error500": (502, "backend-error"),
    "error503": (502, "backend-error"),
    "redirect": (502, "backend-error"),
    "close-early": (502, "backend-error"),
    "error404-pii": (404, "not-found"),
}
assert sorted(EXPECTED) == sorted(MODES)

# Log lines a refusal may cause: the filter's tagged warning, and mod_proxy's
# own errors when the back end breaks off.
GATEWAY_LOG = ["PDS00032", r"\[proxy(_http)?:error\]"]


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


@pytest.mark.allow_log(*GATEWAY_LOG)
@pytest.mark.parametrize("mode", MODES)
def test_misbehaving_back_end(gw, rec, mode):
    status, reason = EXPECTED[mode]
    r = gw.get("/misbehave/%s/%s/record" % (mode, SUBJECT))
    if reason is not None:
        audit = H.assert_denied(gw, r, reason, agreement="hb-misbehave", subject=SUBJECT,
                                organisation="health-board")
        H.assert_no_leak(r, rec)
        H.assert_no_backend_headers(r)
        assert audit["status"] == status
    elif status == 204:
        assert r.status_code == 204, H.describe(r)
        assert r.content == b""
        assert r.headers.get("PDS-Request-Id")
        H.assert_no_backend_headers(r)
        H.assert_audit(gw.audit_for(r), decision="allow", reason=None, status=204, fields=[],
                       agreement="hb-misbehave")
    else:
        H.assert_allowed(gw, r, H.pick(rec, *RELEASED), "hb-misbehave")
        H.assert_no_leak(r, rec, released=RELEASED)
    assert len(gw.backend.requests()) == 1


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_slow_back_end_times_out_as_backend_timeout(gw, rec):
    r = gw.get("/slow/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-timeout", agreement="hb-misbehave")
    assert r.json()["detail"] == "the back end did not answer in time"
    H.assert_no_leak(r, rec)


def test_slow_back_end_within_the_timeout_is_fine(gw, rec):
    r = gw.get("/misbehave/slow-0.2/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, H.pick(rec, *RELEASED), "hb-misbehave")


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_unreachable_back_end_is_backend_unavailable(gw):
    r = gw.get("/dead/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-unavailable", backend_reached=False, agreement="hb-dead")
    assert r.json()["detail"] == "the back end could not be reached"


def test_body_exactly_at_the_limit_passes(gw):
    r = gw.get("/limit/big-4096/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, {"name": {"given": "Big"}}, "hb-misbehave")


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_body_one_byte_over_the_limit_is_too_large(gw):
    r = gw.get("/limit/big-4097/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-too-large", agreement="hb-misbehave")
    assert b"xxxx" not in r.content


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_body_far_over_the_limit_is_too_large(gw):
    r = gw.get("/limit/big-65536/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-too-large")


def test_chunked_body_under_the_limit_passes(gw, rec):
    r = gw.get("/limit/chunked/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, H.pick(rec, *RELEASED), "hb-misbehave")


def test_default_limit_one_mebibyte_passes(gw):
    r = gw.get("/misbehave/big-1048576/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, {"name": {"given": "Big"}}, "hb-misbehave")


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_default_limit_one_byte_over_is_too_large(gw):
    r = gw.get("/misbehave/big-1048577/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-too-large")


def test_depth_at_the_limit_passes(gw, rec):
    # The record nests three levels: object, benefits array, benefit object.
    r = gw.get("/depth3/ok/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, H.pick(rec, *RELEASED), "hb-misbehave")


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_depth_over_the_limit_is_bad_response(gw, rec):
    r = gw.get("/shallow/ok/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-bad-response")
    H.assert_no_leak(r, rec)
