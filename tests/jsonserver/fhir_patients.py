#!/usr/bin/env python3
"""A synthetic FHIR R4 data set for json-server, the real back end of the
end-to-end tests (tests/e2e/test_fhir_backend.py). Deterministic: the same
seed gives the same bytes.

    python3 tests/jsonserver/fhir_patients.py OUT.json [--count 60] [--seed 12]

writes {"Patient": [...], "Observation": [...]} (json-server's db.json).
Every Patient has identifier[] (an NHS number under
https://fhir.nhs.uk/Id/nhs-number, with a valid check digit, and a local
MRN), telecom[] (phone and email), name[] (official, and a maiden or usual
name), address[], extension[] (ethnicity and an internal note), birthDate
(some partial: "1980", "1980-06"), gender, active and meta.security (every
sixth restricted: code R). The first patients have Observations, nested
under them the way json-server nests (PatientId).

Markers: every value an agreement of the tests never releases carries
MARKER ("ZZLEAK-<where>-<n>"): the narrative (text.div), the extensions'
values, the address's text, the MRN, the general practitioner, the
contact, meta.source and the observations' notes; a test asserts that none
of them ever leaves the gateway. The NHS numbers are not markers (they are
plain digits) but never leave either: tests check them by value.
"""
import argparse
import json
import random

MARKER = "ZZLEAK"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
MRN_SYSTEM = "https://example.org/fhir/Id/local-mrn"
ETHNICITY_URL = "https://example.org/fhir/ethnicity"
NOTE_URL = "https://example.org/fhir/internal-note"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
DEFAULT_COUNT = 60
DEFAULT_SEED = 12
OBSERVED = 5            # the first OBSERVED patients have observations

GIVEN = {"female": ["Morag", "Isla", "Eilidh", "Ailsa", "Catriona", "Rhona", "Kirsty",
                    "Fenella"],
         "male": ["Angus", "Ruaridh", "Calum", "Fraser", "Lachlan", "Euan", "Hamish",
                  "Torquil"],
         "other": ["Alex", "Rowan", "Sky", "Jordan"],
         "unknown": ["Sam", "Robin"]}
FAMILY = ["Testbridge", "Samplewright", "Fakemuir", "Mockhart", "Dummond", "Placeholm",
          "Syntheson", "Fictorie", "Trialbank", "Specimen", "Proofield", "Exampleby"]
STREETS = ["Harbour Row", "Kirk Wynd", "Links Road", "Mill Lane", "Station Brae", "High Street"]
TOWNS = [("Kirkcaldy", "KY1"), ("Glenrothes", "KY7"), ("Dunfermline", "KY12"),
         ("Cupar", "KY15"), ("St Andrews", "KY16")]
ETHNICITY = [("A", "White - Scottish"), ("C", "White - Other British"),
             ("G", "Asian - Pakistani"), ("L", "African"), ("R", "Other ethnic group")]


def marker(where, n):
    return "%s-%s-%04d" % (MARKER, where, n)


def nhs_number(rng, used):
    """Ten digits whose last is the modulus 11 check digit, starting 9
    (the range NHS England keeps for tests); never one already in `used`."""
    while True:
        digits = [9] + [rng.randrange(10) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1)))
        check = 11 - total % 11
        if check == 10:
            continue
        number = "".join(map(str, digits)) + str(0 if check == 11 else check)
        if number not in used:
            used.add(number)
            return number


def birth_date(rng, n):
    year = rng.randrange(1930, 2010)
    month, day = rng.randrange(1, 13), rng.randrange(1, 29)
    if n % 10 == 3:
        return "%04d" % year                     # year only
    if n % 10 == 7:
        return "%04d-%02d" % (year, month)       # year and month
    return "%04d-%02d-%02d" % (year, month, day)


