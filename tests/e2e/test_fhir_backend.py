"""A real back end we did not write: json-server (npm, pinned) over a
synthetic FHIR R4 data set (tests/jsonserver/fhir_patients.py), behind
mod_pds. Every answer is checked for the data set's markers, NHS numbers and
MRNs (never released by any agreement here) and for json-server's own
headers; single Patients and the Patient collection are filtered record by
record; conditional, ranged and compressed requests get the same full,
filtered, uncompressed answer as from the stand-in; writes under Write
paths reach json-server through PATCH, PUT and POST, and after each write
the record read straight from json-server keeps every member the caller
could not write; refused writes (wrong shapes, nothing to change, JSON
Patch) leave it byte-identical; query strings (its
paging, search and embedding) are refused before it is asked, as none of
these agreements declares a Query (declared paging: test_query.py). SPEC:
issue #12 item 6."""
import gzip
import json
import re

import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, agreement
from pds_jsonserver import fhir_patients, json_server, location  # noqa: F401  (the fixture)

READ = ["id", "gender", "birthDate", "name[*].family", "telecom[*].value"]
RECORD = ["id", "gender", "birthDate", "name[*].family"]   # of each record of the list
LIST = ["[*]." + path for path in RECORD]
# telecom may be replaced whole (a merge patch replaces an array), each
# element carrying only system, value and use
CONTACT_WRITE = ["telecom", "telecom[*].system", "telecom[*].value", "telecom[*].use"]
REPLACE_WRITE = ["resourceType", "active", "gender", "birthDate", "name[*].use",
                 "name[*].family", "telecom[*].system", "telecom[*].value"]
OBSERVATION_WRITE = ["resourceType", "status", "code.text", "valueQuantity.value",
                     "valueQuantity.unit"]

AGREEMENTS = (
    agreement("fhir-read", "health-board", "direct-care", "GET /fhir/Patient/{subject}",
              "Release " + " ".join(READ)) +
    agreement("fhir-list", "health-board", "direct-care",
              ["GET /fhir/Patient", "GET /fhir-small/Patient"],
              "Release " + " ".join(LIST), "RecordSubject id") +
    agreement("fhir-observations", "health-board", "direct-care",
              "GET /fhir/Patient/{subject}/Observation",
              "Release [*].id [*].code.text [*].valueQuantity.value") +
    agreement("fhir-contact", "health-board", "direct-care", "PATCH /fhir/Patient/{subject}",
              "Write " + " ".join(CONTACT_WRITE), "Release id telecom[*].value") +
    agreement("fhir-replace", "health-board", "direct-care", "PUT /fhir/Patient/{subject}",
              "Write " + " ".join(REPLACE_WRITE), "WritePut replace-record",
              "Release id active gender") +
    agreement("fhir-observe", "health-board", "direct-care",
              "POST /fhir/Patient/{subject}/Observation",
              "Write " + " ".join(OBSERVATION_WRITE), "Release id status PatientId") +
    agreement("fhir-research", "health-board", "research",
              ["GET /fhir/Patient/{subject}", "GET /fhir-gzip/Patient/{subject}"],
              "Release id birthDate", "Transform birthDate year") +
    agreement("fhir-research-list", "health-board", "research", "GET /fhir/Patient",
              "Release [*].id [*].birthDate", "Transform [*].birthDate year",
              "RecordSubject id"))


def locations(url):
    """/fhir/ proxies to json-server's root; /fhir-small/ too, with a body
    limit below the size of its Patient list; /fhir-gzip/ too, misconfigured
    to ask it for gzip (json-server then compresses its answers)."""
    return (location("fhir", url) + location("fhir-small", url, "PDSMaxBodySize 65536")
            + location("fhir-gzip", url, "RequestHeader set Accept-Encoding gzip"))


@pytest.fixture(scope="module")
def gw(gateway_factory, json_server):
    gw = gateway_factory(ORGANISATIONS + AGREEMENTS + locations(json_server.url))
    gw.backend = json_server        # assert_denied and assert_allowed look here
    return gw


@pytest.fixture(autouse=True)
def _json_server_log_per_test(json_server):
    json_server.clear()
    yield


# ---------------------------------------------------------- what never leaves

