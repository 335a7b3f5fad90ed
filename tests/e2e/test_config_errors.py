"""Configuration mistakes stop `httpd -t` with a message naming the
directive, the file and the line, and saying what is wrong; good
configurations pass. SPEC: Directives; "Added by the lead" (GET only,
consent not yet)."""
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import pds_harness as H
from pds_configs import (CITIZENS_LOCATION, CITIZEN_RECORD, HB_DIRECT_CARE, ORGANISATIONS,
                         SUBJECT, agreement)

AGREEMENT = agreement("good", "health-board", "direct-care", CITIZEN_RECORD,
                      "Release name.given", valid="2026-01-01 2027-12-31")


def variant(replace=None, add=None, drop=None, name="good"):
    """AGREEMENT with one keyword line replaced, one added, or one dropped."""
    lines = AGREEMENT.replace("good", name).strip("\n").split("\n")
    if replace:
        key, new = replace
        lines = [("    " + new) if l.split()[0] == key else l for l in lines]
    if drop:
        lines = [l for l in lines if l.split()[0] != drop]
    if add:
        lines.insert(-1, "    " + add)
    return "\n".join(lines) + "\n"


def orgs(extra=""):
    return ORGANISATIONS + extra


# name -> (body, text of the offending line, directive, words of which one must appear,
#          httpd options)
CASES = {
    "impossible-date": (orgs() + variant(("Valid", "Valid 2026-02-30 2027-12-31")) +
                        CITIZENS_LOCATION, "Valid 2026-02-30", "Valid",
                        ["2026-02-30", "date", "day"], {}),
    "date-not-iso": (orgs() + variant(("Valid", "Valid 01/01/2026 2027-12-31")) +
                     CITIZENS_LOCATION, "Valid 01/01/2026", "Valid",
                     ["01/01/2026", "YYYY-MM-DD", "date"], {}),
    "dates-reversed": (orgs() + variant(("Valid", "Valid 2027-12-31 2026-01-01")) +
                       CITIZENS_LOCATION, "Valid 2027-12-31 2026-01-01", "Valid",
                       ["before", "after", "order", "earlier", "later"], {}),
    "unknown-keyword": (orgs() + variant(add="Colour blue") + CITIZENS_LOCATION,
                        "Colour blue", "Colour", ["unknown", "keyword", "not", "invalid"], {}),
    "bad-field-path": (orgs() + variant(("Release", "Release name..given")) +
                       CITIZENS_LOCATION, "Release name..given", "Release",
                       ["name..given"], {}),
    "field-path-with-index": (orgs() + variant(("Release", "Release contacts[0].phone")) +
                              CITIZENS_LOCATION, "Release contacts[0].phone", "Release",
                              ["contacts[0].phone"], {}),
    "unknown-party": (orgs() + variant(("Party", "Party nobody-known")) + CITIZENS_LOCATION,
                      "Party nobody-known", "Party", ["nobody-known"], {}),
    "missing-audit-log": (orgs() + HB_DIRECT_CARE + CITIZENS_LOCATION, "PDSGateway on",
                          "PDSAuditLog", ["required", "missing", "needs", "without", "no "],
                          {"audit_log": None}),
    "bad-legal-basis": (orgs() + variant(("LegalBasis", "LegalBasis gut-feeling")) +
                        CITIZENS_LOCATION, "LegalBasis gut-feeling", "LegalBasis",
                        ["gut-feeling"], {}),
    "consent-needs-a-store": (orgs() + variant(("LegalBasis", "LegalBasis consent")) +
                              CITIZENS_LOCATION, "Party", "PDSConsentStore",
                              ["no way to check consent"], {}),
    "consent-store-needs-receipt-key": (orgs("PDSConsentStore sqlite3 /tmp/pds-x/consent.db\n")
                                        + HB_DIRECT_CARE + CITIZENS_LOCATION,
                                        "PDSConsentStore", "PDSConsentReceiptKey",
                                        ["signed receipt"], {}),
    "consent-store-unknown-driver": (orgs("PDSConsentStore mysql db\n") + HB_DIRECT_CARE
                                     + CITIZENS_LOCATION, "PDSConsentStore",
                                     "PDSConsentStore", ["sqlite3", "pgsql"], {}),
    "consent-manager-unknown": (orgs("PDSConsentManager nobody-known\n") + HB_DIRECT_CARE
                                + CITIZENS_LOCATION, "PDSConsentManager",
                                "PDSConsentManager", ["not a declared organisation"], {}),
    "consent-cache-ttl": (orgs("PDSConsentCache shmcb 99999\n") + HB_DIRECT_CARE
                          + CITIZENS_LOCATION, "PDSConsentCache", "PDSConsentCache",
                          ["0 to 3600"], {}),
    "person-subject": (orgs() + HB_DIRECT_CARE + CITIZENS_LOCATION
                       + "<Location /x>\nPDSPersonSubject cookie\n</Location>\n",
                       "PDSPersonSubject", "PDSPersonSubject", ["env:NAME"], {}),
    "post-resource": (orgs() + variant(("Resource", "Resource POST /citizens/{subject}/record"))
                      + CITIZENS_LOCATION, "Resource POST", "PDSAgreement", ["no Write"], {}),
    "unknown-method": (orgs() + variant(("Resource", "Resource FETCH /citizens/{subject}"))
                       + CITIZENS_LOCATION, "Resource FETCH", "Resource", ["FETCH"], {}),
    "subject-twice": (orgs() + variant(
        ("Resource", "Resource GET /citizens/{subject}/cases/{subject}")) + CITIZENS_LOCATION,
        "cases/{subject}", "Resource", ["{subject}", "subject"], {}),
    # issue #10 item 13: a typo in {subject}, and a resource that says
    # nothing of whose data it answers, used to load and release data
    # recorded about nobody
    "misspelt-subject": (orgs() + variant(
        ("Resource", "Resource GET /citizens/{subjct}/record")) + CITIZENS_LOCATION,
        "{subjct}", "Resource", ["{subjct} is not a placeholder", "{subject}"], {}),
    "resource-without-subject": (orgs() + variant(
        ("Resource", "Resource GET /citizens/{person}/record")) + CITIZENS_LOCATION,
        "{person}", "Resource", ["has no {subject}"], {}),
    "fixed-resource-without-subject": (orgs() + variant(
        ("Resource", "Resource GET /fixed/record")) + CITIZENS_LOCATION,
        "GET /fixed/record", "Resource", ["RecordSubject", "Deidentified"], {}),
    "relative-template": (orgs() + variant(("Resource", "Resource GET citizens/{subject}")) +
                          CITIZENS_LOCATION, "Resource GET citizens", "Resource",
                          ["absolute", "/", "citizens/{subject}"], {}),
    "duplicate-agreement-id": (orgs() + variant() + variant() + CITIZENS_LOCATION,
                               None, "PDSAgreement", ["good", "twice", "duplicate", "already"],
                               {}),
    "bad-agreement-id": (orgs() + variant(name="no/slashes") + CITIZENS_LOCATION,
                         "<PDSAgreement no/slashes>", "PDSAgreement", ["no/slashes", "id"], {}),
    "bad-node-name": (orgs("PDSNodeName gw/1\n") + HB_DIRECT_CARE + CITIZENS_LOCATION,
                      "PDSNodeName gw/1", "PDSNodeName", ["1 to 64 characters"], {}),
    "missing-release-for-get": (orgs() + variant(drop="Release") + CITIZENS_LOCATION,
                                "<PDSAgreement good>", "Release",
                                ["required", "missing", "Release"], {}),
    "jwt-key-file-missing": (orgs("PDSOrganisation ghost jwt-key /nonexistent/ghost.pem\n") +
                             HB_DIRECT_CARE + CITIZENS_LOCATION, "ghost.pem",
                             "PDSOrganisation", ["/nonexistent/ghost.pem", "ghost.pem"], {}),
    "bad-san-type": (orgs("PDSOrganisation odd cert-san FOO:bar.example\n") + HB_DIRECT_CARE +
                     CITIZENS_LOCATION, "FOO:bar", "PDSOrganisation", ["FOO"], {}),
    "bad-sha256": (orgs("PDSOrganisation odd cert-sha256 ABCD1234\n") + HB_DIRECT_CARE +
                   CITIZENS_LOCATION, "ABCD1234", "PDSOrganisation",
                   ["ABCD1234", "64", "fingerprint", "hex", "SHA-256"], {}),
    "bad-identity-kind": (orgs("PDSOrganisation odd cert-colour blue\n") + HB_DIRECT_CARE +
                          CITIZENS_LOCATION, "cert-colour", "PDSOrganisation",
                          ["cert-colour"], {}),
    "max-depth-out-of-range": (orgs() + HB_DIRECT_CARE + CITIZENS_LOCATION.replace(
        "PDSGateway on", "PDSGateway on\n    PDSMaxDepth 1"), "PDSMaxDepth 1", "PDSMaxDepth",
        ["1000", "range", "between", "at least"], {}),
    "max-body-size-zero": (orgs() + HB_DIRECT_CARE + CITIZENS_LOCATION.replace(
        "PDSGateway on", "PDSGateway on\n    PDSMaxBodySize 0"), "PDSMaxBodySize 0",
        "PDSMaxBodySize", ["268435456", "range", "between", "at least", "positive"], {}),
    "piped-audit-log": (orgs() + HB_DIRECT_CARE + CITIZENS_LOCATION, "PDSAuditLog",
                        "PDSAuditLog", ["pipe", "|"], {"audit_log": "|/bin/cat"}),
}


