"""Key rotation through a real httpd (issue #15 item 3): the audit chain's
HMAC key changes with the file (rename + graceful restart), a graceful
restart with a new key but no rename keeps the open file's key, a full
restart with a new key and the old file is refused; the checkpoint key may
change at any restart; `pds-audit verify` takes every key the series was
sealed with. A rotated response signing key stays in the JWKS through
PDSPublishedKey, so what it signed still verifies; a private key there fails
`apachectl -t`; the same for the consent receipt key and the consent API's
keys."""
import base64
import json
import os
import secrets
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
from pds_configs import AUTH_MODULES, CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS, PATH, \
    SUBJECT
from test_consent import CONSENT_AGREEMENT, nobody_owned_dir
from test_consent_deploy import GRANT, call, consented_location, htpasswd_file, person_api

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION + "StartServers 2\n"


def audit(*args):
    p = subprocess.run([H.audit_tool(), *args], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def keep_copy(path, directory, name):
    """A copy of a key file as the auditors keep it (mode 0600)."""
    out = os.path.join(directory, name)
    with open(path, "rb") as f:
        H.write_private(out, f.read())
    return out


def new_audit_keys(httpd, directory, tag):
    """Replaces the gateway's audit key and checkpoint key files in place (the
    configuration names the same paths); returns copies of the new ones."""
    H.write_private(httpd.audit_key_path, (secrets.token_hex(32) + "\n").encode())
    signer = ed25519.Ed25519PrivateKey.generate()
    H.write_private(httpd.audit_signing_key_path, private_pem(signer))
    pub = os.path.join(directory, "signing-%s.pub" % tag)
    with open(pub, "wb") as f:
        f.write(public_pem(signer))
    return keep_copy(httpd.audit_key_path, directory, "audit-%s.key" % tag), pub


def allowed(gw, n=3):
    responses = [gw.get(PATH) for _ in range(n)]
    assert all(r.status_code == 200 for r in responses), H.describe(responses[0])
    return responses


def lines_of(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("auditor-keys"))


@pytest.fixture
def gw(gateway_factory, keydir):
    gw = gateway_factory(CONFIG)
    # a checkpoint every 2 lines, so each file of a series has some
    h = gw.httpd
    h.audit_directives = 'PDSAuditKey "%s"\nPDSAuditSigningKey "%s"\nPDSAuditCheckpoint 2 5\n' % (
        h.audit_key_path, h.audit_signing_key_path)
    h.write_conf()
    H.graceful_restart(h)
    gw.old_key = keep_copy(gw.httpd.audit_key_path, keydir, "audit-%d.key" % id(gw))
    gw.old_pub = keep_copy(gw.httpd.audit_public_key_path, keydir, "signing-%d.pub" % id(gw))
    return gw


def test_the_audit_key_changes_with_the_file(gw, keydir, log_allow):
    log_allow.append("PDS00053")                    # the rotation notice
    path = gw.httpd.audit_path
    before = allowed(gw)
    new_key, new_pub = new_audit_keys(gw.httpd, keydir, "rotated")
    os.rename(path, path + ".1")
    H.graceful_restart(gw.httpd)
    after = allowed(gw)

    first = lines_of(path)[0]
    assert first["type"] == "file-start"
    ids = [rec.get("request_id") for rec in lines_of(path + ".1") + lines_of(path)]
    for r in before + after:
        assert r.headers["PDS-Request-Id"] in ids

    # both keys, both public keys: the whole series verifies, one key change
    rc, out = audit("verify", "--key", gw.old_key, "--key", new_key,
                    "--public-key", gw.old_pub, "--public-key", new_pub, "--series", path)
    assert rc == 0, out
    assert "changed 1 time(s), each at the start of a file" in out, out
    # the keys given in the other order verify the same
    rc, out = audit("verify", "--key", new_key, "--key", gw.old_key, "--series", path)
    assert rc == 0, out
    # one key alone fails at the first line of the file it did not seal
    rc, out = audit("verify", "--key", gw.old_key, "--series", path)
    assert rc == 1 and "%s:1: seq %d: bad-mac" % (path, first["seq"]) in out, out
    rc, out = audit("verify", "--key", new_key, "--series", path)
    assert rc == 1 and "%s.1:1: seq 1: bad-mac" % path in out, out
    # the old checkpoint key does not vouch for the new file's checkpoints
    rc, out = audit("verify", "--public-key", gw.old_pub, "--series", path)
    assert rc == 1 and "bad-checkpoint" in out, out


def test_a_new_key_waits_for_the_next_file(gw, keydir, log_allow):
    log_allow.extend(["PDS00490", "PDS00053"])
    path = gw.httpd.audit_path
    allowed(gw)
    new_key, _ = new_audit_keys(gw.httpd, keydir, "waiting")
    H.graceful_restart(gw.httpd)                    # no rename: the file goes on
    waited = allowed(gw)
    assert "PDS00490" in gw.httpd.error_log_text()
    # the open file is still the old key's, from its first line to its last
    rc, out = audit("verify", "--key", gw.old_key, path)
    assert rc == 0, out
    ids = [rec.get("request_id") for rec in lines_of(path)]
    assert all(r.headers["PDS-Request-Id"] in ids for r in waited)

    # the next rotation brings the new key in
    os.rename(path, path + ".1")
    H.graceful_restart(gw.httpd)
    allowed(gw)
    # the new file alone: every MAC is the new key's (only its head is elsewhere)
    rc, out = audit("verify", "--key", new_key, path)
    assert rc == 1 and "missing-head" in out and "bad-mac" not in out, out
    rc, out = audit("verify", "--key", gw.old_key, "--key", new_key, "--series", path)
    assert rc == 0, out


def test_a_full_restart_with_a_new_key_and_the_old_file_is_refused(gw, keydir):
    allowed(gw)
    gw.close_sessions()
    gw.httpd.stop()
    new_audit_keys(gw.httpd, keydir, "refused")
    rc, out = gw.httpd.config_test()
    assert rc != 0 and "PDS00048" in out, out
    assert "put the old key back" in out, out
    # the old key back: the gateway starts and the chain goes on
    with open(gw.old_key, "rb") as f:
        H.write_private(gw.httpd.audit_key_path, f.read())
    gw.httpd.start()
    allowed(gw, 1)
    rc, out = audit("verify", "--key", gw.old_key, gw.httpd.audit_path)
    assert rc == 0, out


# ------------------------------------------------------ signing keys and JWKS

SIGNED = """
<Location /citizens/>
    PDSGateway on
    PDSSignResponses on
    ProxyPass %(backend)s/api/citizens/
</Location>
<Location /jwks>
    SetHandler pds-jwks
</Location>
"""


def kid_of(signature_header):
    protected = signature_header.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))["kid"]


