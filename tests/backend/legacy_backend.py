#!/usr/bin/python3
"""A stand-in for a council's legacy social-care system (synthetic data only).

    legacy_backend.py --port N [--host 127.0.0.1] [--data residents.json]
                      [--access-log FILE]

It behaves like the internal JSON APIs mod_pds is put in front of: it answers
whoever reaches it, with everything it holds, and identifies itself loudly
(Server, X-Powered-By, X-Backend-Host, Via, a session cookie, ETag and
Last-Modified; 304 on If-None-Match/If-Modified-Since; 206 on Range).

Routes:
  GET  /api/citizens/<id>/record     the resident's record (404 JSON if unknown)
  GET  /api/citizens/<id>/contacts   {"id", "contacts": [...], "case_worker"}
  GET  /api/citizens/<id>/visits     a top-level JSON array of visits
  GET  /api/fhir/Patient/<id>        the resident as a FHIR R4 Patient: the
                                     NHS number and a local case reference
                                     (identifier), phone and e-mail (telecom),
                                     official and usual name
  PUT|POST /api/citizens/<id>/...    accepted and echoed (200)
  GET  /api/misbehave/<mode>/<id>/record
       the record, delivered wrongly on purpose; <mode> is one of MODES
       below. "big" takes its size and "slow" its delay from ?size=N /
       ?delay=S or from the mode itself (big-4096, slow-2.5), because the
       gateway in front refuses query strings. "trickle-N" sends the big
       body of N bytes in 64 KiB pieces 20 ms apart (a body that is in
       flight for a while); "cut-N" declares the big body of N bytes, sends
       its first half and closes the connection.

       The fail-closed matrix (tests/e2e/test_fail_closed_matrix.py) adds
       modes that break HTTP framing or JSON on purpose:
         stall               headers and half the body, then silence (5 s)
         chunked-truncated   chunked, the connection closes before the last chunk
         chunked-malformed   chunked, a chunk-size line that is not hex
         chunked-overflow    chunked, a chunk size beyond 64 bits
         conflicting-length  two Content-Length headers with different values
         length-and-chunked  Content-Length and Transfer-Encoding: chunked
         header-cr, header-lf, header-nul
                             a header value with a bare CR, a bare LF or a NUL
                             (each followed by text shaped like a header)
         brotli              Content-Encoding: br over a plain JSON body
         chunked-big, eof-big
                             8192 bytes of valid JSON, chunked or ended by
                             closing the connection (no Content-Length)
         deep-100k           100000 nested arrays under one member
         duplicate-top, duplicate-unreleased, duplicate-escaped
                             a member name twice: a top-level object, an
                             unreleased member, "name" and "n\\u0061me"
         escaped-keys        every member name written with \\u escapes
         nul-key, nul-key-raw
                             "given\\u0000" beside "given"; a raw NUL in a name
         bad-utf8, lone-surrogate, lone-low-surrogate
                             a byte 0xff, "\\ud800" alone, "\\udc00" alone in name.given
         huge-int, huge-real 2^63 and 1e400 as member values
         many-keys           the record with 50000 extra members
         interim             103 Early Hints (a Link and headers naming the
                             resident), then 102 with the resident's name and
                             NHS number in its reason phrase, then the record
         interim-continue    an unsolicited 100 Continue with headers, then
                             the record

Every request is written to --access-log as one JSON line (time, client,
method, target, path, query, headers as [name, value] pairs in order) as
soon as its headers are read, and flushed, so that tests can prove what
reached the back end and what did not.

Python 3 standard library only.
"""
import argparse
import email.utils
import gzip
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SERVER_HEADER = "LegacyCare/4.2 (internal)"
BACKEND_HOST = "care-db-01.internal"
# Every record "changed" at the same time: a stable Last-Modified for 304s.
LAST_MODIFIED = "Tue, 04 Mar 2025 09:15:00 GMT"
LAST_MODIFIED_TS = email.utils.parsedate_to_datetime(LAST_MODIFIED).timestamp()