def _line(h, n):
    with open(h.conf_path) as f:
        return f.read().split("\n")[n - 1]


def assert_reported(h, rc, out, line_text, directive, words, candidate_lines=None):
    assert rc != 0, "httpd -t accepted the configuration:\n" + out
    assert directive in out, "the directive %s is not named:\n%s" % (directive, out)
    assert h.conf_path in out, "the file is not named:\n" + out
    lines = candidate_lines or [h.line_of(line_text)]
    if line_text is not None and candidate_lines is None:
        # httpd names a block's first line for errors inside it; that will do.
        start = [n for n in range(1, lines[0] + 1) if _line(h, n).lstrip().startswith("<")]
        if start and _line(h, start[-1]).lstrip().startswith("<PDSAgreement"):
            lines.append(start[-1])
    assert any(re.search(r"(?:line\s+%d\b|:%d\b)" % (n, n), out) for n in lines), \
        "none of lines %r is named:\n%s" % (lines, out)
    assert any(w in out for w in words), "none of %r in:\n%s" % (words, out)


@pytest.mark.parametrize("name", sorted(CASES))
def test_configuration_error_is_reported(httpd_factory, name):
    body, line_text, directive, words, opts = CASES[name]
    h = httpd_factory(body, **opts)
    rc, out = h.config_test()
    candidates = None
    if name == "missing-audit-log":
        candidates = [h.line_of("PDSGateway on"), h.line_of("<Location /citizens/>")]
    elif name == "duplicate-agreement-id":
        first = h.line_of("<PDSAgreement good>")
        candidates = [h.line_of("<PDSAgreement good>", first + 1)]
    elif name == "missing-release-for-get":
        first = h.line_of("<PDSAgreement good>")
        candidates = [first, h.line_of("</PDSAgreement>", first)]
    assert_reported(h, rc, out, line_text, directive, words, candidates)


