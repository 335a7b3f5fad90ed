"""The fail-closed matrix (issue #6 item 1): one test per way a back end, a
caller or a store can go wrong, through a real httpd. Each asserts the
status, the problem+json document, that not one byte or header of back-end
content beyond what the agreement allows reaches the client, and the audit
record with the right reason. Cases an older test already proves with all
four assertions are not repeated here: docs/security-model.md, "The
fail-closed matrix", maps every case to its test.

Where httpd's own request parser refuses a request before any module runs
(invariant 3 in docs/security-model.md), there can be no problem document
and no audit record: those cases assert the status, that nothing reached the
back end, and httpd's access-log line instead.

SPEC: backend-error, backend-bad-response, backend-too-large, not-found,
bad-path, query-not-allowed, unexpected-body, write-not-allowed,
consent-missing, artefact-wrong-binding, consent-store-unavailable,
audit-unavailable; PDSMaxBodySize; PDSConsentStoreTimeout."""
import email.utils
import json
import os
import re
import socket
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
import pds_postgres
from pds_configs import (CITIZENS_LOCATION, HB_DIRECT_CARE, HB_FIELDS, ORGANISATIONS,
                         OTHER_SUBJECT, PATH, SUBJECT, agreement, location)

RELEASED = ["name.given", "name.family", "dob"]
OTHER_PATH = "/citizens/%s/record" % OTHER_SUBJECT

# ------------------------------------------------------------ the back end

# mode -> (status, reason); reason None: an allowed answer carrying exactly
# the released fields.
BACKEND_CASES = {
    # framing
    "chunked-truncated": (502, "backend-error"),
    "chunked-malformed": (502, "backend-error"),
    "chunked-overflow": (502, "backend-error"),
    # Two different lengths: RFC 9112 section 6.3 makes this an unrecoverable
    # error, and a bad Content-Length is backend-bad-response.
    "conflicting-length": (502, "backend-bad-response"),
    # Transfer-Encoding overrides Content-Length (RFC 9112 section 6.1):
    # mod_proxy drops the length, reads the chunks and closes the connection.
    "length-and-chunked": (200, None),
    # A bare CR or LF in a back-end header: no back-end header is passed on
    # at all, so only the released fields leave; a NUL fails the parse.
    "header-cr": (200, None),
    "header-lf": (200, None),
    "header-nul": (502, "backend-error"),
    "brotli": (502, "backend-bad-response"),
    # hostile JSON
    "deep-100k": (502, "backend-bad-response"),
    "duplicate-top": (502, "backend-bad-response"),
    "duplicate-unreleased": (502, "backend-bad-response"),
    "duplicate-escaped": (502, "backend-bad-response"),
    "escaped-keys": (200, None),
    "nul-key": (502, "backend-bad-response"),
    "nul-key-raw": (502, "backend-bad-response"),
    "bad-utf8": (502, "backend-bad-response"),
    "lone-surrogate": (502, "backend-bad-response"),
    "lone-low-surrogate": (502, "backend-bad-response"),
    "huge-int": (502, "backend-bad-response"),
    "huge-real": (502, "backend-bad-response"),
    "many-keys": (200, None),
}
# Over PDSMaxBodySize 4096 without a Content-Length.
LIMIT_CASES = {"chunked-big": (502, "backend-too-large"),
               "eof-big": (502, "backend-too-large")}

RESOURCES = "\n".join(
    ["    Resource    GET /mx/%s/{subject}/record" % m
     for m in list(BACKEND_CASES) + ["ok", "hangup"]]
    + ["    Resource    GET /mx-limit/%s/{subject}/record" % m for m in LIMIT_CASES])

