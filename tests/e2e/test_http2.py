"""HTTP/2 (mod_http2, h2 over TLS): the same filtering, denials and audit as
HTTP/1.1, and no way around them through h2's own mechanics. curl speaks h2
here (Python's requests cannot). SPEC: fail closed, no bypass through HTTP
mechanics (HTTP/2 is in the filter regression list of STYLE.md)."""
import json
import os
import subprocess

import pytest

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, HB_FIELDS, ORGANISATIONS, PATH, SUBJECT

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG, vhost_body="    Protocols h2 http/1.1\n",
                           extra_modules=[("http2_module", "mod_http2.so")])


def h2(gw, path, *extra, who="health-board", purpose="direct-care"):
    """(http version, status, headers dict, body bytes) of one h2 request."""
    out = gw.httpd.root + "/h2-body"
    cmd = ["curl", "-sS", "--http2", "--cacert", gw.pki.ca_cert, "-o", out,
           "-D", "-", "--max-time", "15"]
    if who:
        c = gw.pki[who]
        cmd += ["--cert", c.cert, "--key", c.key]
    if purpose:
        cmd += ["-H", "PDS-Purpose: " + purpose]
    cmd += list(extra) + [gw.url(path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    version, status = lines[0].split(" ")[0], int(lines[0].split(" ")[1])
    headers = {}
    for l in lines[1:]:
        if ": " in l:
            k, v = l.split(": ", 1)
            headers[k.lower()] = v
    body = open(out, "rb").read() if os.path.exists(out) else b""
    if os.path.exists(out):
        os.unlink(out)
    return version, status, headers, body


def test_allowed_over_h2_is_filtered(gw, residents):
    version, status, headers, body = h2(gw, PATH)
    assert version == "HTTP/2" and status == 200
    assert json.loads(body) == H.pick(residents[SUBJECT], *HB_FIELDS)
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    assert "etag" not in headers and "last-modified" not in headers
    assert "legacycare" not in json.dumps(headers).lower()
    recs = [r for r in gw.httpd.audit_records() if r["request_id"] == headers["pds-request-id"]]
    assert len(recs) == 1 and recs[0]["decision"] == "allow"


def test_denied_over_h2_never_reaches_the_back_end(gw):
    before = len(gw.backend.requests())
    version, status, headers, body = h2(gw, PATH, purpose="marketing")
    assert version == "HTTP/2" and status == 403
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["reason"] == "purpose-mismatch"
    assert len(gw.backend.requests()) == before


def test_h2_head_range_and_conditionals_get_nothing_more(gw, residents):
    _, status, _, _ = h2(gw, PATH, "-I")
    assert status == 405
    for extra in (["-H", "Range: bytes=0-10"], ["-H", "If-None-Match: *"],
                  ["-H", "Accept-Encoding: gzip"]):
        version, status, headers, body = h2(gw, PATH, *extra)
        assert (version, status) == ("HTTP/2", 200), extra
        assert "content-encoding" not in headers and "content-range" not in headers
        assert json.loads(body) == H.pick(residents[SUBJECT], *HB_FIELDS)


def test_h2_without_identity_is_refused(gw):
    _, status, headers, body = h2(gw, PATH, who=None)
    assert status == 401 and json.loads(body)["reason"] == "unknown-caller"


@pytest.mark.parametrize("target", ["/citizens/%2e%2e/good/record",
                                    "/citizens/../../%s/record" % SUBJECT])
def test_h2_target_leaving_the_location_is_bad_path(gw, target):
    """httpd's dot-segment removal would move these out of the enforced
    location (or refuse them bare): the gateway refuses them first."""
    before = len(gw.backend.requests())
    version, status, headers, body = h2(gw, target, "--path-as-is")
    assert (version, status) == ("HTTP/2", 400), (status, body)
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["reason"] == "bad-path"
    recs = [r for r in gw.httpd.audit_records() if r["request_id"] == headers["pds-request-id"]]
    assert len(recs) == 1 and recs[0]["decision"] == "deny" and recs[0]["reason"] == "bad-path"
    assert len(gw.backend.requests()) == before
