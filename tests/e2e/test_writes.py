"""Writes through a real httpd: POST, PUT and PATCH bodies are checked
against the agreement's Write list before the back end sees them: refused
with 422 naming the fields (or stripped, when the agreement says so), bad
content types, malformed JSON and oversized bodies refused, and the back end
never receives a refused body. Writes do what they say: an empty array is a
write, an object or array where a single value is agreed is refused, a body
that would change nothing is refused (write-empty), a PUT is never stripped,
the media types, and the Write lists `httpd -t` refuses. SPEC: Issue 5 item
4; issue #12 item 4."""
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
              "Write phone email address.line1",
              "Write telecom telecom[*].system telecom[*].value",
              "WritePatch deep-merge",
              "WriteMediaType application/vnd.pds-test+json",
              "Release status received") +
    agreement("hb-notes", "health-board", "direct-care",
              ["PATCH /notes/{subject}/record", "PUT /notes/{subject}/record"],
              "Write care.needs care.needs[*]", "WriteUnknown strip", "WritePatch deep-merge",
              "WritePut replace-record", "Release received") +
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
    r = write(gw, "PATCH", "/notes/%s/record" % SUBJECT, body)
    assert r.status_code == 200, H.describe(r)
    assert r.json() == {"received": {"care": {"needs": ["meals"]}}}
    assert gw.audit_for(r)["written"] == ["care.needs", "care.needs[*]"]


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
        children = H.child_pids(gw.httpd.proc.pid)
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


# ------------------------------------------ writes that do what they say (#12.4)

@pytest.mark.parametrize("body", [
    {"telecom": []},
    {"telecom": [{}]},
    {"telecom": None},
    {"telecom": [{"system": "phone", "value": "01632 960999"}]},
])
def test_an_empty_array_or_object_is_a_write_forwarded_as_sent(gw, body):
    """Under Write telecom telecom[*].system telecom[*].value, telecom may be
    replaced whole: {"telecom": []} empties it at the back end, so it is
    forwarded as sent, never answered 200 with nothing forwarded."""
    r = write(gw, "PATCH", "/contacts/%s/record" % SUBJECT, body)
    assert r.status_code == 200, H.describe(r)
    assert r.json()["received"] == body
    rec = gw.audit_for(r)
    assert rec["decision"] == "allow" and rec["written"][0] == "telecom", rec


@pytest.mark.parametrize("body, named", [
    # an object or array where Write names a single value
    ({"phone": {"extension": {"url": "x", "valueString": "anything"}}}, "phone is an object"),
    ({"email": ["a@example.org"]}, "email is an array"),
    ({"address": {"line1": {"nested": 1}}}, "address.line1 is an object"),
    # a value, or null, where only members are agreed
    ({"address": "1 New Street"}, "address is a string"),
    ({"address": None}, "removes address whole"),
    # nothing unnamed inside a value that replaces telecom
    ({"telecom": [{"system": "phone", "extension": [{"url": "x"}]}]}, "telecom[*].extension"),
    ({"telecom": [{"value": {"a": 1}}]}, "telecom[*].value is an object"),
    ({"telecom": {"system": "phone"}}, "telecom is an object"),
    # a body is one record
    ([{"phone": "1"}], "JSON object"),
])
def test_a_value_of_the_wrong_shape_is_refused_naming_it(gw, body, named):
    r = write(gw, "PATCH", "/contacts/%s/record" % SUBJECT, body)
    doc = H.assert_problem(r, "write-not-allowed", 422)
    assert named in doc["detail"], doc
    assert gw.backend.requests() == []
    H.assert_audit(gw.audit_for(r), decision="deny", reason="write-not-allowed", status=422)


def test_a_wrong_shape_is_refused_even_where_unknown_fields_are_stripped(gw):
    r = write(gw, "PATCH", "/notes/%s/record" % SUBJECT, {"care": {"needs": [{"x": 1}]}})
    doc = H.assert_problem(r, "write-not-allowed", 422)
    assert "care.needs[*] is an object" in doc["detail"], doc
    assert gw.backend.requests() == []