# The stalling location comes first: its worker (timeout=1) must be defined
# before the shorter /api/misbehave/ URL, or mod_proxy shares one worker.
# (ProxyTimeout is not allowed inside <Location>.) ErrorDocument pages
# naming the back end must never replace a problem.
CONFIG = ORGANISATIONS + HB_DIRECT_CARE + """
ErrorDocument 502 "LegacyCare bad gateway: care-db-01.internal"
ErrorDocument 503 "LegacyCare maintenance: care-db-01.internal"
ErrorDocument 504 "LegacyCare timeout: care-db-01.internal"
<Location /mx-stall/>
    PDSGateway on
    ProxyPass %(backend)s/api/misbehave/stall/ timeout=1
</Location>
<PDSAgreement hb-matrix>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
    Resource    GET /mx-stall/{subject}/record
""" + RESOURCES + """
    Release     name.given name.family dob
</PDSAgreement>
""" + agreement("hb-contact-update", "health-board", "direct-care",
                "PATCH /contacts/{subject}/record", "Write phone email", "Release status") \
    + CITIZENS_LOCATION \
    + location("/contacts/") \
    + location("/mx/", "/api/misbehave/") \
    + location("/mx-limit/", "/api/misbehave/", "    PDSMaxBodySize 4096")

# What a refusal may log: the filter's tagged warning, mod_proxy's and the
# HTTP parser's own errors when the back end breaks the framing.
GATEWAY_LOG = ["PDS00032", r"\[proxy(_http)?:error\]", r"AH10404", r"AH01106"]

# Known to fail today (see docs/security-model.md, "The fail-closed matrix").
# Known bugs, marked xfail(strict=True) until fixed (none at the moment).
XFAIL = {}

# The only headers a gateway answer may carry. httpd adds Expires (the
# request time) itself when mod_proxy marks a broken back-end answer as not
# cacheable; it is checked to be that and nothing of the back end.
GATEWAY_HEADERS = {"date", "server", "content-type", "content-length", "cache-control",
                   "pds-request-id", "pds-agreement", "connection", "keep-alive",
                   "www-authenticate", "allow", "expires", "x-content-type-options"}
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "reason", "request_id"}


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


def header_pairs(resp):
    return (resp.header_pairs if isinstance(resp, H.RawResponse)
            else list(resp.headers.items()))


def assert_only_gateway_headers(resp):
    """Not one header of the back end: only the names the gateway sets."""
    extra = {k.lower() for k, _ in header_pairs(resp)} - GATEWAY_HEADERS
    assert not extra, "headers passed on: %r\n%s" % (sorted(extra), H.describe(resp))
    assert "LegacyCare" not in resp.headers.get("Server", ""), H.describe(resp)
    if "Expires" in resp.headers:
        when = email.utils.parsedate_to_datetime(resp.headers["Expires"]).timestamp()
        assert abs(when - time.time()) < 30, H.describe(resp)
    for k, v in header_pairs(resp):
        assert "care-db-01" not in v and "Injected" not in k + v, H.describe(resp)


def assert_refused(gw, resp, reason, record=None, backend_reached=None, **audit):
    """The four assertions: status and problem+json (nothing but the
    problem's own members), no back-end byte or header, one audit record
    with this reason."""
    audit.setdefault("organisation", "health-board")
    rec = H.assert_denied(gw, resp, reason, backend_reached=backend_reached, **audit)
    doc = json.loads(resp.content)
    assert set(doc) <= PROBLEM_MEMBERS, doc
    H.assert_no_leak(resp, record)
    H.assert_no_backend_headers(resp)
    assert_only_gateway_headers(resp)
    return rec


def assert_released_only(gw, resp, record, agreement="hb-matrix", version="1",
                         released=RELEASED):
    """An allowed answer: exactly the released fields, nothing else."""
    audit = H.assert_allowed(gw, resp, H.pick(record, *released), agreement, version)
    H.assert_no_leak(resp, record, released=released)
    assert_only_gateway_headers(resp)
    return audit


@pytest.mark.allow_log(*GATEWAY_LOG)
@pytest.mark.parametrize("mode", [
    pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=XFAIL[m])) if m in XFAIL
    else m for m in sorted(BACKEND_CASES)])