def test_short_rsa_key_is_refused(httpd_factory, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = tmp_path / "short.pem"
    pem.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    h = httpd_factory(orgs("PDSOrganisation weak jwt-key %s\n" % pem) + HB_DIRECT_CARE +
                      CITIZENS_LOCATION)
    rc, out = h.config_test()
    assert_reported(h, rc, out, "short.pem", "PDSOrganisation", ["1024", "2048", "RSA", "bits"])


def test_ec_key_not_on_p256_is_refused(httpd_factory, tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    pem = tmp_path / "p384.pem"
    pem.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    h = httpd_factory(orgs("PDSOrganisation odd jwt-key %s\n" % pem) + HB_DIRECT_CARE +
                      CITIZENS_LOCATION)
    rc, out = h.config_test()
    assert_reported(h, rc, out, "p384.pem", "PDSOrganisation", ["P-256", "curve", "384"])


def test_jwt_key_without_token_audience(httpd_factory):
    body = (ORGANISATIONS.replace("PDSTokenAudience %(aud)s", "") + HB_DIRECT_CARE +
            CITIZENS_LOCATION)
    h = httpd_factory(body)
    rc, out = h.config_test()
    candidates = [h.line_of("jwt-key")]
    n = candidates[0]
    while True:     # any jwt-key line may be the one named
        try:
            n = h.line_of("jwt-key", n + 1)
        except KeyError:
            break
        candidates.append(n)
    assert_reported(h, rc, out, None, "PDSTokenAudience", ["PDSTokenAudience"], candidates)


def test_agreement_inside_a_location_is_refused(httpd_factory):
    body = ORGANISATIONS + CITIZENS_LOCATION.replace("PDSGateway on", "PDSGateway on\n"
                                                     + AGREEMENT)
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert_reported(h, rc, out, "<PDSAgreement good>", "PDSAgreement",
                    ["not allowed", "context"])


# ------------------------------------------------------------- accepted

def test_full_configuration_is_accepted(httpd_factory):
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION)
    rc, out = h.config_test()
    assert rc == 0 and "Syntax OK" in out, out


def test_accepted_spellings(httpd_factory):
    body = ORGANISATIONS + """
PDSOrganisation pinned-lower cert-sha256 %(sha256hex_lookalike)s
PDSOrganisation dt-lower CERT-SAN dns:other.data-trust.example
PDSOrganisation mail-org cert-san email:records@example.org
PDSOrganisation uri-org cert-san URI:https://partner.example/id
PDSOrganisation ip-org cert-san IP:192.0.2.10
PDSTokenClockSkew 30
PDSTokenMaxLifetime 900
<PDSAgreement spelled.out_1>
    # a comment inside the block
    party       "health-board"
    PURPOSE     direct-care 'safeguarding'
    legalbasis  VITAL-INTERESTS
    Valid       2026-01-01 2026-01-01
    Version     2026.11-b
    Resource    GET /citizens/{subject}/record
    Resource    GET /citizens/{subject}/record
    Release     name.given name.given contacts[*].phone $ref.@id
</PDSAgreement>
""" + CITIZENS_LOCATION.replace("PDSGateway on", "PDSGateway on\n    PDSPurposeHeader "
                                "X-Purpose_Of-Use\n    PDSMaxDepth 1000\n"
                                "    PDSMaxBodySize 268435456")
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc == 0 and "Syntax OK" in out, out


def test_overlapping_agreements_are_warned_about(httpd_factory):
    """Two agreements of one party for the same request shape and purpose at
    overlapping times: the second never applies there; httpd -t says so,
    naming both."""
    second = HB_DIRECT_CARE.replace("hb-direct-care", "hb-direct-care-too")
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + second + CITIZENS_LOCATION)
    rc, out = h.config_test()
    assert rc == 0, out
    assert "PDS00078" in out and "hb-direct-care-too" in out and "hb-direct-care>" in out, out
    assert out.count("PDS00078") == 1, out


