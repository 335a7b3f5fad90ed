"""Filtering: only the Release paths leave, whatever the back end adds;
nested members, arrays, whole objects, top-level arrays, nulls, non-ASCII.
SPEC: Release, "Allowed responses"."""
import pytest

import pds_harness as H
from pds_configs import (CITIZEN_RECORD, ORGANISATIONS, SUBJECT, UNICODE_SUBJECT, agreement,
                         location)

CONFIG = ORGANISATIONS + (
    agreement("hb-record", "health-board", "direct-care", CITIZEN_RECORD,
              "Release name.given address.postcode benefits[*].type", "Release care",
              "Release middle_name internal.missing_member") +
    agreement("hb-contacts", "health-board", "direct-care", "GET /citizens/{subject}/contacts",
              "Release contacts[*].value case_worker.team") +
    agreement("hb-visits", "health-board", "direct-care", "GET /citizens/{subject}/visits",
              "Release [*].date [*].worker") +
    agreement("dt-case-sensitive", "data-trust", "member-support", CITIZEN_RECORD,
              "Release DOB Name.given name.given", basis="legitimate-interests") +
    agreement("hb-odd-backend", "health-board", "direct-care",
              ["GET /odd/%s/{subject}/record" % mode for mode in
               ("extra-field", "nulls", "wrong-type", "json-suffix", "charset", "created")],
              "Release name.given phone care.needs care.allergies")) \
    + location("/citizens/") + location("/odd/", "/api/misbehave/")

ODD_FIELDS = ["name.given", "phone", "care.needs", "care.allergies"]


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


def test_nested_members_arrays_and_whole_objects(gw, residents):
    rec = residents[SUBJECT]
    r = gw.get("/citizens/%s/record" % SUBJECT)
    expected = {
        "name": {"given": rec["name"]["given"]},
        "address": {"postcode": rec["address"]["postcode"]},
        "benefits": [{"type": b["type"]} for b in rec["benefits"]],
        "care": rec["care"],
    }
    assert H.pick(rec, "name.given", "address.postcode", "benefits[*].type", "care") == expected
    audit = H.assert_allowed(gw, r, expected, "hb-record")
    # Paths that matched nothing (middle_name, internal.missing_member) are not listed.
    H.assert_audit(audit, fields=["name.given", "address.postcode", "benefits[*].type", "care"])
    H.assert_no_leak(r, rec, released=["name.given", "address.postcode"])
    for absent in ("since", "family", "line1", "internal", "case_worker", "nhs_number"):
        assert absent not in r.text


def test_array_elements_release_only_named_members(gw, residents):
    rec = residents[SUBJECT]
    r = gw.get("/citizens/%s/contacts" % SUBJECT)
    expected = {"contacts": [{"value": rec["phone"]}, {"value": rec["email"]}],
                "case_worker": {"team": rec["case_worker"]["team"]}}
    audit = H.assert_allowed(gw, r, expected, "hb-contacts")
    H.assert_audit(audit, fields=["contacts[*].value", "case_worker.team"])
    assert "note" not in r.text and rec["case_worker"]["name"] not in r.text


def test_top_level_array(gw, residents):
    rec = residents[SUBJECT]
    r = gw.get("/citizens/%s/visits" % SUBJECT)
    expected = [{"date": b["since"], "worker": rec["case_worker"]["name"]}
                for b in rec["benefits"]]
    audit = H.assert_allowed(gw, r, expected, "hb-visits")
    H.assert_audit(audit, fields=["[*].date", "[*].worker"])
    assert rec["internal"]["notes"] not in r.text


def test_member_names_are_case_sensitive(gw, residents):
    rec = residents[SUBJECT]
    r = gw.get("/citizens/%s/record" % SUBJECT, who="data-trust", purpose="member-support")
    audit = H.assert_allowed(gw, r, {"name": {"given": rec["name"]["given"]}},
                             "dt-case-sensitive")
    H.assert_audit(audit, fields=["name.given"])
    assert rec["dob"] not in r.text


def test_non_ascii_values_survive_filtering(gw, residents):
    rec = residents[UNICODE_SUBJECT]
    r = gw.get("/citizens/%s/record" % UNICODE_SUBJECT)
    assert r.status_code == 200, H.describe(r)
    body = r.json()
    assert body["name"] == {"given": "Siobh\u00e1n"} == {"given": rec["name"]["given"]}
    assert body["care"] == rec["care"]
    family = rec["name"]["family"]
    assert family not in r.content.decode("utf-8") and "N\\u00ed" not in r.text


def test_extra_back_end_field_is_never_released(gw, residents):
    rec = residents[SUBJECT]
    r = gw.get("/odd/extra-field/%s/record" % SUBJECT)
    audit = H.assert_allowed(gw, r, H.pick(rec, *ODD_FIELDS), "hb-odd-backend")
    H.assert_audit(audit, fields=ODD_FIELDS)
    H.assert_no_leak(r, rec, released=["name.given", "phone"])


def test_null_values_are_released_and_audited(gw, residents):
    rec = residents[SUBJECT]
    r = gw.get("/odd/nulls/%s/record" % SUBJECT)
    expected = {"name": {"given": rec["name"]["given"]}, "phone": None,
                "care": {"needs": None, "allergies": []}}
    audit = H.assert_allowed(gw, r, expected, "hb-odd-backend")
    H.assert_audit(audit, fields=ODD_FIELDS)


@pytest.mark.allow_log("PDS00032")
def test_value_of_the_wrong_kind_on_a_path_is_refused(gw, residents):
    # name is a string here, and the agreement releases name.given.
    r = gw.get("/odd/wrong-type/%s/record" % SUBJECT)
    H.assert_denied(gw, r, "backend-bad-response")
    H.assert_no_leak(r, residents[SUBJECT])


@pytest.mark.parametrize("mode", ["json-suffix", "charset"])
def test_json_media_type_variants_are_accepted(gw, residents, mode):
    r = gw.get("/odd/%s/%s/record" % (mode, SUBJECT))
    H.assert_allowed(gw, r, H.pick(residents[SUBJECT], *ODD_FIELDS), "hb-odd-backend")


def test_back_end_2xx_status_is_kept(gw, residents):
    r = gw.get("/odd/created/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, H.pick(residents[SUBJECT], *ODD_FIELDS), "hb-odd-backend",
                     status=201)
