"""Who is calling: client certificates (subject DN, subjectAltName, SHA-256
pin), bearer tokens (ES256, RS256, EdDSA pinned to the configured key) and
their combination. SPEC: Identity; reasons unknown-caller, invalid-token,
identity-conflict."""
import time

import pytest

import pds_harness as H
from pds_configs import (CITIZENS_LOCATION, CITIZEN_RECORD, HB_DIRECT_CARE, HB_FIELDS,
                         ORGANISATIONS, PATH, RESEARCH_ISSUER, SUBJECT, agreement)

RESEARCH_FIELDS = ["benefits[*].type", "address.postcode"]

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + (
    agreement("dt-members", "data-trust", "member-support", CITIZEN_RECORD,
              "Release name.given address.postcode", basis="legitimate-interests") +
    agreement("pinned-care", "pinned-clinic", "direct-care", CITIZEN_RECORD,
              "Release name.given care.allergies", basis="vital-interests") +
    agreement("research-es-study", "research-es", "service-research", CITIZEN_RECORD,
              "Release benefits[*].type address.postcode") +
    agreement("research-rs-study", "research-rs", "service-research", CITIZEN_RECORD,
              "Release benefits[*].type address.postcode") +
    agreement("research-ed-study", "research-ed", "service-research", CITIZEN_RECORD,
              "Release benefits[*].type address.postcode")) + CITIZENS_LOCATION

BACKEND_PATH = "/api/citizens/%s/record" % SUBJECT


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


def check_backend_saw(gw, resp, organisation, agreement, purpose):
    """Exactly one back-end request, carrying what the gateway asserts."""
    log = gw.backend.requests()
    assert len(log) == 1, log
    entry = log[0]
    assert entry["path"] == BACKEND_PATH and entry["method"] == "GET"
    hdr = gw.backend.header
    assert hdr(entry, "PDS-Organisation") == [organisation]
    assert hdr(entry, "PDS-Agreement") == [agreement]
    assert hdr(entry, "PDS-Purpose") == [purpose]
    assert hdr(entry, "PDS-Subject") == [SUBJECT]
    assert hdr(entry, "PDS-Request-Id") == [resp.headers["PDS-Request-Id"]]
    assert hdr(entry, "Authorization") == []
    return entry


# ------------------------------------------------------------- certificates

def test_cert_subject_dn_identifies_the_health_board(gw, rec):
    r = gw.get(PATH, who="health-board")
    audit = H.assert_allowed(gw, r, H.pick(rec, *HB_FIELDS), "hb-direct-care", "3")
    H.assert_audit(audit, organisation="health-board", purpose="direct-care",
                   legal_basis="public-task", subject=SUBJECT, method="GET", path=PATH,
                   client_ip="127.0.0.1", fields=HB_FIELDS)
    check_backend_saw(gw, r, "health-board", "hb-direct-care;v=3", "direct-care")


def test_cert_san_identifies_the_data_trust(gw, rec):
    r = gw.get(PATH, who="data-trust", purpose="member-support")
    audit = H.assert_allowed(gw, r, H.pick(rec, "name.given", "address.postcode"),
                             "dt-members", "1")
    H.assert_audit(audit, organisation="data-trust", legal_basis="legitimate-interests",
                   fields=["name.given", "address.postcode"])
    check_backend_saw(gw, r, "data-trust", "dt-members;v=1", "member-support")


def test_cert_sha256_identifies_the_pinned_clinic(gw, rec):
    r = gw.get(PATH, who="pinned")
    audit = H.assert_allowed(gw, r, H.pick(rec, "name.given", "care.allergies"),
                             "pinned-care", "1")
    H.assert_audit(audit, organisation="pinned-clinic", legal_basis="vital-interests")


def test_unknown_organisation_certificate_is_unknown_caller(gw):
    r = gw.get(PATH, who="unknown-org")
    H.assert_denied(gw, r, "unknown-caller", organisation=None, agreement=None,
                    subject=None, method="GET", path=PATH)


def test_lookalike_subject_dn_is_not_the_health_board(gw):
    # Same CN and O as the health board, plus an OU: the DN must match exactly.
    r = gw.get(PATH, who="lookalike")
    H.assert_denied(gw, r, "unknown-caller", organisation=None)