def test_cross_check_messages_appear_once_with_virtual_hosts(httpd_factory):
    """Issue #10 item 19: with several virtual hosts (one sharing the main
    server's configuration, one with a mod_pds directive of its own, so a
    merged copy of the main server's agreements, plus the harness's HTTPS
    host), each problem is reported once, not once per host."""
    body = (ORGANISATIONS.replace("PDSTokenAudience %(aud)s", "")
            + variant(("Party", "Party nobody-known"))
            + variant(("LegalBasis", "LegalBasis consent"), name="needs-consent")
            + agreement("consented-summary", "health-board", "research", "GET /summary/all",
                        "Release dob", "Deidentified name", basis="consent",
                        valid="2026-01-01 2027-12-31")
            + """<VirtualHost 127.0.0.2:9>
    ServerName shares.example
</VirtualHost>
<VirtualHost 127.0.0.3:9>
    ServerName own.example
    PDSTokenClockSkew 30
</VirtualHost>
""" + CITIZENS_LOCATION)
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    tagged = [l for l in out.splitlines() if re.match(r"PDS\d{5}: ", l)]
    repeated = sorted({l for l in tagged if tagged.count(l) > 1})
    assert repeated == [], "repeated:\n%s\n--- all ---\n%s" % ("\n".join(repeated), out)
    for tag in ("PDS00001", "PDS00003", "PDS00071", "PDS00072", "PDS00076"):
        assert tag + ":" in out, out
    assert out.count("PDS00071:") == 2, out     # two agreements, once each


