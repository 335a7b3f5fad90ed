"""Agreements: which agreement applies (party, resource, purpose, dates,
configuration order) and what the refusals say. SPEC: <PDSAgreement>,
reasons no-agreement, purpose-missing, purpose-mismatch, agreement-expired,
agreement-not-yet-valid, bad-subject; check order "... -> purpose header
(exactly one; two -> 403 purpose-mismatch) -> agreements"."""
import secrets

import pytest

import pds_harness as H
from pds_configs import CITIZEN_RECORD, ORGANISATIONS, PATH, SUBJECT, agreement, location

EXPIRED = "2019-01-01 2019-12-31"
FUTURE = "2098-01-01 2098-12-31"


def hb_obliged(name, purpose, where, field, **when):
    """A health board agreement under legal obligation releasing `field` of
    GET /<where>/{subject}/record; `when` is valid= and version=."""
    return agreement(name, "health-board", purpose, "GET /%s/{subject}/record" % where,
                     "Release " + field, basis="legal-obligation", **when)


CONFIG = ORGANISATIONS + (
    """
# Two agreements over one resource: configuration order decides.
<PDSAgreement hb-care>
    Party       health-board
    Purpose     direct-care safeguarding
    Purpose     emergency
    LegalBasis  Public-Task
    Valid       2020-01-01 2099-12-31
    Version     7
    Resource    GET /citizens/{subject}/record
    Release     name.given name.family dob
</PDSAgreement>
""" +
    agreement("hb-care-wide", "health-board", "safeguarding research", CITIZEN_RECORD,
              "Release name.given name.family dob phone", basis="legitimate-interests") +
    # The data trust's agreements, each out of its dates.
    agreement("dt-old", "data-trust", "member-support", "GET /citizens/{subject}/visits",
              "Release [*].date", basis="legitimate-interests", valid="2019-01-01 2020-12-31") +
    agreement("dt-future", "data-trust", "member-support", "GET /citizens/{subject}/contacts",
              "Release contacts[*].value", basis="legitimate-interests",
              valid="2098-01-01 2099-12-31") +
    # One-day agreements: today's is valid the whole (UTC) day, both ends included.
    agreement("dt-today", "data-trust", "member-support", "GET /today/{subject}/record",
              "Release name.given", basis="legitimate-interests", valid="%(today)s %(today)s") +
    agreement("dt-yesterday", "data-trust", "member-support", "GET /yesterday/{subject}/record",
              "Release name.given", basis="legitimate-interests",
              valid="%(yesterday)s %(yesterday)s") +
    agreement("dt-tomorrow", "data-trust", "member-support", "GET /tomorrow/{subject}/record",
              "Release name.given", basis="legitimate-interests",
              valid="%(tomorrow)s %(tomorrow)s") +
    # Order among candidates: the first one valid now applies.
    hb_obliged("ord-expired", "audit-check", "order", "dob", valid=EXPIRED) +
    hb_obliged("ord-first", "audit-check", "order", "name.given", version="2026.1") +
    hb_obliged("ord-second", "audit-check", "order", "name.family") +
    # No candidate valid now: the first candidate's reason is given.
    hb_obliged("gone-expired", "archive", "gone", "dob", valid=EXPIRED) +
    hb_obliged("gone-future", "archive", "gone", "dob", valid=FUTURE) +
    hb_obliged("later-future", "archive", "later", "dob", valid=FUTURE) +
    hb_obliged("later-expired", "archive", "later", "dob", valid=EXPIRED) +
    # Purpose is applied before dates: beta's only candidate is expired.
    agreement("mixed-alpha", "health-board", "alpha", "GET /mixed/{subject}/record",
              "Release name.given", basis="contract") +
    agreement("mixed-beta", "health-board", "beta", "GET /mixed/{subject}/record",
              "Release name.given", basis="contract", valid="2019-01-01 2019-12-31") +
    # A resource without a subject (the location proxies to one fixed record):
    # it must say whose data it answers, here de-identified data (a plain
    # agreement would be refused: the release would be recorded about nobody).
    agreement("hb-fixed", "health-board", "direct-care", "GET /fixed/record",
              "Release name.given", "Deidentified nhs_number") +
    # Another purpose header for one location.
    agreement("hb-custom-header", "health-board", "direct-care", "GET /custom/{subject}/record",
              "Release name.given")) \
  + location("/citizens/") + location("/today/") + location("/yesterday/") \
  + location("/tomorrow/") + location("/order/") + location("/gone/") + location("/later/") \
  + location("/mixed/") + location("/fixed/", "/api/citizens/%s/" % SUBJECT) \
  + location("/custom/", extra="    PDSPurposeHeader X-Purpose-Of-Use")


