"""The harness checked on its own: the legacy back end, the PKI, tokens, and
an httpd WITHOUT mod_pds proxying to the back end. When these fail, the
other e2e tests say nothing about mod_pds."""
import gzip
import json
import re
import socket
import subprocess

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac as chmac
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import pds_harness as H

SUBJECT = "9836900608"

PLAIN_PROXY = """
<Location /citizens/>
    ProxyPass %(backend)s/api/citizens/
</Location>
<Location /misbehave/>
    ProxyPass %(backend)s/api/misbehave/
</Location>
"""


@pytest.fixture(scope="module")
def proxy(gateway_factory):
    return gateway_factory(PLAIN_PROXY, with_pds=False)


_direct = requests.Session()
_direct.trust_env = False


def direct(backend, path, **kw):
    return _direct.get(backend.url + path, timeout=10, **kw)


# ----------------------------------------------------------------- back end

def test_backend_serves_a_record_like_a_legacy_system(backend, residents):
    r = direct(backend, "/api/citizens/%s/record" % SUBJECT)
    assert r.status_code == 200
    assert r.json() == residents[SUBJECT]
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Server"] == "LegacyCare/4.2 (internal)"
    assert r.headers["X-Powered-By"] == "LegacyCare"
    assert r.headers["X-Backend-Host"] == "care-db-01.internal"
    assert r.headers["Set-Cookie"].startswith("LEGACYSESSION=")
    assert r.headers["ETag"].startswith('"') and r.headers["Last-Modified"]
    log = backend.requests()
    assert len(log) == 1
    assert log[0]["method"] == "GET" and log[0]["path"] == "/api/citizens/%s/record" % SUBJECT
    assert backend.header(log[0], "user-agent")


def test_backend_has_36_fictional_residents(residents):
    assert len(residents) == 36
    for rid, rec in residents.items():
        assert re.fullmatch(r"\d{10}", rid) and rec["id"] == rid
        assert rec["nhs_number"].replace(" ", "") == rid
        assert rec["phone"].startswith("01632 96")    # Ofcom's numbers for drama
        assert rec["email"].endswith("@example.org")
        assert set(rec) == {"id", "nhs_number", "name", "dob", "address", "phone", "email",
                            "benefits", "care", "case_worker", "internal"}


def test_backend_unknown_resident_is_404_json(backend):
    r = direct(backend, "/api/citizens/0000000000/record")
    assert r.status_code == 404 and r.json()["error"] == "not found"


def test_backend_contacts_and_visits(backend, residents):
    rec = residents[SUBJECT]
    c = direct(backend, "/api/citizens/%s/contacts" % SUBJECT).json()
    assert c["contacts"][0]["value"] == rec["phone"]
    v = direct(backend, "/api/citizens/%s/visits" % SUBJECT).json()
    assert isinstance(v, list) and v[0]["worker"] == rec["case_worker"]["name"]