# ------------------------------------------------ issue #10 item 14

def test_jwt_key_that_is_a_private_key_is_refused(httpd_factory, token_keys):
    priv = token_keys.public_path["ec"].replace(".pub.pem", ".key.pem")
    h = httpd_factory(orgs("PDSOrganisation leaky jwt-key %s\n" % priv) + HB_DIRECT_CARE
                      + CITIZENS_LOCATION)
    rc, out = h.config_test()
    assert_reported(h, rc, out, "leaky jwt-key", "PDSOrganisation",
                    ["private key"])
    assert "-pubout" in out, out


NOT_RFC2253 = {
    "slash-form": "/O=Fife Health Board/CN=api.health-board.example",
    "openssl-default": "O = Fife Health Board, CN = api.health-board.example",
    "reversed": "O=Fife Health Board,CN=api.health-board.example",
    "spaced": "CN=api.health-board.example, O=Fife Health Board",
}


@pytest.mark.parametrize("name", sorted(NOT_RFC2253))
def test_cert_subject_not_in_rfc2253_form_is_refused(httpd_factory, pki, backend,
                                                     token_keys, name):
    """The refusal shows the line to write; pasted, it identifies the
    certificate."""
    written = NOT_RFC2253[name]
    assert pki["health-board"].dn == "CN=api.health-board.example,O=Fife Health Board"
    body = (ORGANISATIONS.replace('cert-subject "%(dn_health_board)s"',
                                  'cert-subject "%s"' % written)
            + HB_DIRECT_CARE + CITIZENS_LOCATION)
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert_reported(h, rc, out, written, "PDSOrganisation", ["RFC 2253"])
    found = re.search(r'write (PDSOrganisation health-board cert-subject "[^"]+")', out)
    assert found, out
    assert found.group(1) == ('PDSOrganisation health-board cert-subject '
                              '"CN=api.health-board.example,O=Fife Health Board"'), out
    h.body = "\n".join(found.group(1) if written in l else l for l in h.body.split("\n"))
    h.write_conf()
    rc, out = h.config_test()
    assert rc == 0, out
    h.start()
    try:
        gw = H.Gateway(h, pki, token_keys, backend)
        r = gw.get("/citizens/%s/record" % SUBJECT)
        assert r.status_code == 200, H.describe(r)
        gw.close_sessions()
    finally:
        h.stop()


def test_gateway_without_an_agreement_under_it_is_warned_about(httpd_factory):
    records = CITIZENS_LOCATION.replace("/citizens/", "/records/", 1)
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION + records)
    rc, out = h.config_test()
    assert rc == 0, out
    n = h.line_of("PDSGateway on", h.line_of("<Location /records/>"))
    assert re.search(r"PDS00189: PDSGateway on \(line %d of %s\) in <Location /records/>"
                     % (n, re.escape(h.conf_path)), out), out
    assert out.count("PDS00189") == 1, out          # /citizens/ has its agreement


def test_gateway_with_its_agreement_is_not_warned_about(httpd_factory):
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION)
    rc, out = h.config_test()
    assert rc == 0 and "PDS00189" not in out, out