def test_a_rotated_response_key_stays_published(gateway_factory, tmp_path):
    old, new = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    key_path = str(tmp_path / "response.key")
    old_pub = str(tmp_path / "response-old.pub")
    H.write_private(key_path, private_pem(old))
    with open(old_pub, "wb") as f:
        f.write(public_pem(old))
    base = ORGANISATIONS + HB_DIRECT_CARE + SIGNED
    gw = gateway_factory(base + 'PDSResponseSigningKey "%s"\n' % key_path)
    signed_before = gw.get(PATH)
    assert signed_before.status_code == 200, H.describe(signed_before)
    old_kid = kid_of(signed_before.headers["PDS-Signature"])

    # the new key signs; the old one is published beside it
    H.write_private(key_path, private_pem(new))
    configured = gw.httpd.body                  # as the factory filled it in
    gw.httpd.body = configured + 'PDSPublishedKey "%s" "%s"\n' % (old_pub, old_pub)
    gw.httpd.write_conf()
    H.graceful_restart(gw.httpd)
    signed_after = gw.get(PATH)
    new_kid = kid_of(signed_after.headers["PDS-Signature"])
    assert new_kid != old_kid
    jwks = gw.get("/jwks", purpose=None).json()
    kids = [k["kid"] for k in jwks["keys"]]
    assert kids == [new_kid, old_kid], kids     # the signing key first, each once

    # a receiver with the current JWKS checks the response signed before the rotation
    jwks_file = str(tmp_path / "jwks.json")
    with open(jwks_file, "w") as f:
        json.dump(jwks, f)
    for name, r in (("before", signed_before), ("after", signed_after)):
        headers, body = str(tmp_path / (name + ".headers")), str(tmp_path / (name + ".body"))
        with open(headers, "w") as f:
            f.write("HTTP/1.1 200 OK\r\n" + "".join(
                "%s: %s\r\n" % kv for kv in r.headers.items()) + "\r\n")
        with open(body, "wb") as f:
            f.write(r.content)
        rc, out = audit("verify-response", "--jwks", jwks_file, "--headers", headers,
                        "--body", body)
        assert rc == 0, (name, out)

    # once retired (the line removed), the old key is gone from the JWKS
    gw.httpd.body = configured
    gw.httpd.write_conf()
    H.graceful_restart(gw.httpd)
    assert [k["kid"] for k in gw.get("/jwks", purpose=None).json()["keys"]] == [new_kid]