def test_backend_answers_conditionals_with_304_and_ranges_with_206(backend):
    path = "/api/citizens/%s/record" % SUBJECT
    etag = direct(backend, path).headers["ETag"]
    assert direct(backend, path, headers={"If-None-Match": etag}).status_code == 304
    assert direct(backend, path, headers={
        "If-Modified-Since": "Wed, 01 Jan 2031 00:00:00 GMT"}).status_code == 304
    r = direct(backend, path, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and len(r.content) == 10
    assert r.headers["Content-Range"].startswith("bytes 0-9/")


def test_backend_echoes_writes(backend):
    r = _direct.put(backend.url + "/api/citizens/%s/record" % SUBJECT, json={"phone": "x"},
                     timeout=10)
    assert r.status_code == 200 and r.json()["received"] == {"phone": "x"}


@pytest.mark.parametrize("size", [33, 4096, 4097, 300000])
def test_backend_big_body_has_the_exact_size(backend, size):
    for path in ("/api/misbehave/big-%d/%s/record" % (size, SUBJECT),
                 "/api/misbehave/big/%s/record?size=%d" % (SUBJECT, size)):
        r = direct(backend, path)
        assert len(r.content) == size and int(r.headers["Content-Length"]) == size
        assert r.json()["name"] == {"given": "Big"}


def test_backend_misbehaviours_are_what_they_say(backend, residents):
    rec = residents[SUBJECT]

    def get(mode, **kw):
        return direct(backend, "/api/misbehave/%s/%s/record" % (mode, SUBJECT), **kw)

    assert get("ok").json() == rec
    assert get("extra-field").json()["secret_field"].startswith("s3cr3t")
    r = direct(backend, "/api/misbehave/gzip/%s/record" % SUBJECT, stream=True)
    assert r.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(r.raw.read(decode_content=False))) == rec
    r = get("partial")
    assert r.status_code == 206 and r.json() == rec and "Content-Range" in r.headers
    r = get("chunked")
    assert r.headers["Transfer-Encoding"] == "chunked" and r.json() == rec
    r = get("error500")
    assert r.status_code == 500 and rec["phone"] in r.text
    r = get("error404-pii")
    assert r.status_code == 404 and rec["phone"] in r.text
    r = get("html")
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Content-Type" not in get("no-content-type").headers
    assert get("not-json").content == b"hello"
    with pytest.raises(ValueError):
        json.loads(get("trailing-garbage").content)
    assert get("top-level-array").json() == [rec]
    assert isinstance(get("scalar").json(), str)
    r = get("empty")
    assert r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0"
    raw = get("duplicate-keys").text
    assert raw.count('"given"') == 2
    deep = get("deep").text
    assert deep.count("[") == 999 and deep.count("]") == 999 and rec["phone"] in deep
    r = get("redirect", allow_redirects=False)
    assert r.status_code == 302 and "care-db-01.internal" in r.headers["Location"]
    assert get("204").status_code == 204
    assert get("created").status_code == 201
    assert isinstance(get("wrong-type").json()["name"], str)
    assert get("json-suffix").headers["Content-Type"].endswith("+json")
    assert get("nulls").json()["phone"] is None


def test_backend_close_early_breaks_the_body(backend):
    with socket.create_connection(("127.0.0.1", backend.port), timeout=5) as s:
        s.sendall(b"GET /api/misbehave/close-early/%s/record HTTP/1.1\r\nHost: x\r\n\r\n"
                  % SUBJECT.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert b"Content-Length: 1000" in head and len(body) == 100


def test_backend_slow_waits(backend):
    import time
    t0 = time.monotonic()
    assert direct(backend, "/api/misbehave/slow-0.3/%s/record" % SUBJECT).status_code == 200
    assert time.monotonic() - t0 >= 0.3


# ---------------------------------------------------------------------- PKI

def test_pki_names_and_fingerprints(pki):
    assert pki["health-board"].dn == "CN=api.health-board.example,O=Fife Health Board"
    assert pki["data-trust"].dn == "CN=gateway.data-trust.example,O=Community Data Trust"
    assert pki["other-ca"].dn == pki["health-board"].dn
    for c in pki.certs.values():
        assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", c.sha256)
        assert re.fullmatch(r"[0-9a-f]{64}", c.sha256_hex)
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                           pki["data-trust"].cert], capture_output=True, text=True).stdout
    assert "DNS:gateway.data-trust.example" in text
    rc = subprocess.run(["openssl", "verify", "-CAfile", pki.ca_cert, pki["other-ca"].cert],
                        capture_output=True).returncode
    assert rc != 0


# ------------------------------------------------------------------- tokens

def verify_jws_signature(pub, alg, sig, data):
    """Checks a JWS signature `sig` (raw r||s for ES256) over `data` with the
    public key `pub`; raises InvalidSignature when it does not verify."""
    if alg == "ES256":
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                   int.from_bytes(sig[32:], "big"))
        pub.verify(der, data, ec.ECDSA(hashes.SHA256()))
    elif alg == "RS256":
        pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        pub.verify(sig, data)


def test_tokens_are_signed_as_jws_wants(token_keys):
    claims = H.token_claims("x")
    for name, alg in (("ec", "ES256"), ("rsa", "RS256"), ("ed", "EdDSA")):
        tok = H.mint_token(token_keys[name], alg, claims)
        h, p, s = tok.split(".")
        assert json.loads(H.b64url_decode(h))["alg"] == alg
        assert json.loads(H.b64url_decode(p)) == claims
        sig = H.b64url_decode(s)
        pub = token_keys[name].public_key()
        data = (h + "." + p).encode()
        if alg == "ES256":
            assert len(sig) == 64
        verify_jws_signature(pub, alg, sig, data)
        with pytest.raises(InvalidSignature):
            bad = H.b64url_decode(H.tamper_signature(tok).split(".")[2])
            verify_jws_signature(pub, alg, bad, data)
    none = H.mint_token(None, "none", claims)
    assert none.endswith(".")
    hs = H.mint_token(token_keys.public_pem["rsa"], "HS256", claims)
    h, p, s = hs.split(".")
    mac = chmac.HMAC(token_keys.public_pem["rsa"], hashes.SHA256())
    mac.update((h + "." + p).encode())
    mac.verify(H.b64url_decode(s))


