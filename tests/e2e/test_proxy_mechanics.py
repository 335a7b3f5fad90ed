"""What travels between the client, mod_proxy and the back end (issue #10
items 2, 16 and 17), through a real httpd:

- no interim (1xx) response of the back end reaches the client, over
  HTTP/1.1 or HTTP/2, whatever SetEnv, SetEnvIf or RewriteRule say, and
  nothing another module sends around the response filter either;
- the back end receives an allow-list of the client's request headers (plus
  the gateway's own), never the ones back ends trust for identity or routing;
- a problem says what happened: a back end that could not be reached, one
  that did not answer in time and one that answered an error are told apart,
  and nothing mod_proxy decides itself is blamed on the back end.

SPEC: backend-unavailable, backend-timeout, backend-error; invariant 7
(interim responses), invariant 4; docs/admin-guide.md, "What the back end
receives"."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import pds_harness as H
from pds_configs import (CITIZENS_LOCATION, HB_DIRECT_CARE, HB_FIELDS, ORGANISATIONS,
                         OTHER_SUBJECT, SUBJECT, agreement, location)

RELEASED = ["name.given", "name.family", "dob"]
DEAD_PORT = H.free_port()       # nothing listens there

MODES = ["interim", "interim-continue", "ok", "error503"]
UNDO = """
    SetEnv proxy-interim-response RFC
    SetEnvIf Request_URI . proxy-interim-response=RFC
    RewriteEngine on
    RewriteRule ^ - [E=proxy-interim-response:RFC]
"""
# The slow location first: its worker (timeout=1) must exist before the
# shorter /api/misbehave/ URL, or mod_proxy shares one worker.
CONFIG = ORGANISATIONS + HB_DIRECT_CARE + """
ErrorDocument 502 "LegacyCare bad gateway: care-db-01.internal"
ErrorDocument 503 "LegacyCare maintenance: care-db-01.internal"
ErrorDocument 504 "LegacyCare timeout: care-db-01.internal"
CustomLog "logs/client-headers.log" "%%{PDS-Request-Id}o %%{User-Agent}i|%%{X-Original-URL}i"
<Location /slow/>
    PDSGateway on
    ProxyPass %(backend)s/api/misbehave/slow-3/ timeout=1
</Location>
<PDSAgreement hb-proxy>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
""" + "\n".join("    Resource    GET /%s/%s/{subject}/record" % (loc, m)
                for loc in ("px", "undo") for m in MODES) + """
    Resource    GET /override/error503/{subject}/record
    Resource    GET /override/error404-pii/{subject}/record
    Resource    GET /dead/{subject}/record
    Resource    GET /slow/{subject}/record
    Release     name.given name.family dob
</PDSAgreement>
""" + agreement("hb-proxy-write", "health-board", "direct-care", "PATCH /wr/{subject}/record",
                "Write phone", "Release status received") + CITIZENS_LOCATION + location("/wr/") \
    + location("/override/", "/api/misbehave/", "    ProxyErrorOverride On") + location("/px/", "/api/misbehave/") \
    + location("/undo/", "/api/misbehave/", UNDO) + """
<Location /dead/>
    PDSGateway on
    ProxyPass http://127.0.0.1:""" + str(DEAD_PORT) + """/api/citizens/ retry=0
</Location>
"""
MODULES = [("env_module", "mod_env.so"), ("setenvif_module", "mod_setenvif.so"),
           ("rewrite_module", "mod_rewrite.so")]
GATEWAY_LOG = [r"\[proxy(_http)?:error\]", r"AH01102", r"AH00957", r"AH01114"]


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG, extra_modules=MODULES)


@pytest.fixture(scope="module")
def h2gw(gateway_factory):
    return gateway_factory(CONFIG, vhost_body="    Protocols h2 http/1.1\n",
                           extra_modules=MODULES + [("http2_module", "mod_http2.so")])


def interim_markers(rec):
    """What the back end's interim responses carry: none of it may arrive."""
    return [b"Early Hints", b"Processing", b"100 Continue", b"rel=preload",
            b"care-db-01", b"LegacyCare", rec["nhs_number"].encode(),
            rec["name"]["family"].encode(), b"X-Resident"]


