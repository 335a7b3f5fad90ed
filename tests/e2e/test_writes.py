"""Writes through a real httpd: POST, PUT and PATCH bodies are checked
against the agreement's Write list before the back end sees them: refused
with 422 naming the fields (or stripped, when the agreement says so), bad
content types, malformed JSON and oversized bodies refused, and the back end
never receives a refused body. SPEC: Issue 5 item 4."""
import json

import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, SUBJECT

AGREEMENTS = """
<PDSAgreement hb-contact-update>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
    Resource    PATCH /contacts/{subject}/record
    Resource    POST /contacts/{subject}/record
    Write       phone email address.line1
    Release     status received
</PDSAgreement>
<PDSAgreement hb-notes>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
    Resource    PUT /notes/{subject}/record
    Write       care.needs
    WriteUnknown strip
    Release     received
</PDSAgreement>
<PDSAgreement hb-read>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
    Resource    GET /contacts/{subject}/record
    Release     phone
</PDSAgreement>
"""


def loc(prefix, extra=""):
    return """
<Location %s>
    PDSGateway on
    PDSMaxBodySize 2048
    ProxyPass %%(backend)s/api/citizens/
%s
</Location>
""" % (prefix, extra)


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(ORGANISATIONS + AGREEMENTS + loc("/contacts/") + loc("/notes/"))


def write(gw, method, path, body, content_type="application/json", **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"Content-Type": content_type} if content_type else {}
    return gw.request(method, path, data=data, headers=headers, **kw)


def test_allowed_fields_reach_the_back_end(gw):
    body = {"phone": "01632 960999", "email": "new@example.org"}
    r = write(gw, "PATCH", "/contacts/%s/record" % SUBJECT, body)
    assert r.status_code == 200, H.describe(r)
    assert r.json() == {"status": "accepted", "received": body}
    seen = gw.backend.requests()
    assert len(seen) == 1 and seen[0]["method"] == "PATCH"
    assert H.Backend.header(seen[0], "Content-Length") == [str(len(json.dumps(
        body, separators=(",", ":"))))]
    rec = gw.audit_for(r)
    assert rec["decision"] == "allow" and rec["written"] == ["phone", "email"]
    assert rec["method"] == "PATCH"


@pytest.mark.parametrize("body, named", [
    ({"phone": "01632 960999", "nhs_number": "999 999 9999"}, ["nhs_number"]),
    ({"address": {"line1": "1 New Street", "postcode": "KY99 9ZZ"}}, ["address.postcode"]),
    ({"internal": {"notes": "x"}, "case_worker": {"name": "y"}}, ["internal", "case_worker"]),
])
def test_forbidden_fields_are_refused_and_never_reach_the_back_end(gw, body, named):
    r = write(gw, "POST", "/contacts/%s/record" % SUBJECT, body)
    doc = H.assert_problem(r, "write-not-allowed", 422)
    for name in named or []:
        assert name in doc["detail"], doc
    assert gw.backend.requests() == []
    rec = gw.audit_for(r)
    assert rec["decision"] == "deny" and rec["reason"] == "write-not-allowed"


def test_strip_mode_removes_unknown_fields(gw):
    body = {"care": {"needs": ["meals"], "allergies": ["latex"]}, "internal": {"notes": "x"}}
    r = write(gw, "PUT", "/notes/%s/record" % SUBJECT, body)
    assert r.status_code == 200, H.describe(r)
    assert r.json() == {"received": {"care": {"needs": ["meals"]}}}
    assert gw.audit_for(r)["written"] == ["care.needs"]


@pytest.mark.parametrize("body, content_type, reason, status", [
    ('{"phone": "1"}', "text/plain", "unsupported-media-type", 415),
    ('{"phone": "1"}', None, "unsupported-media-type", 415),
    ('{"phone": "1"}', "application/jsonx", "unsupported-media-type", 415),
    ('{"phone": ', "application/json", "bad-request-body", 400),
    ('{"phone": "1", "phone": "2"}', "application/json", "bad-request-body", 400),
    ('{"phone": "1"} trailing', "application/json", "bad-request-body", 400),
    ('', "application/json", "bad-request-body", 400),
    ('{"phone": "%s"}' % ("x" * 4096), "application/json", "request-too-large", 413),
])
def test_bad_bodies_are_refused(gw, body, content_type, reason, status):
    r = write(gw, "POST", "/contacts/%s/record" % SUBJECT, body, content_type=content_type)
    H.assert_problem(r, reason, status)
    assert gw.backend.requests() == []
    assert gw.audit_for(r)["reason"] == reason


def test_chunked_body_over_the_limit_is_refused(gw):
    def chunks():
        for _ in range(10):
            yield b'{"phone": "' + b"x" * 500 + b'"}'
    r = gw.request("POST", "/contacts/%s/record" % SUBJECT, data=chunks(),
                   headers={"Content-Type": "application/json"})
    H.assert_problem(r, "request-too-large", 413)
    assert gw.backend.requests() == []


def test_a_chunked_body_within_the_limit_is_forwarded_with_a_length(gw):
    def chunks():
        yield b'{"phone":'
        yield b' "01632 960123"}'
    r = gw.request("POST", "/contacts/%s/record" % SUBJECT, data=chunks(),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200, H.describe(r)
    seen = gw.backend.requests()
    assert H.Backend.header(seen[0], "Transfer-Encoding") == []
    assert H.Backend.header(seen[0], "Content-Length") == [str(len('{"phone":"01632 960123"}'))]


def test_writes_need_a_write_agreement(gw):
    # GET is agreed for /contacts/, but no write is for this purpose
    H.assert_problem(write(gw, "POST", "/contacts/%s/record" % SUBJECT, {"phone": "1"},
                           purpose="marketing"), "purpose-mismatch", 403)
    H.assert_problem(gw.request("DELETE", "/contacts/%s/record" % SUBJECT),
                     "method-not-allowed", 405)
    r = gw.request("POST", "/contacts/%s/record" % SUBJECT)
    H.assert_problem(r, "bad-request-body", 400)
    assert gw.backend.requests() == []


def test_delete_resources_are_refused_at_startup(httpd_factory):
    body = ORGANISATIONS + """
<PDSAgreement d>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
    Resource    DELETE /contacts/{subject}/record
</PDSAgreement>
"""
    rc, out = httpd_factory(body).config_test()
    assert rc != 0 and "DELETE is not supported" in out, out
