"""Row filters (Exclude) through a real httpd: in front of json-server over
the synthetic FHIR R4 data set, restricted records (meta.security code R)
and inactive ones (active=false) are left out of a collection and counted
by condition in the audit record, a page counts what it left out, a single
restricted record is answered exactly as a missing one (404 not-found) and
audited as record-excluded with its condition; the same over the stand-in
back end's residents; and malformed conditions fail `httpd -t` with the
file, the line and what to write. SPEC: issue #12 item 2;
docs/directives.md "Exclude", docs/problems.md "record-excluded"."""
import json
import os
import re

import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, agreement
from pds_jsonserver import json_server, location  # noqa: F401  (the fixture)

RESTRICTED = "meta.security[code=R]"
INACTIVE = "active=false"

AGREEMENTS = (
    agreement("rows-list", "health-board", "research", "GET /fhir/Patient",
              "Release [*].id [*].active", "RecordSubject id",
              "Exclude %s %s" % (RESTRICTED, INACTIVE),
              "Query _page int 1..100", "Query _limit int 1..50") +
    agreement("rows-one", "health-board", "direct-care", "GET /fhir/Patient/{subject}",
              "Release id active", "Exclude " + RESTRICTED))


@pytest.fixture(scope="module")
def gw(gateway_factory, json_server):
    gw = gateway_factory(ORGANISATIONS + AGREEMENTS + location("fhir", json_server.url))
    gw.backend = json_server
    return gw


@pytest.fixture(autouse=True)
def _json_server_log_per_test(json_server):
    json_server.clear()
    yield


@pytest.fixture(scope="module")
def patients(json_server):
    return json_server.direct("GET", "/Patient").json()


def restricted(p):
    return any(s.get("code") == "R" for s in p.get("meta", {}).get("security", []))


def rule_for(p):
    """The first condition that holds, in the order of the Exclude line."""
    if restricted(p):
        return RESTRICTED
    if p.get("active") is False:
        return INACTIVE
    return None


def counts(records):
    out = {}
    for p in records:
        if rule_for(p) is not None:
            out[rule_for(p)] = out.get(rule_for(p), 0) + 1
    return out


def test_the_data_set_has_both_kinds(patients):
    assert any(restricted(p) for p in patients)
    assert any(p.get("active") is False and not restricted(p) for p in patients)


def test_a_collection_leaves_out_restricted_and_inactive_records(gw, patients):
    r = gw.get("/fhir/Patient", purpose="research")
    kept = [p for p in patients if rule_for(p) is None]
    rec = H.assert_allowed(gw, r, [{"id": p["id"], "active": p["active"]} for p in kept],
                           "rows-list")
    assert rec["records"] == len(kept)
    assert rec["subjects"] == [p["id"] for p in kept]
    assert rec["excluded"] == len(patients) - len(kept)
    assert rec["excluded_by"] == counts(patients)
    for p in patients:
        if rule_for(p) is not None:
            assert '"%s"' % p["id"] not in r.text
    # never the content of what was left out, not even whose it was
    line = json.dumps(rec)
    assert not any(p["id"] in line for p in patients if rule_for(p) is not None)


def test_a_page_counts_what_it_left_out(gw, patients):
    r = gw.get("/fhir/Patient?_page=2&_limit=12", purpose="research")
    page = patients[12:24]
    kept = [p for p in page if rule_for(p) is None]
    assert len(kept) < len(page)
    rec = H.assert_allowed(gw, r, [{"id": p["id"], "active": p["active"]} for p in kept],
                           "rows-list")
    assert rec["query"] == "_page=2&_limit=12"
    assert rec["excluded"] == len(page) - len(kept)
    assert rec["excluded_by"] == counts(page)


def test_a_restricted_record_is_answered_as_a_missing_one(gw, json_server, patients):
    pid = next(p["id"] for p in patients if restricted(p))
    r = gw.get("/fhir/Patient/" + pid)
    doc = H.assert_problem(r, "not-found", 404)
    H.assert_no_leak(r)
    rec = gw.audit_for(r)
    H.assert_audit(rec, decision="deny", reason="record-excluded", status=404, fields=[],
                   agreement="rows-one", subject=pid)
    assert rec["excluded"] == 1 and rec["excluded_by"] == {RESTRICTED: 1}
    assert [e["url"] for e in json_server.requests()] == ["/Patient/" + pid]

    # the same answer as for a record json-server does not hold
    missing = gw.get("/fhir/Patient/pat-9999")
    other = H.assert_problem(missing, "not-found", 404)
    assert gw.audit_for(missing)["reason"] == "not-found"
    del doc["request_id"], other["request_id"]
    assert doc == other
    assert sorted(k.lower() for k in r.headers) == sorted(k.lower() for k in missing.headers)