def raw_exchange(gw, target, headers=()):
    """Every byte the gateway sends for one GET (the connection closes)."""
    data = H.build_request("GET", target, headers=[("PDS-Purpose", "direct-care"),
                                                   ("Connection", "close")] + list(headers))
    with gw.connect() as conn:
        conn.sock.sendall(data)
        conn.sock.settimeout(15)
        out = b""
        while True:
            chunk = conn.sock.recv(65536)
            if not chunk:
                return out
            out += chunk


def assert_final_answer_only(gw, data, rec, status=b"200"):
    """One response, the final one, first on the wire; nothing of the
    back end's interim responses; the released fields only."""
    assert data.startswith(b"HTTP/1.1 " + status + b" "), data[:400]
    assert data.count(b"HTTP/1.1 ") == 1, data
    head, _, body = data.partition(b"\r\n\r\n")
    for marker in interim_markers(rec):
        assert marker not in head, (marker, data[:600])
    if status == b"200":
        assert json.loads(body) == H.pick(rec, *RELEASED), body
    rid = re.search(rb"PDS-Request-Id: (\S+)", head).group(1).decode()
    recs = [a for a in gw.httpd.audit_records() if a["request_id"] == rid]
    assert len(recs) == 1 and recs[0]["decision"] == ("allow" if status == b"200" else "deny")
    return rid


# ------------------------------------------------------- interim responses

@pytest.mark.parametrize("loc", ["px", "undo"])
@pytest.mark.parametrize("mode", ["interim", "interim-continue"])
def test_interim_responses_never_reach_an_http11_client(gw, rec, loc, mode):
    """103 Early Hints with a Link and a header naming the resident, then 102
    with the resident's name and NHS number as its reason phrase (or an
    unsolicited 100 Continue): the client sees the 200 and nothing before it.
    /undo/ sets proxy-interim-response=RFC with SetEnv, SetEnvIf and
    RewriteRule [E=]: none of them wins."""
    data = raw_exchange(gw, "/%s/%s/%s/record" % (loc, mode, SUBJECT))
    assert_final_answer_only(gw, data, rec)
    assert len(gw.backend.requests()) == 1


def test_interim_responses_not_even_to_a_client_expecting_100(gw, rec):
    """Expect: 100-continue on a GET (no body): the back end's 100, with
    its reason phrase, is still not relayed."""
    data = raw_exchange(gw, "/undo/interim-continue/%s/record" % SUBJECT,
                        headers=[("Expect", "100-continue")])
    assert_final_answer_only(gw, data, rec)


