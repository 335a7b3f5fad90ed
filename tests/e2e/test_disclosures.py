"""A person's view of who received their data (SetHandler pds-disclosures):
seconds after an access, from the audit log, only their own, never what an
agreement marks restricted, and embargoed disclosures only from their date;
the security team's report still shows everything. SPEC: Issue 4 item 6."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

import pds_harness as H
from pds_configs import (CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS, OTHER_SUBJECT,
                         SUBJECT, location)

AGREEMENTS = HB_DIRECT_CARE + """
<PDSAgreement trust-fraud-check>
    Party       data-trust
    Purpose     fraud-investigation
    LegalBasis  legal-obligation
    Valid       2020-01-01 2099-12-31
    Resource    GET /fraud/{subject}/record
    Release     name.given
    Disclosure  restricted
</PDSAgreement>
<PDSAgreement trust-wellbeing>
    Party       data-trust
    Purpose     wellbeing-support
    LegalBasis  legitimate-interests
    Valid       2020-01-01 2099-12-31
    Resource    GET /trust/{subject}/record
    Release     care.needs
    Disclosure  embargoed-for 30d
</PDSAgreement>
<PDSAgreement hb-past-embargo>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
    Resource    GET /past/{subject}/record
    Release     dob
    Disclosure  embargoed-until 2020-01-01
</PDSAgreement>
"""

PERSON_VIEW = """
<Location /my/disclosures>
    AuthType Basic
    AuthName "residents"
    AuthBasicProvider file
    AuthUserFile "%(htpasswd)s"
    Require valid-user
    SetHandler pds-disclosures
</Location>
<Location /anonymous/disclosures>
    SetHandler pds-disclosures
</Location>
"""

AUTH_MODULES = [("auth_basic_module", "mod_auth_basic.so"),
                ("authn_file_module", "mod_authn_file.so"),
                ("authz_user_module", "mod_authz_user.so")]


@pytest.fixture(scope="module")
def gw(gateway_factory):
    # httpd's children (nobody, when the tests run as root) read the password
    # file on every request: it lives outside pytest's private directories.
    auth_dir = tempfile.mkdtemp(prefix="pds-e2e-auth-")
    os.chmod(auth_dir, 0o755)
    htpasswd = os.path.join(auth_dir, "htpasswd")
    for i, user in enumerate((SUBJECT, OTHER_SUBJECT)):
        subprocess.run(["htpasswd", "-b", "-B"] + (["-c"] if i == 0 else [])
                       + [htpasswd, user, "pw-" + user], check=True, capture_output=True)
    os.chmod(htpasswd, 0o644)
    body = (ORGANISATIONS + AGREEMENTS + CITIZENS_LOCATION + location("/fraud/")
            + location("/trust/") + location("/past/")
            + PERSON_VIEW.replace("%(htpasswd)s", htpasswd))
    yield gateway_factory(body, extra_modules=AUTH_MODULES)
    shutil.rmtree(auth_dir, ignore_errors=True)


def my_view(gw, who):
    s = H.requests.Session()
    s.trust_env = False
    r = s.get(gw.url("/my/disclosures"), auth=(who, "pw-" + who), verify=gw.pki.ca_cert,
              timeout=10)
    assert r.status_code == 200, H.describe(r)
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    doc = r.json()
    assert doc["subject"] == who
    return doc["disclosures"]


def test_a_disclosure_appears_seconds_after_and_only_to_its_person(gw):
    before = my_view(gw, SUBJECT)
    r = gw.get("/citizens/%s/record" % SUBJECT)
    assert r.status_code == 200
    after = my_view(gw, SUBJECT)
    assert len(after) == len(before) + 1
    d = after[-1]
    assert d["organisation"] == "health-board" and d["agreement"] == "hb-direct-care"
    assert d["purpose"] == "direct-care" and d["legal_basis"] == "public-task"
    assert d["fields"] == ["name.given", "name.family", "dob", "care.allergies", "care.needs"]
    assert d["time"] == gw.audit_for(r)["time"]
    assert SUBJECT not in json.dumps(my_view(gw, OTHER_SUBJECT))


def test_refused_requests_are_not_disclosures(gw):
    before = my_view(gw, SUBJECT)
    r = gw.get("/citizens/%s/record" % SUBJECT, purpose="marketing")
    assert r.status_code == 403
    assert my_view(gw, SUBJECT) == before


def test_restricted_and_embargoed_disclosures_are_withheld(gw):
    before = my_view(gw, SUBJECT)
    fraud = gw.get("/fraud/%s/record" % SUBJECT, who="data-trust",
                   purpose="fraud-investigation")
    wellbeing = gw.get("/trust/%s/record" % SUBJECT, who="data-trust",
                       purpose="wellbeing-support")
    past = gw.get("/past/%s/record" % SUBJECT)
    assert (fraud.status_code, wellbeing.status_code, past.status_code) == (200, 200, 200)
    assert gw.audit_for(fraud)["visible_from"] == "never"
    assert gw.audit_for(wellbeing)["visible_from"] > gw.audit_for(wellbeing)["time"]
    assert gw.audit_for(past)["visible_from"] == gw.audit_for(past)["time"]
    after = my_view(gw, SUBJECT)
    # Only the disclosure whose embargo date has passed is new to the person.
    assert len(after) == len(before) + 1
    assert after[-1]["agreement"] == "hb-past-embargo"
    assert all(d["organisation"] != "data-trust" for d in after)


def test_the_security_team_still_sees_everything(gw):
    tool = os.environ.get("PDS_AUDIT_TOOL")
    if not tool:
        pytest.fail("PDS_AUDIT_TOOL is not set (run through `make check-e2e`)")
    gw.get("/fraud/%s/record" % SUBJECT, who="data-trust", purpose="fraud-investigation")
    out = subprocess.run([tool, "report", "--subject", SUBJECT, "--format", "json",
                          gw.httpd.audit_path], capture_output=True, text=True, check=True)
    agreements = {d["agreement"] for d in json.loads(out.stdout)["disclosures"]}
    assert {"trust-fraud-check", "trust-wellbeing", "hb-direct-care"} <= agreements


def test_no_person_no_view(gw):
    s = H.requests.Session()
    s.trust_env = False
    r = s.get(gw.url("/my/disclosures"), verify=gw.pki.ca_cert, timeout=10)
    assert r.status_code == 401             # httpd's own authentication said no
    r = s.get(gw.url("/anonymous/disclosures"), verify=gw.pki.ca_cert, timeout=10)
    H.assert_problem(r, "person-not-identified", 401)
    r = s.post(gw.url("/my/disclosures"), auth=(SUBJECT, "pw-" + SUBJECT),
               verify=gw.pki.ca_cert, timeout=10)
    H.assert_problem(r, "method-not-allowed", 405)