def test_pick_builds_the_expected_release(residents):
    rec = residents[SUBJECT]
    assert H.pick(rec, "name.given", "benefits[*].type", "nothing.here") == {
        "name": {"given": rec["name"]["given"]},
        "benefits": [{"type": b["type"]} for b in rec["benefits"]]}


# -------------------------------------------------- httpd with plain mod_proxy

def test_proxy_https_with_client_certificate(proxy, backend, residents):
    r = proxy.get("/citizens/%s/record" % SUBJECT, who="health-board")
    assert r.status_code == 200, H.describe(r)
    assert r.json() == residents[SUBJECT]
    log = backend.requests()
    assert len(log) == 1 and log[0]["path"] == "/api/citizens/%s/record" % SUBJECT
    # Plain mod_proxy passes everything on: what mod_pds exists to stop.
    assert backend.header(log[0], "PDS-Purpose") == ["direct-care"]
    assert r.headers["X-Powered-By"] == "LegacyCare"


def test_proxy_plain_http_port(proxy, backend, residents):
    r = proxy.get("/citizens/%s/record" % SUBJECT, plain=True)
    assert r.status_code == 200 and r.json() == residents[SUBJECT]


def test_proxy_without_client_certificate(proxy):
    r = proxy.get("/citizens/%s/record" % SUBJECT, who=None)
    assert r.status_code == 200


@pytest.mark.allow_log(r"\[ssl:")
def test_other_ca_certificate_fails_the_handshake(proxy, backend):
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        proxy.get("/citizens/%s/record" % SUBJECT, who="other-ca")
    assert backend.requests() == []


def test_raw_connection_keeps_alive(proxy, residents):
    with proxy.connect("data-trust") as conn:
        req = H.build_request("GET", "/citizens/%s/record" % SUBJECT)
        first = conn.request(req)
        second = conn.request(req)
    assert first.status_code == second.status_code == 200
    assert second.json() == residents[SUBJECT]


def test_raw_request_sends_bytes_as_given(proxy, backend):
    r = proxy.raw(H.build_request("GET", "/citizens/%s/record;jsessionid=1" % SUBJECT,
                                  headers=[("Connection", "close")]))
    assert r.status_code == 404     # the back end has no such route; it got the ;
    assert backend.requests()[0]["path"].endswith(";jsessionid=1")


@pytest.mark.allow_log(r"AH0\d{4}")
def test_error_log_checker_sees_proxy_errors(proxy):
    off = proxy.httpd.error_log_size()
    r = proxy.get("/misbehave/close-early/%s/record" % SUBJECT)
    del r
    import time
    time.sleep(0.2)
    assert proxy.httpd.log_problems(off), proxy.httpd.error_log_text(off)
    assert proxy.httpd.log_problems(off, allow=[r"AH0\d{4}"]) == []


def test_config_test_reports_file_and_line(httpd_factory):
    h = httpd_factory("<Location /x/>\n    ProxyPas http://127.0.0.1:1/\n</Location>\n",
                      with_pds=False)
    rc, out = h.config_test()
    assert rc != 0
    assert h.conf_path in out and "line %d" % h.line_of("ProxyPas http") in out, out


def test_config_test_accepts_the_plain_config(httpd_factory):
    h = httpd_factory(PLAIN_PROXY, with_pds=False)
    rc, out = h.config_test()
    assert rc == 0, out


def test_assertions_catch_an_unfiltered_answer(proxy, residents):
    rec = residents[SUBJECT]
    r = proxy.get("/citizens/%s/record" % SUBJECT)
    assert r.status_code == 200
    for check in (lambda: H.assert_allowed(proxy, r, H.pick(rec, "name.given"), "x"),
                  lambda: H.assert_no_leak(r, rec, released=["name.given"]),
                  lambda: H.assert_no_backend_headers(r),
                  lambda: H.assert_problem(r, "no-agreement"),
                  lambda: H.assert_denied(proxy, r, "no-agreement")):
        with pytest.raises(AssertionError):
            check()
