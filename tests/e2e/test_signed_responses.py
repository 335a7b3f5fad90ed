"""Signed responses (PDSSignResponses, PDSResponseSigningKey, SetHandler
pds-jwks): every body the gateway releases carries PDS-Signature, a JWS with a
detached payload (RFC 7515 appendix F) over the exact body bytes, whose
protected header names the request id and the agreement; the public key is
published as a JWKS; refusals are never signed. A receiver checks a response
saved with `curl -D HEADERS -o BODY` with `pds-audit verify-response`, which
names each way a response can fail to be the one the gateway signed."""
import base64
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import pds_harness as H
from pds_configs import HB_DIRECT_CARE, OTHER_SUBJECT, ORGANISATIONS, SUBJECT

SIGNED_CITIZENS = """
<Location /citizens/>
    PDSGateway on
    PDSSignResponses on
    ProxyPass %(backend)s/api/citizens/
</Location>
"""
JWKS_LOCATION = """
<Location /jwks>
    SetHandler pds-jwks
</Location>
"""
AGREEMENT = "hb-direct-care;v=3"
TYP = "pds-response+jws"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def record_path(subject=SUBJECT):
    return "/citizens/%s/record" % subject


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(public_key):
    """RFC 7638 SHA-256 thumbprint of an Ed25519 public key."""
    x = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64url(x)},
                         separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(members.encode()).digest())


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def detached_jws(key, header, body):
    """A detached JWS made here, with any key and header."""
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    signature = key.sign((protected + "." + b64url(body)).encode())
    return protected + ".." + b64url(signature)


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def signing_key(tmp_path_factory):
    """The gateway's response signing key: Ed25519, PKCS#8 PEM, mode 0600."""
    key = ed25519.Ed25519PrivateKey.generate()
    path = str(tmp_path_factory.mktemp("response-key") / "response.pem")
    H.write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return key, path


@pytest.fixture(scope="module")
def gw(gateway_factory, signing_key):
    _, path = signing_key
    body = (ORGANISATIONS + HB_DIRECT_CARE
            + 'PDSResponseSigningKey "%s"\n' % path.replace("%", "%%")
            + SIGNED_CITIZENS + JWKS_LOCATION)
    return gateway_factory(body, vhost_body="    Protocols h2 http/1.1\n",
                           extra_modules=[("http2_module", "mod_http2.so")])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return str(tmp_path_factory.mktemp("saved-responses"))


@pytest.fixture(scope="module")
def jwks_file(gw, files):
    """The JWKS as a receiver saves it (curl -o)."""
    status, _, body = curl_save(gw, files, "jwks", "/jwks", purpose=None)
    assert status == 200, open(body, "rb").read()[:500]
    return body


@pytest.fixture(scope="module")
def public_key_file(signing_key, files):
    path = os.path.join(files, "response.pub.pem")
    with open(path, "wb") as f:
        f.write(public_pem(signing_key[0]))
    return path


# ------------------------------------------------------------------- helpers

