"""The audit log: one JSON line per decision, allow or deny, with every
member, written before release; and no release when it cannot be written.
SPEC: Audit, PDSAuditLog, audit-unavailable."""
import datetime as _dt
import json
import re
import socket

import pytest

import pds_harness as H
from pds_configs import HB_FIELDS, PATH, SUBJECT, misbehave_config

CONFIG = misbehave_config("html")


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


@pytest.fixture(scope="module")
def full_gw(gateway_factory):
    """A gateway whose audit log cannot be written (every write: ENOSPC)."""
    return gateway_factory(CONFIG, audit_log="/dev/full")


def test_allow_record_has_every_member(gw):
    before = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=2)
    r = gw.get(PATH)
    after = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=2)
    assert r.status_code == 200, H.describe(r)
    rec = gw.audit_for(r)
    H.assert_audit(rec, request_id=r.headers["PDS-Request-Id"], client_ip="127.0.0.1",
                   organisation="health-board", agreement="hb-direct-care",
                   agreement_version="3", purpose="direct-care", legal_basis="public-task",
                   subject=SUBJECT, method="GET", path=PATH, decision="allow", reason=None,
                   status=200, fields=HB_FIELDS)
    t = _dt.datetime.strptime(rec["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=_dt.timezone.utc)
    assert before <= t <= after, rec["time"]


def test_every_record_names_its_node_the_host_name_by_default(gw):
    allowed = gw.audit_for(gw.get(PATH))
    denied = gw.audit_for(gw.get(PATH, who=None))
    for rec in (allowed, denied):
        assert rec["node"] == socket.gethostname(), rec
        assert list(rec)[-2:] == ["node", "mac"], list(rec)


def test_pds_node_name_names_the_node(gateway_factory):
    named = gateway_factory("PDSNodeName gw-2.council\n" + CONFIG)
    for r in (named.get(PATH), named.get(PATH, purpose="marketing")):
        assert named.audit_for(r)["node"] == "gw-2.council"


def test_deny_record_of_an_unidentified_caller(gw):
    r = gw.get(PATH, who=None)
    rec = H.assert_denied(gw, r, "unknown-caller")
    H.assert_audit(rec, organisation=None, agreement=None, agreement_version=None,
                   legal_basis=None, subject=None, method="GET", path=PATH, status=401,
                   client_ip="127.0.0.1")


def test_deny_record_of_a_purpose_mismatch_names_the_caller(gw):
    r = gw.get(PATH, purpose="marketing")
    rec = H.assert_denied(gw, r, "purpose-mismatch")
    # ... and whose record it asked for: attempts are part of the evidence.
    H.assert_audit(rec, organisation="health-board", purpose="marketing", subject=SUBJECT,
                   agreement="hb-direct-care")


@pytest.mark.allow_log("PDS00032")
def test_gateway_error_after_the_back_end_is_one_deny_record(gw):
    r = gw.get("/misbehave/html/%s/record" % SUBJECT)
    rec = H.assert_denied(gw, r, "backend-bad-response")
    H.assert_audit(rec, agreement="hb-misbehave", subject=SUBJECT, organisation="health-board",
                   legal_basis="public-task", status=502)


@pytest.mark.allow_log("PDS00032")
def test_one_record_per_request(gw):
    n0 = len(gw.httpd.audit_lines())
    responses = [
        gw.get(PATH),
        gw.get(PATH, who=None),
        gw.get(PATH + "?x=1"),
        gw.get(PATH, purpose=None),
        gw.request("DELETE", PATH),
        gw.get("/misbehave/html/%s/record" % SUBJECT),
        gw.get("/citizens/c-404/record"),
    ]
    assert len(gw.httpd.audit_lines()) == n0 + len(responses)
    ids = [r.headers["PDS-Request-Id"] for r in responses]
    assert len(set(ids)) == len(ids)
    for r in responses:
        gw.audit_for(r)


def test_lines_are_compact_printable_ascii(gw):
    gw.get(PATH)
    gw.get(PATH, who=None)
    lines = gw.httpd.audit_lines()
    assert lines
    for line in lines:
        assert all(0x20 <= ord(c) < 0x7f for c in line), line
        # Compact: re-serialised, the line comes back (hex digits of \\u escapes in any case).
        again = json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=True)
        assert again == re.sub(r"\\u[0-9A-Fa-f]{4}", lambda m: m.group(0).lower(), line)


def test_non_ascii_path_is_escaped_in_the_record(gw):
    r = gw.raw(H.build_request("GET", "/citizens/%s\u00e9/record" % SUBJECT, headers=[
        ("PDS-Purpose", "direct-care"), ("Connection", "close")]))
    rec = H.assert_denied(gw, r, "bad-path")
    assert rec["path"] == "/citizens/%s\u00e9/record" % SUBJECT
    line = [l for l in gw.httpd.audit_lines() if r.headers["PDS-Request-Id"] in l][0]
    assert "\\u00e9" in line.lower() and all(ord(c) < 0x7f for c in line)


def test_invalid_utf8_in_the_path_is_replaced(gw):
    r = gw.raw(H.build_request("GET", b"/citizens/" + SUBJECT.encode() + b"\xff/record",
                               headers=[("PDS-Purpose", "direct-care"), ("Connection", "close")]))
    rec = H.assert_denied(gw, r, "bad-path")
    assert rec["path"] == "/citizens/%s\ufffd/record" % SUBJECT


# ------------------------------------------------------- audit unavailable

@pytest.mark.allow_log(r"PDS0004\d", r"PDS0003\d", r"PDS0002\d")
def test_unwritable_audit_log_releases_nothing(full_gw, residents):
    r = full_gw.get(PATH)
    H.assert_problem(r, "audit-unavailable", 503)
    H.assert_no_leak(r, residents[SUBJECT])
    H.assert_no_backend_headers(r)


@pytest.mark.allow_log(r"PDS0004\d", r"PDS0003\d", r"PDS0002\d")
def test_unwritable_audit_log_keeps_denials_denied(full_gw):
    r = full_gw.get(PATH, who=None)
    assert r.status_code in (401, 503), H.describe(r)
    assert H.media_type(r.headers.get("Content-Type")) == "application/problem+json"
    assert full_gw.backend.requests() == []
