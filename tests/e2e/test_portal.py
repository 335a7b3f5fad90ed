"""The citizen's portal (SetHandler pds-portal) and the public register
(SetHandler pds-register) through a real httpd: the pages, their headers,
labels and languages, grants and changes through the forms with their CSRF
tokens, the timeline fed by real gateway requests, another person seeing
nothing of the first, and the configuration checks of the label
directives. The browser half (headless Chromium, axe-core) is in
test_portal_browser.py. SPEC: Issue 14 items 1, 2 and 4."""
import html
import json
import os
import re
import shutil

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
from pds_configs import (AUTH_MODULES, CITIZEN_RECORD, CITIZENS_LOCATION, HB_DIRECT_CARE,
                         ORGANISATIONS, OTHER_SUBJECT, SUBJECT, agreement, location,
                         person_location)
import portal_world as W


@pytest.fixture(scope="module")
def world(gateway_factory, tmp_path_factory):
    w = W.World(gateway_factory, tmp_path_factory)
    yield w
    w.close()


def test_every_page_renders_with_its_headers_and_language(world):
    for page in ("", "/disclosures", "/consents", "/objections"):
        r = world.page(SUBJECT, page)
        assert r.status_code == 200, H.describe(r)
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        W.assert_page_headers(r, personal=True)
        assert '<html lang="en">' in r.text
        assert "<script" not in r.text and " style=" not in r.text
        assert "Signed in as %s" % SUBJECT in r.text
    css = world.page(SUBJECT, "/style.css")
    assert css.status_code == 200 and css.headers["Content-Type"] == "text/css; charset=utf-8"


def test_welsh_by_accept_language_and_labels_in_welsh(world):
    r = world.page(SUBJECT, "/consents", headers={"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"})
    assert r.status_code == 200
    assert '<html lang="cy">' in r.text
    assert "Fy nghaniatadau" in r.text and "Bwrdd Iechyd Fife" in r.text
    assert "Anghenion gofal" in r.text
    # a label without a Welsh text falls back to its default text
    assert "First name" in r.text
    assert "Accept-Language" in r.headers["Vary"]
    fixed = world.page(SUBJECT, "", base="/porth")
    assert '<html lang="cy">' in fixed.text


def test_missing_labels_fall_back_visibly_never_blank(world):
    r = world.page(SUBJECT, "/consents")
    # dob has no PDSFieldLabel: the path is shown, marked
    assert re.search(r'<span class="unlabelled">dob <small>\(no plain name configured\)'
                     r'</small></span>', r.text), r.text


def test_grant_through_the_form_releases_exactly_the_ticked_fields(world):
    person = W.PEOPLE[2]
    assert world.gw.get(W.CONSENTED % person, purpose="care-planning").status_code == 403
    page = world.page(person, "/consents").text
    form = W.grant_form(page, "hb-care-planning")
    r = world.post(person, "/consents", dict(form, field=["name.given", "care.needs"]))
    assert r.status_code == 303, H.describe(r)
    assert r.headers["Location"] == "/portal/consents?done=grant"
    W.assert_page_headers(r, personal=True)
    after = world.page(person, "/consents?done=grant").text
    assert "Your consent was recorded." in after
    got = world.gw.get(W.CONSENTED % person, purpose="care-planning")
    assert got.status_code == 200, H.describe(got)
    assert set(W.flatten(got.json())) == {"name.given", "care.needs"}
    consent = world.api(person, "GET", "/consents").json()["consents"][0]
    assert consent["notice"] == "portal:hb-care-planning;v=1"
    # pause, resume, revoke through their forms; the organisation follows
    for action, expect in (("pause", 403), ("resume", 200), ("revoke", 403)):
        page = world.page(person, "/consents").text
        form = W.action_form(page, "/portal/consents/%s/%s" % (consent["id"], action))
        r = world.post(person, "/consents/%s/%s" % (consent["id"], action), form)
        assert r.status_code == 303, H.describe(r)
        got = world.gw.get(W.CONSENTED % person, purpose="care-planning")
        assert got.status_code == expect, (action, H.describe(got))
    page = world.page(person, "/consents").text
    assert "Revoked" in page and "/revoke" not in page