def test_an_unrestricted_record_is_released(gw, patients):
    p = next(p for p in patients if not restricted(p))
    r = gw.get("/fhir/Patient/" + p["id"])
    rec = H.assert_allowed(gw, r, {"id": p["id"], "active": p["active"]}, "rows-one")
    assert "excluded" not in rec


# ------------------------------------------------------- the stand-in back end

@pytest.fixture(scope="module")
def flagged_backend(tmp_path_factory):
    """The stand-in over its residents, two of district KY99 marked
    restricted and one deceased."""
    with open(H.RESIDENTS_FILE, encoding="utf-8") as f:
        residents = json.load(f)
    in_ky99 = [r for r in residents if r["address"]["postcode"].split()[0] == "KY99"]
    assert len(in_ky99) >= 5
    in_ky99[0]["restricted"] = True
    in_ky99[2]["restricted"] = True
    in_ky99[3]["deceased"] = True
    in_ky99[4]["restricted"] = False
    directory = str(tmp_path_factory.mktemp("flagged-backend"))
    path = os.path.join(directory, "residents.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(residents, f)
    be = H.Backend(directory, data=path).start()
    be.residents = in_ky99
    yield be
    be.stop()


@pytest.fixture(scope="module")
def legacy_gw(gateway_factory, flagged_backend):
    body = ORGANISATIONS + agreement(
        "district-unrestricted", "health-board", "care-planning",
        "GET /districts/{district}/residents", "Release [*].id [*].name.given",
        "RecordSubject id", "Exclude restricted=true deceased=true") + agreement(
        "record-unrestricted", "health-board", "direct-care",
        "GET /citizens/{subject}/record", "Release name.given",
        "Exclude restricted=true") + location(
        "districts", flagged_backend.url, target="/api/districts/") + location(
        "citizens", flagged_backend.url, target="/api/citizens/")
    gw = gateway_factory(body)
    gw.backend = flagged_backend
    return gw


def test_the_stand_in_collection_leaves_out_flagged_residents(legacy_gw, flagged_backend):
    flagged_backend.clear()
    r = legacy_gw.get("/districts/KY99/residents", purpose="care-planning")
    residents = flagged_backend.residents
    out = {residents[0]["id"], residents[2]["id"], residents[3]["id"]}
    expected = [{"id": x["id"], "name": {"given": x["name"]["given"]}}
                for x in residents if x["id"] not in out]
    rec = H.assert_allowed(legacy_gw, r, expected, "district-unrestricted")
    assert rec["excluded"] == 3
    assert rec["excluded_by"] == {"restricted=true": 2, "deceased=true": 1}
    assert not out & set(rec["subjects"])
    assert not any(i in r.text for i in out)


def test_the_stand_in_single_record_is_not_found(legacy_gw, flagged_backend):
    flagged_backend.clear()
    rid = flagged_backend.residents[0]["id"]
    r = legacy_gw.get("/citizens/%s/record" % rid)
    H.assert_problem(r, "not-found", 404)
    rec = legacy_gw.audit_for(r)
    H.assert_audit(rec, decision="deny", reason="record-excluded", status=404,
                   subject=rid, agreement="record-unrestricted")
    assert rec["excluded_by"] == {"restricted=true": 1}
    assert flagged_backend.residents[0]["name"]["given"] not in r.text
    # restricted=false is not excluded
    kept = flagged_backend.residents[4]
    r = legacy_gw.get("/citizens/%s/record" % kept["id"])
    H.assert_allowed(legacy_gw, r, {"name": {"given": kept["name"]["given"]}},
                     "record-unrestricted")


# ------------------------------------------------------- configuration

BAD = {
    "double-equals": ("Exclude active==false", "expected a value"),
    "leading-each": ("Exclude [*].active=false", "inside each record"),
    "regex": ('Exclude name=~"Sm.*"', "expected a value"),
    "unquoted-in": ("Exclude status in (a, b)", "quote it as a whole"),
    "list-without-comma": ("Exclude 'status in (a b)'", "expected ',' or ')'"),
    "two-comparisons": ("Exclude a=1=2", "one comparison per condition"),
    "empty": ("Exclude ''", "empty path"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_malformed_condition_fails_the_configuration_test(httpd_factory, name):
    line, words = BAD[name]
    body = ORGANISATIONS + agreement(
        "bad", "health-board", "research", "GET /fhir/Patient", "Release [*].id",
        "RecordSubject id", line) + location("fhir", "http://127.0.0.1:9")
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    assert h.conf_path in out and "Exclude" in out, out
    n = h.line_of(line.split(None, 1)[1])
    assert re.search(r"line\s+%d\b|:%d\b" % (n, n), out), out
    assert words in out, out
    assert "Exclude meta.security[code=R]" in out, out     # what to write
