"""Writes through a real httpd: POST, PUT and PATCH bodies are checked
against the agreement's Write list before the back end sees them: refused
with 422 naming the fields (or stripped, when the agreement says so), bad
content types, malformed JSON and oversized bodies refused, and the back end
never receives a refused body. SPEC: Issue 5 item 4."""
import concurrent.futures
import json
import os

import pytest
import requests

import pds_harness as H
from pds_configs import ORGANISATIONS, SUBJECT, agreement

AGREEMENTS = (
    agreement("hb-contact-update", "health-board", "direct-care",
              ["PATCH /contacts/{subject}/record", "POST /contacts/{subject}/record"],
              "Write phone email address.line1", "Release status received") +
    agreement("hb-notes", "health-board", "direct-care", "PUT /notes/{subject}/record",
              "Write care.needs", "WriteUnknown strip", "Release received") +
    agreement("hb-read", "health-board", "direct-care", "GET /contacts/{subject}/record",
              "Release phone"))


def loc(prefix, extra="", max_body=2048):
    return """
<Location %s>
    PDSGateway on
    PDSMaxBodySize %d
    ProxyPass %%(backend)s/api/citizens/
%s
</Location>
""" % (prefix, max_body, extra)


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
    body = ORGANISATIONS + agreement("d", "health-board", "direct-care",
                                     "DELETE /contacts/{subject}/record")
    rc, out = httpd_factory(body).config_test()
    assert rc != 0 and "DELETE is not supported" in out, out


def test_content_length_over_the_limit_is_refused_before_the_body_is_sent(gw):
    """A declared length over PDSMaxBodySize is answered at once: the gateway
    does not wait for (or hold) a body it would refuse anyway. The body never
    comes here; httpd's Timeout is 10 s, the client waits 5."""
    head = H.build_request("POST", "/contacts/%s/record" % SUBJECT, headers=[
        ("PDS-Purpose", "direct-care"), ("Content-Type", "application/json"),
        ("Content-Length", "2049")], body=b'{"phone": ')
    with gw.connect() as conn:
        conn.sock.settimeout(5)
        resp = conn.request(head)
    H.assert_problem(resp, "request-too-large", 413)
    assert resp.headers.get("Connection", "").lower() == "close", H.describe(resp)
    assert gw.backend.requests() == []
    assert gw.audit_for(resp)["reason"] == "request-too-large"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_exactly_at_the_limit_is_forwarded_and_one_byte_more_refused(gw, chunked):
    def body_of(size):
        text = '{"phone": "%s"}' % ("x" * (size - len('{"phone": ""}')))
        assert len(text) == size
        return text.encode()

    def send(data):
        if chunked:
            pieces = [data[i:i + 700] for i in range(0, len(data), 700)]
            data = iter(pieces)
        return gw.request("POST", "/contacts/%s/record" % SUBJECT, data=data,
                          headers={"Content-Type": "application/json"})

    r = send(body_of(2048))
    # The back end got it (its echo, a little longer than what it was sent,
    # is then over the same limit on the way back: that is the response side).
    value = "x" * (2048 - len('{"phone": ""}'))
    [seen] = gw.backend.requests()
    assert H.Backend.header(seen, "Content-Length") == [
        str(len(json.dumps({"phone": value}, separators=(",", ":"))))], H.describe(r)
    H.assert_problem(r, "backend-too-large", 502)
    gw.backend.clear()
    H.assert_problem(send(body_of(2049)), "request-too-large", 413)
    assert gw.backend.requests() == []


# -------------------------------------------- memory under a large limit

BIG_LIMIT = 256 * 1024 * 1024          # the largest PDSMaxBodySize allowed


@pytest.fixture(scope="module")
def big_gw(gateway_factory):
    """A location whose limit is the maximum. One malloc arena: glibc's
    per-thread arenas each reserve 64 MiB of address space when a thread
    first allocates, which would blur what is measured here."""
    old = os.environ.get("MALLOC_ARENA_MAX")
    os.environ["MALLOC_ARENA_MAX"] = "1"
    try:
        return gateway_factory(ORGANISATIONS + AGREEMENTS
                               + loc("/contacts/", max_body=BIG_LIMIT))
    finally:
        if old is None:
            del os.environ["MALLOC_ARENA_MAX"]
        else:
            os.environ["MALLOC_ARENA_MAX"] = old


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def _vm_kib(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (name, pid))


def test_small_writes_under_a_large_limit_hold_only_what_they_send(big_gw):
    """Each write used to reserve PDSMaxBodySize + 1 bytes before reading a
    byte: 256 MiB of address space per request in flight, however small the
    body (and a child that cannot get it aborts). Now the buffer follows the
    data. Measured as the httpd children's peak address space (VmPeak: the
    reservation was never touched, so resident memory did not show it) over
    24 writes of a few dozen bytes, 6 at a time (fewer than a child's
    threads, so no new child is started to take them)."""
    gw = big_gw
    hb = gw.pki["health-board"]
    path = "/contacts/%s/record" % SUBJECT

    def one(i):
        with requests.Session() as s:
            s.trust_env = False
            s.verify = gw.pki.ca_cert
            s.cert = (hb.cert, hb.key)
            body = method = None
            if i is not None:
                body, method = json.dumps({"phone": "01632 96%04d" % i}), "PATCH"
            else:
                method = "GET"
            r = s.request(method, gw.url(path), data=body, timeout=20,
                          headers={"PDS-Purpose": "direct-care",
                                   "Content-Type": "application/json"}
                          if body else {"PDS-Purpose": "direct-care"})
            return r.status_code, r.text

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        # Every worker thread's allocator in use once, by reads (no body).
        assert all(st == 200 for st, _ in pool.map(one, [None] * 12))
        children = _children(gw.httpd.proc.pid)
        assert children, "no httpd children"
        before = {c: _vm_kib(c, "VmPeak") for c in children}
        gw.backend.clear()
        results = list(pool.map(one, range(24)))
    assert all(st == 200 for st, _ in results), results
    grown = {c: _vm_kib(c, "VmPeak") - before[c] for c in before}
    assert sum(grown.values()) < 64 * 1024, \
        "the children's peak address space grew by %s KiB for 24 small writes" % grown
    assert [x["method"] for x in gw.backend.requests()] == ["PATCH"] * 24


def test_a_large_body_grows_its_buffer_and_arrives_intact(big_gw):
    """Past the first few KiB the buffer doubles as data arrives: a body of
    600 KB sent in odd-sized chunks reaches the back end byte for byte."""
    value = "".join("%07d," % i for i in range(75000))
    data = json.dumps({"phone": value}).encode()
    pieces = [data[i:i + 4093] for i in range(0, len(data), 4093)]
    r = big_gw.request("POST", "/contacts/%s/record" % SUBJECT, data=iter(pieces),
                       headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 200, H.describe(r)
    assert r.json()["received"] == {"phone": value}