def test_no_certificate_is_unknown_caller(gw):
    r = gw.get(PATH, who=None)
    H.assert_denied(gw, r, "unknown-caller", organisation=None)


def test_no_identity_on_plain_http_is_unknown_caller(gw):
    r = gw.get(PATH, plain=True)
    H.assert_denied(gw, r, "unknown-caller", organisation=None)


@pytest.mark.allow_log(r"AH02039", r"AH02008", r"AH02261")
def test_certificate_from_another_ca_fails_the_handshake(gw):
    # The health board's exact subject, issued by an untrusted CA of the same name.
    before = len(gw.httpd.audit_records())
    with pytest.raises((H.requests.exceptions.SSLError, H.requests.exceptions.ConnectionError)):
        gw.get(PATH, who="other-ca")
    assert gw.backend.requests() == []
    assert len(gw.httpd.audit_records()) == before


# ------------------------------------------------------------------- tokens

def research_token(keys, which="ec", **claims):
    iss = {"ec": RESEARCH_ISSUER, "rsa": "research-rs", "ed": "research-ed"}[which]
    alg = {"ec": "ES256", "rsa": "RS256", "ed": "EdDSA"}[which]
    return H.mint_token(keys[which], alg, H.token_claims(claims.pop("iss", iss), **claims))


@pytest.mark.parametrize("which,org", [("ec", "research-es"), ("rsa", "research-rs"),
                                       ("ed", "research-ed")])
def test_good_token_over_plain_http(gw, rec, token_keys, which, org):
    r = gw.get(PATH, plain=True, token=research_token(token_keys, which),
               purpose="service-research")
    audit = H.assert_allowed(gw, r, H.pick(rec, *RESEARCH_FIELDS), org + "-study", "1")
    H.assert_audit(audit, organisation=org, purpose="service-research",
                   fields=RESEARCH_FIELDS)
    check_backend_saw(gw, r, org, org + "-study;v=1", "service-research")


def test_good_token_over_https_without_certificate(gw, rec, token_keys):
    r = gw.get(PATH, who=None, token=research_token(token_keys, "ed"),
               purpose="service-research")
    H.assert_allowed(gw, r, H.pick(rec, *RESEARCH_FIELDS), "research-ed-study", "1")


def test_token_expired_within_clock_skew_is_accepted(gw, token_keys):
    now = int(time.time())
    tok = research_token(token_keys, "rsa", iat=now - 200, nbf=now - 200, exp=now - 20)
    r = gw.get(PATH, plain=True, token=tok, purpose="service-research")
    assert r.status_code == 200, H.describe(r)


def test_token_without_iat_and_nbf_is_accepted(gw, token_keys):
    tok = research_token(token_keys, "ec", iat=None, nbf=None)
    r = gw.get(PATH, plain=True, token=tok, purpose="service-research")
    assert r.status_code == 200, H.describe(r)


def test_token_audience_array_containing_ours_is_accepted(gw, token_keys):
    tok = research_token(token_keys, "ed", aud=["https://other.example", H.TOKEN_AUDIENCE])
    r = gw.get(PATH, plain=True, token=tok, purpose="service-research")
    assert r.status_code == 200, H.describe(r)