def curl_h2(gw, path):
    """(every header block curl saw, body) for one h2 request."""
    out = os.path.join(gw.httpd.root, "h2-body")
    c = gw.pki["health-board"]
    p = subprocess.run(["curl", "-sS", "--http2", "--cacert", gw.pki.ca_cert,
                        "--cert", c.cert, "--key", c.key, "-H", "PDS-Purpose: direct-care",
                        "-o", out, "-D", "-", "--max-time", "15", gw.url(path)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    with open(out, "rb") as f:
        body = f.read()
    os.unlink(out)
    return p.stdout, body


@pytest.mark.parametrize("loc", ["px", "undo"])
@pytest.mark.parametrize("mode", ["interim", "interim-continue"])
def test_interim_responses_never_reach_an_h2_client(h2gw, rec, loc, mode):
    heads, body = curl_h2(h2gw, "/%s/%s/%s/record" % (loc, mode, SUBJECT))
    statuses = re.findall(rb"^HTTP/\S+ (\d{3})", heads, re.M)
    assert statuses == [b"200"], heads
    assert heads.startswith(b"HTTP/2 200"), heads
    for marker in interim_markers(rec):
        assert marker not in heads, (marker, heads)
    assert json.loads(body) == H.pick(rec, *RELEASED)


LUA_INTERIM = """
function send_early(r)
    r.status = 103
    r.headers_out["Link"] = "</api/citizens/%s/photo>; rel=preload"
    r.headers_out["X-Backend-Host"] = "care-db-01.internal"
    r:send_interim_response(true)
    r.status = 200
    return apache2.DECLINED
end
""" % SUBJECT


@pytest.fixture(scope="module")
def luagw(gateway_factory):
    # mod_lua reads the script in the child (User nobody): a directory
    # of its own under /tmp, which pytest's private temporary tree is not.
    d = tempfile.mkdtemp(prefix="pds-lua-")
    os.chmod(d, 0o755)
    script = os.path.join(d, "early.lua")
    with open(script, "w") as f:
        f.write(LUA_INTERIM)
    os.chmod(script, 0o644)
    yield from _luagw(gateway_factory, script)
    shutil.rmtree(d, ignore_errors=True)


def _luagw(gateway_factory, script):
    body = ORGANISATIONS + HB_DIRECT_CARE + """
<Location /citizens/>
    PDSGateway on
    ProxyPass %(backend)s/api/citizens/
    LuaHookFixups "{script}" send_early
</Location>
""".replace("{script}", script)
    yield gateway_factory(body, extra_modules=[("lua_module", "mod_lua.so")])


def test_nothing_sent_around_the_response_filter_reaches_the_client(luagw, rec):
    """Another module (mod_lua here) sends an interim response on an allowed
    request before mod_proxy runs: the gate on the connection withholds it."""
    data = raw_exchange(luagw, "/citizens/%s/record" % SUBJECT)
    assert data.startswith(b"HTTP/1.1 200 "), data[:400]
    assert data.count(b"HTTP/1.1 ") == 1, data
    assert b"103" not in data.split(b"\r\n", 1)[0] and b"care-db-01" not in data
    assert b"photo" not in data
    _, _, body = data.partition(b"\r\n\r\n")
    assert json.loads(body) == H.pick(rec, *HB_FIELDS)


def test_keep_alive_after_a_withheld_interim_response(gw, rec):
    """The gate leaves the connection with the request: the next request on
    the same connection is answered as usual."""
    with gw.connect() as conn:
        first = conn.request(H.build_request("GET", "/px/interim/%s/record" % SUBJECT,
                                             headers=[("PDS-Purpose", "direct-care")]))
        assert first.status_code == 200, H.describe(first)
        assert json.loads(first.content) == H.pick(rec, *RELEASED)
        second = conn.request(H.build_request("GET", "/citizens/%s/record" % SUBJECT,
                                              headers=[("PDS-Purpose", "direct-care")]))
    H.assert_allowed(gw, second, H.pick(rec, *HB_FIELDS), "hb-direct-care", "3")


# ------------------------------------------------- what the back end receives

# Headers a client may send that back ends or their frameworks trust for
# identity, routing or behaviour. The value names another person, a path or
# a host, so that a pass-through shows.
HOSTILE = [
    ("X-Original-URI", "/api/citizens/%s/record" % OTHER_SUBJECT),
    ("X-Original-URL", "/api/citizens/%s/record" % OTHER_SUBJECT),
    ("X-Original-Url", "/api/citizens/%s/record" % OTHER_SUBJECT),
    ("X-Rewrite-URL", "/api/citizens/%s/record" % OTHER_SUBJECT),
    ("X-Forwarded-Prefix", "/api/citizens/%s" % OTHER_SUBJECT),
    ("X-Forwarded-Uri", "/api/citizens/%s/record" % OTHER_SUBJECT),
    ("X-Forwarded-Path", "/api/citizens/%s/record" % OTHER_SUBJECT),
    ("X-Forwarded-Port", "6666"),
    ("X-Forwarded-Scheme", "gopher"),
    ("X-Forwarded-Proto", "gopher"),
    ("X-Forwarded-For", "203.0.113.66"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Server", "evil.example"),
    ("Forwarded", "for=203.0.113.66;host=evil.example"),
    ("X-Envoy-Original-Path", "/api/citizens/%s/record" % OTHER_SUBJECT),
    ("X-Host", "evil.example"),
    ("X-Original-Host", "evil.example"),
    ("X-Client-Cert", "-----BEGIN CERTIFICATE-----evil"),
    ("X-SSL-Client-Cert", "evil"),
    ("X-SSL-Client-DN", "CN=evil.example"),
    ("X-SSL-Client-Verify", "SUCCESS"),
    ("X-SSL-Client-S-DN", "CN=evil.example"),
    ("Remote-User", "evil-admin"),
    ("X-Remote-User", "evil-admin"),
    ("X-Real-IP", "203.0.113.66"),
    ("Via", "1.1 evil.example"),
    ("X-Original-Method", "DELETE"),
    ("X-User-Id", "evil-admin"),
    ("Max-Forwards", "5"),
    ("Prefer", "return=representation; evil"),
    ("Accept-Language", "evil"),
    ("User-Agent", "evil-agent/1.0"),
    ("Referer", "https://evil.example/"),
    ("traceparent", "00-evil-evil-01"),
]


def backend_entry(gw):
    log = gw.backend.requests()
    assert len(log) == 1, log
    return log[0]


# What reaches the back end: the gateway's assertions, mod_proxy's own
# X-Forwarded-* (the gateway's view: the real client address and the
# gateway's own name) and its hop-by-hop Connection.
BACKEND_GETS = {"host", "accept", "pds-organisation", "pds-agreement", "pds-purpose",
                "pds-subject", "pds-request-id", "x-forwarded-for", "x-forwarded-host",
                "x-forwarded-server", "connection"}


def test_the_back_end_receives_an_allow_list_of_headers(gw, rec):
    data = H.build_request("GET", "/citizens/%s/record" % SUBJECT, headers=[
        ("Host", "evil.example:8443"), ("PDS-Purpose", "direct-care"),
        ("Accept", "text/html"), ("Connection", "close")] + HOSTILE)
    r = gw.raw(data)
    H.assert_allowed(gw, r, H.pick(rec, *HB_FIELDS), "hb-direct-care", "3")
    entry = backend_entry(gw)
    names = {k.lower() for k, _ in entry["headers"]}
    assert names <= BACKEND_GETS, "reached the back end: %r" % sorted(names - BACKEND_GETS)
    blob = json.dumps(entry)
    for bad in ("evil", OTHER_SUBJECT, "203.0.113.66", "gopher", "6666", "DELETE"):
        assert bad not in blob, (bad, entry)
    hdr = gw.backend.header
    assert hdr(entry, "Accept") == ["application/json"]
    assert hdr(entry, "X-Forwarded-For") == ["127.0.0.1"]
    assert hdr(entry, "X-Forwarded-Host") == ["localhost:%d" % gw.httpd.https_port]
    assert hdr(entry, "PDS-Subject") == [SUBJECT]


def test_writes_carry_their_checked_body_headers(gw):
    """A write keeps what its checked body needs, its type and length, and
    loses everything else the client sent, Expect and Content-Encoding
    included."""
    body = json.dumps({"phone": "01632 960123"})
    r = gw.request("PATCH", "/wr/%s/record" % SUBJECT, data=body,
                   headers=dict([("Content-Type", "application/json; charset=utf-8"),
                                 ("Content-Language", "evil"), ("Expect", "100-continue"),
                                 ("Content-Encoding", "identity")] + HOSTILE[:28]))
    assert r.status_code == 200, H.describe(r)
    assert r.json() == {"status": "accepted", "received": {"phone": "01632 960123"}}
    entry = backend_entry(gw)
    names = {k.lower() for k, _ in entry["headers"]}
    extra = names - BACKEND_GETS - {"content-type", "content-length"}
    assert not extra, "reached the back end: %r" % sorted(extra)
    hdr = gw.backend.header
    assert hdr(entry, "Content-Type") == ["application/json"]
    checked = json.dumps({"phone": "01632 960123"}, separators=(",", ":"))
    assert hdr(entry, "Content-Length") == [str(len(checked.encode()))]
    for bad in ("evil", OTHER_SUBJECT, "203.0.113.66", "gopher"):
        assert bad not in json.dumps(entry), (bad, entry)


def test_access_log_still_shows_what_the_client_sent(gw, rec):
    r = gw.get("/citizens/%s/record" % SUBJECT,
               headers={"User-Agent": "partner-app/2.1", "X-Original-URL": "/elsewhere"})
    assert r.status_code == 200, H.describe(r)
    assert H.Backend.header(backend_entry(gw), "User-Agent") == []
    rid = r.headers["PDS-Request-Id"]
    time.sleep(0.1)
    lines = H.read_text(os.path.join(gw.httpd.root, "logs", "client-headers.log"))
    assert "%s partner-app/2.1|/elsewhere" % rid in lines, lines[-500:]


def test_max_forwards_zero_is_not_a_back_end_error(gw, rec):
    """Max-Forwards concerns TRACE and OPTIONS only (RFC 9110 7.6.2), which
    the gateway refuses: it is dropped, so mod_proxy does not answer a 0
    itself ("proxy loop?") and nothing blames the back end for that."""
    for value in ("0", "not-a-number"):
        r = gw.get("/citizens/%s/record" % SUBJECT, headers={"Max-Forwards": value})
        H.assert_allowed(gw, r, H.pick(rec, *HB_FIELDS), "hb-direct-care", "3")
        assert H.Backend.header(backend_entry(gw), "Max-Forwards") == []
        gw.backend.clear()


# ------------------------------------------------- what a problem says

@pytest.mark.allow_log(*GATEWAY_LOG)
def test_unreachable_back_end_is_backend_unavailable(gw):
    r = gw.get("/dead/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-unavailable", backend_reached=False,
                    agreement="hb-proxy", subject=SUBJECT)
    doc = r.json()
    assert doc["detail"] == "the back end could not be reached", doc
    assert "503" not in doc["detail"] and "answered" not in doc["detail"]


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_back_end_timeout_is_backend_timeout(gw):
    t0 = time.monotonic()
    r = gw.get("/slow/%s/record" % SUBJECT)
    assert time.monotonic() - t0 < 2.9, "the gateway waited for the slow back end"
    H.assert_denied(gw, r, "backend-timeout", agreement="hb-proxy", subject=SUBJECT)
    doc = r.json()
    assert doc["detail"] == "the back end did not answer in time", doc


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_back_end_error_status_is_named(gw):
    r = gw.get("/px/error503/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-error", agreement="hb-proxy", subject=SUBJECT)
    assert r.json()["detail"] == "the back end answered 503"
    H.assert_no_leak(r)


# An ErrorDocument with a local URL makes httpd answer with another request
# (an internal redirect), around the response filter of the allowed one.
ERRDOC_CONFIG = ORGANISATIONS + (
    """
DocumentRoot "{docroot}"
ErrorDocument 503 /errors/503.html
ErrorDocument 502 /errors/missing.html
<Location /slow/>
    PDSGateway on
    ProxyPass %(backend)s/api/misbehave/slow-3/ timeout=1
</Location>
""" +
    agreement("hb-errdoc", "health-board", "direct-care",
              ["GET /dead/{subject}/record", "GET /slow/{subject}/record"], "Release name.given") +
    """<Location /dead/>
    PDSGateway on
    ProxyPass http://127.0.0.1:""") + str(DEAD_PORT) + """/api/citizens/ retry=0
</Location>
"""


@pytest.fixture(scope="module")
def errdoc_gw(gateway_factory):
    d = tempfile.mkdtemp(prefix="pds-errdoc-")
    os.makedirs(os.path.join(d, "errors"))
    for sub in (d, os.path.join(d, "errors")):
        os.chmod(sub, 0o755)
    page = os.path.join(d, "errors", "503.html")
    with open(page, "w") as f:
        f.write("<html>LegacyCare maintenance on care-db-01.internal</html>\n")
    os.chmod(page, 0o644)
    yield gateway_factory(ERRDOC_CONFIG.replace("{docroot}", d))
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_local_error_document_is_replaced_by_the_problem(errdoc_gw):
    r = errdoc_gw.get("/dead/%s/record" % SUBJECT)
    H.assert_denied(errdoc_gw, r, "backend-unavailable", backend_reached=False,
                    agreement="hb-errdoc", subject=SUBJECT)
    assert b"LegacyCare" not in r.content and b"<html" not in r.content


@pytest.mark.allow_log(*GATEWAY_LOG, r"AH00132", r"File does not exist")
def test_missing_local_error_document_is_replaced_by_the_problem(errdoc_gw):
    """The ErrorDocument itself fails (no such file): still the problem for
    the original request, and the connection stays usable."""
    with errdoc_gw.connect() as conn:
        r = conn.request(H.build_request("GET", "/slow/%s/record" % SUBJECT,
                                         headers=[("PDS-Purpose", "direct-care")]))
        H.assert_denied(errdoc_gw, r, "backend-timeout", agreement="hb-errdoc",
                        subject=SUBJECT)
        errdoc_gw.backend.clear()
        again = conn.request(H.build_request("GET", "/dead/%s/record" % SUBJECT,
                                             headers=[("PDS-Purpose", "direct-care")]))
    H.assert_denied(errdoc_gw, again, "backend-unavailable", backend_reached=False)


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_error_override_still_names_the_back_ends_status(gw, rec):
    """ProxyErrorOverride On turns the back end's error into an error page
    of httpd's: it is still the back end's answer, and said so."""
    r = gw.get("/override/error503/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-error", agreement="hb-proxy", subject=SUBJECT)
    assert r.json()["detail"] == "the back end answered 503"
    H.assert_no_leak(r, rec)
    gw.backend.clear()
    r = gw.get("/override/error404-pii/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "not-found", agreement="hb-proxy", subject=SUBJECT)
    H.assert_no_leak(r, rec)