def test_back_end_misbehaviour(gw, rec, mode):
    status, reason = BACKEND_CASES[mode]
    r = gw.get("/mx/%s/%s/record" % (mode, SUBJECT))
    if reason is None:
        assert_released_only(gw, r, rec)
    else:
        audit = assert_refused(gw, r, reason, rec, agreement="hb-matrix", subject=SUBJECT)
        assert audit["status"] == status
    assert len(gw.backend.requests()) == 1


@pytest.mark.allow_log(*GATEWAY_LOG)
@pytest.mark.parametrize("mode", sorted(LIMIT_CASES))
def test_body_over_the_limit_without_content_length(gw, mode):
    status, reason = LIMIT_CASES[mode]
    r = gw.get("/mx-limit/%s/%s/record" % (mode, SUBJECT))
    assert_refused(gw, r, reason, agreement="hb-matrix", subject=SUBJECT)
    assert b"xxxx" not in r.content and b"Big" not in r.content


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_back_end_stalling_mid_body_times_out(gw, rec):
    t0 = time.monotonic()
    r = gw.get("/mx-stall/%s/record" % SUBJECT)
    assert time.monotonic() - t0 < 4.5, "the gateway waited for the stalled back end"
    assert_refused(gw, r, "backend-error", rec, agreement="hb-matrix", subject=SUBJECT)


# ------------------------------------------------------------------ callers

def raw(gw, target, headers=(), body=b"", close=True):
    """A GET written byte for byte, with the purpose header."""
    hs = [("PDS-Purpose", "direct-care")] + list(headers)
    if close:
        hs.append(("Connection", "close"))
    return gw.raw(H.build_request("GET", target, headers=hs, body=body))


def access_log_lines(gw):
    return H.read_text(gw.httpd.access_log).splitlines()


def assert_refused_by_httpd(gw, resp, status, audit_before):
    """Refused by httpd's request parser before any module ran (no problem
    document or audit record possible): the status, nothing at the back end,
    nothing of it in the answer, no audit record, and httpd's access log has
    the request."""
    assert resp.status_code == status, H.describe(resp)
    H.assert_no_leak(resp)
    H.assert_no_backend_headers(resp)
    assert gw.backend.requests() == []
    assert len(gw.httpd.audit_records()) == audit_before
    time.sleep(0.05)
    assert any(re.search(r'" %d \d+' % status, l) or '" %d -' % status in l
               for l in access_log_lines(gw)[-3:]), access_log_lines(gw)[-3:]


SMUGGLED = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nPDS-Purpose: direct-care\r\n\r\n"
            % OTHER_PATH).encode()