MODES = (
    "ok", "extra-field", "gzip", "partial", "chunked", "error500", "error503",
    "error404-pii", "html", "no-content-type", "not-json", "trailing-garbage",
    "top-level-array", "scalar", "empty", "duplicate-keys", "deep", "big", "slow",
    "redirect", "close-early", "204", "created", "wrong-type", "json-suffix",
    "charset", "nulls", "trickle", "cut",
    # The fail-closed matrix (see the docstring): framing and hostile JSON.
    "stall", "chunked-truncated", "chunked-malformed", "chunked-overflow",
    "conflicting-length", "length-and-chunked", "header-cr", "header-lf", "header-nul",
    "brotli", "chunked-big", "eof-big", "deep-100k", "duplicate-top",
    "duplicate-unreleased", "duplicate-escaped", "escaped-keys", "nul-key", "nul-key-raw",
    "bad-utf8", "lone-surrogate", "lone-low-surrogate", "huge-int", "huge-real",
    "many-keys", "hangup",
    # Interim (1xx) responses before the record (issue #10 item 2).
    "interim", "interim-continue",
)
MATRIX_MODES = MODES[MODES.index("stall"):]
PARAM_MODE = re.compile(r"^(big|slow|trickle|cut)-([0-9]+(?:\.[0-9]+)?)$")
CITIZEN = re.compile(r"^/api/citizens/([^/]+)/(record|contacts|visits)$")
MISBEHAVE = re.compile(r"^/api/misbehave/([^/]+)/([^/]+)/record$")
DISTRICT = re.compile(r"^/api/districts/([A-Za-z0-9]+)/residents$")
FHIR_PATIENT = re.compile(r"^/api/fhir/Patient/([^/]+)$")
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CASE_SYSTEM = "https://council.example/Id/social-care-case"


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class AccessLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        # O_APPEND: a test may truncate the file between requests.
        self.f = open(path, "a", encoding="utf-8") if path else None

    def write(self, entry):
        if self.f is None:
            return
        line = json.dumps(entry, ensure_ascii=True) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LegacyCare/4.2"
    residents = {}
    access_log = None

    # -- plumbing -----------------------------------------------------------

    def version_string(self):
        return SERVER_HEADER

    def log_message(self, fmt, *args):
        pass    # the JSON access log is the record; keep stderr quiet

    def log_request_line(self):
        parts = urlsplit(self.path)
        self.access_log.write({
            "time": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "client": "%s:%d" % self.client_address[:2],
            "method": self.command,
            "target": self.path,
            "path": parts.path,
            "query": parts.query if "?" in self.path else None,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
        })

    def legacy_headers(self, etag=None):
        self.send_header("X-Powered-By", "LegacyCare")
        self.send_header("X-Backend-Host", BACKEND_HOST)
        self.send_header("Via", "1.1 care-proxy.internal (LegacyCare)")
        self.send_header("Set-Cookie", "LEGACYSESSION=%s; Path=/; HttpOnly"
                         % secrets.token_hex(12))
        if etag:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED)

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = b""
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(8)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, status, value=None, raw=None, content_type="application/json",
                  etag=False, extra=()):
        body = raw if raw is not None else compact(value)
        tag = '"%s"' % hashlib.sha256(body).hexdigest()[:20] if etag else None
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.legacy_headers(tag)
        for name, val in extra:
            self.send_header(name, val)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def not_found(self, what):
        self.send_json(404, {"error": "not found", "detail": "no such %s" % what,
                             "system": "LegacyCare 4.2"})

    # -- conditional and range requests on normal resources -------------------

    def send_resource(self, value):
        body = compact(value)
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:20]
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]
        elif ims is not None:
            try:
                not_modified = (email.utils.parsedate_to_datetime(ims).timestamp()
                                >= LAST_MODIFIED_TS)
            except (TypeError, ValueError):
                not_modified = False
        if not_modified:
            self.send_response(304)
            self.legacy_headers(etag)
            self.end_headers()
            return
        rng = self.headers.get("Range")
        m = re.match(r"^bytes=(\d*)-(\d*)$", rng.strip()) if rng else None
        if m and (m.group(1) or m.group(2)):
            total = len(body)
            if m.group(1):
                first = int(m.group(1))
                last = min(int(m.group(2)), total - 1) if m.group(2) else total - 1
            else:
                first, last = max(total - int(m.group(2)), 0), total - 1
            if first < total and first <= last:
                part = body[first:last + 1]
                self.send_json(206, raw=part, etag=True,
                               extra=[("Content-Range", "bytes %d-%d/%d" % (first, last, total))])
                return
        self.send_json(200, raw=body, etag=True)

    # -- routes -----------------------------------------------------------------

    def resident(self, rid):
        return self.residents.get(rid)

    @staticmethod
    def contacts_of(rec):
        return {"id": rec["id"],
                "contacts": [{"type": "phone", "value": rec["phone"], "note": "home"},
                             {"type": "email", "value": rec["email"], "note": "personal"}],
                "case_worker": rec["case_worker"]}

    @staticmethod
    def visits_of(rec):
        return [{"date": b["since"], "worker": rec["case_worker"]["name"],
                 "notes": rec["internal"]["notes"]} for b in rec["benefits"]] or \
               [{"date": "2024-01-15", "worker": rec["case_worker"]["name"],
                 "notes": rec["internal"]["notes"]}]

    @staticmethod
    def fhir_patient_of(rec):
        """The resident as a FHIR R4 Patient, as a health integration layer
        in front of the same system might serve it."""
        return {"resourceType": "Patient", "id": rec["id"],
                "identifier": [
                    {"use": "official", "system": NHS_SYSTEM,
                     "value": rec["nhs_number"].replace(" ", "")},
                    {"use": "usual", "system": CASE_SYSTEM, "value": "SC-" + rec["id"][-6:]}],
                "name": [{"use": "official", "family": rec["name"]["family"],
                          "given": [rec["name"]["given"]]},
                         {"use": "usual", "given": [rec["name"]["given"][:3]]}],
                "telecom": [{"system": "phone", "value": rec["phone"], "use": "home"},
                            {"system": "email", "value": rec["email"], "use": "home"}],
                "birthDate": rec["dob"],
                "address": [{"line": [rec["address"]["line1"]], "city": rec["address"]["town"],
                             "postalCode": rec["address"]["postcode"]}]}

    def handle_get(self):
        parts = urlsplit(self.path)
        m = FHIR_PATIENT.match(parts.path)
        if m:
            rec = self.resident(m.group(1))
            if rec is None:
                return self.not_found("resident")
            return self.send_resource(self.fhir_patient_of(rec))
        m = CITIZEN.match(parts.path)
        if m:
            rec = self.resident(m.group(1))
            if rec is None:
                return self.not_found("resident")
            kind = m.group(2)
            value = rec if kind == "record" else (
                self.contacts_of(rec) if kind == "contacts" else self.visits_of(rec))
            return self.send_resource(value)
        m = MISBEHAVE.match(parts.path)
        if m:
            return self.misbehave(m.group(1), m.group(2), parse_qs(parts.query))
        m = DISTRICT.match(parts.path)
        if m:
            # A search: every resident whose postcode is in the district.
            district = m.group(1).upper()
            return self.send_resource([r for r in self.residents.values()
                                       if r["address"]["postcode"].split()[0] == district])
        return self.not_found("route")

    def handle_write(self):
        body = self.read_body()
        try:
            received = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            received = body.decode("utf-8", "replace")
        self.send_json(200, {"status": "accepted", "method": self.command,
                             "path": urlsplit(self.path).path, "received": received})

    def misbehave(self, mode, rid, query):
        param = None
        pm = PARAM_MODE.match(mode)
        if pm:
            mode, param = pm.group(1), float(pm.group(2))
        if mode not in MODES:
            return self.not_found("misbehaviour")
        rec = self.resident(rid)
        if rec is None:
            return self.not_found("resident")
        body = compact(rec)
        if mode in MATRIX_MODES:
            return self.misbehave_matrix(mode, rec, body)

        if mode == "ok":
            self.send_json(200, raw=body, etag=True)
        elif mode == "extra-field":
            self.send_json(200, dict(rec, secret_field="s3cr3t-%s" % rid), etag=True)
        elif mode == "gzip":
            self.send_json(200, raw=gzip.compress(body), etag=True,
                           extra=[("Content-Encoding", "gzip")])
        elif mode == "partial":
            # A complete, valid JSON body that says it is only part of one.
            self.send_json(206, raw=body, etag=True, extra=[
                ("Content-Range", "bytes 0-%d/%d" % (len(body) - 1, len(body) + 512))])
        elif mode == "chunked":
            self.send_chunked(body)
        elif mode == "error500":
            self.send_json(500, {"error": "NullPointerException in CareRecordDAO.load",
                                 "trace": "at uk.gov.legacycare.dao.CareRecordDAO(care-db-01)",
                                 "record": rec})
        elif mode == "error503":
            self.send_json(503, {"error": "maintenance", "host": BACKEND_HOST})
        elif mode == "error404-pii":
            self.send_json(404, {"error": "record archived", "name": rec["name"],
                                 "phone": rec["phone"], "notes": rec["internal"]["notes"]})
        elif mode == "html":
            page = ("<html><head><title>LegacyCare</title></head><body><h1>%s %s</h1>"
                    "<p>%s</p></body></html>" % (rec["name"]["given"], rec["name"]["family"],
                                                 rec["phone"]))
            self.send_json(200, raw=page.encode("utf-8"), content_type="text/html; charset=utf-8")
        elif mode == "no-content-type":
            self.send_json(200, raw=body, content_type=None, etag=True)
        elif mode == "not-json":
            self.send_json(200, raw=b"hello")
        elif mode == "trailing-garbage":
            self.send_json(200, raw=body + b'\n{"phone":"' + rec["phone"].encode() + b'"}')
        elif mode == "top-level-array":
            self.send_json(200, [rec])
        elif mode == "scalar":
            self.send_json(200, "%s %s" % (rec["name"]["given"], rec["name"]["family"]))
        elif mode == "empty":
            self.send_json(200, raw=b"")
        elif mode == "duplicate-keys":
            raw = ('{"id":%s,"name":{"given":%s,"given":"Mallory"},"dob":%s,"phone":%s}'
                   % tuple(json.dumps(x, ensure_ascii=False) for x in
                           (rec["id"], rec["name"]["given"], rec["dob"], rec["phone"])))
            self.send_json(200, raw=raw.encode("utf-8"))
        elif mode == "deep":
            depth = 1000
            raw = ('{"name":{"given":%s},"phone":%s,"d":' % (
                json.dumps(rec["name"]["given"]), json.dumps(rec["phone"]))
                   + "[" * (depth - 1) + "]" * (depth - 1) + "}")
            self.send_json(200, raw=raw.encode("utf-8"))
        elif mode == "big":
            try:
                size = int(param if param is not None else query.get("size", ["65536"])[0])
                body = big_body(size)
            except ValueError as e:
                return self.send_json(400, {"error": str(e)})
            self.send_json(200, raw=body)
        elif mode in ("trickle", "cut"):
            try:
                body = big_body(int(param if param is not None else 1 << 20))
            except ValueError as e:
                return self.send_json(400, {"error": str(e)})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.legacy_headers()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "cut":
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            for i in range(0, len(body), 65536):
                self.wfile.write(body[i:i + 65536])
                self.wfile.flush()
                time.sleep(0.02)
        elif mode == "slow":
            delay = param if param is not None else float(query.get("delay", ["5"])[0])
            time.sleep(delay)
            self.send_json(200, raw=body, etag=True)
        elif mode == "redirect":
            self.send_json(302, {"moved": True, "phone": rec["phone"]}, extra=[
                ("Location", "http://%s/api/citizens/%s/record" % (BACKEND_HOST, rid))])
        elif mode == "close-early":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.legacy_headers()
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write((body * 2)[:100])
            self.wfile.flush()
            self.close_connection = True
        elif mode == "204":
            self.send_response(204)
            self.legacy_headers()
            self.end_headers()
        elif mode == "created":
            self.send_json(201, rec)
        elif mode == "wrong-type":
            self.send_json(200, dict(rec, name="%s %s" % (rec["name"]["given"],
                                                         rec["name"]["family"])))
        elif mode == "json-suffix":
            self.send_json(200, raw=body, content_type="application/vnd.legacycare.record+json")
        elif mode == "charset":
            self.send_json(200, raw=body, content_type="application/json; charset=utf-8")
        elif mode == "nulls":
            self.send_json(200, dict(rec, phone=None, care={"needs": None, "allergies": []}))

    # -- the fail-closed matrix's modes -------------------------------------------

    def send_head_raw(self, lines, status=b"200 OK"):
        """A status line and headers written byte for byte (no checks), with
        the usual identifying headers; `lines` are complete header lines."""
        head = [b"HTTP/1.1 " + status, b"Server: " + SERVER_HEADER.encode(),
                b"X-Powered-By: LegacyCare", b"X-Backend-Host: " + BACKEND_HOST.encode(),
                b"Set-Cookie: LEGACYSESSION=" + secrets.token_hex(12).encode()]
        self.wfile.write(b"\r\n".join(head + list(lines)) + b"\r\n\r\n")
        self.close_connection = True

    def send_interim(self, mode, rec):
        """Interim responses before the final one, carrying personal data and
        the back end's names in their headers and reason phrases."""
        who = ("%s-%s %s" % (rec["name"]["given"], rec["name"]["family"],
                             rec["nhs_number"])).encode("utf-8")
        if mode == "interim":
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\n"
                             b"Link: <http://" + BACKEND_HOST.encode() + b"/api/citizens/"
                             + rec["id"].encode() + b"/photo>; rel=preload\r\n"
                             b"X-Powered-By: LegacyCare\r\n"
                             b"X-Resident: " + who + b"\r\n\r\n")
            self.wfile.write(b"HTTP/1.1 102 Processing " + who + b"\r\n"
                             b"X-Backend-Host: " + BACKEND_HOST.encode() + b"\r\n\r\n")
        else:
            self.wfile.write(b"HTTP/1.1 100 Continue " + who + b"\r\n"
                             b"X-Backend-Host: " + BACKEND_HOST.encode() + b"\r\n\r\n")
        self.wfile.flush()
        time.sleep(0.1)     # let the proxy see (and relay) them on their own

    def misbehave_matrix(self, mode, rec, body):
        json_ct = b"Content-Type: application/json"
        if mode == "hangup":
            # Closes without a status line: what a back end killed mid-request
            # looks like to mod_proxy (AH01102, then AH01104 on a client
            # connection that has served a request before).
            self.close_connection = True
            return
        if mode in ("interim", "interim-continue"):
            self.send_interim(mode, rec)
            self.send_head_raw([json_ct, b"Content-Length: %d" % len(body)])
            self.wfile.write(body)
            return
        if mode == "stall":
            self.send_head_raw([json_ct, b"Content-Length: %d" % len(body)])
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            time.sleep(5)
            self.wfile.write(body[len(body) // 2:])
        elif mode in ("chunked-truncated", "chunked-malformed", "chunked-overflow"):
            self.send_head_raw([json_ct, b"Transfer-Encoding: chunked"])
            half = len(body) // 2
            self.wfile.write(b"%x\r\n%s\r\n" % (half, body[:half]))
            rest = body[half:]
            if mode == "chunked-malformed":
                self.wfile.write(b"zz\r\n%s\r\n0\r\n\r\n" % rest)
            elif mode == "chunked-overflow":
                self.wfile.write(b"1%s\r\n%s\r\n0\r\n\r\n" % (b"0" * 16, rest))
            # chunked-truncated: the connection closes here
        elif mode == "conflicting-length":
            self.send_head_raw([json_ct, b"Content-Length: %d" % len(body),
                                b"Content-Length: %d" % (len(body) // 2)])
            self.wfile.write(body)
        elif mode == "length-and-chunked":
            self.send_head_raw([json_ct, b"Content-Length: %d" % (len(body) // 2),
                                b"Transfer-Encoding: chunked"])
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        elif mode in ("header-cr", "header-lf", "header-nul"):
            sep = {"header-cr": b"\r", "header-lf": b"\n", "header-nul": b"\x00"}[mode]
            self.send_head_raw([json_ct, b"Content-Length: %d" % len(body),
                                b"X-Note: LegacyCare" + sep + b"X-Injected: care-db-01"])
            self.wfile.write(body)
        elif mode == "brotli":
            self.send_head_raw([json_ct, b"Content-Encoding: br",
                                b"Content-Length: %d" % len(body)])
            self.wfile.write(body)
        elif mode in ("chunked-big", "eof-big"):
            big = big_body(8192)
            if mode == "chunked-big":
                self.send_head_raw([json_ct, b"Transfer-Encoding: chunked"])
                for i in range(0, len(big), 1024):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(big[i:i + 1024]), big[i:i + 1024]))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_head_raw([json_ct, b"Connection: close"])
                self.wfile.write(big)
        else:
            self.send_json(200, raw=hostile_json(mode, rec))

    def send_chunked(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.legacy_headers()
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        step = max(len(body) // 5, 1)
        for i in range(0, len(body), step):
            piece = body[i:i + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    # -- dispatch ---------------------------------------------------------------

    def dispatch(self, handler):
        self.log_request_line()
        try:
            handler()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        self.dispatch(self.handle_get)

    def do_HEAD(self):
        self.dispatch(self.handle_get)

    def do_PUT(self):
        self.dispatch(self.handle_write)

    def do_PATCH(self):
        self.dispatch(self.handle_write)

    def do_POST(self):
        self.dispatch(self.handle_write)

    def do_DELETE(self):
        self.dispatch(lambda: self.send_json(405, {"error": "method not allowed"}))

    def do_OPTIONS(self):
        self.dispatch(lambda: self.send_json(200, {"methods": ["GET", "PUT", "POST"]},
                                             extra=[("Allow", "GET, HEAD, PUT, POST")]))


def escaped_keys(value):
    """JSON text of `value` with every member name written as \\u escapes."""
    if isinstance(value, dict):
        return "{" + ",".join('"%s":%s' % ("".join("\\u%04x" % ord(c) for c in k),
                                           escaped_keys(v)) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(escaped_keys(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def hostile_json(mode, rec):
    """The body of one of the matrix's hostile-JSON modes (bytes)."""
    j = lambda v: json.dumps(v, ensure_ascii=False)
    name, dob, phone = j(rec["name"]), j(rec["dob"]), j(rec["phone"])
    given, family = j(rec["name"]["given"]), j(rec["name"]["family"])
    notes = j(rec["internal"]["notes"])
    text = {
        "deep-100k": '{"name":%s,"dob":%s,"phone":%s,"d":%s%s}' % (
            name, dob, phone, "[" * 100000, "]" * 100000),
        "duplicate-top": '{"name":%s,"dob":%s,"phone":%s,"name":{"given":"Mallory"}}' % (
            name, dob, phone),
        "duplicate-unreleased": '{"name":%s,"dob":%s,"internal":{"notes":%s,"notes":%s}}' % (
            name, dob, notes, phone),
        "duplicate-escaped": '{"name":%s,"dob":%s,"n\\u0061me":{"given":"Mallory"},'
                             '"phone":%s}' % (name, dob, phone),
        "escaped-keys": escaped_keys(rec),
        "nul-key": '{"name":{"given\\u0000":"Mallory","given":%s,"family":%s},"dob":%s,'
                   '"phone\\u0000":%s}' % (given, family, dob, phone),
        "lone-surrogate": '{"name":{"given":"\\ud800%s","family":%s},"dob":%s,"phone":%s}'
                          % (rec["name"]["given"], family, dob, phone),
        "lone-low-surrogate": '{"name":{"given":"\\udc00%s","family":%s},"dob":%s,'
                              '"phone":%s}' % (rec["name"]["given"], family, dob, phone),
        "huge-int": '{"name":%s,"dob":%s,"phone":%s,"case_id":9223372036854775808}' % (
            name, dob, phone),
        "huge-real": '{"name":%s,"dob":%s,"phone":%s,"score":1e400}' % (name, dob, phone),
        "many-keys": '{%s,%s}' % (compact(rec).decode("utf-8")[1:-1],
                                  ",".join('"k%05d":%d' % (i, i) for i in range(50000))),
    }.get(mode)
    if text is not None:
        return text.encode("utf-8")
    if mode == "nul-key-raw":
        return ('{"name":{"given\x00":"Mallory","given":%s,"family":%s},"dob":%s,'
                '"phone":%s}' % (given, family, dob, phone)).encode("utf-8")
    if mode == "bad-utf8":
        return (b'{"name":{"given":"\xff' + rec["name"]["given"].encode("utf-8")
                + b'","family":' + family.encode("utf-8") + b'},"dob":' + dob.encode()
                + b',"phone":' + phone.encode() + b"}")
    raise ValueError("no hostile body for mode %s" % mode)


def big_body(size):
    """Valid JSON of exactly `size` bytes: {"name":{"given":"Big"},"pad":"xxx"}."""
    head, tail = b'{"name":{"given":"Big"},"pad":"', b'"}'
    pad = size - len(head) - len(tail)
    if pad < 0:
        raise ValueError("size %d is below the smallest big body (%d)"
                         % (size, len(head) + len(tail)))
    return head + b"x" * pad + tail


def main():
    ap = argparse.ArgumentParser(description="Stand-in legacy social-care back end.")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "residents.json"))
    ap.add_argument("--access-log", default=None, help="JSON Lines log of every request")
    args = ap.parse_args()

    with open(args.data, encoding="utf-8") as f:
        Handler.residents = {r["id"]: r for r in json.load(f)}
    Handler.access_log = AccessLog(args.access_log)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print("legacy back end on http://%s:%d/ (%d residents)"
          % (args.host, args.port, len(Handler.residents)), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
