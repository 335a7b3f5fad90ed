"""The end-to-end harness for mod_pds: a real httpd on loopback ports, a
demo PKI made with the openssl command, token keys, the stand-in legacy back
end, and the clients and checks the tests share.

Nothing here knows pytest except through conftest.py, so the pieces can be
driven by hand from a Python prompt when a test needs debugging:

    from pds_harness import *
    pki = Pki.create("/tmp/x/pki"); be = Backend("/tmp/x/be"); be.start()
    h = Httpd("/tmp/x/httpd", body, pki=pki, module=".../mod_pds.so"); h.start()
"""
import base64
import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util.retry import Retry

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BACKEND_DIR = os.path.join(TOP, "tests", "backend")
BACKEND_SCRIPT = os.path.join(BACKEND_DIR, "legacy_backend.py")
RESIDENTS_FILE = os.path.join(BACKEND_DIR, "residents.json")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 15.0
TOKEN_AUDIENCE = "https://gateway.council.example"


# ---------------------------------------------------------------- small tools

def load_session():
    """A session for a client that loads the server with GETs, as a browser
    or an HTTP library in production does it: a GET sent on a kept-alive
    connection the server closed at that moment (the event MPM closes idle
    keep-alive connections when every worker of a child is busy, so they
    reconnect to another child) is sent again on a new connection, as RFC
    9112 section 9.3.1 allows for idempotent requests. Only drops before a
    response are retried; a response, whatever its status, is final."""
    s = requests.Session()
    s.trust_env = False     # no proxies or CA bundles from the environment
    retry = Retry(total=2, connect=2, read=2, status=0, redirect=0, other=0,
                  allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False)
    s.mount("https://", HTTPAdapter(max_retries=retry))
    s.mount("http://", HTTPAdapter(max_retries=retry))
    return s


SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error: ")


def httpd_env():
    """The environment httpd runs with. With PDS_HTTPD_PRELOAD (the ASan
    runtime, for a module built with --enable-sanitizers), httpd itself is
    not instrumented but loads the runtime first; reports go to stderr."""
    env = dict(os.environ)
    preload = os.environ.get("PDS_HTTPD_PRELOAD")
    if preload:
        # the runtime first, then what a test preloads (a slow fdatasync, say)
        env["LD_PRELOAD"] = " ".join(p for p in (preload, os.environ.get("LD_PRELOAD")) if p)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def write_private(path, data):
    """Writes a secret file readable by its owner only, as keygen tools do."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def write_htpasswd(path, users):
    """Writes the htpasswd file path (bcrypt) for users, a list of (name,
    password), readable by httpd's children; returns path."""
    for i, (user, password) in enumerate(users):
        subprocess.run(["htpasswd", "-b", "-B"] + (["-c"] if i == 0 else [])
                       + [path, user, password], check=True, capture_output=True)
    os.chmod(path, 0o644)
    return path


