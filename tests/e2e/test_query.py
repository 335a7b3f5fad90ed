"""Query strings as part of the agreement: `Query` lines declare the
parameters a request may carry, with a type and bounds; everything else is
refused (400 query-not-allowed) before the back end is asked; what the back
end receives is the query rebuilt from the checked values, in declared
order, with or without ProxyPass nocanon; the audit record holds it. Through
json-server (paging through its whole Patient collection with _page and
_limit, its filters) and the stand-in back end. SPEC: issue #12 item 3, and
item 5's paging hint in the PDSMaxBodySize refusal."""
import hashlib
import hmac
import os
import re

import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, agreement
from pds_jsonserver import fhir_patients, json_server, location  # noqa: F401  (the fixture)

RECORD = ["id", "gender", "birthDate", "name[*].family"]
LIST = ["[*]." + path for path in RECORD]
LIMIT_MAX = 20

AGREEMENTS = (
    agreement("fhir-paged", "health-board", "direct-care",
              ["GET /fhir/Patient", "GET /fhir-nocanon/Patient", "GET /fhir-small/Patient",
               "GET /fhir/pages/{page}"],
              "Release " + " ".join(LIST), "RecordSubject id",
              "Query _page int 1..1000", "Query _limit int 1..%d" % LIMIT_MAX,
              "Query gender enum male|female|other|unknown", "Query birthDate date") +
    # A single Patient: no Query lines, so no query string at all.
    agreement("fhir-read", "health-board", "direct-care", "GET /fhir/Patient/{subject}",
              "Release id gender") +
    # The stand-in's district search, paged.
    agreement("district-paged", "health-board", "direct-care",
              "GET /districts/{district}/residents",
              "Release [*].id [*].name.given", "RecordSubject id",
              "Query _page int 1..10"))


def locations(url):
    return (location("fhir", url) + location("fhir-nocanon", url, target="/ nocanon")
            + location("fhir-small", url, "PDSMaxBodySize 65536")
            + location("districts", "%(backend)s", target="/api/districts/"))


@pytest.fixture(scope="module")
def gw(gateway_factory, json_server):
    gw = gateway_factory(ORGANISATIONS + AGREEMENTS + locations(json_server.url))
    gw.backend = json_server        # assert_denied looks here
    return gw


@pytest.fixture(autouse=True)
def _json_server_log_per_test(json_server):
    json_server.clear()
    yield


def raw(gw, target):
    """GET target exactly as written (no client library re-encodes it)."""
    return gw.raw(H.build_request("GET", target, headers=[
        ("PDS-Purpose", "direct-care"), ("Connection", "close")]))


def reached(js):
    """The URLs json-server received since the test began."""
    return [e["url"] for e in js.requests()]


def patients(js):
    return js.direct("GET", "/Patient").json()


def refused(gw, target, *detail):
    r = raw(gw, target)
    rec = H.assert_denied(gw, r, "query-not-allowed")
    doc = r.json()
    for part in detail:
        assert part in doc["detail"], doc
    assert "query" not in rec
    return doc


# ------------------------------------------------------------------ paging

def test_paging_through_the_whole_collection(gw, json_server):
    everyone = patients(json_server)
    assert len(everyone) == fhir_patients.DEFAULT_COUNT
    got, page = [], 1
    while True:
        json_server.clear()
        r = gw.get("/fhir/Patient", params=[("_page", str(page)), ("_limit", str(LIMIT_MAX))])
        expected = [H.pick(p, *RECORD)
                    for p in everyone[(page - 1) * LIMIT_MAX:page * LIMIT_MAX]]
        rec = H.assert_allowed(gw, r, expected, "fhir-paged")
        query = "_page=%d&_limit=%d" % (page, LIMIT_MAX)
        assert rec["query"] == query and rec["path"] == "/fhir/Patient"
        assert rec["records"] == len(expected)
        assert reached(json_server) == ["/Patient?" + query]
        for name in ("Link", "X-Total-Count"):
            assert name not in r.headers
        if not expected:
            break
        got += r.json()
        page += 1
    assert page == fhir_patients.DEFAULT_COUNT // LIMIT_MAX + 1
    assert got == [H.pick(p, *RECORD) for p in everyone]


@pytest.mark.parametrize("prefix", ["/fhir", "/fhir-nocanon"])
@pytest.mark.parametrize("sent, forwarded", [
    ("_limit=5&_page=2", "_page=2&_limit=5"),
    ("_page=2&_limit=5", "_page=2&_limit=5"),
    ("birthDate=1980-01-01&gender=female&_limit=3", "_limit=3&gender=female&birthDate=1980-01-01"),
])
def test_the_back_end_gets_the_canonical_query(gw, json_server, prefix, sent, forwarded):
    """Rebuilt in the order of the Query lines, whatever the client's order,
    with or without ProxyPass nocanon (which forwards the raw target)."""
    r = raw(gw, prefix + "/Patient?" + sent)
    assert r.status_code == 200, H.describe(r)
    assert gw.audit_for(r)["query"] == forwarded
    assert reached(json_server) == ["/Patient?" + forwarded]