@pytest.mark.parametrize("path, body, stripped", [
    ("/contacts/%s/record", {}, False),
    ("/contacts/%s/record", {"address": {}}, False),
    ("/notes/%s/record", {"internal": {"notes": "x"}}, True),
    ("/notes/%s/record", {"care": {"allergies": ["latex"]}}, True),
])
def test_a_write_that_would_change_nothing_is_refused(gw, path, body, stripped):
    r = write(gw, "PATCH", path % SUBJECT, body)
    doc = H.assert_problem(r, "write-empty", 422)
    assert "change nothing" in doc["detail"], doc
    assert ("WriteUnknown strip" in doc["detail"]) == stripped, doc
    assert gw.backend.requests() == []
    rec = gw.audit_for(r)
    H.assert_audit(rec, decision="deny", reason="write-empty", status=422)
    assert rec["written"] == [], rec


def test_a_put_is_never_stripped(gw):
    """hb-notes strips unknown fields of a PATCH; a PUT replaces the record,
    so stripping it would erase the stripped members at the back end: it is
    refused instead, and the back end never asked."""
    body = {"care": {"needs": ["meals"]}, "internal": {"notes": "x"}}
    r = write(gw, "PUT", "/notes/%s/record" % SUBJECT, body)
    doc = H.assert_problem(r, "write-not-allowed", 422)
    assert "internal" in doc["detail"] and "never stripped" in doc["detail"], doc
    assert gw.backend.requests() == []
    r = write(gw, "PUT", "/notes/%s/record" % SUBJECT, {"care": {"needs": ["meals"]}})
    assert r.status_code == 200, H.describe(r)
    assert r.json() == {"received": {"care": {"needs": ["meals"]}}}


@pytest.mark.parametrize("method, content_type", [
    ("PATCH", "application/json"),
    ("PATCH", "application/json; charset=utf-8"),
    ("PATCH", "application/fhir+json"),
    ("POST", "application/fhir+json; fhirVersion=4.0"),
    ("PATCH", "application/merge-patch+json"),
    ("PATCH", "Application/Merge-Patch+JSON"),
    ("POST", "application/vnd.pds-test+json"),
])
def test_json_media_types_are_accepted_and_forwarded_as_json(gw, method, content_type):
    body = {"phone": "01632 960111"}
    r = write(gw, method, "/contacts/%s/record" % SUBJECT, body, content_type=content_type)
    assert r.status_code == 200, H.describe(r)
    assert r.json()["received"] == body
    seen = gw.backend.requests()
    assert H.Backend.header(seen[0], "Content-Type") == ["application/json"], seen


@pytest.mark.parametrize("method, content_type, words", [
    ("PATCH", "application/json-patch+json", "JSON Patch"),
    ("POST", "application/merge-patch+json", "PATCH body"),
    ("PATCH", "application/vnd.other+json", "application/json"),
    ("PATCH", "text/json", "application/json"),
])
def test_other_media_types_are_refused_with_what_to_send(gw, method, content_type, words):
    body = ([{"op": "replace", "path": "/phone", "value": "1"}]
            if "json-patch" in content_type else {"phone": "1"})
    r = write(gw, method, "/contacts/%s/record" % SUBJECT, body, content_type=content_type)
    doc = H.assert_problem(r, "unsupported-media-type", 415)
    assert words in doc["detail"], doc
    if "json-patch" in content_type:
        assert "merge-patch+json" in doc["detail"], doc
    assert gw.backend.requests() == []