def test_receipt_download_is_signed_by_the_receipt_key(world):
    person = W.PEOPLE[3]
    form = W.grant_form(world.page(person, "/consents").text, "hb-care-planning")
    assert world.post(person, "/consents", dict(form, field=["dob"])).status_code == 303
    cid = world.api(person, "GET", "/consents").json()["consents"][0]["id"]
    r = world.page(person, "/consents/%s/receipt" % cid)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/jose"
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "no-store"
    payload = W.verify_receipt(r.text, world.receipt_public)
    assert payload["consent"]["id"] == cid and payload["action"] == "grant"
    # another person's receipt does not exist for them
    assert world.page(SUBJECT, "/consents/%s/receipt" % cid).status_code == 404


def test_a_form_without_a_valid_token_changes_nothing(world):
    person = W.PEOPLE[4]
    page = world.page(person, "/consents").text
    form = W.grant_form(page, "hb-care-planning")
    other = W.grant_form(world.page(SUBJECT, "/consents").text, "hb-care-planning")
    offset = world.gw.httpd.error_log_size()
    cases = [
        {k: v for k, v in form.items() if k != "csrf"},          # missing
        dict(form, csrf="1." + "A" * 43),                          # wrong
        dict(form, csrf=other["csrf"]),                            # another person's
        dict(form, csrf=form["csrf"][:-1]),                        # cut
    ]
    for case in cases:
        r = world.post(person, "/consents", dict(case, field=["name.given"]))
        assert r.status_code == 403, H.describe(r)
        assert "This form has expired or did not come from this site" in r.text
        W.assert_page_headers(r, personal=True)
    # a form posted from another site, even with the right token
    r = world.post(person, "/consents", dict(form, field=["name.given"]),
                   headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = world.post(person, "/consents", dict(form, field=["name.given"]),
                   headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert world.api(person, "GET", "/consents").json()["consents"] == []
    assert "PDS00441" in world.gw.httpd.error_log_text(offset)
    # GET never changes anything
    assert world.page(person, "/consents/c-%s/revoke" % ("0" * 32)).status_code == 405


def test_the_timeline_shows_a_real_disclosure_in_plain_words(world):
    r = world.gw.get("/citizens/%s/record" % SUBJECT)
    assert r.status_code == 200
    page = world.page(SUBJECT, "/disclosures").text
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", page, re.S).group(1)
    assert "Fife Health Board" in row
    assert "Your care and treatment" in row and "a public task" in row
    assert "First name" in row and "Care needs" in row
    assert "Direct care by the health board" in row and "(version 3)" in row
    assert W.audit_time(world.gw, r)[:10] in row
    # the filters
    only = world.page(SUBJECT, "/disclosures?organisation=data-trust&period=30").text
    assert "<tbody>\n</tbody>" in only
    assert world.page(SUBJECT, "/disclosures?period=forever").status_code == 400
    # restricted never, and another person sees nothing of the first
    world.gw.get("/fraud/%s/record" % SUBJECT, who="data-trust", purpose="fraud-investigation")
    assert "fraud" not in world.page(SUBJECT, "/disclosures").text.lower()
    other = world.page(OTHER_SUBJECT, "/disclosures").text
    assert "Fife Health Board" not in other and SUBJECT not in other


def test_collections_that_released_the_person_appear(world):
    r = world.gw.get("/districts/KY99/residents", purpose="survey")
    assert r.status_code == 200, H.describe(r)
    ids = [rec["id"] for rec in r.json()]
    assert SUBJECT in ids and OTHER_SUBJECT in ids
    for who in (SUBJECT, OTHER_SUBJECT):
        page = world.page(who, "/disclosures").text
        assert "Residents survey" in page
        # label text is escaped like everything else
        assert "Residents&#39; &lt;survey&gt; &amp; census" in page
        assert "<survey>" not in page


def test_objections_and_mandates_through_forms(world):
    person = W.PEOPLE[5]
    assert world.gw.get("/outreach/%s/record" % person, who="data-trust",
                        purpose="outreach").status_code == 200
    page = world.page(person, "/objections").text
    assert "You do not object" in page
    form = W.action_form(page, "/portal/objections/outreach")
    assert world.post(person, "/objections/outreach", form).status_code == 303
    assert "You object" in world.page(person, "/objections").text
    assert world.gw.get("/outreach/%s/record" % person, who="data-trust",
                        purpose="outreach").status_code == 403
    page = world.page(person, "/consents").text
    form = W.action_form(page, "/portal/mandates/data-trust")
    assert form["action"] == "give"
    assert world.post(person, "/mandates/data-trust", form).status_code == 303
    mandates = world.api(person, "GET", "/mandates").json()["mandates"]
    assert [m["manager"] for m in mandates] == ["data-trust"]


def test_signed_out_and_wrong_methods(world):
    s = H.requests.Session()
    s.trust_env = False
    r = s.get(world.gw.url("/portal/consents", plain=True), timeout=10)
    assert r.status_code == 401          # httpd's Basic authentication
    r = world.page(SUBJECT, "/nowhere")
    assert r.status_code == 404 and "There is no such page." in r.text
    W.assert_page_headers(r, personal=True)


def test_register_lists_agreements_without_sign_in(world):
    s = H.requests.Session()
    s.trust_env = False
    r = s.get(world.gw.url("/register", plain=True), timeout=10)
    assert r.status_code == 200, H.describe(r)
    W.assert_page_headers(r, personal=False)
    assert "Register of data sharing agreements" in r.text
    assert "Fife Health Board" in r.text and "Fife Council" in r.text
    assert "hb-secret-check" not in r.text
    doc = s.get(world.gw.url("/register/agreements.json", plain=True), timeout=10).json()
    ids = [a["id"] for a in doc["agreements"]]
    assert "hb-direct-care" in ids and "hb-secret-check" not in ids
    hb = [a for a in doc["agreements"] if a["id"] == "hb-direct-care"][0]
    assert hb["shared_with"] == {"organisation": "health-board", "label": "Fife Health Board"}
    assert hb["legal_basis"] == {"code": "public-task", "words": "a public task"}
    assert hb["consent_needed"] is False and hb["version"] == "3"
    assert hb["valid"] == {"from": "2020-01-01", "until": "2099-12-31"}
    assert {"path": "care.allergies", "label": None} in hb["data"]
    # counts of disclosures, never people
    world.gw.get("/citizens/%s/record" % SUBJECT)
    doc = s.get(world.gw.url("/register/agreements.json", plain=True), timeout=10).json()
    hb = [a for a in doc["agreements"] if a["id"] == "hb-direct-care"][0]
    assert hb["disclosures"]["this_month"] >= 1
    assert isinstance(hb["disclosures"]["last_month"], int)
    assert SUBJECT not in json.dumps(doc)


@pytest.mark.parametrize("line,complaint", [
    ('PDSOrganisationLabel nobody-known "Nobody"', "PDS00440"),
    ('PDSPurposeLabel no-such-purpose "Nothing"', "PDS00440"),
    ('PDSFieldLabel secret.field "Secret"', "PDS00440"),
    ('PDSFieldLabel care.needs "Besoins" fr', "not a language the pages speak"),
    ('PDSFieldLabel care[ "Broken"', "not a field path"),
    ('PDSFieldLabel care.needs ""', "PDSFieldLabel takes"),
])
def test_label_mistakes_fail_the_configuration_test(httpd_factory, line, complaint):
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + line + "\n")
    rc, out = h.config_test()
    assert rc != 0 and complaint in out, out


def test_labels_belong_in_the_main_server(httpd_factory):
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE,
                      vhost_body='PDSFieldLabel care.needs "Care needs"\n')
    rc, out = h.config_test()
    assert rc != 0 and "belongs in the main server configuration" in out, out