# name -> (headers, body, expected): expected is a reason (a mod_pds
# denial) or a status (refused by httpd's parser).
SMUGGLING = {
    "cl-and-te": ([("Content-Length", "%d" % (5 + len(SMUGGLED))),
                   ("Transfer-Encoding", "chunked")], b"0\r\n\r\n" + SMUGGLED,
                  "unexpected-body"),
    "te-and-cl": ([("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                  b"0\r\n\r\n" + SMUGGLED, "unexpected-body"),
    "duplicate-cl-same": ([("Content-Length", "0"), ("Content-Length", "0")], b"", 400),
    "duplicate-cl-different": ([("Content-Length", "0"),
                                ("Content-Length", "%d" % len(SMUGGLED))], SMUGGLED, 400),
    "cl-list": ([("Content-Length", "0, %d" % len(SMUGGLED))], SMUGGLED, 400),
    "cl-negative": ([("Content-Length", "-1")], SMUGGLED, 400),
    "cl-plus-sign": ([("Content-Length", "+%d" % len(SMUGGLED))], SMUGGLED, 400),
    "te-gzip": ([("Transfer-Encoding", "gzip")], SMUGGLED, 400),
    "te-identity": ([("Transfer-Encoding", "identity")], SMUGGLED, 400),
    "te-xchunked": ([("Transfer-Encoding", "xchunked")], SMUGGLED, 400),
    "te-chunked-then-gzip": ([("Transfer-Encoding", "chunked, gzip")], SMUGGLED, 400),
    "te-upper-case": ([("Transfer-Encoding", "CHUNKED")], b"0\r\n\r\n" + SMUGGLED,
                      "unexpected-body"),
    "te-twice": ([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
                 b"0\r\n\r\n" + SMUGGLED, "unexpected-body"),
    "te-space-before-colon": ([("Transfer-Encoding ", "chunked")], b"0\r\n\r\n" + SMUGGLED,
                              400),
    "te-obs-fold": ([("X-Pad", "x\r\nTransfer-Encoding:\r\n chunked")],
                    b"0\r\n\r\n" + SMUGGLED, "unexpected-body"),
    "te-vertical-tab": ([("Transfer-Encoding", "\x0bchunked")], b"0\r\n\r\n" + SMUGGLED,
                        400),
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_request_smuggling_shapes(gw, name):
    headers, body, expected = SMUGGLING[name]
    before = len(gw.httpd.audit_records())
    with gw.connect() as conn:
        r = conn.request(H.build_request("GET", PATH, headers=[
            ("PDS-Purpose", "direct-care")] + headers, body=body))
        # The smuggled request must not be answered on the same connection.
        conn.sock.settimeout(1.0)
        try:
            more = conn.sock.recv(65536)
        except (socket.timeout, OSError):
            more = b""
    assert more == b"", "a second answer on the connection: %r" % more[:300]
    if isinstance(expected, str):
        assert_refused(gw, r, expected)
    else:
        assert_refused_by_httpd(gw, r, expected, before)


# Targets that are not origin-form paths, and CR/LF in the path or query.
TARGETS = {
    "unix-socket-form": ("unix:/citizens/%s/record" % SUBJECT, 400),
    "unix-socket-pipe": ("unix:/run/legacy.sock|http://127.0.0.1%s" % PATH, 400),
    "encoded-crlf-in-path": ("/citizens/%s%%0d%%0aX-Injected:%%20care-db-01/record"
                             % SUBJECT, "bad-path"),
    "encoded-crlf-in-query": (PATH + "?x=%0d%0aPDS-Subject:%20" + OTHER_SUBJECT,
                              "query-not-allowed"),
    "raw-cr-in-path": ("/citizens/%s\rX/record" % SUBJECT, 400),
    "raw-cr-in-query": (PATH + "?x=\rPDS-Subject: " + OTHER_SUBJECT, 400),
    "raw-lf-in-path": ("/citizens/%s\nX/record" % SUBJECT, 400),
    "raw-nul-in-path": ("/citizens/%s\x00/record" % SUBJECT, 400),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_odd_request_targets(gw, name):
    target, expected = TARGETS[name]
    before = len(gw.httpd.audit_records())
    r = raw(gw, target)
    if isinstance(expected, str):
        assert_refused(gw, r, expected, agreement=None, subject=None)
    else:
        assert_refused_by_httpd(gw, r, expected, before)


def test_client_copies_of_gateway_headers_are_replaced(gw, rec):
    """Duplicated, re-cased and Connection-listed copies of the headers the
    gateway asserts: the back end sees the gateway's values only, the client
    gets only the released fields."""
    r = raw(gw, PATH, headers=[
        ("PDS-Subject", OTHER_SUBJECT), ("pds-subject", OTHER_SUBJECT),
        ("PDS-ORGANISATION", "evil-org"), ("PDS-Organisation", "evil-org"),
        ("PDS-Agreement", "forged;v=9"), ("PDS-Request-Id", "forged"),
        ("Connection", "PDS-Subject, PDS-Organisation, PDS-Request-Id")], close=False)
    assert_released_only(gw, r, rec, "hb-direct-care", "3", HB_FIELDS)
    entry = gw.backend.requests()[0]
    hdr = gw.backend.header
    assert hdr(entry, "PDS-Subject") == [SUBJECT]
    assert hdr(entry, "PDS-Organisation") == ["health-board"]
    assert hdr(entry, "PDS-Agreement") == ["hb-direct-care;v=3"]
    assert hdr(entry, "PDS-Request-Id") == [r.headers["PDS-Request-Id"]]
    assert "forged" not in json.dumps(entry) and OTHER_SUBJECT not in json.dumps(entry)


def assert_stripped_or_refused(gw, resp, rec, forbidden):
    """Either the request was refused before the back end (a problem, its
    audit record), or it was answered with the released fields only and no
    header for which forbidden(name, value) holds reached the back end."""
    if resp.status_code != 200:
        reason = json.loads(resp.content).get("reason")
        assert reason in H.BEFORE_BACKEND, H.describe(resp)
        assert_refused(gw, resp, reason)
        return
    assert_released_only(gw, resp, rec, "hb-direct-care", "3", HB_FIELDS)
    entry = gw.backend.requests()[0]
    passed = [(k, v) for k, v in entry["headers"] if forbidden(k, v)]
    assert passed == [], "reached the back end: %r" % passed


def test_underscore_spellings_of_gateway_headers_do_not_reach_the_back_end(gw, rec):
    r = raw(gw, PATH, headers=[("PDS_Subject", OTHER_SUBJECT),
                               ("PDS_Organisation", "evil-org")])
    assert_stripped_or_refused(gw, r, rec, lambda k, v: "_" in k and k.lower().replace(
        "_", "-").startswith("pds-"))


def test_path_override_headers_do_not_reach_the_back_end(gw, rec):
    other = "/api/citizens/%s/record" % OTHER_SUBJECT
    r = raw(gw, PATH, headers=[("X-Original-URL", other), ("X-Rewrite-URL", other)])
    assert_stripped_or_refused(gw, r, rec, lambda k, v: OTHER_SUBJECT in v)


# Ambiguous subjects: the path names one, the body (or the query) another.
def test_get_with_a_body_naming_another_subject(gw):
    body = json.dumps({"id": OTHER_SUBJECT}).encode()
    r = raw(gw, PATH, headers=[("Content-Type", "application/json"),
                               ("Content-Length", str(len(body)))], body=body)
    assert_refused(gw, r, "unexpected-body")


def test_write_whose_body_names_another_subject(gw):
    r = gw.request("PATCH", "/contacts/%s/record" % SUBJECT,
                   data=json.dumps({"id": OTHER_SUBJECT, "phone": "01632 960999"}),
                   headers={"Content-Type": "application/json"})
    doc = H.assert_problem(r, "write-not-allowed", 422)
    assert "id" in doc["detail"]
    assert gw.backend.requests() == []
    H.assert_no_leak(r)
    assert_only_gateway_headers(r)
    H.assert_audit(gw.audit_for(r), decision="deny", reason="write-not-allowed", status=422,
                   subject=SUBJECT, method="PATCH")


# ------------------------------------------------------------------- stores

ISSUER = "data-trust-pds"

CONSENT_CONFIG = ORGANISATIONS + (
    """
PDSConsentStore pgsql "%(conninfo)s"
PDSConsentStoreTimeout 500
PDSConsentCache shmcb 0
PDSConsentReceiptKey "%(receipt_key)s"
PDSConsentTrustRegistry "%(registry)s" 1
""" +
    agreement("hb-care-planning", "health-board", "care-planning",
              "GET /consented/{subject}/record", "Release name.given name.family dob",
              basis="consent") +
    """<Location /consented/>
    PDSGateway on
    ProxyPass %(backend)s/api/citizens/
</Location>
""")

# PDS00533-PDS00536, PDS00540: the index of disclosures, kept from the background
STORE_LOG = ["PDS00088", "PDS00093", "PDS00094", "PDS00095", r"PDS005(3[3-6]|40)"]


@pytest.fixture(scope="module")
def store(gateway_factory, tmp_path_factory):
    """A gateway with a consent store on a real PostgreSQL (no cache), and
    the key of a trusted consent-artefact issuer."""
    ok, why = pds_postgres.postgres_available()
    if not ok:
        pytest.fail("PostgreSQL is needed for the consent store cases: " + why)
    d = tmp_path_factory.mktemp("matrix-consent")
    issuer_key = ed25519.Ed25519PrivateKey.generate()
    registry = d / "trust-registry.json"
    registry.write_text(json.dumps({"issuers": [{"id": ISSUER, "keys": [{
        "kid": "dt-1", "pem": issuer_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()}]}],
        "revoked": []}))
    os.chmod(str(registry), 0o644)
    os.chmod(str(d), 0o755)
    receipt_key = str(d / "receipt.key")
    H.write_private(receipt_key, ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    pg = pds_postgres.Postgres().start()
    try:
        body = CONSENT_CONFIG.replace("%(conninfo)s", pg.conninfo) \
            .replace("%(receipt_key)s", receipt_key).replace("%(registry)s", str(registry))
        g = gateway_factory(body)
        yield {"gw": g, "pg": pg, "issuer_key": issuer_key}
    finally:
        pg.stop()


def artefact(key, subject, purpose="care-planning", fields=("name.given", "dob")):
    now = int(time.time())
    return H.mint_token(key, "EdDSA", {
        "iss": ISSUER, "jti": "a-" + os.urandom(8).hex(), "sub": subject, "org": "health-board",
        "purpose": purpose, "fields": list(fields), "iat": now, "exp": now + 300},
        header_overrides={"kid": "dt-1", "typ": "pds-consent+jws"})


def consented(gw, subject, headers=None):
    return gw.get("/consented/%s/record" % subject, purpose="care-planning", headers=headers)


def test_another_subjects_record_without_consent(store, residents):
    """Object-level authorisation: a consent for one person opens that
    person's record only."""
    gw = store["gw"]
    art = artefact(store["issuer_key"], SUBJECT)
    mine = consented(gw, SUBJECT, headers={"PDS-Consent-Artefact": art})
    assert_released_only(gw, mine, residents[SUBJECT], "hb-care-planning", "1",
                         ["name.given", "dob"])
    gw.backend.clear()
    r = consented(gw, OTHER_SUBJECT, headers={"PDS-Consent-Artefact": art})
    assert_refused(gw, r, "artefact-wrong-binding", residents[OTHER_SUBJECT],
                   backend_reached=False, subject=OTHER_SUBJECT, agreement="hb-care-planning")
    r = consented(gw, OTHER_SUBJECT)
    assert_refused(gw, r, "consent-missing", residents[OTHER_SUBJECT], backend_reached=False,
                   subject=OTHER_SUBJECT, agreement="hb-care-planning")


def wait_for_store(gw, timeout=5.0):
    """Until the store answers again: no consent for SUBJECT is consent-missing."""
    deadline = time.monotonic() + timeout
    while True:
        r = consented(gw, SUBJECT)
        if r.status_code == 403:
            return r
        assert time.monotonic() < deadline, "the store did not come back:\n" + H.describe(r)
        time.sleep(0.2)


@pytest.mark.allow_log(*STORE_LOG)
def test_consent_store_down(store, residents):
    """PostgreSQL killed: refused with 503, audited, the back end never
    asked; the gateway recovers once the store is back."""
    gw, pg = store["gw"], store["pg"]
    wait_for_store(gw)
    pg.kill()
    try:
        r = consented(gw, SUBJECT)
        assert_refused(gw, r, "consent-store-unavailable", residents[SUBJECT],
                       backend_reached=False, subject=SUBJECT, agreement="hb-care-planning")
    finally:
        pg.restart()
    H.assert_problem(wait_for_store(gw), "consent-missing")


@pytest.mark.allow_log(*STORE_LOG)
def test_consent_store_slow(store, residents):
    """The store holds a lock longer than PDSConsentStoreTimeout (500 ms):
    refused after about that time, not after the lock is released."""
    gw, pg = store["gw"], store["pg"]
    wait_for_store(gw)
    holder = subprocess.Popen(
        [pds_postgres.PSQL, "-h", "127.0.0.1", "-p", str(pg.port), "-U", "pds", "-d", "pds",
         "-v", "ON_ERROR_STOP=1", "-c",
         "BEGIN; LOCK TABLE pds_consents IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2); COMMIT;"],
        env=dict(os.environ, PGPASSWORD=pds_postgres.PASSWORD),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.4)
        t0 = time.monotonic()
        r = consented(gw, SUBJECT)
        took = time.monotonic() - t0
        assert_refused(gw, r, "consent-store-unavailable", residents[SUBJECT],
                       backend_reached=False, subject=SUBJECT, agreement="hb-care-planning")
        assert 0.3 < took < 1.4, "took %.2f s against a 500 ms store timeout" % took
    finally:
        assert holder.wait(10) == 0, "the lock was not taken"


@pytest.fixture(scope="module")
def full_gw(gateway_factory):
    """A gateway whose audit log cannot be written (every write: ENOSPC)."""
    return gateway_factory(CONFIG, audit_log="/dev/full")


@pytest.mark.allow_log(r"PDS0004\d", r"PDS0003\d", r"PDS0002\d", r"PDS0005\d")
def test_audit_log_unwritable_releases_nothing(full_gw, rec):
    """No record can be written, so nothing is released; the error log is
    the record: it names the request and the reason."""
    off = full_gw.httpd.error_log_size()
    r = full_gw.get(PATH)
    H.assert_problem(r, "audit-unavailable", 503)
    H.assert_no_leak(r, rec)
    assert_only_gateway_headers(r)
    assert len(full_gw.backend.requests()) == 1
    rid = r.headers["PDS-Request-Id"]
    time.sleep(0.05)
    log = full_gw.httpd.error_log_text(off)
    assert re.search(r"PDS00030: gateway error audit-unavailable of request %s" % re.escape(rid),
                     log), log


@pytest.mark.allow_log(r"PDS0004\d", r"PDS0003\d", r"PDS0002\d", r"PDS0005\d")
def test_audit_log_unwritable_keeps_a_denial_a_denial(full_gw):
    off = full_gw.httpd.error_log_size()
    r = full_gw.get(PATH, who=None)
    H.assert_problem(r, "unknown-caller", 401)
    H.assert_no_leak(r)
    assert_only_gateway_headers(r)
    assert full_gw.backend.requests() == []
    rid = r.headers["PDS-Request-Id"]
    time.sleep(0.05)
    log = full_gw.httpd.error_log_text(off)
    assert re.search(r"PDS00021: denial unknown-caller of request %s" % re.escape(rid), log), log


# name -> (directives, the directive the refusal must name, when it is
# refused: "-t" by `httpd -t` (the directive's own handler), "start" by the
# start (files loaded in post_config, which `httpd -t` does not run)).
MISSING = "/nonexistent/pds-matrix/"
KEY_CASES = {
    "audit-key-missing": ('PDSAuditKey "%saudit.key"\n' % MISSING, "PDSAuditKey", "-t"),
    "audit-signing-key-missing": ('PDSAuditKey "%(audit_key)s"\nPDSAuditSigningKey "'
                                  + MISSING + 'signing.pem"\n', "PDSAuditSigningKey", "-t"),
    "response-signing-key-missing": ('PDSResponseSigningKey "%ssign.pem"\n' % MISSING,
                                     "PDSResponseSigningKey", "-t"),
    "pseudonym-key-missing": ('PDSPseudonymKey "%spseudonym.key"\n' % MISSING,
                              "PDSPseudonymKey", "-t"),
    "consent-receipt-key-missing": ('PDSConsentStore sqlite3 "/tmp/pds-matrix-x/c.db"\n'
                                    'PDSConsentReceiptKey "%sreceipt.pem"\n' % MISSING,
                                    "PDSConsentReceiptKey", "-t"),
    # Read by its directive since issue #10 item 12: a graceful restart
    # used to pass `-t` and then take the server down.
    "trust-registry-missing": ('PDSConsentTrustRegistry "%sregistry.json"\n' % MISSING,
                               "PDSConsentTrustRegistry", "-t"),
    "pseudonym-key-not-a-key": ('PDSPseudonymKey "%(not_a_key)s"\n', "PDSPseudonymKey",
                                "-t"),
    "response-signing-key-not-a-key": ('PDSResponseSigningKey "%(not_a_key)s"\n',
                                       "PDSResponseSigningKey", "-t"),
}


@pytest.mark.parametrize("name", sorted(KEY_CASES))
def test_bad_or_missing_key_stops_the_server(httpd_factory, tmp_path, name):
    """A key or trust file that is missing or not a key: the server refuses
    to run (and so answers nothing), naming the directive."""
    directives, directive, when = KEY_CASES[name]
    not_a_key = tmp_path / "not-a-key"
    H.write_private(str(not_a_key), b"this is not a key\n")
    body = ORGANISATIONS + HB_DIRECT_CARE + """
<Location /citizens/>
    PDSGateway on
    ProxyPass %(backend)s/api/citizens/
</Location>
"""
    h = httpd_factory(body)
    extra = directives.replace("%(not_a_key)s", str(not_a_key)) \
        .replace("%(audit_key)s", h.audit_key_path)
    if directive.startswith("PDSAudit"):
        h.audit_directives = extra
    else:
        h.body = h.body + "\n" + extra
    h.write_conf()
    rc, out = h.config_test()
    if when == "-t":
        assert rc != 0, "httpd -t accepted %s:\n%s" % (name, out)
        assert directive in out, out
        return
    assert rc == 0, out
    with pytest.raises(H.HttpdError) as failed:
        h.start()
    assert directive in str(failed.value), str(failed.value)
    assert not H.port_accepts(h.https_port)


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_back_end_hanging_up_on_a_kept_alive_connection(gw, rec):
    """The back end closes without a status line on the second request of a
    client connection (what a back end killed mid-request looks like):
    mod_proxy asks httpd to close the client connection and returns 500.
    The client gets one 502 problem document, then the connection closes:
    no second (HTML) response on the stream, found by bench/soak.sh."""
    first = H.build_request("GET", "/mx/ok/%s/record" % SUBJECT,
                            headers=[("PDS-Purpose", "direct-care")])
    second = H.build_request("GET", "/mx/hangup/%s/record" % SUBJECT,
                             headers=[("PDS-Purpose", "direct-care")])
    with gw.connect() as conn:
        ok = conn.request(first)
        assert ok.status_code == 200, H.describe(ok)
        conn.sock.sendall(second)
        data = b""
        conn.sock.settimeout(10)
        while True:
            chunk = conn.sock.recv(65536)
            if not chunk:
                break               # the gateway closed the connection
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502"), data[:300]
    assert data.count(b"HTTP/1.1 ") == 1, data
    assert b"<html" not in data.lower() and b"<!doctype" not in data.lower(), data
    doc = json.loads(body)
    assert doc["reason"] == "backend-error"
    for value in H.personal_values(rec).values():
        assert value.encode() not in data
    audit = [a for a in gw.httpd.audit_records() if a["request_id"] == doc["request_id"]]
    assert len(audit) == 1 and audit[0]["reason"] == "backend-error"