# name -> (agreement lines, the line at fault, words the message holds)
BAD_WRITES = {
    "put-without-write-put": (["Resource PUT /contacts/{subject}/record", "Write phone"],
                              "PUT /contacts", ["a PUT replaces the whole record",
                                               "`WritePut replace-record`"]),
    "predicate": (["Resource PATCH /contacts/{subject}/record",
                   "Write telecom telecom[system=phone].value"],
                  "telecom[system=phone].value",
                  ["predicate", "`Write telecom telecom[*].value`"]),
    "patch-element-without-array": (["Resource PATCH /contacts/{subject}/record",
                                     "Write phone", "Write telecom[*].system telecom[*].value"],
                                    "telecom[*].system", ["add `Write telecom`"]),
    "patch-below-an-unnamed-member": (["Resource PATCH /contacts/{subject}/record",
                                       "Write phone", "Write address.line1"],
                                      "address.line1", ["replaces address whole",
                                                        "add `Write address`",
                                                        "`WritePatch deep-merge`"]),
    "write-patch-without-patch": (["Resource POST /contacts/{subject}/record", "Write phone",
                                   "WritePatch deep-merge"], "WritePatch",
                                  ["no PATCH resource"]),
    "write-patch-word": (["Resource PATCH /contacts/{subject}/record", "Write phone",
                          "WritePatch rfc7396"], "WritePatch", ["deep-merge", "top-level"]),
    "top-level-array": (["Resource POST /contacts/{subject}/record", "Write [*].phone"],
                        "[*].phone", ["cannot start with [*]"]),
    "put-only-strip": (["Resource PUT /contacts/{subject}/record", "Write phone",
                        "WritePut replace-record", "WriteUnknown strip"],
                       "WriteUnknown", ["remove `WriteUnknown strip`"]),
    "write-put-without-put": (["Resource PATCH /contacts/{subject}/record", "Write phone",
                               "WritePut replace-record"],
                              "WritePut", ["no PUT resource"]),
    "write-put-word": (["Resource PUT /contacts/{subject}/record", "Write phone",
                        "WritePut yes"], "WritePut", ["`WritePut replace-record`"]),
    "json-patch-media-type": (["Resource PATCH /contacts/{subject}/record", "Write phone",
                               "WriteMediaType application/json-patch+json"],
                              "WriteMediaType", ["JSON Patch is not supported"]),
    "media-type-not-json": (["Resource PATCH /contacts/{subject}/record", "Write phone",
                             "WriteMediaType text/plain"], "WriteMediaType",
                            ["application/<name>+json"]),
}


@pytest.mark.parametrize("name", sorted(BAD_WRITES))
def test_write_lists_that_cannot_do_what_they_say_fail_the_configuration_test(
        httpd_factory, name):
    lines, at_fault, words = BAD_WRITES[name]
    assert lines[0].startswith("Resource ")
    body = (ORGANISATIONS + agreement("bad", "health-board", "direct-care",
                                      lines[0][len("Resource "):],
                                      *(lines[1:] + ["Release status"]))
            + loc("/contacts/"))
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    assert "line %d " % h.line_of(at_fault) in out, out
    assert "Resource: needs" not in out, out
    for w in words:
        assert w in out, out


def test_the_configuration_dump_shows_how_writes_are_read(httpd_factory):
    """`httpd -t -D DUMP_PDS` says, per agreement, what it lets write, how a
    PATCH merges and the media types it adds."""
    import subprocess
    h = httpd_factory(ORGANISATIONS + AGREEMENTS + loc("/contacts/") + loc("/notes/"))
    proc = subprocess.run([h.httpd_bin, "-t", "-D", "DUMP_PDS", "-f", h.conf_path],
                          capture_output=True, text=True, timeout=30, env=H.httpd_env())
    assert proc.returncode == 0, proc.stderr
    block = proc.stdout.split("    hb-contact-update (version 1)\n", 1)[1].split("\n    hb-", 1)[0]
    assert ("writes       phone email address.line1 telecom telecom[*].system "
            "telecom[*].value") in block, block
    assert "patch merges deep-merge" in block, block
    assert "media types  application/vnd.pds-test+json" in block, block
    read = []       # hb-read's own lines, up to the next entry
    for line in proc.stdout.split("    hb-read (version 1)\n", 1)[1].split("\n"):
        if not line.startswith("        "):
            break
        read.append(line)
    assert any(line.startswith("        releases") for line in read), read
    assert not any("patch merges" in line or "media types" in line for line in read), read