def _bad_tokens(keys):
    """name -> a token the gateway must refuse with invalid-token."""
    now = int(time.time())
    ec_key, rsa_key = keys["ec"], keys["rsa"]
    good = research_token(keys, "ec")
    return {
        "expired": research_token(keys, "ec", iat=now - 600, nbf=now - 600, exp=now - 120),
        "not-yet-valid-nbf": research_token(keys, "ec", nbf=now + 300, exp=now + 600),
        "iat-in-the-future": research_token(keys, "ec", iat=now + 300, nbf=None,
                                            exp=now + 600),
        "wrong-issuer": research_token(keys, "ec", iss="https://evil.example"),
        "name-instead-of-configured-issuer": research_token(keys, "ec", iss="research-es"),
        "wrong-audience": research_token(keys, "ec", aud="https://other-gateway.example"),
        "audience-array-without-ours": research_token(keys, "ec",
                                                      aud=["https://a.example", "b"]),
        "missing-exp": research_token(keys, "ec", exp=None),
        "missing-aud": research_token(keys, "ec", aud=None),
        "missing-iss": H.mint_token(ec_key, "ES256", {
            k: v for k, v in H.token_claims(RESEARCH_ISSUER).items() if k != "iss"}),
        "alg-none-unsigned": H.mint_token(None, "none", H.token_claims(RESEARCH_ISSUER)),
        "alg-none-with-signature": H.mint_token(ec_key, "none",
                                                H.token_claims(RESEARCH_ISSUER)),
        "hs256-with-public-key-pem": H.mint_token(keys.public_pem["rsa"], "HS256",
                                                  H.token_claims("research-rs")),
        "hs256-with-public-key-pem-ec": H.mint_token(keys.public_pem["ec"], "HS256",
                                                     H.token_claims(RESEARCH_ISSUER)),
        # The EC-keyed issuer's token, made and labelled with the RSA key.
        "alg-swapped-rs256-for-ec-key": H.mint_token(rsa_key, "RS256",
                                                     H.token_claims(RESEARCH_ISSUER)),
        # A valid ES256 signature under a header that claims another algorithm.
        "alg-header-changed": H.mint_token(ec_key, "EdDSA", H.token_claims(RESEARCH_ISSUER)),
        "tampered-payload": H.tamper_payload(good, iss=RESEARCH_ISSUER,
                                             exp=now + 3000, sub="someone-else"),
        "tampered-signature": H.tamper_signature(good),
        "signed-by-unknown-key": H.mint_token(keys["attacker-ec"], "ES256",
                                              H.token_claims(RESEARCH_ISSUER)),
        "embedded-jwk-of-attacker": H.mint_token(
            keys["attacker-ec"], "ES256", H.token_claims(RESEARCH_ISSUER),
            header_overrides={"jwk": keys.public_jwk("attacker-ec"), "kid": "attacker"}),
        "es256-der-signature": H.mint_token(ec_key, "ES256", H.token_claims(RESEARCH_ISSUER),
                                            der_ecdsa=True),
        # (r, n - s): a valid ECDSA signature, but not the one low-s form accepted.
        "es256-high-s-twin": H.high_s_twin(good),
        "too-long-lived": research_token(keys, "ec", exp=now + 7200),
        "too-long-lived-without-iat": research_token(keys, "ec", iat=None, exp=now + 7200),
        "two-segments": ".".join(good.split(".")[:2]),
        "four-segments": good + ".AAAA",
        "not-base64url": "e30.e30.!!!",
        "garbage": "this-is-not-a-token",
    }


BAD_TOKEN_NAMES = [
    "expired", "not-yet-valid-nbf", "iat-in-the-future", "wrong-issuer",
    "name-instead-of-configured-issuer", "wrong-audience", "audience-array-without-ours",
    "missing-exp", "missing-aud", "missing-iss", "alg-none-unsigned", "alg-none-with-signature",
    "hs256-with-public-key-pem", "hs256-with-public-key-pem-ec",
    "alg-swapped-rs256-for-ec-key", "alg-header-changed", "tampered-payload",
    "tampered-signature", "signed-by-unknown-key", "embedded-jwk-of-attacker",
    "es256-der-signature", "es256-high-s-twin", "too-long-lived", "too-long-lived-without-iat", "two-segments",
    "four-segments", "not-base64url", "garbage"]


def test_bad_token_list_is_complete(token_keys):
    assert sorted(_bad_tokens(token_keys)) == sorted(BAD_TOKEN_NAMES)


@pytest.mark.parametrize("name", BAD_TOKEN_NAMES)
def test_bad_token_is_invalid_token(gw, token_keys, name):
    tok = _bad_tokens(token_keys)[name]
    r = gw.get(PATH, plain=True, token=tok, purpose="service-research")
    H.assert_denied(gw, r, "invalid-token")