# The headers an answer of the gateway may carry; anything else is a back
# end's (json-server sends X-Powered-By, ETag, Vary, Access-Control-*,
# Pragma, Expires, X-Content-Type-Options, Location, Link, X-Total-Count).
# X-Content-Type-Options is the gateway's own too, always "nosniff".
GATEWAY_HEADERS = {"date", "server", "content-type", "content-length", "cache-control",
                   "pds-agreement", "pds-request-id", "connection", "keep-alive", "allow",
                   "x-content-type-options"}
JSON_SERVER_HEADERS = ["X-Powered-By", "ETag", "Vary", "Access-Control-Allow-Credentials",
                       "Access-Control-Expose-Headers", "Pragma", "Expires",
                       "Location", "Link", "X-Total-Count",
                       "Last-Modified", "Content-Encoding"]


@pytest.fixture(scope="module")
def never(json_server):
    """Values no agreement here releases: the markers, every NHS number,
    postcode and address line, and json-server's own address."""
    values = {fhir_patients.MARKER, json_server.url, "127.0.0.1:%d" % json_server.port,
              "Express"}
    for p in json_server.data["Patient"]:
        values.update(i["value"] for i in p["identifier"])
        values.update(a["postalCode"] for a in p["address"])
        values.update(line for a in p["address"] for line in a["line"])
    return values


def check(resp, never):
    """What every answer of this module must be: only the gateway's headers,
    no-store, and nothing of `never` in its headers or body."""
    pairs = resp.header_pairs if isinstance(resp, H.RawResponse) else list(resp.headers.items())
    extra = [k for k, _ in pairs if k.lower() not in GATEWAY_HEADERS]
    assert not extra, "back-end headers %r passed on:\n%s" % (extra, H.describe(resp))
    assert resp.headers.get("Cache-Control") == "no-store", H.describe(resp)
    blob = resp.content.decode("utf-8", "replace") + "\n" + "\n".join(
        "%s: %s" % kv for kv in pairs)
    leaked = sorted(v for v in never if v in blob)
    assert not leaked, "%r left the gateway:\n%s" % (leaked, H.describe(resp))
    return resp


def call(gw, never, method, path, **kw):
    return check(gw.request(method, path, **kw), never)


def reached(js, method, url):
    """The one request json-server received, which must be `method url`."""
    seen = js.requests()
    assert [(e["method"], e["url"]) for e in seen] == [(method, url)], seen
    return seen[0]


# ------------------------------------------------------------------- reads

@pytest.mark.parametrize("pid", ["pat-0001", "pat-0003", "pat-0007"])
def test_a_patient_gets_only_the_released_fields(gw, json_server, never, pid):
    """pat-0003 has a birthDate of a year only, pat-0007 a year and month:
    the filter releases them as they are."""
    patient = json_server.patient(pid)
    r = call(gw, never, "GET", "/fhir/Patient/" + pid)
    rec = H.assert_allowed(gw, r, H.pick(patient, *READ), "fhir-read")
    H.assert_audit(rec, subject=pid, fields=READ, method="GET", path="/fhir/Patient/" + pid)
    entry = reached(json_server, "GET", "/Patient/" + pid)
    assert json_server.header(entry, "PDS-Subject") == [pid]
    assert json_server.header(entry, "Accept") == ["application/json"]


def test_every_patient_of_the_data_set(gw, json_server, never):
    for patient in json_server.direct("GET", "/Patient").json():
        r = call(gw, never, "GET", "/fhir/Patient/" + patient["id"])
        assert r.status_code == 200, H.describe(r)
        assert r.json() == H.pick(patient, *READ)
        for name in ("identifier", "extension", "address", "text", "meta", "contact"):
            assert name not in r.json()


def test_the_collection_is_filtered_record_by_record(gw, json_server, never):
    """The whole collection in one answer: json-server's paging is a query
    string, refused here as this agreement declares none (below). The
    agreement has no row filter, so the records labelled restricted
    (meta.security R) are released like the others (row filters are issue
    #12 item 2)."""
    patients = json_server.direct("GET", "/Patient").json()
    assert len(patients) == fhir_patients.DEFAULT_COUNT
    r = call(gw, never, "GET", "/fhir/Patient")
    rec = H.assert_allowed(gw, r, [H.pick(p, *RECORD) for p in patients], "fhir-list")
    assert rec["subject"] is None and rec["records"] == len(patients)
    assert rec["subjects"] == [p["id"] for p in patients]
    reached(json_server, "GET", "/Patient")


