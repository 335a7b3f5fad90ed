"""The world the portal's tests share (test_portal.py, test_portal_browser.py):
a gateway with a consent store, labels in English and Welsh, the portal
behind Basic authentication and the public register, and helpers to read
its pages and post its forms."""
import base64
import html
import json
import os
import re
import shutil
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
from pds_configs import (AUTH_MODULES, CITIZEN_RECORD, CITIZENS_LOCATION, ORGANISATIONS,
                         OTHER_SUBJECT, SUBJECT, agreement, location, person_location)

PEOPLE = [SUBJECT, OTHER_SUBJECT, "9384937398", "2297511965", "8636999065", "4773038799"]
CONSENTED = "/consented/%s/record"

AGREEMENTS = (
    agreement("hb-direct-care", "health-board", "direct-care", CITIZEN_RECORD,
              "Release name.given name.family dob care.allergies care.needs",
              'Title "Direct care by the health board"', version="3") +
    agreement("hb-care-planning", "health-board", "care-planning", "GET " + CONSENTED % "{subject}",
              "Release name.given name.family dob care.needs",
              'Title "Planning your care"', 'Title "Cynllunio eich gofal" cy',
              'Description "The health board plans your care with the data you tick."',
              "Changed 2026-01-15", basis="consent") +
    agreement("trust-outreach", "data-trust", "outreach", "GET /outreach/{subject}/record",
              "Release name.given", basis="legitimate-interests") +
    agreement("trust-fraud-check", "data-trust", "fraud-investigation",
              "GET /fraud/{subject}/record", "Release name.given", "Disclosure restricted",
              "Register hidden", basis="legal-obligation") +
    agreement("hb-secret-check", "health-board", "direct-care", "GET /secret/{subject}/record",
              "Release name.given", "Register hidden") +
    agreement("hb-district-survey", "health-board", "survey",
              "GET /districts/{district}/residents", "Release [*].id [*].dob",
              "RecordSubject id", 'Title "Residents survey"'))

LABELS = """
PDSRegisterPublisher "Fife Council"
PDSOrganisationLabel health-board "Fife Health Board"
PDSOrganisationLabel health-board "Bwrdd Iechyd Fife" cy
PDSOrganisationLabel data-trust "Brixham Community Data Trust"
PDSPurposeLabel direct-care "Your care and treatment"
PDSPurposeLabel care-planning "Planning your care"
PDSPurposeLabel outreach "Community outreach"
PDSPurposeLabel survey "Residents' <survey> & census"
PDSFieldLabel name.given "First name"
PDSFieldLabel name.family "Last name"
PDSFieldLabel care.needs "Care needs"
PDSFieldLabel care.needs "Anghenion gofal" cy
"""


class World:
    def __init__(self, gateway_factory, tmp_path_factory):
        self.shared = tempfile.mkdtemp(prefix="pds-e2e-portal-")
        os.chmod(self.shared, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.shared, "nobody", "nogroup")
        htpasswd = os.path.join(self.shared, "htpasswd")
        H.write_htpasswd(htpasswd, [(p, "pw-" + p) for p in PEOPLE])
        keydir = str(tmp_path_factory.mktemp("portal-receipt"))
        key = ed25519.Ed25519PrivateKey.generate()
        key_path = os.path.join(keydir, "receipt.key")
        H.write_private(key_path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.receipt_public = key.public_key()
        settings = ('PDSConsentStore sqlite3 "%s"\n' % os.path.join(self.shared, "consent.db")
                    + 'PDSConsentReceiptKey "%s"\n' % key_path
                    + "PDSConsentCache shmcb 1\nPDSConsentManager data-trust\n")
        people = (person_location("/portal", "pds-portal", htpasswd)
                  + person_location("/porth", "pds-portal", htpasswd,
                                    extra="    PDSPortalLanguage cy")
                  + person_location("/my/consents", "pds-consent", htpasswd)
                  + "<Location /register>\n    SetHandler pds-register\n</Location>\n")
        body = (settings + ORGANISATIONS + AGREEMENTS + LABELS + CITIZENS_LOCATION
                + location("/consented/") + location("/outreach/") + location("/fraud/")
                + location("/secret/") + location("/districts/", "/api/districts/") + people)
        self.gw = gateway_factory(body, extra_modules=AUTH_MODULES, log_level="warn pds:info")
        self.sessions = {}

    def close(self):
        for s in self.sessions.values():
            s.close()
        shutil.rmtree(self.shared, ignore_errors=True)

    def session(self, who):
        if who not in self.sessions:
            s = H.requests.Session()
            s.trust_env = False
            s.auth = (who, "pw-" + who)
            self.sessions[who] = s
        return self.sessions[who]

    def url(self, path):
        return self.gw.url(path, plain=True)

    def page(self, who, path, base="/portal", headers=None):
        return self.session(who).get(self.url(base + path), headers=headers or {},
                                     timeout=15, allow_redirects=False)

    def post(self, who, path, form, headers=None):
        h = {"Origin": "http://127.0.0.1:%d" % self.gw.httpd.http_port}
        h.update(headers or {})
        return self.session(who).post(self.url("/portal" + path), data=form, headers=h,
                                      timeout=15, allow_redirects=False)

    def api(self, who, method, path):
        return self.session(who).request(method, self.url("/my/consents" + path), timeout=15)


def assert_page_headers(r, personal):
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == ("no-store" if personal else "max-age=300")


def forms(page):
    """Every form of a page: (action, {name: value} of its hidden inputs)."""
    out = []
    for m in re.finditer(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S):
        fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(
            r'<input type="hidden" name="([^"]*)" value="([^"]*)"', m.group(2))}
        out.append((html.unescape(m.group(1)), fields))
    return out


def grant_form(page, agreement_id):
    for action, fields in forms(page):
        if fields.get("agreement") == agreement_id:
            return fields
    raise AssertionError("no grant form for %s" % agreement_id)


def action_form(page, action):
    for a, fields in forms(page):
        if a == action:
            return fields
    raise AssertionError("no form posting to %s in the page" % action)


def flatten(doc, prefix=""):
    out = []
    for k, v in doc.items():
        if isinstance(v, dict):
            out += flatten(v, prefix + k + ".")
        else:
            out.append(prefix + k)
    return out


def verify_receipt(compact, public_key):
    def unb64(s):
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    head, payload, sig = compact.split(".")
    public_key.verify(unb64(sig), (head + "." + payload).encode())
    return json.loads(unb64(payload))


def audit_time(gw, r):
    return gw.audit_for(r)["time"]