def test_es256_high_s_twin_of_an_accepted_token_is_refused(gw, rec, token_keys):
    """ECDSA is malleable: (r, s) and (r, n - s) both verify mathematically.
    The gateway accepts the low-s form only, so a token accepted (and cached)
    a moment ago cannot be re-spelt with the same claims and another
    signature: the twin verifies with an independent ECDSA library, and the
    gateway refuses it (and still accepts the original)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    good = research_token(token_keys, "ec")
    twin = H.high_s_twin(good)
    h, p, s = twin.split(".")
    raw = H.b64url_decode(s)
    token_keys["ec"].public_key().verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        (h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))   # raises if it is not valid
    r = gw.get(PATH, plain=True, token=good, purpose="service-research")
    assert r.status_code == 200, H.describe(r)
    gw.backend.clear()
    r = gw.get(PATH, plain=True, token=twin, purpose="service-research")
    H.assert_denied(gw, r, "invalid-token")
    assert "low-s" in r.json()["detail"], r.json()
    gw.backend.clear()
    r = gw.get(PATH, plain=True, token=good, purpose="service-research")
    assert r.status_code == 200, H.describe(r)


def test_bad_token_is_not_ignored_in_favour_of_a_good_certificate(gw, token_keys):
    tok = _bad_tokens(token_keys)["expired"]
    r = gw.get(PATH, who="health-board", token=tok)
    H.assert_denied(gw, r, "invalid-token")


def test_certificate_and_token_of_the_same_organisation(gw, rec, token_keys):
    tok = H.mint_token(token_keys["hb-ec"], "ES256", H.token_claims("health-board"))
    r = gw.get(PATH, who="health-board", token=tok)
    audit = H.assert_allowed(gw, r, H.pick(rec, *HB_FIELDS), "hb-direct-care", "3")
    H.assert_audit(audit, organisation="health-board")


def test_certificate_and_token_of_different_organisations_conflict(gw, token_keys):
    r = gw.get(PATH, who="health-board", token=research_token(token_keys, "ec"))
    H.assert_denied(gw, r, "identity-conflict")


def test_token_of_one_org_with_certificate_of_another_conflict(gw, token_keys):
    tok = H.mint_token(token_keys["hb-ec"], "ES256", H.token_claims("health-board"))
    r = gw.get(PATH, who="data-trust", token=tok, purpose="member-support")
    H.assert_denied(gw, r, "identity-conflict")


# ------------------------------------------------ token time settings changed

STRICT_CONFIG = ORGANISATIONS + (
    """