@pytest.mark.allow_log("PDS00032")
def test_a_collection_over_the_body_limit_fails_closed(gw, json_server, never):
    """Under a PDSMaxBodySize smaller than json-server's whole Patient list,
    the collection is refused, not cut (paging with declared Query
    parameters is in test_query.py)."""
    r = call(gw, never, "GET", "/fhir-small/Patient")
    H.assert_denied(gw, r, "backend-too-large")
    # no Query lines: the detail says there is nothing to page with
    assert "declares no query parameters to page with" in r.json()["detail"], r.json()
    reached(json_server, "GET", "/Patient")


def test_one_persons_observations(gw, json_server, never):
    r = call(gw, never, "GET", "/fhir/Patient/pat-0001/Observation")
    expected = [{"id": o["id"], "code": {"text": o["code"]["text"]},
                 "valueQuantity": {"value": o["valueQuantity"]["value"]}}
                for o in json_server.data["Observation"] if o["PatientId"] == "pat-0001"]
    assert len(expected) == 2
    rec = H.assert_allowed(gw, r, expected, "fhir-observations")
    assert rec["subject"] == "pat-0001"
    entry = reached(json_server, "GET", "/Patient/pat-0001/Observation")
    assert json_server.header(entry, "PDS-Subject") == ["pat-0001"]
    json_server.clear()
    none = call(gw, never, "GET", "/fhir/Patient/pat-0040/Observation")
    H.assert_allowed(gw, none, [], "fhir-observations")


def test_an_unknown_patient_is_not_found(gw, never):
    r = call(gw, never, "GET", "/fhir/Patient/pat-9999")
    H.assert_denied(gw, r, "not-found", subject="pat-9999")


@pytest.mark.parametrize("path", ["/fhir/db", "/fhir/__rules", "/fhir/", "/fhir/Observation",
                                  "/fhir/Observation/obs-0001-0", "/fhir/Patient/",
                                  "/fhir/Patient/pat-0001/", "/fhir/Patient/pat-0001/Flag"])
def test_json_server_routes_no_agreement_names_are_refused(gw, never, path):
    """json-server answers /db with the whole database and any collection
    by its name: only the paths an agreement names are ever asked."""
    H.assert_denied(gw, call(gw, never, "GET", path), "no-agreement")


@pytest.mark.parametrize("path, reason", [
    ("/fhir/patient/pat-0001", "no-agreement"),       # Express matches routes in any case
    ("/fhir/PATIENT/pat-0001", "no-agreement"),
    ("/fhir//Patient/pat-0001", "bad-path"),          # and collapses empty segments
    ("/fhir/Patient//pat-0001", "bad-path"),
    ("/fhir/Patient/./pat-0001", "bad-path"),
])
def test_json_servers_lenient_routing_meets_strict_templates(gw, json_server, never, path,
                                                             reason):
    """json-server answers /patient/pat-0001, /PATIENT/pat-0001 and
    /Patient//pat-0001 as /Patient/pat-0001: the gateway matches templates
    case-sensitively on the canonical path, so none of them is asked for."""
    assert json_server.direct("GET", path[len("/fhir"):]).status_code in (200, 404)
    r = check(gw.raw(H.build_request("GET", path, headers=[
        ("PDS-Purpose", "direct-care"), ("Connection", "close")])), never)
    H.assert_denied(gw, r, reason)


def test_the_subject_is_not_case_folded(gw, json_server, never):
    """json-server's ids are case-sensitive, as the gateway's subject is:
    PAT-0001 is nobody, audited as what was asked."""
    r = call(gw, never, "GET", "/fhir/Patient/PAT-0001")
    H.assert_denied(gw, r, "not-found", subject="PAT-0001")
    entry = reached(json_server, "GET", "/Patient/PAT-0001")
    assert json_server.header(entry, "PDS-Subject") == ["PAT-0001"]


# ------------------------------------------------------------ query strings

@pytest.mark.parametrize("query", [
    "?_page=2&_limit=10",                # json-server's paging
    "?_limit=60", "?_start=0&_end=60",
    "?q=ZZLEAK-mrn-0007",                # full-text search over unreleased fields
    "?identifier.0.value=%s",            # lookup by NHS number
    "?gender=female&_sort=birthDate", "?_embed=Observation", "?id=pat-0002",
])
@pytest.mark.parametrize("path", ["/fhir/Patient", "/fhir/Patient/pat-0001"])
def test_query_strings_are_refused_before_json_server_is_asked(gw, json_server, never,
                                                               path, query):
    if "%s" in query:
        query %= json_server.data["Patient"][6]["identifier"][0]["value"]
    r = call(gw, never, "GET", path + query)
    H.assert_denied(gw, r, "query-not-allowed")