def test_a_declared_filter_narrows_the_collection(gw, json_server):
    everyone = patients(json_server)
    r = raw(gw, "/fhir/Patient?gender=female")
    expected = [H.pick(p, *RECORD) for p in everyone if p["gender"] == "female"]
    assert 0 < len(expected) < len(everyone)
    rec = H.assert_allowed(gw, r, expected, "fhir-paged")
    assert rec["query"] == "gender=female"
    assert rec["subjects"] == [p["id"] for p in everyone if p["gender"] == "female"]


def test_no_query_is_forwarded_as_none(gw, json_server):
    r = raw(gw, "/fhir-nocanon/Patient")
    rec = H.assert_allowed(gw, r, [H.pick(p, *RECORD) for p in patients(json_server)],
                           "fhir-paged")
    assert "query" not in rec
    assert reached(json_server) == ["/Patient"]


@pytest.mark.allow_log("PDS00032")
def test_too_large_a_collection_says_to_page(gw, json_server):
    r = raw(gw, "/fhir-small/Patient")
    H.assert_denied(gw, r, "backend-too-large")
    assert "page" in r.json()["detail"] and "Query" in r.json()["detail"], r.json()
    # the detail names what the agreement declares to page with
    assert "(Query: _page, _limit, gender, birthDate;" in r.json()["detail"], r.json()
    json_server.clear()
    r = raw(gw, "/fhir-small/Patient?_page=3&_limit=20")
    rec = H.assert_allowed(gw, r, [H.pick(p, *RECORD) for p in patients(json_server)[40:60]],
                           "fhir-paged")
    assert rec["query"] == "_page=3&_limit=20"


# --------------------------------------------------------------- refusals

@pytest.mark.parametrize("query, name", [
    ("_embed=Observation", "_embed"), ("_expand=Observation", "_expand"),
    ("q=ZZLEAK-mrn-0007", "q"), ("fields=id", "fields"), ("_sort=birthDate", "_sort"),
    ("_start=0&_end=60", "_start"), ("_page=1&_embed=Observation", "_embed"),
    ("id=pat-0002", "id"), ("_PAGE=1", "_PAGE"), ("identifier.0.value=1", "identifier.0.value"),
])
@pytest.mark.parametrize("prefix", ["/fhir", "/fhir-nocanon"])
def test_undeclared_parameters_are_refused(gw, prefix, query, name):
    """Nothing undeclared passes, so what would widen the answer (json-server's
    _embed, _expand, q) cannot."""
    refused(gw, prefix + "/Patient?" + query, '"%s"' % name, "not accepted")


@pytest.mark.parametrize("query, why", [
    ("_page=1&_page=2", "given twice"),
    ("_page=1&_limit=5&_page=1", "given twice"),
    ("_page[]=1", "arrays"), ("_page[0]=1", "arrays"), ("gender[]=female&gender[]=male", "arrays"),
    ("_page=%31", "percent-escapes"), ("%5Fpage=1", "percent-escapes"),
    ("gender=female%26_embed%3DObservation", "percent-escapes"),
    ("gender=female%00", "percent-escapes"), ("gender=%C0%AE", "percent-escapes"),
    ("gender=%FF", "percent-escapes"),
    ("gender=fe+male", "'+'"), ("_page=1;_limit=5", "';'"),
    ("", "empty query string"), ("_page=1&", "empty parameter"), ("&_page=1", "empty parameter"),
    ("_page", "name=value"), ("_page=", "name=value"), ("_page=1=2", "'='"),
    ("gender=f\xc3\xa9male", "only A-Z"),
])
def test_forms_that_a_back_end_could_read_otherwise_are_refused(gw, query, why):
    refused(gw, "/fhir/Patient?" + query, why)


@pytest.mark.parametrize("query, why", [
    ("_page=0", "_page: expected a whole number from 1 to 1000"),
    ("_page=1001", "from 1 to 1000"), ("_page=01", "no leading zeros"),
    ("_page=-1", "from 1 to 1000"), ("_limit=%d" % (LIMIT_MAX + 1), "from 1 to %d" % LIMIT_MAX),
    ("_limit=1000000000000", "from 1 to %d" % LIMIT_MAX),
    ("gender=Female", "one of male, female, other, unknown"),
    ("birthDate=1980-02-30", "a date YYYY-MM-DD"), ("birthDate=1980", "a date YYYY-MM-DD"),
])
def test_values_out_of_type_or_bounds_are_refused(gw, query, why):
    refused(gw, "/fhir/Patient?" + query, why)


def test_an_agreement_without_query_lines_accepts_none(gw):
    """_page is declared by another agreement, so the first check lets it
    on; the agreement that applies declares nothing."""
    refused(gw, "/fhir/Patient/pat-0001?_page=1", '"_page"', "accepts no query parameters")


def test_the_detail_never_echoes_a_value(gw):
    doc = refused(gw, "/fhir/Patient?gender=ZZSECRET")
    assert "ZZSECRET" not in doc["detail"]


# ----------------------------------------------------- path parameters

