#!/usr/bin/python3
"""Mints a signed bearer token (compact JWS) for a mod_pds gateway.

    mint-token.py --key PRIVATE.pem --iss NAME --aud AUDIENCE
                  [--lifetime SECONDS] [--sub SUBJECT] [--kid KID]
                  [--claim NAME=STRING] [--claim NAME:=JSON] ...

The algorithm follows the key, as the gateway pins it: an EC P-256 key signs
ES256 (signature as raw r||s, RFC 7518), an RSA key of 2048 bits or more
RS256, an Ed25519 key EdDSA. The token carries iss, aud, iat, nbf, exp
(iat + lifetime, default 600 seconds) and a random jti, plus any --claim.
It is printed on standard output, followed by a newline.

Example (the demo's university research team):
    tests/tools/mint-token.py --key demo-run/pki/university.key.pem \\
        --iss university-research --aud https://gateway.council.example
"""
import argparse
import base64
import json
import os
import secrets
import sys
import time

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:
    sys.exit("mint-token: the Python 'cryptography' package is missing; "
             "install it with: apt-get install python3-cryptography")

# Claims the tool sets itself: --claim may not override them silently.
RESERVED = {"iss", "aud", "iat", "nbf", "exp", "jti", "sub"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(path, password):
    try:
        with open(path, "rb") as f:
            pem = f.read()
    except OSError as e:
        raise SystemExit("mint-token: cannot read the key %s: %s" % (path, e.strerror))
    try:
        return serialization.load_pem_private_key(pem, password=password)
    except TypeError:
        raise SystemExit("mint-token: %s is encrypted; put its passphrase in the "
                         "environment variable named by --password-env" % path)
    except ValueError:
        raise SystemExit("mint-token: %s is not a PEM private key (or the passphrase "
                         "is wrong); a public key cannot sign" % path)


def algorithm_for(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise SystemExit("mint-token: EC keys must be on P-256 (ES256); this one is "
                             "on %s" % key.curve.name)
        return "ES256"
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise SystemExit("mint-token: RSA keys must have at least 2048 bits; this "
                             "one has %d" % key.key_size)
        return "RS256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise SystemExit("mint-token: unsupported key type %s; use EC P-256, RSA or "
                     "Ed25519" % type(key).__name__)


# The P-256 group order (ECDSA signatures (r, s) and (r, n - s) both verify).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def sign(key, alg, signing_input):
    if alg == "ES256":
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        if s > P256_ORDER // 2:
            s = P256_ORDER - s       # the gateway accepts the low-s form only
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "RS256":
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(signing_input)


def parse_claim(text):
    """NAME=STRING sets a string; NAME:=JSON sets any JSON value."""
    name, sep, value = text.partition("=")
    if not sep:
        raise SystemExit("mint-token: --claim %r: write NAME=STRING or NAME:=JSON" % text)
    if name.endswith(":"):
        name = name[:-1]
        try:
            value = json.loads(value)
        except ValueError as e:
            raise SystemExit("mint-token: --claim %s: the value is not JSON (%s)" % (text, e))
    if not name:
        raise SystemExit("mint-token: --claim %r: the claim has no name" % text)
    if name in RESERVED:
        raise SystemExit("mint-token: --claim %s: set %s with its own option "
                         "(--iss, --aud, --sub, --lifetime)" % (text, name))
    return name, value


def main():
    ap = argparse.ArgumentParser(
        description="Mint a signed bearer token (compact JWS) for a mod_pds gateway.",
        epilog="The algorithm follows the key type: EC P-256 -> ES256, "
               "RSA >= 2048 -> RS256, Ed25519 -> EdDSA.")
    ap.add_argument("--key", required=True, help="PEM private key (PKCS#8 or traditional)")
    ap.add_argument("--iss", required=True,
                    help="issuer: the organisation name the gateway knows, or its issuer=")
    ap.add_argument("--aud", required=True, help="audience: the gateway's PDSTokenAudience")
    ap.add_argument("--lifetime", type=int, default=600,
                    help="seconds from now until exp (default 600)")
    ap.add_argument("--sub", help="optional subject claim")
    ap.add_argument("--kid", help="optional key id in the header")
    ap.add_argument("--claim", action="append", default=[], metavar="NAME=VALUE",
                    help="extra claim: NAME=STRING, or NAME:=JSON for numbers, arrays... "
                         "(repeatable)")
    ap.add_argument("--password-env", metavar="VAR",
                    help="environment variable holding the key's passphrase")
    args = ap.parse_args()

    if args.lifetime <= 0:
        ap.error("--lifetime must be a positive number of seconds")
    password = None
    if args.password_env:
        if args.password_env not in os.environ:
            ap.error("--password-env: %s is not set" % args.password_env)
        password = os.environ[args.password_env].encode("utf-8")

    key = load_private_key(args.key, password)
    alg = algorithm_for(key)

    now = int(time.time())
    payload = {"iss": args.iss, "aud": args.aud, "iat": now, "nbf": now,
               "exp": now + args.lifetime, "jti": b64url(secrets.token_bytes(16))}
    if args.sub is not None:
        payload["sub"] = args.sub
    for text in args.claim:
        name, value = parse_claim(text)
        payload[name] = value

    header = {"alg": alg, "typ": "JWT"}
    if args.kid is not None:
        header["kid"] = args.kid

    compact = lambda obj: json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    signing_input = (b64url(compact(header)) + "." + b64url(compact(payload))).encode("ascii")
    signature = sign(key, alg, signing_input)
    print(signing_input.decode("ascii") + "." + b64url(signature))


if __name__ == "__main__":
    main()
