"""Collections and odd values (issue #12 item 5): a record with a value its
transform cannot take no longer has to deny everyone else's.

Through json-server over the synthetic FHIR Patients (tests/jsonserver/
fhir_patients.py: every tenth birthDate is a year alone, "1980", and every
tenth another is a year and month, "1980-06"): `year` takes them all;
`year-month` and `age-band` generalise only as far as a date goes, so under
`OnBadRecord drop` the records they cannot release are left out and counted
in the audit record, and under `fail` (the default) the answer is 502 as
before. Through the stand-in back end: a postcode that is no postcode under
`postcode-district`. And `apachectl -t` refuses OnBadRecord where it cannot
apply, naming the file, the line and what to write."""
import datetime
import json
import os
import re

import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, agreement
from pds_jsonserver import json_server, location  # noqa: F401  (the fixture)

LIST = ["[*].id", "[*].birthDate"]


def cohort(name, prefix, transform, *extra):
    return agreement(name, "health-board", "research", "GET /%s/Patient" % prefix,
                     "Release " + " ".join(LIST), "Transform [*].birthDate " + transform,
                     "RecordSubject id", *extra)


AGREEMENTS = (
    cohort("cohort-year", "fhir", "year") +
    cohort("cohort-month-drop", "fhir-drop", "year-month", "OnBadRecord drop") +
    cohort("cohort-month-fail", "fhir-fail", "year-month") +
    cohort("cohort-month-fail-said", "fhir-said", "year-month", "OnBadRecord fail") +
    cohort("cohort-age-drop", "fhir-age", "age-band 10", "OnBadRecord drop"))


@pytest.fixture(scope="module")
def gw(gateway_factory, json_server):
    body = ORGANISATIONS + AGREEMENTS + "".join(
        location(prefix, json_server.url)
        for prefix in ("fhir", "fhir-drop", "fhir-fail", "fhir-said", "fhir-age"))
    gw = gateway_factory(body, log_level="warn pds:info")
    gw.backend = json_server
    return gw


@pytest.fixture(autouse=True)
def _json_server_log_per_test(json_server):
    json_server.clear()
    yield


@pytest.fixture(scope="module")
def patients(json_server):
    return json_server.direct("GET", "/Patient").json()


def precision(date):
    return {4: "year", 7: "month"}.get(len(date), "day")


def test_the_data_set_has_partial_dates(patients):
    kinds = [precision(p["birthDate"]) for p in patients]
    assert kinds.count("year") >= 3 and kinds.count("month") >= 3, kinds


def test_year_takes_every_fhir_date(gw, patients):
    """`year` of "1980" is "1980": the whole collection, only years."""
    r = gw.get("/fhir/Patient", purpose="research")
    rec = H.assert_allowed(gw, r, [{"id": p["id"], "birthDate": p["birthDate"][:4]}
                                   for p in patients], "cohort-year")
    assert all(re.fullmatch(r"[0-9]{4}", p["birthDate"]) for p in r.json()), r.text
    assert rec["records"] == len(patients)
    assert "dropped" not in rec and "dropped_by" not in rec
    assert rec["transforms"] == ["[*].birthDate year"]


def test_year_month_drops_what_it_cannot_make(gw, patients):
    """`year-month` of "1980" cannot be made: under OnBadRecord drop those
    records are left out, the others released, and the audit record says how
    many and by which field and transform, never whose."""
    kept = [p for p in patients if precision(p["birthDate"]) != "year"]
    left_out = [p for p in patients if precision(p["birthDate"]) == "year"]
    r = gw.get("/fhir-drop/Patient", purpose="research")
    rec = H.assert_allowed(gw, r, [{"id": p["id"], "birthDate": p["birthDate"][:7]}
                                   for p in kept], "cohort-month-drop")
    for p in left_out:
        assert '"%s"' % p["id"] not in r.text
    assert rec["records"] == len(kept)
    assert rec["subjects"] == [p["id"] for p in kept]
    assert rec["dropped"] == len(left_out)
    assert rec["dropped_by"] == {"[*].birthDate year-month": len(left_out)}
    line = [ln for ln in gw.httpd.audit_lines() if rec["request_id"] in ln][0]
    # The chain's hashes and the random request id are hex and base64: a
    # birth year such as "1975" can occur in them by chance. Look at the rest.
    text = json.dumps({k: v for k, v in json.loads(line).items()
                       if k not in ("prev", "mac", "request_id")})
    for p in left_out:
        assert p["id"] not in text and p["birthDate"] not in text
    said = [ln for ln in gw.httpd.error_log_text().splitlines()
            if "PDS00300" in ln and rec["request_id"] in ln]
    assert len(said) == 1 and "%d record(s) left out" % len(left_out) in said[0], said
    for p in left_out:
        assert p["id"] not in said[0] and p["birthDate"] not in said[0]


@pytest.mark.allow_log("PDS00033")
@pytest.mark.parametrize("prefix", ["fhir-fail", "fhir-said"])
def test_fail_is_the_default_and_denies_the_whole_answer(gw, patients, prefix):
    """Without OnBadRecord (or with `fail`) one bad record fails the whole
    collection closed, as before: 502, nothing of the body."""
    r = gw.get("/%s/Patient" % prefix, purpose="research")
    H.assert_problem(r, "backend-bad-response", 502)
    assert "birthDate" in H.assert_problem(r, "backend-bad-response", 502)["detail"]
    for p in patients[:5]:
        assert p["id"] not in r.text
    rec = gw.audit_for(r)
    assert rec["decision"] == "deny" and rec["reason"] == "backend-bad-response"
    assert "dropped" not in rec
    said = [ln for ln in gw.httpd.error_log_text().splitlines()
            if "PDS00033" in ln and rec["request_id"] in ln]
    assert len(said) == 1 and "`OnBadRecord drop`" in said[0], said