@pytest.mark.parametrize("segment", ["1&_embed=Observation", "_limit=1000", "2&", "=3"])
def test_a_path_parameter_cannot_carry_a_query(gw, segment):
    """A back end routing /pages/:page to ?_page=:page (json-server's routes)
    would read these as parameters."""
    r = raw(gw, "/fhir/pages/" + segment)
    doc = H.assert_denied(gw, r, "bad-path")
    assert "'&' or '='" in r.json()["detail"], doc


def test_pseudonymous_subjects_keep_searched_values_out_of_the_log(gateway_factory, json_server,
                                                                  tmp_path_factory):
    """PDSAuditSubject pseudonym: a searched date (or token) may name a
    person, so the record holds its pseudonym (the same for the same value);
    numbers and listed words stay readable."""
    key_hex = os.urandom(32).hex()
    keyfile = str(tmp_path_factory.mktemp("pskey") / "subjects.key")
    H.write_private(keyfile, (key_hex + "\n").encode())
    gw = gateway_factory(ORGANISATIONS + AGREEMENTS + locations(json_server.url)
                         + 'PDSAuditSubject pseudonym "%s"\n' % keyfile)

    def pseudonym(value):
        mac = hmac.new(bytes.fromhex(key_hex), value.encode(), hashlib.sha256).hexdigest()
        return "ps:" + mac[:32]
    records = []
    for _ in range(2):
        r = gw.get("/fhir/Patient", params=[("birthDate", "1980-01-01"), ("gender", "female"),
                                            ("_page", "1")])
        assert r.status_code == 200, H.describe(r)
        records.append(gw.audit_for(r))
    want = "_page=1&gender=female&birthDate=" + pseudonym("1980-01-01")
    assert [rec["query"] for rec in records] == [want, want]
    # the back end still gets the value itself
    assert reached(json_server)[-1] == "/Patient?_page=1&gender=female&birthDate=1980-01-01"
    with open(gw.httpd.audit_path) as f:
        assert "1980-01-01" not in f.read()


# ------------------------------------------------------ the stand-in back end

def test_the_stand_in_gets_the_canonical_query(gw, backend, residents):
    backend.clear()
    r = raw(gw, "/districts/KY99/residents?_page=2")
    assert r.status_code == 200, H.describe(r)
    assert gw.audit_for(r)["query"] == "_page=2"
    seen = backend.requests()
    assert [(e["path"], e["query"]) for e in seen] == [("/api/districts/KY99/residents",
                                                        "_page=2")], seen


def test_the_stand_in_is_not_asked_a_refused_query(gw, backend):
    backend.clear()
    r = raw(gw, "/districts/KY99/residents?_page=11")
    H.assert_problem(r, "query-not-allowed")
    assert "from 1 to 10" in r.json()["detail"]
    assert backend.requests() == []
    r = raw(gw, "/districts/KY99/residents?_page=1&_limit=5")
    H.assert_problem(r, "query-not-allowed")
    assert '"_limit" is not accepted; the agreement accepts _page' in r.json()["detail"]
    assert backend.requests() == []


# ------------------------------------------------- configuration mistakes

def query_agreement(*queries):
    return agreement("bad-query", "health-board", "direct-care", "GET /fhir/Patient",
                     "Release [*].id", "RecordSubject id", *queries)


@pytest.mark.parametrize("queries, offending, words", [
    (["Query _page float"], "_page float", ["not a type; the types are int, token, date "
                                             "and enum; expected `Query <name> int"]),
    (["Query _page int 1000..1"], "_page int 1000..1", ["write lo..hi with lo <= hi"]),
    (["Query _page int"], "_page int", ["needs its bounds lo..hi"]),
    (["Query _page int 1..10", "Query _page int 1..20"], "_page int 1..20",
     ["declared twice; declare each parameter once"]),
    (["Query a[] token"], "a[] token", ["not a parameter name (1 to 32 of"]),
    (["Query gender enum a||b"], "gender enum a||b", ["empty word", "separated by '|'"]),
])
def test_malformed_declarations_fail_the_config_test(httpd_factory, queries, offending, words):
    h = httpd_factory(ORGANISATIONS + query_agreement(*queries) + locations("http://127.0.0.1:9"))
    rc, out = h.config_test()
    assert rc != 0, out
    assert h.conf_path in out and "Query" in out, out
    block = h.line_of("<PDSAgreement bad-query>")
    assert any(re.search(r"(?:line\s+%d\b|:%d\b)" % (n, n), out)
               for n in (h.line_of(offending, block), block)), out
    assert all(w in out for w in words), out


def test_query_without_a_get_resource_fails_the_config_test(httpd_factory):
    body = agreement("writer", "health-board", "direct-care",
                     "POST /fhir/Patient/{subject}", "Write telecom[*].value",
                     "Release id", "Query _page int 1..10")
    h = httpd_factory(ORGANISATIONS + body + locations("http://127.0.0.1:9"))
    rc, out = h.config_test()
    assert rc != 0 and h.conf_path in out and "no GET resource" in out, out
