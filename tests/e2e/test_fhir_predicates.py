"""Element predicates in field paths (telecom[system=phone].value) through a
real httpd in front of json-server over the synthetic FHIR R4 data set
(tests/jsonserver/fhir_patients.py): the NHS number and never the MRN, phone
numbers and never e-mail addresses, the official name and never the maiden
one, one extension of two, a collection decided by a predicated
RecordSubject, a predicated Write refused by `httpd -t` (a merge patch
replaces an array whole, so it cannot be held to the elements a predicate
selects), and malformed predicates refused by `httpd -t` with the file and
line. SPEC: issue #12 item 1; docs/minimisation.md "Selecting elements by
their content" and "FHIR recipes"."""
import json
import os
import shutil
import tempfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
from pds_configs import (AUTH_MODULES, CITIZEN_RECORD, CITIZENS_LOCATION, ORGANISATIONS,
                         agreement, person_location)
from pds_jsonserver import fhir_patients, json_server, location  # noqa: F401  (the fixture)

NHS = fhir_patients.NHS_SYSTEM
NHS_NUMBER = 'identifier[system="%s"].value' % NHS
PHONE = ["telecom[system=phone].value", "telecom[system=phone].use"]
OFFICIAL = ["name[use=official].given", "name[use=official].family"]
ETHNICITY = 'extension[url="%s"].valueCodeableConcept.coding' % fhir_patients.ETHNICITY_URL

AGREEMENTS = (
    agreement("fhir-nhs", "health-board", "direct-care", "GET /fhir/Patient/{subject}",
              "Release id " + NHS_NUMBER) +
    agreement("fhir-phone", "health-board", "screening", "GET /fhir/Patient/{subject}",
              "Release id " + " ".join(PHONE)) +
    agreement("fhir-official", "health-board", "research", "GET /fhir/Patient/{subject}",
              "Release id " + " ".join(OFFICIAL + [ETHNICITY])) +
    agreement("fhir-phone-masked", "health-board", "reminders", "GET /fhir/Patient/{subject}",
              "Release id " + PHONE[0], "Transform telecom[*].value mask 4") +
    agreement("fhir-nhs-list", "health-board", "direct-care", "GET /fhir/Patient",
              "Release [*].id [*]." + NHS_NUMBER, "RecordSubject " + NHS_NUMBER))

@pytest.fixture(scope="module")
def module_gw(gateway_factory, json_server):
    gw = gateway_factory(ORGANISATIONS + AGREEMENTS + location("fhir", json_server.url))
    gw.backend = json_server
    return gw


@pytest.fixture
def gw(module_gw, json_server):
    json_server.clear()         # each test sees only its own requests
    return module_gw


def get(gw, path, purpose):
    return gw.request("GET", path, purpose=purpose)


def no_marker(resp):
    assert fhir_patients.MARKER not in resp.text, H.describe(resp)
    return resp


def elements(patient, member, key, value):
    return [e for e in patient[member] if e.get(key) == value]


@pytest.mark.parametrize("pid", ["pat-0001", "pat-0002", "pat-0012"])
def test_the_nhs_number_only_never_the_mrn(gw, json_server, pid):
    patient = json_server.patient(pid)
    nhs = [i["value"] for i in elements(patient, "identifier", "system", NHS)]
    mrn = [i["value"] for i in patient["identifier"] if i["system"] != NHS]
    assert len(nhs) == 1 and mrn
    r = no_marker(get(gw, "/fhir/Patient/" + pid, "direct-care"))
    rec = H.assert_allowed(gw, r, {"id": pid, "identifier": [{"value": nhs[0]}]}, "fhir-nhs")
    assert rec["fields"] == ["id", NHS_NUMBER]
    for value in mrn + [NHS, fhir_patients.MRN_SYSTEM]:
        assert value not in r.text


def test_phone_numbers_only_never_email(gw, json_server):
    patient = json_server.patient("pat-0003")
    phones = [{"value": t["value"], "use": t["use"]}
              for t in elements(patient, "telecom", "system", "phone")]
    emails = [t["value"] for t in elements(patient, "telecom", "system", "email")]
    assert phones and emails
    r = no_marker(get(gw, "/fhir/Patient/pat-0003", "screening"))
    rec = H.assert_allowed(gw, r, {"id": "pat-0003", "telecom": phones}, "fhir-phone")
    assert rec["fields"] == ["id"] + PHONE
    for e in emails:
        assert e not in r.text