def ages(date, today):
    """The ages (oldest, youngest) a possibly partial date of birth can give
    today, as docs/minimisation.md says: every day it may mean, up to today."""
    y = int(date[:4])
    m1, m2 = (int(date[5:7]),) * 2 if len(date) >= 7 else (1, 12)
    first = datetime.date(y, m1, int(date[8:10]) if len(date) == 10 else 1)
    end = datetime.date(y + (m2 == 12), m2 % 12 + 1, 1) - datetime.timedelta(days=1)
    last = min(datetime.date(y, m2, int(date[8:10])) if len(date) == 10 else end, today)

    def age(born):
        bm, bd = born.month, born.day
        if (bm, bd) == (2, 29) and not (today.year % 4 == 0 and (
                today.year % 100 != 0 or today.year % 400 == 0)):
            bm, bd = 3, 1
        return today.year - born.year - ((today.month, today.day) < (bm, bd))
    return age(first), age(last)


def test_age_band_gives_only_certain_bands(gw, patients):
    """age-band 10 of a partial date: given when every day it may mean is in
    one band, else the record is left out under drop."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    r = gw.get("/fhir-age/Patient", purpose="research")
    assert r.status_code == 200, H.describe(r)
    expected, dropped = [], 0
    for p in patients:
        old, young = ages(p["birthDate"], today)
        if old // 10 != young // 10:
            dropped += 1
        else:
            low = young // 10 * 10
            expected.append({"id": p["id"], "birthDate": "%d-%d" % (low, low + 9)})
    assert r.json() == expected
    # how many straddle a band depends on today's date: none is possible
    assert len(expected) >= len(patients) - 12
    rec = gw.audit_for(r)
    assert rec["dropped"] == dropped
    assert rec["dropped_by"] == ({"[*].birthDate age-band 10": dropped} if dropped else {})


# ------------------------------------------------- the stand-in back end

@pytest.fixture(scope="module")
def odd_backend(tmp_path_factory):
    """The stand-in over its residents, two of district KY99 with a postcode
    that is none ("KY99 UNKNOWN", "KY99")."""
    with open(H.RESIDENTS_FILE, encoding="utf-8") as f:
        residents = json.load(f)
    in_ky99 = [r for r in residents if r["address"]["postcode"].split()[0] == "KY99"]
    assert len(in_ky99) >= 4
    in_ky99[0]["address"]["postcode"] = "KY99 UNKNOWN"
    in_ky99[2]["address"]["postcode"] = "KY99"
    directory = str(tmp_path_factory.mktemp("odd-backend"))
    path = os.path.join(directory, "residents.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(residents, f)
    be = H.Backend(directory, data=path).start()
    be.residents = in_ky99
    yield be
    be.stop()


@pytest.fixture(scope="module")
def district_gw(gateway_factory, odd_backend):
    body = ORGANISATIONS + agreement(
        "district-postcodes", "health-board", "direct-care",
        "GET /districts/{district}/residents", "Release [*].id [*].address.postcode",
        "Transform [*].address.postcode postcode-district", "RecordSubject id",
        "OnBadRecord drop") + location("districts", odd_backend.url, target="/api/districts/")
    gw = gateway_factory(body)
    gw.backend = odd_backend
    return gw


def test_a_postcode_that_is_none_leaves_its_record_out(district_gw, odd_backend):
    odd_backend.clear()
    r = district_gw.get("/districts/KY99/residents")
    odd = {odd_backend.residents[0]["id"], odd_backend.residents[2]["id"]}
    expected = [{"id": x["id"], "address": {"postcode": "KY99"}}
                for x in odd_backend.residents if x["id"] not in odd]
    rec = H.assert_allowed(district_gw, r, expected, "district-postcodes")
    assert "UNKNOWN" not in r.text
    assert not any(i in r.text for i in odd)
    assert rec["records"] == len(expected)
    assert rec["dropped"] == 2
    assert rec["dropped_by"] == {"[*].address.postcode postcode-district": 2}
    assert not odd & set(rec["subjects"])


# ------------------------------------------------------- configuration

@pytest.mark.parametrize("line, words", [
    ("OnBadRecord skip", ["`OnBadRecord drop`", "`OnBadRecord fail`"]),
    ("OnBadRecord drop fail", ["`OnBadRecord drop`"]),
])
def test_a_malformed_on_bad_record_is_refused(httpd_factory, line, words):
    body = ORGANISATIONS + cohort("cohort", "fhir", "year", line) + location(
        "fhir", "http://127.0.0.1:9")
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    assert h.conf_path in out and "OnBadRecord" in out, out
    assert re.search(r"line\s+%d\b|:%d\b" % ((h.line_of(line),) * 2), out), out
    assert all(w in out for w in words), out


def test_drop_without_record_subject_is_refused(httpd_factory):
    """A single record is never dropped: its answer would be "nothing" where
    the truth is "something the agreement cannot release"."""
    body = ORGANISATIONS + agreement(
        "one-patient", "health-board", "research", "GET /fhir/Patient/{subject}",
        "Release id birthDate", "Transform birthDate year-month",
        "OnBadRecord drop") + location("fhir", "http://127.0.0.1:9")
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    assert h.conf_path in out and "OnBadRecord" in out and "RecordSubject" in out, out
    assert "`OnBadRecord fail`" in out, out
