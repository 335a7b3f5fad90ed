#!/usr/bin/python3
"""Makes the interop fixtures under tests/cases/jws/<alg>/ ONCE, with Python's
cryptography library: an implementation independent of ours. test_jws checks
that each token.txt verifies with public.pem and that its payload equals
claims.json. Rerunning makes new keys and tokens (the test does not care).

    /usr/bin/python3 tests/cases/jws/make-fixtures.py tests/cases/jws
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def sign(alg, key, data):
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        if s > P256_ORDER // 2:
            s = P256_ORDER - s       # low-s: the only form the gateway accepts
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def main(outdir):
    keys = {
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    }
    for alg, key in keys.items():
        d = os.path.join(outdir, alg)
        os.makedirs(d, exist_ok=True)
        header = {"alg": alg, "typ": "JWT", "kid": "interop-" + alg.lower()}
        claims = {
            "iss": "interop-" + alg.lower(),
            "aud": ["pds-gateway", "someone-else"],
            "sub": "research-team",
            "iat": 1700000000,
            "nbf": 1700000000,
            "exp": 4102444800,   # 2100-01-01
            "note": "caf\u00e9 \u2713",
        }
        signing_input = b64url(compact(header)) + "." + b64url(compact(claims))
        token = signing_input + "." + b64url(sign(alg, key, signing_input.encode("ascii")))
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        with open(os.path.join(d, "public.pem"), "wb") as f:
            f.write(pem)
        with open(os.path.join(d, "token.txt"), "w") as f:
            f.write(token + "\n")
        with open(os.path.join(d, "claims.json"), "w") as f:
            json.dump(claims, f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