def curl_save(gw, directory, name, path, purpose="direct-care", http="--http1.1"):
    """GET path as the health board with curl -D HEADERS -o BODY: (status,
    headers file, body file)."""
    headers = os.path.join(directory, name + ".headers")
    body = os.path.join(directory, name + ".body")
    hb = gw.pki["health-board"]
    cmd = ["curl", "-sS", "--max-time", "15", "--cacert", gw.pki.ca_cert,
           "--cert", hb.cert, "--key", hb.key, "-D", headers, "-o", body,
           "-w", "%{http_code}", http]
    if purpose:
        cmd += ["-H", "PDS-Purpose: " + purpose]
    p = subprocess.run(cmd + [gw.url(path)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    if not os.path.exists(body):
        open(body, "wb").close()
    return int(p.stdout), headers, body


def header_value(headers_file, name):
    """The values of header `name` in the last block of a curl -D file."""
    blocks = open(headers_file, "rb").read().decode("iso-8859-1").split("\r\n\r\n")
    last = [b for b in blocks if b.startswith("HTTP/")][-1]
    return [line.split(":", 1)[1].strip() for line in last.split("\r\n")[1:]
            if line.split(":", 1)[0].strip().lower() == name.lower()]


def rewrite_header(headers_file, out, name, value):
    """A copy of a curl -D file with header `name` set to `value` (None: removed)."""
    lines = open(headers_file, "rb").read().decode("iso-8859-1").split("\r\n")
    kept = []
    for line in lines:
        if ":" in line and line.split(":", 1)[0].strip().lower() == name.lower():
            if value is not None:
                kept.append("%s: %s" % (line.split(":", 1)[0], value))
        else:
            kept.append(line)
    with open(out, "wb") as f:
        f.write("\r\n".join(kept).encode("iso-8859-1"))
    return out


def verify_response(*args):
    p = subprocess.run([H.audit_tool(), "verify-response", *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def problem_code(out):
    """CODE of a "NOT VERIFIED: CODE: WHY" line."""
    m = re.match(r"NOT VERIFIED: ([a-z-]+): ", out)
    assert m, "no NOT VERIFIED line in:\n" + out
    return m.group(1)


@pytest.fixture(scope="module")
def saved(gw, files):
    """One released response, saved as a receiver saves it."""
    status, headers, body = curl_save(gw, files, "released", record_path())
    assert status == 200, open(body, "rb").read()[:500]
    return headers, body


# --------------------------------------------------------------------- tests

def test_released_body_is_signed_over_its_exact_bytes(gw, signing_key):
    key, _ = signing_key
    r = gw.get(record_path())
    assert r.status_code == 200, H.describe(r)
    assert H.media_type(r.headers.get("Content-Type")) == "application/json", H.describe(r)
    sig = r.headers.get("PDS-Signature")
    assert sig, "no PDS-Signature on a released response:\n" + H.describe(r)
    protected, empty, signature = sig.split(".")
    assert empty == "", "the payload part of a detached JWS is empty: %s" % sig

    jwks = gw.get("/jwks", purpose=None)
    assert jwks.status_code == 200, H.describe(jwks)
    assert H.media_type(jwks.headers.get("Content-Type")) == "application/jwk-set+json"
    keys = jwks.json()["keys"]
    assert all(set(k) & {"d", "p", "q", "dp", "dq", "qi", "k"} == set() for k in keys), keys

    header = json.loads(b64url_decode(protected))
    assert header["alg"] == "EdDSA" and header["typ"] == TYP
    assert header["kid"] == thumbprint(key.public_key())
    [jwk] = [k for k in keys if k.get("kid") == header["kid"]]
    assert (jwk["kty"], jwk["crv"], jwk.get("alg"), jwk.get("use")) == \
        ("OKP", "Ed25519", "EdDSA", "sig")
    public = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    public.verify(b64url_decode(signature),
                  (protected + "." + b64url(r.content)).encode())
    with pytest.raises(InvalidSignature):
        public.verify(b64url_decode(signature),
                      (protected + "." + b64url(r.content + b" ")).encode())

    assert header["pds_request_id"] == r.headers["PDS-Request-Id"]
    assert header["pds_agreement"] == r.headers["PDS-Agreement"] == AGREEMENT
    assert abs(header["iat"] - time.time()) < 120
    assert gw.audit_for(r)["decision"] == "allow"


def test_each_response_has_its_own_signature(gw):
    a, b = gw.get(record_path()), gw.get(record_path(OTHER_SUBJECT))
    assert a.status_code == b.status_code == 200
    assert a.headers["PDS-Signature"] != b.headers["PDS-Signature"]
    ha = json.loads(b64url_decode(a.headers["PDS-Signature"].split(".")[0]))
    hb = json.loads(b64url_decode(b.headers["PDS-Signature"].split(".")[0]))
    assert ha["pds_request_id"] != hb["pds_request_id"]


def test_pds_audit_accepts_a_saved_response_with_the_jwks(saved, jwks_file, signing_key):
    headers, body = saved
    [request_id] = header_value(headers, "PDS-Request-Id")
    kid = thumbprint(signing_key[0].public_key())
    rc, out, err = verify_response("--jwks", jwks_file, "--headers", headers, "--body", body)
    assert rc == 0, out + err
    lines = out.splitlines()
    assert lines[0] == "signature: valid (EdDSA, kid %s)" % kid
    assert lines[1] == "request: %s" % request_id
    assert lines[2] == "agreement: %s" % AGREEMENT
    assert lines[3].startswith("signed at: ")
    signed_at = lines[3][len("signed at: "):]
    assert RFC3339_UTC.match(signed_at), signed_at
    when = dt.datetime.strptime(signed_at, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc)
    assert abs(when.timestamp() - time.time()) < 300
    # what was released is never printed
    released = json.loads(open(body, "rb").read())
    assert released["name"]["given"] not in out + err

    rc, out, err = verify_response("--jwks", jwks_file, "--headers", headers, "--body", body,
                                   "--expect-request-id", request_id,
                                   "--expect-agreement", "hb-direct-care")
    assert rc == 0, out + err
    rc, out, err = verify_response("--jwks", jwks_file, "--headers", headers, "--body", body,
                                   "--expect-agreement", AGREEMENT)
    assert rc == 0, out + err


def test_pds_audit_accepts_it_with_the_public_key(saved, public_key_file):
    headers, body = saved
    [request_id] = header_value(headers, "PDS-Request-Id")
    rc, out, err = verify_response("--public-key", public_key_file, "--headers", headers,
                                   "--body", body)
    assert rc == 0, out + err
    assert "request: %s\n" % request_id in out
    assert out.startswith("signature: valid (EdDSA, kid ")


def test_pds_audit_names_each_way_a_response_fails(gw, saved, jwks_file, public_key_file,
                                                   files, signing_key):
    headers, body = saved
    [sig] = header_value(headers, "PDS-Signature")
    content = open(body, "rb").read()
    codes = {}

    def refused(name, *args):
        rc, out, err = verify_response(*args)
        assert rc == 1, "%s: exit %d\n%s%s" % (name, rc, out, err)
        assert "signature: valid" not in out
        codes[name] = problem_code(out)
        return out

    # (a) one byte of the body changed
    changed = bytearray(content)
    changed[len(changed) // 2] ^= 0x01
    changed_body = os.path.join(files, "changed.body")
    with open(changed_body, "wb") as f:
        f.write(bytes(changed))
    refused("body", "--jwks", jwks_file, "--headers", headers, "--body", changed_body)

    # (b) the signature and body of this response, the request id of another
    _, other_headers, _ = curl_save(gw, files, "other", record_path(OTHER_SUBJECT))
    [other_id] = header_value(other_headers, "PDS-Request-Id")
    swapped = rewrite_header(headers, os.path.join(files, "swapped.headers"),
                             "PDS-Request-Id", other_id)
    out = refused("request-id", "--jwks", jwks_file, "--headers", swapped, "--body", body)
    assert other_id in out

    # (c) the same claims signed by another key
    intruder = ed25519.Ed25519PrivateKey.generate()
    header = json.loads(b64url_decode(sig.split(".")[0]))
    forged = detached_jws(intruder, dict(header, kid=thumbprint(intruder.public_key())),
                          content)
    forged_headers = rewrite_header(headers, os.path.join(files, "forged.headers"),
                                    "PDS-Signature", forged)
    refused("other-key", "--jwks", jwks_file, "--headers", forged_headers, "--body", body)

    # (d) no signature at all
    bare = rewrite_header(headers, os.path.join(files, "bare.headers"), "PDS-Signature", None)
    refused("missing", "--jwks", jwks_file, "--headers", bare, "--body", body)

    assert len(set(codes.values())) == len(codes), codes

    # the other key claiming the gateway's kid is caught by the signature itself
    lying = detached_jws(intruder, header, content)
    lying_headers = rewrite_header(headers, os.path.join(files, "lying.headers"),
                                   "PDS-Signature", lying)
    out = refused("lying-kid", "--jwks", jwks_file, "--headers", lying_headers, "--body", body)
    assert codes["lying-kid"] == codes["body"]
    # and with --public-key the other key's signature is named as such
    refused("other-key-pem", "--public-key", public_key_file, "--headers", forged_headers,
            "--body", body)
    assert codes["other-key-pem"] not in (codes["missing"], codes["request-id"])
    # what the receiver expected, when it is not what was signed
    refused("expect-id", "--jwks", jwks_file, "--headers", headers, "--body", body,
            "--expect-request-id", other_id)
    refused("expect-agreement", "--jwks", jwks_file, "--headers", headers, "--body", body,
            "--expect-agreement", "hb-direct-care;v=2")
    assert len({codes["expect-id"], codes["expect-agreement"], codes["request-id"]}) == 3


def test_pds_audit_over_http2(gw, files, jwks_file):
    status, headers, body = curl_save(gw, files, "h2", record_path(), http="--http2")
    assert status == 200
    text = open(headers, "rb").read().decode("iso-8859-1")
    assert text.startswith("HTTP/2 200") and "\r\npds-signature: " in text, text
    rc, out, err = verify_response("--jwks", jwks_file, "--headers", headers, "--body", body)
    assert rc == 0, out + err
    assert "request: %s\n" % header_value(headers, "PDS-Request-Id")[0] in out


def test_pds_audit_reads_the_last_response_of_a_curl_file(saved, jwks_file, files):
    """curl -D keeps every response of an exchange (1xx, redirects): only the
    last one is the body's; two signatures in it are refused."""
    headers, body = saved
    text = open(headers, "rb").read().decode("iso-8859-1")
    [sig] = header_value(headers, "PDS-Signature")
    earlier = ("HTTP/1.1 100 Continue\r\n\r\n"
               "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"
               "PDS-Signature: not..this\r\nPDS-Request-Id: not-this\r\n\r\n")
    several = os.path.join(files, "several.headers")
    with open(several, "wb") as f:
        f.write((earlier + text).encode("iso-8859-1"))
    rc, out, err = verify_response("--jwks", jwks_file, "--headers", several, "--body", body)
    assert rc == 0, out + err

    twice = os.path.join(files, "twice.headers")
    head, _, tail = text.rpartition("\r\n\r\n")
    with open(twice, "wb") as f:
        f.write((head + "\r\npds-signature: " + sig + "\r\n\r\n" + tail)
                .encode("iso-8859-1"))
    rc, out, err = verify_response("--jwks", jwks_file, "--headers", twice, "--body", body)
    assert rc == 1 and problem_code(out) == "duplicate-signature", out + err


def test_pds_audit_usage_errors_exit_2(saved, jwks_file, public_key_file):
    headers, body = saved
    for args in (["--headers", headers, "--body", body],
                 ["--jwks", jwks_file, "--public-key", public_key_file, "--headers", headers,
                  "--body", body],
                 ["--jwks", jwks_file, "--headers", headers],
                 ["--jwks", jwks_file, "--headers", headers, "--body", body, "extra"],
                 ["--jwks", body, "--headers", headers, "--body", body],
                 ["--jwks", jwks_file, "--headers", body, "--body", body + ".none"]):
        rc, out, err = verify_response(*args)
        assert rc == 2, "%s: exit %d\n%s%s" % (args, rc, out, err)
        assert out == "" and err.startswith("pds-audit: "), err
    p = subprocess.run([H.audit_tool(), "verify-response", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--jwks" in p.stdout and "--headers" in p.stdout
    p = subprocess.run([H.audit_tool(), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "verify-response" in p.stdout


def test_refusals_carry_no_signature(gw, files, jwks_file):
    r = gw.get(record_path(), purpose="marketing")
    assert r.status_code == 403, H.describe(r)
    assert "PDS-Signature" not in r.headers
    assert gw.audit_for(r)["decision"] == "deny"
    status, headers, body = curl_save(gw, files, "refused", record_path(), purpose="marketing")
    assert status == 403
    assert header_value(headers, "PDS-Signature") == []
    rc, out, err = verify_response("--jwks", jwks_file, "--headers", headers, "--body", body)
    assert rc == 1 and problem_code(out) == "no-signature", out + err


def test_sign_responses_without_a_key_fails_the_config_test(httpd_factory):
    httpd = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + SIGNED_CITIZENS)
    rc, out = httpd.config_test()
    assert rc != 0, out
    assert "PDSResponseSigningKey" in out, out
    assert "line %d" % httpd.line_of("PDSSignResponses on") in out, out


# ------------------------------------------------- an ES256 response key

@pytest.fixture(scope="module")
def es_signer(gateway_factory, tmp_path_factory):
    """A gateway signing with an EC P-256 key (ES256); its public PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    d = tmp_path_factory.mktemp("es-response-key")
    path, pub = str(d / "response.pem"), str(d / "response.pub.pem")
    H.write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    with open(pub, "wb") as f:
        f.write(public_pem(key))
    body = (ORGANISATIONS + HB_DIRECT_CARE
            + 'PDSResponseSigningKey "%s"\n' % path.replace("%", "%%") + SIGNED_CITIZENS)
    return gateway_factory(body), pub


def test_es256_response_signatures_are_low_s_and_their_twins_refused(es_signer, files):
    """OpenSSL's ECDSA does not normalise s: about half of what it signs has
    s > n/2, which our verifier (and pds-audit) refuses as the malleable twin.
    Every ES256 signature the gateway makes is the low-s form (32 in a row,
    2^-32 by chance otherwise); pds-audit accepts it and refuses its (r, n - s)
    twin, which is as valid an ECDSA signature."""
    gw, pub = es_signer
    for i in range(32):
        r = gw.get(record_path())
        assert r.status_code == 200, H.describe(r)
        sig = r.headers["PDS-Signature"]
        protected, _, signature = sig.split(".")
        assert json.loads(b64url_decode(protected))["alg"] == "ES256"
        raw = b64url_decode(signature)
        assert len(raw) == 64
        assert int.from_bytes(raw[32:], "big") <= H.P256_ORDER // 2, \
            "response %d is signed with a high s" % i

    status, headers, body = curl_save(gw, files, "es256", record_path())
    assert status == 200
    rc, out, err = verify_response("--public-key", pub, "--headers", headers, "--body", body)
    assert rc == 0, out + err
    assert out.startswith("signature: valid (ES256, kid "), out
    [sig] = header_value(headers, "PDS-Signature")
    twin = rewrite_header(headers, os.path.join(files, "es256-twin.headers"),
                          "PDS-Signature", H.high_s_twin(sig))
    rc, out, err = verify_response("--public-key", pub, "--headers", twin, "--body", body)
    assert rc == 1 and problem_code(out) == "bad-signature", out + err