# ---------------------------------------------------------------- headers

def test_json_server_headers_never_reach_the_client(gw, json_server, never):
    direct = json_server.direct("GET", "/Patient/pat-0002")
    for name in ("X-Powered-By", "ETag", "Vary", "Access-Control-Allow-Credentials",
                 "X-Content-Type-Options", "Expires", "Pragma"):
        assert name in direct.headers, "json-server no longer sends %s: %s" % (
            name, dict(direct.headers))
    r = call(gw, never, "GET", "/fhir/Patient/pat-0002")
    assert r.status_code == 200, H.describe(r)
    for name in JSON_SERVER_HEADERS:
        assert name not in r.headers, H.describe(r)
    assert H.media_type(r.headers["Content-Type"]) == "application/json"
    assert "charset" not in r.headers["Content-Type"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------- conditionals, ranges, encodings

MECHANICS = {
    "If-None-Match": lambda etag: {"If-None-Match": etag},
    "If-None-Match-star": lambda etag: {"If-None-Match": "*"},
    "If-Modified-Since": lambda etag: {"If-Modified-Since": "Wed, 01 Jan 2031 00:00:00 GMT"},
    "If-Match": lambda etag: {"If-Match": '"nope"'},
    "If-Unmodified-Since": lambda etag: {"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    "Range": lambda etag: {"Range": "bytes=0-10"},
    "If-Range": lambda etag: {"Range": "bytes=0-10", "If-Range": etag},
}


@pytest.mark.parametrize("case", sorted(MECHANICS))
def test_conditional_and_ranged_requests_get_the_full_filtered_answer(gw, json_server, never,
                                                                      case):
    patient = json_server.patient("pat-0004")
    etag = json_server.direct("GET", "/Patient/pat-0004").headers["ETag"]
    # json-server itself would answer 304 to its own validator.
    assert json_server.direct("GET", "/Patient/pat-0004",
                              headers={"If-None-Match": etag}).status_code == 304
    r = call(gw, never, "GET", "/fhir/Patient/pat-0004", headers=MECHANICS[case](etag))
    H.assert_allowed(gw, r, H.pick(patient, *READ), "fhir-read")
    entry = reached(json_server, "GET", "/Patient/pat-0004")
    for name in ("If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since",
                 "Range", "If-Range"):
        assert json_server.header(entry, name) == [], entry


def test_a_client_asking_for_gzip_gets_plain_json(gw, json_server, never):
    patient = json_server.patient("pat-0005")
    direct = json_server.direct("GET", "/Patient/pat-0005", headers={"Accept-Encoding": "gzip"})
    assert direct.headers.get("Content-Encoding") == "gzip"      # json-server would
    r = check(gw.raw(H.build_request("GET", "/fhir/Patient/pat-0005", headers=[
        ("PDS-Purpose", "direct-care"), ("Accept-Encoding", "gzip, deflate, br"),
        ("TE", "gzip"), ("Connection", "close")])), never)
    H.assert_allowed(gw, r, H.pick(patient, *READ), "fhir-read")
    entry = reached(json_server, "GET", "/Patient/pat-0005")
    assert json_server.header(entry, "Accept-Encoding") == [], entry
    assert json_server.header(entry, "TE") == [], entry


@pytest.mark.allow_log("PDS00032")
def test_a_compressed_answer_from_json_server_is_refused(gw, json_server, never):
    r = call(gw, never, "GET", "/fhir-gzip/Patient/pat-0001", purpose="research")
    H.assert_denied(gw, r, "backend-bad-response", subject="pat-0001")
    entry = reached(json_server, "GET", "/Patient/pat-0001")
    assert json_server.header(entry, "Accept-Encoding") == ["gzip"]


def test_a_compressed_request_body_is_refused(gw, json_server, never):
    before = json_server.patient("pat-0041")
    r = call(gw, never, "PATCH", "/fhir/Patient/pat-0041",
             data=gzip.compress(b'{"telecom":[{"value":"01632 960000"}]}'),
             headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    # Today the gzip bytes are refused as JSON (400 bad-request-body); a
    # 415 for the encoding would do as well.
    reason = r.json().get("reason")
    assert reason in ("bad-request-body", "unsupported-media-type"), H.describe(r)
    H.assert_problem(r, reason, 400 if reason == "bad-request-body" else 415)
    assert json_server.requests() == []
    assert json_server.patient("pat-0041") == before


# --------------------------------------------------------------- transforms

@pytest.mark.allow_log("PDS00033")
def test_a_transformed_birth_date_leaves_as_a_year_at_most(gw, json_server, never):
    """`year` takes full dates; FHIR also allows "1980" and "1980-06". Today
    those fail the answer closed (502); whatever the answer, nothing finer
    than a year leaves, for one patient or for the collection."""
    for pid in ("pat-0001", "pat-0003", "pat-0007"):
        patient = json_server.patient(pid)
        r = call(gw, never, "GET", "/fhir/Patient/" + pid, purpose="research")
        if len(patient["birthDate"]) == 10:
            H.assert_allowed(gw, r, {"id": pid, "birthDate": patient["birthDate"][:4]},
                             "fhir-research")
        elif r.status_code != 200:
            H.assert_problem(r, "backend-bad-response", 502)
            assert patient["birthDate"] not in r.text
        else:
            assert r.json() == {"id": pid, "birthDate": patient["birthDate"][:4]}
    r = call(gw, never, "GET", "/fhir/Patient", purpose="research")
    if r.status_code == 200:
        assert all(re.fullmatch(r"[0-9]{4}", p["birthDate"]) for p in r.json()), r.text
    else:
        H.assert_problem(r, "backend-bad-response", 502)


# ------------------------------------------------------------------- writes

def compact(doc):
    return json.dumps(doc, separators=(",", ":"))


def test_a_patch_of_contact_details_reaches_json_server(gw, json_server, never):
    before = json_server.patient("pat-0042")
    telecom = [{"system": "phone", "value": "01632 960042", "use": "mobile"},
               {"system": "email", "value": "new42@example.org", "use": "work"}]
    r = call(gw, never, "PATCH", "/fhir/Patient/pat-0042", json={"telecom": telecom})
    rec = H.assert_allowed(gw, r, {"id": "pat-0042", "telecom": [{"value": t["value"]}
                                                                 for t in telecom]},
                           "fhir-contact")
    assert rec["written"] == CONTACT_WRITE, rec
    entry = reached(json_server, "PATCH", "/Patient/pat-0042")
    assert json_server.header(entry, "Content-Length") == [str(len(compact(
        {"telecom": telecom})))]
    after = json_server.patient("pat-0042")
    assert after["telecom"] == telecom
    assert {k: v for k, v in after.items() if k != "telecom"} == \
        {k: v for k, v in before.items() if k != "telecom"}


def test_a_patch_of_an_unknown_patient_is_not_found(gw, json_server, never):
    count = len(json_server.direct("GET", "/Patient").json())
    r = call(gw, never, "PATCH", "/fhir/Patient/pat-9999",
             json={"telecom": [{"value": "01632 960999"}]})
    H.assert_denied(gw, r, "not-found", subject="pat-9999", method="PATCH")
    assert len(json_server.direct("GET", "/Patient").json()) == count


@pytest.mark.parametrize("body, named", [
    ({"identifier": [{"system": fhir_patients.NHS_SYSTEM, "value": "9999999999"}]},
     "identifier"),
    ({"telecom": [{"value": "01632 960043"}], "meta": {"security": []}}, "meta"),
    ({"extension": [{"url": fhir_patients.NOTE_URL, "valueString": "x"}]}, "extension"),
    ({"active": False}, "active"),
    ({"id": "pat-0001"}, "id"),
    ({"telecom": [{"value": "01632 960043", "period": {"start": "2026"}}]}, "telecom[*].period"),
])
def test_a_patch_beyond_the_write_paths_is_refused(gw, json_server, never, body, named):
    before = json_server.patient("pat-0043")
    r = call(gw, never, "PATCH", "/fhir/Patient/pat-0043", json=body)
    doc = H.assert_problem(r, "write-not-allowed", 422)
    assert named in doc["detail"], doc
    assert json_server.requests() == []
    assert json_server.patient("pat-0043") == before


def test_a_put_replaces_the_patient_in_json_server(gw, json_server, never):
    """json-server's PUT replaces the whole record with the checked body
    (keeping its id): what the agreement does not let the caller write is
    gone afterwards, which is why a PUT agreement must say `WritePut
    replace-record` (issue #12 item 4)."""
    body = {"resourceType": "Patient", "active": False, "gender": "female",
            "birthDate": "1971-02-03", "name": [{"use": "official", "family": "Newname"}],
            "telecom": [{"system": "phone", "value": "01632 960044"}]}
    r = call(gw, never, "PUT", "/fhir/Patient/pat-0044", json=body)
    rec = H.assert_allowed(gw, r, {"id": "pat-0044", "active": False, "gender": "female"},
                           "fhir-replace")
    assert rec["method"] == "PUT" and rec["subject"] == "pat-0044"
    reached(json_server, "PUT", "/Patient/pat-0044")
    assert json_server.patient("pat-0044") == dict(body, id="pat-0044")


def test_a_put_beyond_the_write_paths_is_refused(gw, json_server, never):
    before = json_server.patient("pat-0045")
    body = dict(before)     # the whole record, as read: identifier, extension, ...
    r = call(gw, never, "PUT", "/fhir/Patient/pat-0045", json=body)
    doc = H.assert_problem(r, "write-not-allowed", 422)
    for name in ("identifier", "extension", "meta"):
        assert name in doc["detail"], doc
    assert json_server.requests() == []
    assert json_server.patient("pat-0045") == before


def test_a_post_creates_an_observation_of_the_subject(gw, json_server, never):
    body = {"resourceType": "Observation", "status": "final", "code": {"text": "Body weight"},
            "valueQuantity": {"value": 71.5, "unit": "kg"}}
    r = call(gw, never, "POST", "/fhir/Patient/pat-0046/Observation", json=body)
    assert r.status_code == 201, H.describe(r)
    created = r.json()
    assert set(created) == {"id", "status", "PatientId"}, created
    H.assert_allowed(gw, r, {"id": created["id"], "status": "final", "PatientId": "pat-0046"},
                     "fhir-observe", status=201)
    reached(json_server, "POST", "/Patient/pat-0046/Observation")
    stored = json_server.direct("GET", "/Observation/" + created["id"]).json()
    assert stored == dict(body, PatientId="pat-0046", id=created["id"])


@pytest.mark.parametrize("extra", [{"PatientId": "pat-0001"},
                                   {"subject": {"reference": "Patient/pat-0001"}},
                                   {"id": "obs-0001-0"},
                                   {"note": [{"text": "x"}]}])
def test_a_post_cannot_name_another_patient_or_more_fields(gw, json_server, never, extra):
    body = dict({"resourceType": "Observation", "status": "final"}, **extra)
    count = len(json_server.direct("GET", "/Observation").json())
    r = call(gw, never, "POST", "/fhir/Patient/pat-0047/Observation", json=body)
    H.assert_problem(r, "write-not-allowed", 422)
    assert json_server.requests() == []
    assert len(json_server.direct("GET", "/Observation").json()) == count


def rest_of(record, member):
    return {k: v for k, v in record.items() if k != member}


@pytest.mark.parametrize("telecom", [[], [{}], [{"system": "phone", "value": "01632 960050"}]])
def test_an_empty_or_new_telecom_is_written_and_nothing_else_changes(gw, json_server, never,
                                                                     telecom):
    """{"telecom": []} is a write: json-server holds an empty telecom
    afterwards (it answered 200 with nothing forwarded before). Read
    straight from json-server, every other member is as it was."""
    before = json_server.patient("pat-0050")
    r = call(gw, never, "PATCH", "/fhir/Patient/pat-0050", json={"telecom": telecom})
    assert r.status_code == 200, H.describe(r)
    rec = gw.audit_for(r)
    assert rec["decision"] == "allow" and rec["written"][0] == "telecom", rec
    entry = reached(json_server, "PATCH", "/Patient/pat-0050")
    assert json_server.header(entry, "Content-Length") == [str(len(compact(
        {"telecom": telecom})))]
    after = json_server.patient("pat-0050")
    assert after["telecom"] == telecom
    assert rest_of(after, "telecom") == rest_of(before, "telecom")
    # as it was, for the other modules that read the data set
    assert json_server.direct("PUT", "/Patient/pat-0050", json=before).status_code == 200


def test_a_merge_patch_reaches_json_server_as_json(gw, json_server, never):
    before = json_server.patient("pat-0051")
    telecom = [{"system": "phone", "value": "01632 960051", "use": "home"}]
    r = call(gw, never, "PATCH", "/fhir/Patient/pat-0051", data=compact({"telecom": telecom}),
             headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, H.describe(r)
    entry = reached(json_server, "PATCH", "/Patient/pat-0051")
    assert json_server.header(entry, "Content-Type") == ["application/json"], entry
    after = json_server.patient("pat-0051")
    assert after["telecom"] == telecom
    assert rest_of(after, "telecom") == rest_of(before, "telecom")


@pytest.mark.parametrize("body, content_type, reason, status", [
    # an unlisted member inside the replacing telecom: never reaches json-server
    ({"telecom": [{"system": "phone", "value": "01632 960052",
                   "extension": [{"url": fhir_patients.NOTE_URL, "valueString": "x"}]}]},
     "application/json", "write-not-allowed", 422),
    ({"telecom": [{"system": "phone", "value": {"extension": [{"url": "x"}]}}]},
     "application/fhir+json", "write-not-allowed", 422),
    ({"telecom": {"system": "phone"}}, "application/json", "write-not-allowed", 422),
    ({}, "application/json", "write-empty", 422),
    ({"telecom": [{"value": "01632 960052"}]}, "application/json-patch+json",
     "unsupported-media-type", 415),
    ([{"op": "replace", "path": "/telecom", "value": []}], "application/json-patch+json",
     "unsupported-media-type", 415),
])
def test_a_refused_write_leaves_the_record_byte_identical(gw, json_server, never, body,
                                                          content_type, reason, status):
    before = json_server.direct("GET", "/Patient/pat-0052").content
    r = call(gw, never, "PATCH", "/fhir/Patient/pat-0052", data=compact(body),
             headers={"Content-Type": content_type})
    H.assert_problem(r, reason, status)
    assert json_server.requests() == []
    assert json_server.direct("GET", "/Patient/pat-0052").content == before


def test_json_server_replaces_each_top_level_member_a_patch_carries(json_server):
    """Why WritePatch top-level is the default: json-server (asked directly,
    around the gateway) does not merge nested objects as RFC 7396 says; a
    PATCH of meta.versionId alone erases meta.security. So `Write
    meta.versionId` without `Write meta` fails httpd -t (test_writes.py)."""
    before = json_server.patient("pat-0054")
    assert before["meta"]["security"]
    r = json_server.direct("PATCH", "/Patient/pat-0054", json={"meta": {"versionId": "2"}})
    assert r.status_code == 200, H.describe(r)
    assert json_server.patient("pat-0054")["meta"] == {"versionId": "2"}
    assert json_server.direct("PUT", "/Patient/pat-0054", json=before).status_code == 200
    assert json_server.patient("pat-0054") == before


def test_a_put_the_agreement_does_not_cover_leaves_the_record_byte_identical(
        gw, json_server, never):
    before = json_server.direct("GET", "/Patient/pat-0053").content
    body = {"resourceType": "Patient", "gender": "female",
            "telecom": [{"system": "phone", "value": "1", "use": "home"}]}
    r = call(gw, never, "PUT", "/fhir/Patient/pat-0053", json=body)
    doc = H.assert_problem(r, "write-not-allowed", 422)
    assert "telecom[*].use" in doc["detail"], doc
    assert json_server.requests() == []
    assert json_server.direct("GET", "/Patient/pat-0053").content == before


@pytest.mark.parametrize("override", ["DELETE", "PUT"])
def test_json_servers_method_override_cannot_be_used(gw, json_server, never, override):
    """json-server honours X-HTTP-Method-Override on a POST (its Vary says
    so): a checked POST must not become a DELETE of the patient."""
    r = call(gw, never, "POST", "/fhir/Patient/pat-0048/Observation",
             json={"status": "final"}, headers={"X-HTTP-Method-Override": override})
    H.assert_denied(gw, r, "method-override")
    json_server.patient("pat-0048")


def test_a_delete_is_never_forwarded(gw, json_server, never):
    r = call(gw, never, "DELETE", "/fhir/Patient/pat-0049")
    H.assert_denied(gw, r, "method-not-allowed")
    json_server.patient("pat-0049")


# ------------------------------------------------------------------ at the end

def test_no_marker_reached_the_gateways_logs(gw, json_server, never):
    """Runs last in the module: neither the error log nor the audit log
    holds a value no agreement released."""
    logs = gw.httpd.error_log_text() + "\n".join(gw.httpd.audit_all_lines())
    leaked = sorted(v for v in never - {json_server.url, "127.0.0.1:%d" % json_server.port}
                    if v in logs)
    assert not leaked, leaked