@pytest.fixture(scope="module")
def gw(gateway_factory, tmp_path_factory):
    key = str(tmp_path_factory.mktemp("pseudonym") / "pseudonym.key")
    H.write_private(key, (secrets.token_hex(32) + "\n").encode())
    return gateway_factory(CONFIG + 'PDSPseudonymKey "%s"\n' % key)


def backend_agreement(gw):
    log = gw.backend.requests()
    assert len(log) == 1, log
    return gw.backend.header(log[0], "PDS-Agreement")


# ------------------------------------------------------------------ allowed

def test_allowed_request_gets_only_released_fields(gw, rec):
    r = gw.get(PATH, purpose="direct-care")
    audit = H.assert_allowed(gw, r, H.pick(rec, "name.given", "name.family", "dob"),
                             "hb-care", "7")
    # LegalBasis is case-insensitive and recorded in lower case.
    H.assert_audit(audit, organisation="health-board", purpose="direct-care",
                   legal_basis="public-task", subject=SUBJECT,
                   fields=["name.given", "name.family", "dob"])
    H.assert_no_leak(r, rec, released=["name.given", "name.family", "dob"])
    assert backend_agreement(gw) == ["hb-care;v=7"]


@pytest.mark.parametrize("purpose", ["direct-care", "safeguarding", "emergency"])
def test_each_listed_purpose_is_accepted(gw, rec, purpose):
    r = gw.get(PATH, purpose=purpose)
    audit = H.assert_allowed(gw, r, H.pick(rec, "name.given", "name.family", "dob"),
                             "hb-care", "7")
    H.assert_audit(audit, purpose=purpose)
    log = gw.backend.requests()
    assert gw.backend.header(log[0], "PDS-Purpose") == [purpose]


def test_overlapping_agreements_first_in_configuration_order_applies(gw, rec):
    # Both hb-care and hb-care-wide list "safeguarding": hb-care comes first,
    # so the phone number (only in hb-care-wide) is not released.
    r = gw.get(PATH, purpose="safeguarding")
    H.assert_allowed(gw, r, H.pick(rec, "name.given", "name.family", "dob"), "hb-care", "7")
    assert rec["phone"] not in r.text


def test_second_agreement_applies_for_its_own_purpose(gw, rec):
    r = gw.get(PATH, purpose="research")
    audit = H.assert_allowed(gw, r, H.pick(rec, "name.given", "name.family", "dob", "phone"),
                             "hb-care-wide", "1")
    H.assert_audit(audit, legal_basis="legitimate-interests", purpose="research")
    assert backend_agreement(gw) == ["hb-care-wide;v=1"]


def test_first_valid_candidate_applies_expired_ones_are_skipped(gw, rec):
    r = gw.get("/order/%s/record" % SUBJECT, purpose="audit-check")
    H.assert_allowed(gw, r, H.pick(rec, "name.given"), "ord-first", "2026.1")
    assert backend_agreement(gw) == ["ord-first;v=2026.1"]


def test_agreement_valid_today_only_is_valid_today(gw, rec):
    r = gw.get("/today/%s/record" % SUBJECT, who="data-trust", purpose="member-support")
    H.assert_allowed(gw, r, H.pick(rec, "name.given"), "dt-today", "1")


def test_resource_without_subject(gw, rec):
    r = gw.get("/fixed/record", purpose="direct-care")
    audit = H.assert_allowed(gw, r, H.pick(rec, "name.given"), "hb-fixed", "1")
    H.assert_audit(audit, subject=None, path="/fixed/record")
    assert gw.backend.requests()[0]["path"] == "/api/citizens/%s/record" % SUBJECT


def test_custom_purpose_header(gw, rec):
    r = gw.get("/custom/%s/record" % SUBJECT, purpose=None,
               headers={"X-Purpose-Of-Use": "direct-care"})
    audit = H.assert_allowed(gw, r, H.pick(rec, "name.given"), "hb-custom-header", "1")
    H.assert_audit(audit, purpose="direct-care")
    log = gw.backend.requests()
    assert gw.backend.header(log[0], "PDS-Purpose") == ["direct-care"]


def test_custom_purpose_header_ignores_the_default_one(gw):
    r = gw.get("/custom/%s/record" % SUBJECT, purpose="direct-care")
    H.assert_denied(gw, r, "purpose-missing")


# ------------------------------------------------------------------ refused

def test_resource_not_in_any_agreement_is_no_agreement(gw):
    r = gw.get("/citizens/%s/contacts" % SUBJECT, purpose="direct-care")
    H.assert_denied(gw, r, "no-agreement", organisation="health-board", subject=None)