PDSTokenClockSkew 0
PDSTokenMaxLifetime 600
""" +
    agreement("research-rs-study", "research-rs", "service-research", CITIZEN_RECORD,
              "Release benefits[*].type address.postcode")) + CITIZENS_LOCATION


@pytest.fixture(scope="module")
def strict_gw(gateway_factory):
    return gateway_factory(STRICT_CONFIG)


def test_clock_skew_zero_refuses_a_just_expired_token(strict_gw, token_keys):
    now = int(time.time())
    tok = research_token(token_keys, "rsa", iat=now - 200, nbf=now - 200, exp=now - 20)
    r = strict_gw.get(PATH, plain=True, token=tok, purpose="service-research")
    H.assert_denied(strict_gw, r, "invalid-token")


def test_max_lifetime_setting_refuses_a_longer_token(strict_gw, token_keys):
    r = strict_gw.get(PATH, plain=True, token=research_token(token_keys, "rsa", lifetime=900),
                      purpose="service-research")
    H.assert_denied(strict_gw, r, "invalid-token")


def test_max_lifetime_setting_accepts_a_shorter_token(strict_gw, rec, token_keys):
    r = strict_gw.get(PATH, plain=True, token=research_token(token_keys, "rsa", lifetime=500),
                      purpose="service-research")
    H.assert_allowed(strict_gw, r, H.pick(rec, *RESEARCH_FIELDS), "research-rs-study", "1")


def test_a_token_accepted_once_is_still_refused_once_it_expires(strict_gw, token_keys):
    """Verified signatures are cached per process; the claims are not: the
    same token bytes are refused as soon as exp has passed (skew 0)."""
    now = int(time.time())
    tok = research_token(token_keys, "rsa", iat=now - 10, nbf=now - 10, exp=now + 2)
    for _ in range(3):              # verified, then served from the cache
        r = strict_gw.get(PATH, plain=True, token=tok, purpose="service-research")
        assert r.status_code == 200, H.describe(r)
    time.sleep(max(0.0, now + 3.2 - time.time()))
    strict_gw.backend.clear()
    r = strict_gw.get(PATH, plain=True, token=tok, purpose="service-research")
    H.assert_denied(strict_gw, r, "invalid-token")
    assert "expired" in r.json()["detail"]


def test_a_cached_token_does_not_open_another_purpose(strict_gw, token_keys):
    tok = research_token(token_keys, "rsa")
    r = strict_gw.get(PATH, plain=True, token=tok, purpose="service-research")
    assert r.status_code == 200, H.describe(r)
    strict_gw.backend.clear()
    r = strict_gw.get(PATH, plain=True, token=tok, purpose="marketing")
    H.assert_denied(strict_gw, r, "purpose-mismatch", organisation="research-rs")


# ------------------------------- the token cache is tied to the configuration

@pytest.fixture(scope="module")
def two_audiences_gw(gateway_factory):
    """The HTTPS virtual host expects another audience than the main server."""
    return gateway_factory(STRICT_CONFIG,
                           vhost_body="    PDSTokenAudience https://other-gateway.example\n")


def test_a_token_cached_by_one_virtual_host_is_checked_against_the_other(two_audiences_gw,
                                                                          token_keys):
    """Verified tokens are cached per process with their parsed claims; a hit
    under one server's configuration is no hit under another's: the other
    virtual host still checks its own audience."""
    gw = two_audiences_gw
    tok = research_token(token_keys, "rsa", lifetime=500)
    for _ in range(3):              # verified, then served from the cache
        r = gw.get(PATH, plain=True, token=tok, purpose="service-research")
        assert r.status_code == 200, H.describe(r)
    gw.backend.clear()
    r = gw.get(PATH, token=tok, purpose="service-research")
    H.assert_denied(gw, r, "invalid-token")
    assert "audience" in r.json()["detail"]
    r = gw.get(PATH, plain=True, token=tok, purpose="service-research")
    assert r.status_code == 200, H.describe(r)


# The main server (the plain HTTP port) does not know research-rs; only the
# HTTPS virtual host declares it, with its agreement.
MAIN_WITHOUT_RESEARCH = "".join(
    line + "\n" for line in ORGANISATIONS.splitlines()
    if line and not line.startswith("PDSOrganisation research-")) + HB_DIRECT_CARE + \
    CITIZENS_LOCATION
VHOST_WITH_RESEARCH = "PDSOrganisation research-rs jwt-key %(key_rsa)s\n" + agreement(
    "research-rs-study", "research-rs", "service-research", CITIZEN_RECORD,
    "Release benefits[*].type address.postcode")


@pytest.fixture(scope="module")
def one_host_knows_gw(gateway_factory):
    return gateway_factory(MAIN_WITHOUT_RESEARCH, vhost_body=VHOST_WITH_RESEARCH)


def test_a_token_cached_by_the_host_that_knows_its_issuer_is_unknown_to_the_other(
        one_host_knows_gw, rec, token_keys):
    """A verified token is cached under (token, server configuration): the
    organisation it was verified as under one virtual host is no answer
    under a configuration that does not declare that organisation. Keyed by
    the token alone, the main server would take research-rs from the cache
    and the refusal would be no-agreement (or worse), not invalid-token."""
    gw = one_host_knows_gw
    tok = research_token(token_keys, "rsa")
    for _ in range(3):              # verified, then served from the cache
        gw.backend.clear()
        r = gw.get(PATH, who=None, token=tok, purpose="service-research")
        H.assert_allowed(gw, r, H.pick(rec, *RESEARCH_FIELDS), "research-rs-study", "1")
    gw.backend.clear()
    r = gw.get(PATH, plain=True, token=tok, purpose="service-research")
    H.assert_denied(gw, r, "invalid-token", organisation=None, agreement=None)
    assert "issuer is not a known organisation" in r.json()["detail"], r.json()
    gw.backend.clear()
    r = gw.get(PATH, who=None, token=tok, purpose="service-research")
    audit = H.assert_allowed(gw, r, H.pick(rec, *RESEARCH_FIELDS), "research-rs-study", "1")
    H.assert_audit(audit, organisation="research-rs")
