"""The FHIR recipes of docs/minimisation.md, as written there: the test reads
the recipe block of the "FHIR recipes" section, makes one agreement of each
recipe (its lines as they stand, under a resource for one Patient or for a
search) and checks each answer through a real httpd in front of json-server
over the synthetic FHIR R4 data set. A recipe changed in the docs is tested
as changed; one that stops working, or a new one without a check here,
fails. SPEC: issue #12 item 7; docs/minimisation.md "FHIR recipes"."""
import os
import re

import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, agreement
from pds_jsonserver import fhir_patients, json_server, location  # noqa: F401  (the fixture)

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                   "minimisation.md")
NHS = fhir_patients.NHS_SYSTEM


def recipes():
    """{title: [lines]} from the first apache block of "### FHIR recipes"."""
    text = open(DOC, encoding="utf-8").read()
    section = text.split("### FHIR recipes", 1)[1]
    block = re.search(r"```apache\n(.*?)```", section, re.S).group(1)
    out, title = {}, None
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("#"):
            title = line.lstrip("# ").strip()
            out[title] = []
        elif line:
            out[title].append(re.sub(r"\s+", " ", line))
    return out


RECIPES = recipes()


def slug(title):
    return "recipe-%d" % sorted(RECIPES).index(title)


def is_search(lines):
    return any(l.startswith("Release [*]") for l in lines)


@pytest.fixture(scope="module")
def gw(gateway_factory, json_server):
    body = ORGANISATIONS
    locations = ""
    for title, lines in RECIPES.items():
        name = slug(title)
        resource = "GET /%s/Patient" % name if is_search(lines) else \
            "GET /%s/Patient/{subject}" % name
        body += agreement(name, "health-board", "direct-care", resource, *lines)
        locations += location(name, json_server.url)
    gw = gateway_factory(body + locations)
    gw.backend = json_server
    return gw


@pytest.fixture(scope="module")
def patients(json_server):
    return json_server.direct("GET", "/Patient").json()


def where(items, key, value):
    return [e for e in items if e.get(key) == value]


def nhs_of(p):
    return [i["value"] for i in where(p["identifier"], "system", NHS)]


def restricted(p):
    return any(s.get("code") == "R" for s in p["meta"]["security"])


# title -> (what to ask, expected body from the data set, extra audit checks)
def one(pid, expect):
    return lambda pats: ("/Patient/" + pid, expect(next(p for p in pats if p["id"] == pid)),
                         {})


CHECKS = {
    "The NHS number, never a local hospital number (MRN)": one(
        "pat-0001", lambda p: {"identifier": [{"value": v} for v in nhs_of(p)]}),
    "Phone numbers and their use, not e-mail addresses": one(
        "pat-0003", lambda p: {"telecom": [{"value": t["value"], "use": t["use"]}
                                           for t in where(p["telecom"], "system", "phone")]}),
    "The official name, not the maiden or a nickname": one(
        "pat-0002", lambda p: {"name": [{"given": n["given"], "family": n["family"]}
                                        for n in where(p["name"], "use", "official")]}),
    "One extension, none of the others (its coded value, not its free text)": one(
        "pat-0005", lambda p: {"extension": [
            {"valueCodeableConcept": {"coding": e["valueCodeableConcept"]["coding"]}}
            for e in where(p["extension"], "url", fhir_patients.ETHNICITY_URL)]}),
    "A collection of Patients, each decided by its NHS number": lambda pats: (
        "/Patient", [{"id": p["id"], "identifier": [{"value": v} for v in nhs_of(p)]}
                     for p in pats],
        {"subjects": [nhs_of(p)[0] for p in pats]}),
    "Restricted records never leave (FHIR's \"R\" confidentiality label)": lambda pats: (
        "/Patient", [{"id": p["id"], "birthDate": p["birthDate"]} for p in pats
                     if not restricted(p)],
        {"excluded": sum(1 for p in pats if restricted(p)),
         "excluded_by": {"meta.security[code=R]": sum(1 for p in pats if restricted(p))}}),
    "A collection read page by page (json-server's _page and _limit)": lambda pats: (
        "/Patient?_page=2&_limit=10", [{"id": p["id"], "gender": p["gender"]}
                                       for p in pats[10:20]],
        {"query": "_page=2&_limit=10", "records": 10}),
}


def test_every_recipe_has_a_check():
    assert len(RECIPES) >= 7, RECIPES
    assert sorted(RECIPES) == sorted(CHECKS), "recipes in the docs and checks here differ"


@pytest.mark.parametrize("title", sorted(RECIPES), ids=lambda t: t[:40])
def test_a_recipe_releases_what_it_says(gw, json_server, patients, title):
    json_server.clear()
    path, expected, audit = CHECKS[title](patients)
    r = gw.get("/" + slug(title) + path)
    assert fhir_patients.MARKER not in r.text, H.describe(r)
    rec = H.assert_allowed(gw, r, expected, slug(title))
    for k, v in audit.items():
        assert rec[k] == v, (k, rec[k], v)