def test_other_party_is_no_agreement(gw):
    # Only the health board has agreements on /citizens/{subject}/record.
    r = gw.get(PATH, who="data-trust", purpose="direct-care")
    H.assert_denied(gw, r, "no-agreement", organisation="data-trust")


def test_other_party_without_purpose_is_still_no_agreement(gw):
    # Candidates first, purpose second: with no candidate the purpose is not asked for.
    r = gw.get(PATH, who="data-trust", purpose=None)
    H.assert_denied(gw, r, "no-agreement")


@pytest.mark.parametrize("path", [
    "/citizens/%s/record/extra" % SUBJECT,
    "/citizens/%s/record/" % SUBJECT,
    "/citizens/%s" % SUBJECT,
    "/citizens/%s/RECORD" % SUBJECT,
    "/citizens/",
])
def test_path_not_matching_the_template_is_no_agreement(gw, path):
    r = gw.get(path, purpose="direct-care")
    H.assert_denied(gw, r, "no-agreement")


def test_missing_purpose_is_purpose_missing(gw):
    r = gw.get(PATH, purpose=None)
    H.assert_denied(gw, r, "purpose-missing", organisation="health-board")


@pytest.mark.parametrize("purpose", ["nursing", "Direct-Care",
                                     "direct-care,safeguarding", "direct-care safeguarding",
                                     "*"])
def test_purpose_not_in_the_agreement_is_purpose_mismatch(gw, purpose):
    r = gw.get(PATH, purpose=purpose)
    H.assert_denied(gw, r, "purpose-mismatch")


def test_purpose_header_sent_twice_is_purpose_mismatch(gw):
    r = gw.raw(H.build_request("GET", PATH, headers=[
        ("PDS-Purpose", "direct-care"), ("PDS-Purpose", "direct-care"),
        ("Connection", "close")]))
    H.assert_denied(gw, r, "purpose-mismatch")


def test_expired_agreement(gw):
    r = gw.get("/citizens/%s/visits" % SUBJECT, who="data-trust", purpose="member-support")
    H.assert_denied(gw, r, "agreement-expired", organisation="data-trust",
                    agreement="dt-old", purpose="member-support")


def test_agreement_not_yet_valid(gw):
    r = gw.get("/citizens/%s/contacts" % SUBJECT, who="data-trust", purpose="member-support")
    H.assert_denied(gw, r, "agreement-not-yet-valid", agreement="dt-future")


def test_agreement_that_ended_yesterday_is_expired(gw):
    r = gw.get("/yesterday/%s/record" % SUBJECT, who="data-trust", purpose="member-support")
    H.assert_denied(gw, r, "agreement-expired")


def test_agreement_that_starts_tomorrow_is_not_yet_valid(gw):
    r = gw.get("/tomorrow/%s/record" % SUBJECT, who="data-trust", purpose="member-support")
    H.assert_denied(gw, r, "agreement-not-yet-valid")


def test_no_valid_candidate_reason_of_the_first_expired(gw):
    r = gw.get("/gone/%s/record" % SUBJECT, purpose="archive")
    H.assert_denied(gw, r, "agreement-expired")


def test_no_valid_candidate_reason_of_the_first_not_yet_valid(gw):
    r = gw.get("/later/%s/record" % SUBJECT, purpose="archive")
    H.assert_denied(gw, r, "agreement-not-yet-valid")


def test_purpose_filters_candidates_before_dates(gw, rec):
    r = gw.get("/mixed/%s/record" % SUBJECT, purpose="beta")
    H.assert_denied(gw, r, "agreement-expired")
    r = gw.get("/mixed/%s/record" % SUBJECT, purpose="alpha")
    H.assert_allowed(gw, r, H.pick(rec, "name.given"), "mixed-alpha", "1")


# ---------------------------------------------------------------- subjects

@pytest.mark.parametrize("subject", [
    "abc.def",            # '.' is a path character, not a subject one
    "-9836900608",        # must start with a letter or a digit
    "_9836900608",
    "a" * 65,             # 1 to 64 characters
    "98369~00608",
    "9836900608!",
    "ab:cd",
    "ab@cd",
    "a+b",
])
def test_bad_subject(gw, subject):
    r = gw.get("/citizens/%s/record" % subject, purpose="direct-care")
    H.assert_denied(gw, r, "bad-subject")


@pytest.mark.parametrize("subject", ["c-1042", "A_1", "z" * 64])
def test_well_formed_unknown_subject_reaches_the_back_end_and_is_not_found(gw, subject):
    r = gw.get("/citizens/%s/record" % subject, purpose="direct-care")
    audit = H.assert_denied(gw, r, "not-found", subject=subject, agreement="hb-care")
    del audit
    assert gw.backend.requests()[0]["path"] == "/api/citizens/%s/record" % subject