def test_a_private_key_is_never_published(httpd_factory, tmp_path):
    private = str(tmp_path / "oops.key")
    H.write_private(private, private_pem(ed25519.Ed25519PrivateKey.generate()))
    h = httpd_factory(ORGANISATIONS + 'PDSPublishedKey "%s"\n' % private)
    rc, out = h.config_test()
    assert rc != 0, out
    assert "PDSPublishedKey %s: a private key; publish only its public half" % private in out
    assert "openssl pkey -in %s -pubout" % private in out

    junk = str(tmp_path / "junk.pub")
    with open(junk, "w") as f:
        f.write("not a key\n")
    h = httpd_factory(ORGANISATIONS + 'PDSPublishedKey "%s"\n' % junk)
    rc, out = h.config_test()
    assert rc != 0 and "PDSPublishedKey %s:" % junk in out, out


def test_a_rotated_receipt_key_stays_published(gateway_factory, tmp_path):
    """A person keeps receipts for years: after PDSConsentReceiptKey changes,
    the consent API's keys still hold the old key (PDSPublishedKey), so an
    old receipt's kid is found and its signature verifies."""
    shared = nobody_owned_dir("pds-e2e-receipt-rotation-")
    try:
        old, new = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
        key_path, old_pub = str(tmp_path / "receipt.key"), str(tmp_path / "receipt-old.pub")
        H.write_private(key_path, private_pem(old))
        with open(old_pub, "wb") as f:
            f.write(public_pem(old))
        pw = htpasswd_file(shared, [(SUBJECT, "pw")])
        gw = gateway_factory(ORGANISATIONS + 'PDSConsentStore sqlite3 "%s/consent.db"\n' % shared
                             + 'PDSConsentReceiptKey "%s"\n' % key_path + CONSENT_AGREEMENT
                             + consented_location() + person_api(pw),
                             extra_modules=AUTH_MODULES)
        g = call(gw, "POST", "/consents", (SUBJECT, "pw"), GRANT)
        assert g.status_code == 201, H.describe(g)
        receipt = g.json()["receipt"]

        H.write_private(key_path, private_pem(new))
        gw.httpd.body += 'PDSPublishedKey "%s"\n' % old_pub
        gw.httpd.write_conf()
        H.graceful_restart(gw.httpd)
        gw.close_sessions()
        later = call(gw, "POST", "/consents", (SUBJECT, "pw"), dict(GRANT, notice="n-2"))
        assert later.status_code == 201, H.describe(later)
        keys = call(gw, "GET", "/keys", (SUBJECT, "pw")).json()["keys"]
        by_kid = {k["kid"]: k for k in keys}
        assert len(keys) == 2
        assert keys[0]["kid"] == kid_of(later.json()["receipt"])    # the current key first
        header_b64, payload_b64, sig_b64 = receipt.split(".")
        jwk = by_kid[kid_of(receipt)]                                 # the old receipt's key
        x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        ed25519.Ed25519PublicKey.from_public_bytes(x).verify(
            base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4)),
            ("%s.%s" % (header_b64, payload_b64)).encode())
    finally:
        shutil.rmtree(shared, ignore_errors=True)
