"""Subject binding: the request target must be in the one canonical form the
gateway decides on, or it is refused before the back end is asked. Requests
are written byte by byte (HTTP libraries would normalise them). SPEC:
bad-path, query-not-allowed, and the check order identity -> method -> path
-> query -> method override -> body -> purpose -> agreements."""
import pytest

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, HB_FIELDS, ORGANISATIONS, PATH, SUBJECT

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION
S = SUBJECT

BAD_PATHS = {
    "encoded-slash": "/citizens/%s%%2Frecord" % S,
    "encoded-slash-lower-case": "/citizens/%s%%2frecord" % S,
    "encoded-dot-dot": "/citizens/%%2e%%2e/citizens/%s/record" % S,
    "encoded-dot-dot-upper-case": "/citizens/%%2E%%2E/citizens/%s/record" % S,
    "encoded-dot-dot-mixed-case": "/citizens/%%2e%%2E/citizens/%s/record" % S,
    "encoded-dot": "/citizens/%%2e/%s/record" % S,
    "encoded-digit-in-subject": "/citizens/%%39%s/record" % S[1:],
    "encoded-letter-in-literal": "/citizens/%s/%%72ecord" % S,
    "encoded-letter-mixed-case": "/citizens/%s/%%72%%65cord" % S,
    "encoded-nul": "/citizens/%s%%00/record" % S,
    "encoded-space": "/citizens/%s%%20/record" % S,
    "encoded-percent": "/citizens/%s%%25/record" % S,
    "double-encoded-slash": "/citizens/%s%%252Frecord" % S,
    "double-slash": "/citizens//%s/record" % S,
    "leading-double-slash": "//citizens/%s/record" % S,
    "trailing-double-slash": "/citizens/%s/record//" % S,
    "dot-segment": "/citizens/./%s/record" % S,
    "dot-dot-segment": "/citizens/x/../%s/record" % S,
    "dot-dot-leaving-the-location": "/citizens/../citizens/%s/record" % S,
    # Targets httpd's dot-segment removal moves out of the enforced location
    # (or above the root): still the gateway's to refuse, with problem+json.
    "encoded-dot-dot-out-of-the-location": "/citizens/%2e%2e/good/record",
    "encoded-dot-dot-upper-case-out-of-the-location": "/citizens/%2E%2E/good/record",
    "dot-dot-out-of-the-location": "/citizens/../good/record",
    "dot-dot-out-to-the-root": "/citizens/%s/../../../record" % S,
    "dot-dot-above-the-root": "/citizens/../../%s/record" % S,
    "encoded-dot-dot-above-the-root": "/citizens/%2e%2e/%2e%2e/etc/passwd",
    "encoded-dot-dot-then-encoded-slash": "/citizens/%2e%2e/x%2Fy",
    "encoded-dot-dot-into-the-location": "/other/%%2e%%2e/citizens/%s/record" % S,
    "trailing-dot-segment": "/citizens/%s/record/." % S,
    "trailing-dot-dot-segment": "/citizens/%s/record/x/.." % S,
    "semicolon-jsessionid": "/citizens/%s/record;jsessionid=0F3A9C" % S,
    "semicolon-in-subject": "/citizens/%s;v=1/record" % S,
    "backslash": "/citizens/%s\\record" % S,
    "backslash-dot-dot": "/citizens/x\\..\\%s/record" % S,
    "non-ascii-utf8": "/citizens/%s\u00e9/record" % S,
    "non-ascii-latin1-byte": b"/citizens/" + S.encode() + b"\xe9/record",
    "fullwidth-digit": "/citizens/%s\uff19/record" % S,
    "pipe": "/citizens/%s|x/record" % S,
    "braces": "/citizens/{%s}/record" % S,
    "angle-brackets": "/citizens/<%s>/record" % S,
    "double-quote": '/citizens/"%s"/record' % S,
    "backtick": "/citizens/%s`/record" % S,
    "square-brackets": "/citizens/[%s]/record" % S,
    "caret": "/citizens/%s^/record" % S,
}

# Refused by httpd's own request-line parser before any module runs: still
# never forwarded, which is all that matters.
REFUSED_BY_HTTPD = {
    "fragment": "/citizens/%s/record#x" % S,
    "raw-space": "/citizens/%s /record" % S,
    "raw-control-character": "/citizens/%s\x01/record" % S,
}


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


def raw_get(gw, target, headers=(), who="health-board", method="GET", body=b""):
    hs = [("PDS-Purpose", "direct-care"), ("Connection", "close")] + list(headers)
    return gw.raw(H.build_request(method, target, headers=hs, body=body), who=who,
                  head_request=(method == "HEAD"))


def test_canonical_path_sent_raw_is_allowed(gw, residents):
    r = raw_get(gw, PATH)
    H.assert_allowed(gw, r, H.pick(residents[SUBJECT], *HB_FIELDS), "hb-direct-care", "3")


@pytest.mark.parametrize("name", sorted(BAD_PATHS))
def test_bad_path_is_refused_before_the_back_end(gw, name):
    r = raw_get(gw, BAD_PATHS[name])
    H.assert_denied(gw, r, "bad-path", organisation="health-board", agreement=None,
                    subject=None)