def test_a_transform_on_every_element_masks_the_phone_numbers_released(gw, json_server):
    """Release telecom[system=phone].value with Transform telecom[*].value
    mask 4: the transform applies to what the predicate released, the e-mail
    address is not there to transform."""
    patient = json_server.patient("pat-0008")
    phones = [{"value": "*" * (len(t["value"]) - 4) + t["value"][-4:]}
              for t in elements(patient, "telecom", "system", "phone")]
    r = no_marker(get(gw, "/fhir/Patient/pat-0008", "reminders"))
    rec = H.assert_allowed(gw, r, {"id": "pat-0008", "telecom": phones}, "fhir-phone-masked")
    assert rec["transforms"] == ["telecom[*].value mask 4"]
    for t in patient["telecom"]:
        assert t["value"] not in r.text


@pytest.mark.parametrize("pid", ["pat-0002", "pat-0005"])
def test_the_official_name_and_one_extension(gw, json_server, pid):
    """The maiden or usual name, the other extension (an internal note with
    a marker) and the ethnicity's own text (a marker) never leave."""
    patient = json_server.patient(pid)
    official = [{"given": n["given"], "family": n["family"]}
                for n in elements(patient, "name", "use", "official")]
    others = [n["family"] for n in patient["name"] if n["use"] != "official"
              and n["family"] != official[0]["family"]]
    coding = [{"valueCodeableConcept": {"coding": e["valueCodeableConcept"]["coding"]}}
              for e in elements(patient, "extension", "url", fhir_patients.ETHNICITY_URL)]
    assert len(official) == 1 and len(coding) == 1
    r = no_marker(get(gw, "/fhir/Patient/" + pid, "research"))
    H.assert_allowed(gw, r, {"id": pid, "name": official, "extension": coding},
                     "fhir-official")
    for family in others:
        assert family not in r.text
    assert "prefix" not in r.text and "url" not in r.text


def test_a_collection_decided_by_a_predicated_record_subject(gw, json_server):
    """RecordSubject identifier[system=NHS].value: each record's person is
    its NHS number, never its MRN."""
    patients = json_server.direct("GET", "/Patient").json()
    r = no_marker(get(gw, "/fhir/Patient", "direct-care"))
    expected = [{"id": p["id"], "identifier": [{"value": i["value"]}
                                               for i in elements(p, "identifier", "system",
                                                                 NHS)]}
                for p in patients]
    rec = H.assert_allowed(gw, r, expected, "fhir-nhs-list")
    assert rec["records"] == len(patients)
    assert rec["subjects"] == [e["identifier"][0]["value"] for e in expected]


@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST"])
def test_a_predicated_write_fails_the_configuration_test(httpd_factory, json_server, method):
    """Write telecom[system=phone].value would let a body replace telecom
    whole, e-mail elements included (a merge patch, PUT or POST replaces an
    array): refused at `httpd -t`, naming the line and what to write."""
    lines = ["Write telecom telecom[system=phone].system telecom[system=phone].value",
             "Release id"]
    if method == "PUT":
        lines.append("WritePut replace-record")
    body = (ORGANISATIONS + agreement("fhir-phone-write", "health-board", "direct-care",
                                      method + " /fhir/Patient/{subject}", *lines)
            + location("fhir", json_server.url))
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    assert "line %d " % h.line_of("telecom[system=phone].system") in out, out
    assert "predicate" in out and "`Write telecom telecom[*].system`" in out, out


# ------------------------------------------------- consent to one's phone only

CONSENTED = ["id", "telecom[*].system", "telecom[*].value", "name[*].family"]
PERSON = "pat-0006"