def patient(rng, n, used):
    gender = rng.choice(["female", "male", "female", "male", "other", "unknown"])
    given = rng.choice(GIVEN[gender])
    middle = rng.choice(GIVEN[gender])
    family = rng.choice(FAMILY)
    street, (town, district) = rng.choice(STREETS), rng.choice(TOWNS)
    number = nhs_number(rng, used)
    restricted = n % 6 == 0
    code, display = ETHNICITY[rng.randrange(len(ETHNICITY))]
    names = [{"use": "official", "family": family, "given": [given, middle],
              "prefix": [rng.choice(["Mx", "Ms", "Mr", "Dr"])]}]
    if gender == "female" and n % 2 == 0:
        names.append({"use": "maiden", "family": rng.choice(FAMILY), "given": [given]})
    else:
        names.append({"use": "usual", "family": family, "given": [given[:3]]})
    return {
        "resourceType": "Patient",
        "id": "pat-%04d" % n,
        "meta": {
            "versionId": "1",
            "lastUpdated": "2026-0%d-1%dT09:%02d:00Z" % (1 + n % 9, n % 10, n % 60),
            "source": marker("source", n),
            "security": [{"system": CONFIDENTIALITY, "code": "R" if restricted else "N",
                          "display": "restricted" if restricted else "normal"}],
        },
        "text": {"status": "generated",
                 "div": '<div xmlns="http://www.w3.org/1999/xhtml">%s %s %s, NHS %s</div>'
                        % (marker("narrative", n), given, family, number)},
        "extension": [
            {"url": ETHNICITY_URL,
             "valueCodeableConcept": {"coding": [{
                 "system": "https://example.org/fhir/CodeSystem/ethnicity",
                 "code": code, "display": display}],
                 "text": marker("ethnicity", n)}},
            {"url": NOTE_URL, "valueString": marker("note", n)},
        ],
        "identifier": [
            {"use": "official", "system": NHS_SYSTEM, "value": number},
            {"use": "usual", "system": MRN_SYSTEM, "value": marker("mrn", n)},
        ],
        "active": n % 9 != 4,
        "name": names,
        "telecom": [
            {"system": "phone", "value": "01632 %06d" % rng.randrange(10 ** 6), "use": "home"},
            {"system": "email", "value": "%s.%s%d@example.org" % (given.lower(),
                                                                 family.lower(), n),
             "use": "home"},
        ],
        "gender": gender,
        "birthDate": birth_date(rng, n),
        "address": [{"use": "home", "type": "physical",
                     "line": ["%d %s" % (rng.randrange(1, 200), street)],
                     "city": town,
                     "postalCode": "%s %d%s%s" % (district, rng.randrange(1, 10),
                                                  rng.choice("ABDEFGH"), rng.choice("JLNPQRSTUW")),
                     "country": "GB",
                     "text": marker("address", n)}],
        "generalPractitioner": [{"reference": "Practitioner/gp-%02d" % (n % 7),
                                 "display": marker("gp", n)}],
        "contact": [{"relationship": [{"text": "next of kin"}],
                     "name": {"family": rng.choice(FAMILY), "given": [marker("kin", n)]}}],
    }


def observations(patients):
    out = []
    for p in patients[:OBSERVED]:
        n = int(p["id"].split("-")[1])
        for k, (text, unit, value) in enumerate((("Body weight", "kg", 50 + n),
                                                 ("Heart rate", "/min", 60 + n))):
            out.append({
                "resourceType": "Observation",
                "id": "obs-%04d-%d" % (n, k),
                "PatientId": p["id"],
                "status": "final",
                "code": {"text": text},
                "subject": {"reference": "Patient/" + p["id"]},
                "valueQuantity": {"value": value, "unit": unit},
                "note": [{"text": marker("obsnote", n)}],
            })
    return out


def generate(count=DEFAULT_COUNT, seed=DEFAULT_SEED):
    """The data set as a dict: {"Patient": [...], "Observation": [...]}."""
    rng = random.Random(seed)
    used = set()
    patients = [patient(rng, n, used) for n in range(1, count + 1)]
    return {"Patient": patients, "Observation": observations(patients)}


def write(path, count=DEFAULT_COUNT, seed=DEFAULT_SEED):
    """Writes the data set to path (json-server's db file); returns it."""
    db = generate(count, seed)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(db, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return db


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the db.json to write")
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args()
    write(args.out, args.count, args.seed)


if __name__ == "__main__":
    main()