@pytest.mark.parametrize("name", sorted(REFUSED_BY_HTTPD))
def test_target_httpd_refuses_never_reaches_the_back_end(gw, name):
    r = raw_get(gw, REFUSED_BY_HTTPD[name])
    assert r.status_code == 400, H.describe(r)
    H.assert_no_leak(r)
    assert gw.backend.requests() == []


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_absolute_form_request_target_is_bad_path(gw, scheme):
    target = "%s://127.0.0.1:%d%s" % (scheme, gw.httpd.https_port, PATH)
    r = raw_get(gw, target, headers=[("Host", "127.0.0.1:%d" % gw.httpd.https_port)])
    H.assert_denied(gw, r, "bad-path")


@pytest.mark.parametrize("path", ["/citizens/%2e%2e/good/record",
                                  "/citizens/../../%s/record" % S])
def test_absolute_form_leaving_the_location_is_bad_path(gw, path):
    target = "https://127.0.0.1:%d%s" % (gw.httpd.https_port, path)
    r = raw_get(gw, target, headers=[("Host", "127.0.0.1:%d" % gw.httpd.https_port)])
    H.assert_denied(gw, r, "bad-path")


def test_absolute_form_on_the_plain_port_is_bad_path(gw, token_keys):
    tok = H.mint_token(token_keys["hb-ec"], "ES256", H.token_claims("health-board"))
    target = "http://127.0.0.1:%d%s" % (gw.httpd.http_port, PATH)
    r = gw.raw(H.build_request("GET", target, headers=[
        ("Host", "127.0.0.1:%d" % gw.httpd.http_port), ("Authorization", "Bearer " + tok),
        ("PDS-Purpose", "direct-care"), ("Connection", "close")]), plain=True)
    H.assert_denied(gw, r, "bad-path")


@pytest.mark.parametrize("query", ["?id=1", "?id=1&id=2", "?fields=phone,internal",
                                   "?%00", "?"])
def test_query_string_is_refused(gw, query):
    r = raw_get(gw, PATH + query)
    audit = H.assert_denied(gw, r, "query-not-allowed")
    assert audit["path"] == PATH


def test_query_string_sent_by_a_library_is_refused(gw):
    r = gw.get(PATH, params={"id": ["1", "2"]})
    H.assert_denied(gw, r, "query-not-allowed")


# ------------------------------------------------------------- check order

@pytest.mark.parametrize("name", ["encoded-dot-dot-out-of-the-location",
                                  "dot-dot-above-the-root"])
def test_check_order_holds_for_a_target_leaving_the_location(gw, name):
    r = raw_get(gw, BAD_PATHS[name], who=None)
    H.assert_denied(gw, r, "unknown-caller")
    r = raw_get(gw, BAD_PATHS[name], method="DELETE")
    H.assert_denied(gw, r, "method-not-allowed")
    r = raw_get(gw, BAD_PATHS[name], method="HEAD")
    assert r.status_code == 405 and r.headers.get("PDS-Request-Id"), H.describe(r)


def test_target_leaving_the_location_is_refused_with_connection_close(gw):
    """Refused before httpd has parsed it any further: httpd reads nothing
    more from such a connection, and the answer says so."""
    req = H.build_request("GET", BAD_PATHS["encoded-dot-dot-out-of-the-location"],
                          headers=[("PDS-Purpose", "direct-care")])
    with gw.connect("health-board") as conn:
        r = conn.request(req)
    H.assert_denied(gw, r, "bad-path", organisation="health-board")
    assert r.headers.get("Connection", "").lower() == "close", H.describe(r)


def test_identity_is_checked_before_the_path(gw):
    r = raw_get(gw, BAD_PATHS["encoded-slash"], who=None)
    H.assert_denied(gw, r, "unknown-caller")


def test_identity_is_checked_before_the_method(gw):
    r = raw_get(gw, PATH, who=None, method="DELETE")
    H.assert_denied(gw, r, "unknown-caller")


def test_method_is_checked_before_the_path(gw):
    r = raw_get(gw, BAD_PATHS["dot-dot-segment"], method="DELETE")
    H.assert_denied(gw, r, "method-not-allowed")


def test_path_is_checked_before_the_query(gw):
    r = raw_get(gw, BAD_PATHS["semicolon-jsessionid"] + "?id=1")
    H.assert_denied(gw, r, "bad-path")


def test_query_is_checked_before_method_override(gw):
    r = raw_get(gw, PATH + "?x=1", headers=[("X-HTTP-Method-Override", "DELETE")])
    H.assert_denied(gw, r, "query-not-allowed")


def test_method_override_is_checked_before_the_body(gw):
    r = raw_get(gw, PATH, headers=[("X-HTTP-Method-Override", "PUT"),
                                   ("Content-Length", "2")], body=b"{}")
    H.assert_denied(gw, r, "method-override")


def test_body_is_checked_before_the_purpose(gw):
    r = gw.raw(H.build_request("GET", PATH, headers=[("Content-Length", "2"),
                                                     ("Connection", "close")], body=b"{}"))
    H.assert_denied(gw, r, "unexpected-body")


def test_purpose_is_checked_before_the_subject(gw):
    r = gw.get("/citizens/bad.subject/record", purpose=None)
    H.assert_denied(gw, r, "purpose-missing")