@pytest.fixture(scope="module")
def consent_gw(gateway_factory, json_server, tmp_path_factory):
    """A consent agreement over json-server, a consent store, and the consent
    API for the person pat-0006 (Basic authentication)."""
    shared = tempfile.mkdtemp(prefix="pds-pred-consent.")
    os.chmod(shared, 0o755)
    if os.geteuid() == 0:
        shutil.chown(shared, "nobody", "nogroup")
    htpasswd = os.path.join(shared, "htpasswd")
    H.write_htpasswd(htpasswd, [(PERSON, "pw-" + PERSON)])
    key_path = os.path.join(str(tmp_path_factory.mktemp("receipt")), "receipt.key")
    H.write_private(key_path, ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    body = (ORGANISATIONS
            + 'PDSConsentStore sqlite3 "%s"\n' % os.path.join(shared, "consent.db")
            + 'PDSConsentReceiptKey "%s"\n' % key_path
            + agreement("fhir-consented", "health-board", "care-planning",
                        "GET /fhir/Patient/{subject}", "Release " + " ".join(CONSENTED),
                        basis="consent")
            + location("fhir", json_server.url)
            + person_location("/my/consents", "pds-consent", htpasswd=htpasswd))
    gw = gateway_factory(body, extra_modules=AUTH_MODULES)
    gw.backend = json_server
    yield gw
    shutil.rmtree(shared, ignore_errors=True)


def test_a_person_consents_to_their_phone_number_only(consent_gw, json_server):
    """The consent's fields hold telecom[system=phone].value: the agreement's
    telecom[*].value narrowed by it releases the phone number, not the e-mail
    address, nor anything else the agreement names."""
    gw = consent_gw
    s = H.requests.Session()
    s.trust_env = False
    with s:
        r = s.post(gw.url("/my/consents/consents"), auth=(PERSON, "pw-" + PERSON),
                   verify=gw.pki.ca_cert, timeout=20,
                   headers={"Content-Type": "application/json"},
                   data=json.dumps({"organisation": "health-board", "purpose": "care-planning",
                                    "fields": ["telecom[system=phone].value"],
                                    "notice": "fhir-notice-1"}))
    assert r.status_code == 201, H.describe(r)
    assert r.json()["consent"]["fields"] == ["telecom[system=phone].value"]
    patient = json_server.patient(PERSON)
    phones = [{"value": t["value"]} for t in elements(patient, "telecom", "system", "phone")]
    emails = [t["value"] for t in elements(patient, "telecom", "system", "email")]
    r = no_marker(gw.request("GET", "/fhir/Patient/" + PERSON, purpose="care-planning"))
    rec = H.assert_allowed(gw, r, {"telecom": phones}, "fhir-consented")
    assert rec["fields"] == ["telecom[system=phone].value"]
    for e in emails:
        assert e not in r.text
    assert patient["name"][0]["family"] not in r.text


# ----------------------------------------------------- configuration mistakes

BAD = {
    "empty-value": ("Release telecom[system=].value", "Release", "expected a value"),
    "unclosed-bracket": ("Release telecom[system=phone", "Release", "expected ']'"),
    "unclosed-quote": ('Release identifier[system="https://fhir.nhs.uk/Id/nhs-number].value',
                       "Release", "a quoted value ends with"),
    "comma-not-and": ("Release telecom[system=phone, use=home].value", "Release",
                      "write [a=1][b=2] for both"),
    "regex": ('Release telecom[system=~"ph.*"].value', "Release", "expected a value"),
    "number-word": ("Release identifier[value=12ab].use", "Release",
                    "put text in double quotes"),
    "at-the-top": ("Release [system=phone].value", "Release", "at the start of a path"),
    "transform-on-predicate": ("Transform telecom[system=phone].value mask 4", "Transform",
                               "holds no predicates"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_predicates_fail_the_configuration_test(httpd_factory, name):
    line, directive, words = BAD[name]
    lines = ["Release telecom[system=phone].value"]
    if directive == "Release":
        lines = [line]
    else:
        lines.append(line)
    body = (ORGANISATIONS + agreement("bad", "health-board", "direct-care", CITIZEN_RECORD,
                                      *lines) + CITIZENS_LOCATION)
    h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    # a Transform is checked against Release when the agreement closes: the
    # message names the agreement's opening line and the Transform line
    lines_ok = [h.line_of(line.split(None, 1)[1]), h.line_of("<PDSAgreement bad>")]
    assert any("line %d " % n in out for n in lines_ok), out
    assert line.split()[1] in out, out     # the word at fault, as written
    assert directive in out and words in out, out