def graceful_restart(httpd, timeout=15.0):
    """Sends httpd SIGUSR1 and waits until it has logged one more "resuming
    normal operations"; fails the test after timeout seconds."""
    seen = read_text(httpd.error_log).count("resuming normal operations")
    os.kill(httpd.proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while read_text(httpd.error_log).count("resuming normal operations") <= seen:
        assert time.monotonic() < deadline, "no graceful restart"
        time.sleep(0.05)


def audit_tool():
    """The pds-audit binary under test (make check-e2e sets PDS_AUDIT_TOOL)."""
    path = os.environ.get("PDS_AUDIT_TOOL")
    if not path:
        import pytest
        pytest.fail("PDS_AUDIT_TOOL is not set (run through `make check-e2e`)", pytrace=False)
    return path


def child_pids(pid):
    """The processes whose parent is pid (httpd's children), from /proc."""
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
    return sorted(out)


def free_port():
    """A free TCP port on the loopback interface (from the ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_accepts(port, host=LOOPBACK):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_ports(ports, timeout, alive=lambda: True):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        if all(port_accepts(p) for p in ports):
            return True
        time.sleep(0.05)
    return False


def read_text(path, offset=0):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


def load_residents():
    with open(RESIDENTS_FILE, encoding="utf-8") as f:
        return {r["id"]: r for r in json.load(f)}


def utc_today():
    return _dt.datetime.now(_dt.timezone.utc).date()


# ------------------------------------------------------------------------ PKI

class Cert:
    """A certificate and its key, with the two forms mod_pds matches on."""

    def __init__(self, name, cert, key):
        self.name, self.cert, self.key = name, cert, key
        self.dn = _openssl_out("x509", "-noout", "-subject", "-nameopt", "RFC2253",
                               "-in", cert).strip().split("=", 1)[1]
        fp = _openssl_out("x509", "-noout", "-fingerprint", "-sha256", "-in", cert)
        self.sha256 = fp.strip().split("=", 1)[1]          # AB:CD:... as openssl prints it
        self.sha256_hex = self.sha256.replace(":", "").lower()

    def __repr__(self):
        return "<Cert %s %s>" % (self.name, self.dn)


def _openssl(*args, cwd=None):
    proc = subprocess.run([OPENSSL] + list(args), cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), proc.stderr))
    return proc.stdout


def _openssl_out(*args):
    return _openssl(*args)


class Pki:
    """A demo CA with a server certificate for 127.0.0.1/localhost and client
    certificates for the parties the tests play; plus a second CA, with the
    same name as the first, whose certificate mod_ssl must refuse."""

    CLIENTS = {
        # name: (subject in openssl -subj form, subjectAltName or None, issuing CA)
        "health-board": ("/O=Fife Health Board/CN=api.health-board.example", None, "ca"),
        "data-trust": ("/O=Community Data Trust/CN=gateway.data-trust.example",
                       "DNS:gateway.data-trust.example", "ca"),
        "pinned": ("/O=Pinned Clinic/CN=records.pinned-clinic.example", None, "ca"),
        "unknown-org": ("/O=Unknown Org/CN=portal.unknown-org.example", None, "ca"),
        # Same CA, a subject that only resembles the health board's.
        "lookalike": ("/O=Fife Health Board/OU=Contractors/CN=api.health-board.example",
                      None, "ca"),
        # The health board's exact subject, issued by a CA the gateway does not trust.
        "other-ca": ("/O=Fife Health Board/CN=api.health-board.example", None, "other"),
    }

    def __init__(self, directory):
        self.dir = directory
        self.certs = {}

    @classmethod
    def create(cls, directory):
        pki = cls(directory)
        os.makedirs(directory, exist_ok=True)
        pki._make_ca("ca", "/O=PDS Test Council/CN=PDS Demo CA")
        pki._make_ca("other", "/O=PDS Test Council/CN=PDS Demo CA")
        pki._make_leaf("server", "ca", "/O=PDS Test Council/CN=localhost",
                       "IP:127.0.0.1,DNS:localhost", "serverAuth")
        for name, (subj, san, issuer) in cls.CLIENTS.items():
            pki._make_leaf(name, issuer, subj, san, "clientAuth")
        return pki

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def ca_cert(self):
        return self.path("ca.crt")

    def _newkey_args(self, key):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key]

    def _make_ca(self, name, subj):
        key, crt = self.path(name + ".key"), self.path(name + ".crt")
        _openssl("req", "-x509", *self._newkey_args(key), "-out", crt, "-days", "3650",
                 "-subj", subj, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _make_leaf(self, name, issuer, subj, san, eku):
        key, csr, crt = (self.path(name + ext) for ext in (".key", ".csr", ".crt"))
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=%s\n" % eku)
            if san:
                f.write("subjectAltName=%s\n" % san)
        _openssl("req", "-new", *self._newkey_args(key), "-out", csr, "-subj", subj)
        _openssl("x509", "-req", "-in", csr, "-CA", self.path(issuer + ".crt"),
                 "-CAkey", self.path(issuer + ".key"), "-set_serial",
                 "0x" + secrets.token_hex(8), "-days", "30", "-extfile", ext, "-out", crt)
        os.unlink(csr)
        if name != "server":
            self.certs[name] = Cert(name, crt, key)

    def __getitem__(self, name):
        return self.certs[name]


# --------------------------------------------------------------------- tokens

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_bytes(value):
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


# The P-256 group order: (r, s) and (r, P256_ORDER - s) both verify, and the
# gateway accepts only the low form (s <= n/2).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def signature_for(key, signing_input, der_ecdsa=False):
    """Signs with whatever the key is: EC P-256 (ES256, raw r||s, 64 bytes, as
    RFC 7518 wants, s in its low form; DER only when asked, to test that it is
    refused), RSA (RS256), Ed25519 (EdDSA), bytes (HMAC-SHA256), None (no
    signature)."""
    if key is None:
        return b""
    if isinstance(key, (bytes, bytearray)):
        return hmac.new(bytes(key), signing_input, hashlib.sha256).digest()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        if der_ecdsa:
            return der
        r, s = decode_dss_signature(der)
        if s > P256_ORDER // 2:
            s = P256_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(signing_input)
    raise TypeError("cannot sign with %r" % (key,))


def mint_token(key, alg, claims, header_overrides=None, der_ecdsa=False):
    """A compact JWS. The header says `alg`; the signature is made with `key`
    whatever `alg` says, so that lying headers can be produced on purpose.
    header_overrides entries set to None are removed from the header."""
    header = {"alg": alg, "typ": "JWT"}
    for name, value in (header_overrides or {}).items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    signing_input = (b64url(_json_bytes(header)) + "." + b64url(_json_bytes(claims))).encode()
    sig = signature_for(key, signing_input, der_ecdsa=der_ecdsa)
    return signing_input.decode() + "." + b64url(sig)


def token_claims(iss, aud=TOKEN_AUDIENCE, lifetime=300, now=None, **extra):
    """iss, aud, iat, nbf, exp (iat + lifetime) and a jti; extra claims are
    added, and a claim given as None is removed."""
    now = int(time.time()) if now is None else now
    claims = {"iss": iss, "aud": aud, "iat": now, "nbf": now, "exp": now + lifetime,
              "jti": secrets.token_hex(8)}
    for name, value in extra.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def tamper_payload(token, **changes):
    """The same header and signature over a changed payload."""
    h, p, s = token.split(".")
    claims = json.loads(b64url_decode(p))
    claims.update(changes)
    return h + "." + b64url(_json_bytes(claims)) + "." + s


def tamper_signature(token):
    """The last signature byte flipped (still valid base64url of the same length)."""
    h, p, s = token.split(".")
    raw = bytearray(b64url_decode(s))
    raw[-1] ^= 0x01
    return h + "." + p + "." + b64url(bytes(raw))


def high_s_twin(token):
    """An ES256 token (compact or detached) with its signature (r, s) replaced
    by (r, n - s): as valid an ECDSA signature as the original, in the high-s
    form the gateway must refuse."""
    head, s64 = token.rsplit(".", 1)
    raw = b64url_decode(s64)
    assert len(raw) == 64, "not an ES256 signature"
    s = int.from_bytes(raw[32:], "big")
    return head + "." + b64url(raw[:32] + (P256_ORDER - s).to_bytes(32, "big"))


class TokenKeys:
    """Signing keys for the token callers, their public PEMs for jwt-key, and
    an attacker's keys the gateway does not know."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.private = {
            "ec": ec.generate_private_key(ec.SECP256R1()),
            "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ed": ed25519.Ed25519PrivateKey.generate(),
            "hb-ec": ec.generate_private_key(ec.SECP256R1()),
            "attacker-ec": ec.generate_private_key(ec.SECP256R1()),
            "attacker-rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        }
        self.public_pem = {}
        self.public_path = {}
        for name, key in self.private.items():
            pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
            path = os.path.join(directory, name + ".pub.pem")
            with open(path, "wb") as f:
                f.write(pem)
            self.public_pem[name] = pem
            self.public_path[name] = path
            priv = os.path.join(directory, name + ".key.pem")
            with open(priv, "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
            os.chmod(priv, 0o600)

    def __getitem__(self, name):
        return self.private[name]

    def public_jwk(self, name):
        key = self.private[name].public_key()
        if isinstance(key, ec.EllipticCurvePublicKey):
            n = key.public_numbers()
            return {"kty": "EC", "crv": "P-256", "x": b64url(n.x.to_bytes(32, "big")),
                    "y": b64url(n.y.to_bytes(32, "big"))}
        n = key.public_numbers()
        return {"kty": "RSA", "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64url(n.e.to_bytes(3, "big"))}


# ------------------------------------------------------------------- back end

class Backend:
    """The stand-in legacy back end on a free loopback port, logging every
    request it receives to a JSON Lines file."""

    def __init__(self, directory, port=None, data=None):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.port = port or free_port()
        self.data = data or RESIDENTS_FILE      # the residents it serves
        self.log_path = os.path.join(directory, "access.jsonl")
        self.stderr_path = os.path.join(directory, "stderr.txt")
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    def start(self):
        open(self.log_path, "a").close()
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [PYTHON, BACKEND_SCRIPT, "--port", str(self.port), "--host", LOOPBACK,
                 "--data", self.data, "--access-log", self.log_path],
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        if not wait_for_ports([self.port], 10.0, alive=lambda: self.proc.poll() is None):
            self.stop()
            raise RuntimeError("the legacy back end did not start on port %d:\n%s"
                               % (self.port, read_text(self.stderr_path)))
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def requests(self):
        """Every request received since the last clear(), in order."""
        out = []
        for line in read_text(self.log_path).splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def clear(self):
        # The back end appends (O_APPEND), so truncating under it is safe.
        os.truncate(self.log_path, 0)

    @staticmethod
    def header(entry, name):
        """All values of one request header, in order (case-insensitive name)."""
        return [v for k, v in entry["headers"] if k.lower() == name.lower()]


# --------------------------------------------------------------------- httpd

LEVEL_RE = re.compile(r"\[(?:[A-Za-z0-9_.-]+:)?(warn|error|crit|alert|emerg)\]")
# A child that died of a signal is logged at notice level (AH00052), below
# LEVEL_RE, yet it is always a defect: every test fails on it.
CRASH_RE = re.compile(r"AH00052: child pid \d+ exit signal")


class HttpdError(RuntimeError):
    pass


class Httpd:
    """One httpd with a generated configuration in its own directory: an
    HTTPS port (mod_ssl, client certificates optional and verified against
    the demo CA) and a plain HTTP port (callers behind a TLS-terminating
    proxy, with tokens). `body` is placed in the main server, so that both
    ports see it; `vhost_body` goes into the HTTPS virtual host only."""

    STANDARD_MODULES = [
        ("mpm_event_module", "mod_mpm_event.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("authn_core_module", "mod_authn_core.so"),
        ("mime_module", "mod_mime.so"),
        ("log_config_module", "mod_log_config.so"),
        ("unixd_module", "mod_unixd.so"),
        ("ssl_module", "mod_ssl.so"),
        ("socache_shmcb_module", "mod_socache_shmcb.so"),
        ("proxy_module", "mod_proxy.so"),
        ("proxy_http_module", "mod_proxy_http.so"),
        ("headers_module", "mod_headers.so"),
    ]

    def __init__(self, root, body="", *, pki, module=None, httpd_bin=None, modules_dir=None,
                 audit_log="logs/audit.jsonl", vhost_body="", log_level="warn",
                 extra_modules=(), allow_startup=(), audit_directives=None, mpm="event"):
        self.root = os.path.abspath(root)
        self.body = body
        self.vhost_body = vhost_body
        self.pki = pki
        self.module = module
        self.httpd_bin = httpd_bin or os.environ.get("PDS_HTTPD") or "/usr/sbin/apache2"
        self.modules_dir = (modules_dir or os.environ.get("PDS_MODULES_DIR")
                            or "/usr/lib/apache2/modules")
        self.audit_log = audit_log
        self.log_level = log_level
        self.extra_modules = list(extra_modules)
        self.mpm = mpm
        self.allow_startup = list(allow_startup)
        self.https_port = free_port()
        self.http_port = free_port()
        while self.http_port == self.https_port:
            self.http_port = free_port()
        self.proc = None
        for d in ("conf", "logs", "run"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        os.chmod(self.root, 0o755)
        self.conf_path = os.path.join(self.root, "conf", "httpd.conf")
        self.error_log = os.path.join(self.root, "logs", "error.log")
        self.access_log = os.path.join(self.root, "logs", "access.log")
        self.stderr_path = os.path.join(self.root, "logs", "stderr.txt")
        self.audit_path = (None if audit_log is None else
                           audit_log if os.path.isabs(audit_log) else
                           os.path.join(self.root, audit_log))
        with open(os.path.join(self.root, "conf", "mime.types"), "w") as f:
            f.write("application/json json\n")
        # The audit chain's secret key and the checkpoint signing key, as
        # `pds-audit keygen` would write them: readable by their owner only.
        self.audit_key_path = os.path.join(self.root, "conf", "audit.key")
        self.audit_signing_key_path = os.path.join(self.root, "conf", "audit-signing.pem")
        self.audit_public_key_path = os.path.join(self.root, "conf", "audit-signing.pub.pem")
        if not os.path.exists(self.audit_key_path):
            write_private(self.audit_key_path, (secrets.token_hex(32) + "\n").encode())
            signing = ed25519.Ed25519PrivateKey.generate()
            write_private(self.audit_signing_key_path, signing.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
            with open(self.audit_public_key_path, "wb") as f:
                f.write(signing.public_key().public_bytes(
                    serialization.Encoding.PEM,
                    serialization.PublicFormat.SubjectPublicKeyInfo))
        self.audit_directives = audit_directives
        self.write_conf()

    # -- configuration --------------------------------------------------------

    def _load_lines(self):
        lines = []
        standard = list(self.STANDARD_MODULES)
        if self.mpm != "event":
            standard[0] = ("mpm_%s_module" % self.mpm, "mod_mpm_%s.so" % self.mpm)
        for ident, so in standard + self.extra_modules:
            lines.append("<IfModule !%s>\n    LoadModule %s \"%s\"\n</IfModule>"
                         % (ident, ident, os.path.join(self.modules_dir, so)))
        if self.module:
            lines.append('LoadModule pds_module "%s"' % self.module)
        return "\n".join(lines)

    def mpm_settings(self):
        if self.mpm == "prefork":
            return ("StartServers 3\nServerLimit 8\nMaxRequestWorkers 8\n"
                    "MinSpareServers 1\nMaxSpareServers 8\n")
        return ("StartServers 1\nServerLimit 2\nThreadLimit 8\nThreadsPerChild 8\n"
                "MaxRequestWorkers 16\nMinSpareThreads 1\nMaxSpareThreads 16\n")

    def conf_text(self):
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
        audit = ""
        if self.module and self.audit_log is not None:
            audit = 'PDSAuditLog "%s"\n' % self.audit_log
            if self.audit_directives is None:
                audit += ('PDSAuditKey "%s"\nPDSAuditSigningKey "%s"\n'
                          'PDSAuditCheckpoint 50 5\n'
                          % (self.audit_key_path, self.audit_signing_key_path))
            else:
                audit += self.audit_directives
        return """\
# Generated by tests/e2e/pds_harness.py for one test module; not for production.
ServerRoot "{root}"
ServerName localhost
DefaultRuntimeDir "{root}/run"
PidFile "{root}/run/httpd.pid"
Listen {host}:{https_port} https
Listen {host}:{http_port} http
{modules}
{user}ErrorLog "{root}/logs/error.log"
LogLevel {log_level}
LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{{PDS-Request-Id}}o\\"" pds
CustomLog "{root}/logs/access.log" pds
TypesConfig "{root}/conf/mime.types"
{mpm_settings}Timeout 10
KeepAlive On
KeepAliveTimeout 5
SSLSessionCache "shmcb:{root}/run/ssl_scache(512000)"
{audit}
# ---- the test's configuration ----
{body}
# ---- end of the test's configuration ----

<VirtualHost {host}:{https_port}>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile "{server_crt}"
    SSLCertificateKeyFile "{server_key}"
    SSLCACertificateFile "{ca}"
    SSLVerifyClient optional
    SSLVerifyDepth 2
{vhost_body}
</VirtualHost>
""".format(mpm_settings=self.mpm_settings(), root=self.root, host=LOOPBACK, https_port=self.https_port,
           http_port=self.http_port, modules=self._load_lines(), user=user,
           log_level=self.log_level, audit=audit, body=self.body.strip("\n"),
           server_crt=self.pki.path("server.crt"), server_key=self.pki.path("server.key"),
           ca=self.pki.ca_cert, vhost_body=self.vhost_body)

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            f.write(self.conf_text())

    def line_of(self, text, start=1):
        """1-based number of the first configuration line containing `text`."""
        with open(self.conf_path) as f:
            for n, line in enumerate(f, 1):
                if n >= start and text in line:
                    return n
        raise KeyError("%r is not in %s" % (text, self.conf_path))

    def config_test(self):
        """`httpd -t` on the configuration: (exit status, stdout + stderr)."""
        proc = subprocess.run([self.httpd_bin, "-t", "-f", self.conf_path],
                              capture_output=True, text=True, timeout=30, env=httpd_env())
        return proc.returncode, proc.stdout + proc.stderr

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        if self.proc is not None:
            raise HttpdError("httpd is already running")
        err_offset = file_size(self.error_log)
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([self.httpd_bin, "-f", self.conf_path, "-DFOREGROUND"],
                                         stdout=err, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=httpd_env())
        ok = wait_for_ports([self.https_port, self.http_port], START_TIMEOUT,
                            alive=lambda: self.proc.poll() is None)
        if not ok:
            rc = self.proc.poll()
            self.stop()
            raise HttpdError(
                "httpd did not start (%s) with %s\n--- stderr ---\n%s\n--- error log ---\n%s"
                % ("exit status %s" % rc if rc is not None else
                   "ports %d/%d not accepting after %.0f s" % (self.https_port, self.http_port,
                                                              START_TIMEOUT),
                   self.conf_path, read_text(self.stderr_path), read_text(self.error_log)))
        # The ports may still be held by a previous instance's children for
        # a moment: only this process logging that it runs counts.
        if (not self._wait_for_log("resuming normal operations", err_offset, 10.0)
                and self.proc.poll() is not None):
            rc = self.proc.poll()
            self.proc = None
            raise HttpdError("httpd did not start (exit status %s) with %s\n--- stderr ---\n%s"
                             "\n--- error log ---\n%s"
                             % (rc, self.conf_path, read_text(self.stderr_path),
                                read_text(self.error_log, err_offset)))
        # Startup warnings count as failures too, unless allowed.
        bad = self.log_problems(err_offset, self.allow_startup)
        if bad:
            self.stop()
            raise HttpdError("httpd logged unexpected warnings/errors at startup:\n"
                             + "\n".join(bad))
        return self

    def _wait_for_log(self, text, offset, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in read_text(self.error_log, offset):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is None:
            return
        try:
            self._stop()
        finally:
            # Under sanitizers (PDS_HTTPD_PRELOAD), any report fails the run.
            # httpd points stderr at its error log once started: look in both.
            reports = [l for l in (read_text(self.stderr_path)
                                   + read_text(self.error_log)).splitlines()
                       if SANITIZER_RE.search(l)]
            if reports:
                raise HttpdError("sanitizer reports from httpd (%s):\n%s"
                                 % (self.stderr_path, "\n".join(reports[:20])))

    def _stop(self):
        if self.proc is None:
            return
        self._stop_process()
        # Children can outlive the parent by a moment; the next start on
        # these ports must not mistake them for itself.
        deadline = time.monotonic() + 5
        while (time.monotonic() < deadline
               and any(port_accepts(p) for p in (self.https_port, self.http_port))):
            time.sleep(0.05)

    def _stop_process(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- what it wrote --------------------------------------------------------

    def error_log_text(self, offset=0):
        return read_text(self.error_log, offset)

    def error_log_size(self):
        return file_size(self.error_log)

    def log_problems(self, offset=0, allow=()):
        """Lines at warn level or above since `offset` that no pattern in
        `allow` (regular expressions, or PDS tags such as PDS00032) matches."""
        bad = []
        for line in self.error_log_text(offset).splitlines():
            if not (LEVEL_RE.search(line) or CRASH_RE.search(line)):
                continue
            if any(re.search(p, line) for p in allow):
                continue
            bad.append(line)
        return bad

    def audit_all_lines(self):
        """Every line of the audit log: decisions, checkpoints, file starts."""
        if self.audit_path is None or not os.path.isfile(self.audit_path):
            return []
        return read_text(self.audit_path).splitlines()

    def audit_lines(self):
        """The decision records' lines (chain checkpoints and file starts,
        which carry a "type", left out)."""
        return [line for line in self.audit_all_lines()
                if line.strip() and "type" not in json.loads(line)]

    def audit_records(self):
        return [json.loads(line) for line in self.audit_lines()]


# -------------------------------------------------------------------- clients

class RawResponse:
    """What a raw request got back, shaped like enough of requests.Response."""

    def __init__(self, status_line, header_pairs, content):
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        self.http_version = parts[0]
        self.status_code = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.header_pairs = header_pairs
        self.headers = CaseInsensitiveDict()
        for k, v in header_pairs:
            self.headers[k] = (self.headers[k] + ", " + v) if k in self.headers else v
        self.content = content

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def _read_response(sock, head_request=False):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response headers: %r" % data)
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    pairs = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
    resp = RawResponse(lines[0], pairs, b"")
    status = resp.status_code
    if head_request or status in (204, 304) or 100 <= status < 200:
        return resp, rest
    te = resp.headers.get("Transfer-Encoding", "").lower()
    if "chunked" in te:
        body = b""
        buf = rest
        while True:
            while b"\r\n" not in buf:
                more = sock.recv(65536)
                if not more:
                    raise ConnectionError("chunked body cut short")
                buf += more
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                more = sock.recv(65536)
                if not more:
                    raise ConnectionError("chunked body cut short")
                buf += more
            if size == 0:
                break
            body += buf[:size]
            buf = buf[size + 2:]
        resp.content = body
        return resp, b""
    if "Content-Length" in resp.headers:
        n = int(resp.headers["Content-Length"])
        body = rest
        while len(body) < n:
            more = sock.recv(65536)
            if not more:
                break
            body += more
        resp.content = body[:n]
        return resp, body[n:]
    body = rest
    while True:
        more = sock.recv(65536)
        if not more:
            break
        body += more
    resp.content = body
    return resp, b""


class RawConnection:
    """One TCP (optionally TLS) connection for requests written byte by byte,
    for what HTTP libraries refuse or normalise: odd paths, absolute-form
    targets, duplicate headers, bodies on GET, keep-alive checks."""

    def __init__(self, port, tls_context=None, timeout=15.0):
        sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        if tls_context is not None:
            sock = tls_context.wrap_socket(sock, server_hostname=LOOPBACK)
        self.sock = sock
        self.local = sock.getsockname()

    def request(self, data, head_request=False):
        self.sock.sendall(data)
        resp, _ = _read_response(self.sock, head_request=head_request)
        return resp

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, target, headers=(), body=b"", host=None):
    """Request bytes exactly as given: `target` and header values may be str
    (sent as UTF-8, to send non-ASCII bytes raw) or bytes."""
    def b(x):
        return x if isinstance(x, bytes) else x.encode("utf-8")
    out = b(method) + b" " + b(target) + b" HTTP/1.1\r\n"
    names = [b(k).lower() for k, _ in headers]
    if b"host" not in names:
        out += b"Host: " + b(host or LOOPBACK) + b"\r\n"
    for k, v in headers:
        out += b(k) + b": " + b(v) + b"\r\n"
    return out + b"\r\n" + b(body)


def tls_context(pki, who=None):
    ctx = ssl.create_default_context(cafile=pki.ca_cert)
    if who is not None:
        c = pki[who]
        ctx.load_cert_chain(c.cert, c.key)
    return ctx


# -------------------------------------------------------------------- gateway

# The callers the tests play. None: no client certificate.
CALLERS = ("health-board", "data-trust", "pinned", "unknown-org", "lookalike", "other-ca", None)


class Gateway:
    """An Httpd with mod_pds, seen from the callers' side."""

    def __init__(self, httpd, pki, keys, backend):
        self.httpd, self.pki, self.keys, self.backend = httpd, pki, keys, backend
        self._sessions = {}

    # -- addresses and sessions ------------------------------------------------

    def url(self, path, plain=False):
        if plain:
            return "http://%s:%d%s" % (LOOPBACK, self.httpd.http_port, path)
        return "https://%s:%d%s" % (LOOPBACK, self.httpd.https_port, path)

    def session(self, who):
        """A requests session presenting `who`'s client certificate ("plain":
        the HTTP port, for token callers)."""
        if who not in self._sessions:
            s = requests.Session()
            s.trust_env = False     # no proxies or CA bundles from the environment
            if who != "plain":
                s.verify = self.pki.ca_cert
                if who is not None:
                    c = self.pki[who]
                    s.cert = (c.cert, c.key)
            self._sessions[who] = s
        return self._sessions[who]

    def close_sessions(self):
        for s in self._sessions.values():
            s.close()
        self._sessions = {}

    def request(self, method, path, who="health-board", purpose="direct-care", token=None,
                headers=None, plain=False, **kw):
        h = {}
        if purpose is not None:
            h["PDS-Purpose"] = purpose
        if token is not None:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        s = self.session("plain" if plain else who)
        kw.setdefault("timeout", 20)
        kw.setdefault("allow_redirects", False)
        return s.request(method, self.url(path, plain=plain), headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def raw(self, data, who="health-board", plain=False, head_request=False):
        """Sends raw request bytes on a new connection and reads one response."""
        ctx = None if plain else tls_context(self.pki, who)
        with RawConnection(self.httpd.http_port if plain else self.httpd.https_port,
                           ctx) as conn:
            return conn.request(data, head_request=head_request)

    def connect(self, who="health-board", plain=False):
        ctx = None if plain else tls_context(self.pki, who)
        return RawConnection(self.httpd.http_port if plain else self.httpd.https_port, ctx)

    # -- what the gateway recorded ---------------------------------------------

    def audit_for(self, resp):
        """The one audit record of this response (matched on PDS-Request-Id)."""
        rid = resp.headers.get("PDS-Request-Id")
        assert rid, "no PDS-Request-Id in the response:\n" + describe(resp)
        recs = [r for r in self.httpd.audit_records() if r.get("request_id") == rid]
        assert len(recs) == 1, "expected 1 audit record for %s, found %d:\n%s" % (
            rid, len(recs), "\n".join(self.httpd.audit_lines()[-5:]))
        return recs[0]


# ----------------------------------------------------------------- assertions

def stop_gateways(gateways):
    """Fixture teardown: closes each Gateway's sessions and stops its httpd."""
    for gw in gateways:
        gw.close_sessions()
        gw.httpd.stop()


def describe(resp):
    """A response as text, for assertion messages."""
    if isinstance(resp, RawResponse):
        head = resp.status_line
        pairs = resp.header_pairs
    else:
        head = "HTTP %d %s" % (resp.status_code, resp.reason)
        pairs = list(resp.headers.items())
    body = resp.content[:600]
    return "%s\n%s\n\n%s" % (head, "\n".join("%s: %s" % kv for kv in pairs),
                             body.decode("utf-8", "replace"))


PROBLEM_STATUS = {
    "unknown-caller": 401, "invalid-token": 401, "identity-conflict": 401,
    "bad-path": 400, "bad-subject": 400, "query-not-allowed": 400, "method-override": 400,
    "method-not-allowed": 405, "unexpected-body": 400, "purpose-missing": 400,
    "no-agreement": 403, "purpose-mismatch": 403, "agreement-expired": 403,
    "agreement-not-yet-valid": 403, "backend-error": 502, "not-found": 404,
    "backend-bad-response": 502, "backend-too-large": 502, "audit-unavailable": 503,
    "backend-unavailable": 503, "backend-timeout": 504,
    "login-required": 401, "access-refused": 403,
    "internal-error": 500,
    "consent-missing": 403, "consent-paused": 403, "consent-expired": 403,
    "consent-revoked": 403, "opted-out": 403, "artefact-malformed": 400,
    "artefact-unknown-issuer": 403, "artefact-bad-signature": 403, "artefact-expired": 403,
    "artefact-not-yet-valid": 403, "artefact-too-long-lived": 403,
    "artefact-wrong-binding": 403, "artefact-revoked": 403, "bad-consent-body": 400,
    "unsupported-media-type": 415, "invalid-consent": 422, "consent-not-found": 404,
    "consent-state-conflict": 409, "consent-conflict": 409, "not-a-consent-manager": 403,
    "no-mandate": 403, "consent-store-unavailable": 503,
}

# Denials decided before the back end is asked.
BEFORE_BACKEND = {
    "unknown-caller", "invalid-token", "identity-conflict", "bad-path", "bad-subject",
    "query-not-allowed", "method-override", "method-not-allowed", "unexpected-body",
    "purpose-missing", "no-agreement", "purpose-mismatch", "agreement-expired",
    "agreement-not-yet-valid",
}

AUDIT_FIELDS = ["time", "request_id", "client_ip", "organisation", "agreement",
                "agreement_version", "purpose", "legal_basis", "subject", "method", "path",
                "decision", "reason", "status", "fields"]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

# What identifies the legacy system in any answer.
BACKEND_MARKERS = ["LegacyCare", "care-db-01", "LEGACYSESSION", "care-proxy", "secret_field",
                   "s3cr3t", "NullPointerException", "Mallory"]


def personal_values(record):
    """Distinctive personal values of a resident, by field path."""
    return {
        "name.given": record["name"]["given"], "name.family": record["name"]["family"],
        "nhs_number": record["nhs_number"], "phone": record["phone"], "email": record["email"],
        "address.line1": record["address"]["line1"],
        "address.postcode": record["address"]["postcode"],
        "internal.notes": record["internal"]["notes"], "dob": record["dob"],
    }


def assert_no_leak(resp, record=None, released=()):
    """Neither the body nor any header carries the back end's markers or the
    resident's personal values (except those under `released` paths)."""
    blob = resp.content.decode("utf-8", "replace")
    heads = (resp.header_pairs if isinstance(resp, RawResponse)
             else list(resp.headers.items()))
    blob += "\n" + "\n".join("%s: %s" % kv for kv in heads)
    for marker in BACKEND_MARKERS:
        assert marker not in blob, "%r leaked:\n%s" % (marker, describe(resp))
    if record is not None:
        for path, value in personal_values(record).items():
            if any(path == r or path.startswith(r + ".") for r in released):
                continue
            escaped = json.dumps(value)[1:-1]
            assert value not in blob and escaped not in blob, \
                "%s (%r) leaked:\n%s" % (path, value, describe(resp))


def assert_problem(resp, reason, status=None):
    """A problem+json denial with this reason; returns the document."""
    status = status or PROBLEM_STATUS[reason]
    assert resp.status_code == status, "expected %d %s, got:\n%s" % (status, reason,
                                                                     describe(resp))
    assert media_type(resp.headers.get("Content-Type")) == "application/problem+json", \
        describe(resp)
    rid = resp.headers.get("PDS-Request-Id")
    assert rid, describe(resp)
    try:
        doc = json.loads(resp.content)
    except ValueError:
        raise AssertionError("the problem body is not JSON:\n" + describe(resp))
    assert doc.get("type") == "urn:pds:problem:" + reason, describe(resp)
    assert doc.get("reason") == reason, describe(resp)
    assert doc.get("status") == status, describe(resp)
    assert doc.get("request_id") == rid, describe(resp)
    assert isinstance(doc.get("title"), str) and doc["title"], describe(resp)
    assert "detail" in doc, describe(resp)
    if reason in ("unknown-caller", "invalid-token"):
        assert resp.headers.get("WWW-Authenticate") == 'Bearer realm="pds"', describe(resp)
    if status == 405:
        assert resp.headers.get("Allow") == "GET, POST, PUT, PATCH", describe(resp)
    if "Content-Length" in resp.headers:
        assert int(resp.headers["Content-Length"]) == len(resp.content), describe(resp)
    return doc


def assert_audit(rec, **expected):
    """The record has every member, in the documented order, with the
    expected values for those given."""
    keys = [k for k in rec if k in AUDIT_FIELDS]
    assert keys == AUDIT_FIELDS, "audit members missing or out of order: %r" % list(rec)
    assert TIME_RE.match(rec["time"]), rec["time"]
    assert isinstance(rec["status"], int) and isinstance(rec["fields"], list), rec
    for k, v in expected.items():
        if k == "fields":
            assert sorted(rec["fields"]) == sorted(v), "audit fields %r, expected %r" % (
                rec["fields"], v)
            assert len(set(rec["fields"])) == len(rec["fields"]), rec["fields"]
        else:
            assert rec[k] == v, "audit %s is %r, expected %r in %r" % (k, rec[k], v, rec)


def assert_denied(gw, resp, reason, backend_reached=None, **audit):
    """A denial: problem document, its audit record, and, for denials made
    before the back end, no request at the back end. Returns the record."""
    status = PROBLEM_STATUS[reason]
    assert_problem(resp, reason, status)
    assert_no_leak(resp)
    rec = gw.audit_for(resp)
    assert_audit(rec, decision="deny", reason=reason, status=status, fields=[], **audit)
    reached = gw.backend.requests()
    if backend_reached is None:
        backend_reached = reason not in BEFORE_BACKEND
    if backend_reached:
        assert len(reached) == 1, "the back end should have had one request: %r" % reached
    else:
        assert reached == [], "a denied request reached the back end: %r" % reached
    return rec


def assert_allowed(gw, resp, expected_body, agreement, version="1", status=200):
    """An allowed answer: exactly the expected JSON, compact, no-store, the
    agreement header, no back-end headers. Returns the audit record."""
    assert resp.status_code == status, "expected %d, got:\n%s" % (status, describe(resp))
    assert media_type(resp.headers.get("Content-Type")) == "application/json", describe(resp)
    assert resp.headers.get("Cache-Control") == "no-store", describe(resp)
    assert resp.headers.get("PDS-Agreement") == "%s;v=%s" % (agreement, version), describe(resp)
    assert resp.headers.get("PDS-Request-Id"), describe(resp)
    assert int(resp.headers.get("Content-Length", -1)) == len(resp.content), describe(resp)
    assert "Content-Encoding" not in resp.headers, describe(resp)
    try:
        got = json.loads(resp.content)
    except ValueError:
        raise AssertionError("the body is not JSON:\n" + describe(resp))
    assert got == expected_body, "released %r, expected %r" % (got, expected_body)
    # Compact: re-serialising in the body's own member order gives the body back.
    compact_forms = {json.dumps(got, separators=(",", ":"), ensure_ascii=a).encode("utf-8")
                     for a in (True, False)}
    assert resp.content in compact_forms, "body is not compact JSON: %r" % resp.content[:300]
    assert_no_backend_headers(resp)
    rec = gw.audit_for(resp)
    assert_audit(rec, decision="allow", reason=None, status=status, agreement=agreement,
                 agreement_version=version)
    return rec


def assert_no_backend_headers(resp):
    for name in ("X-Powered-By", "Set-Cookie", "ETag", "Last-Modified", "X-Backend-Host",
                 "Via", "Location", "Content-Range", "Content-Encoding", "Accept-Ranges"):
        assert name not in resp.headers, "%s passed on:\n%s" % (name, describe(resp))
    assert "LegacyCare" not in resp.headers.get("Server", ""), describe(resp)


def pick(record, *paths):
    """The JSON a filter releasing `paths` should produce from `record`
    (paths of the forms a.b.c and a[*].b, as Release takes them). Containers
    are only made for values that exist."""
    out = {}
    for path in paths:
        got = _pick(record, _split_path(path))
        if got is not _MISSING:
            out = _merge(out, got)
    return out


_MISSING = object()


def _split_path(path):
    segs = []
    for part in path.split("."):
        segs.append((part[:-3], True) if part.endswith("[*]") else (part, False))
    return segs


def _pick(src, segs):
    name, each = segs[0]
    rest = segs[1:]
    if not isinstance(src, dict) or name not in src:
        return _MISSING
    value = src[name]
    if each:
        if not isinstance(value, list):
            return _MISSING
        if not rest:
            return {name: value}
        items = []
        for element in value:
            got = _pick(element, rest)
            items.append({} if got is _MISSING else got)
        return {name: items}
    if not rest:
        return {name: value}
    got = _pick(value, rest)
    return _MISSING if got is _MISSING else {name: got}


def _merge(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(out[k], v) if k in out else v
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [_merge(x, y) for x, y in zip(a, b)]
    return b
