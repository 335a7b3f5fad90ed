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
from pds_configs import (AUTH_MODULES, CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS,
                         OTHER_SUBJECT, SUBJECT, agreement, location, person_location)

AGREEMENTS = HB_DIRECT_CARE + (
    agreement("trust-fraud-check", "data-trust", "fraud-investigation",
              "GET /fraud/{subject}/record", "Release name.given", "Disclosure restricted",
              basis="legal-obligation") +
    agreement("trust-wellbeing", "data-trust", "wellbeing-support", "GET /trust/{subject}/record",
              "Release care.needs", "Disclosure embargoed-for 30d",
              basis="legitimate-interests") +
    agreement("hb-past-embargo", "health-board", "direct-care", "GET /past/{subject}/record",
              "Release dob", "Disclosure embargoed-until 2020-01-01"))

PERSON_VIEW = "\n" + person_location("/my/disclosures", "pds-disclosures") + """<Location /anonymous/disclosures>
    SetHandler pds-disclosures
</Location>
"""


@pytest.fixture(scope="module")
def gw(gateway_factory):
    # httpd's children (nobody, when the tests run as root) read the password
    # file on every request: it lives outside pytest's private directories.
    auth_dir = tempfile.mkdtemp(prefix="pds-e2e-auth-")
    os.chmod(auth_dir, 0o755)
    htpasswd = os.path.join(auth_dir, "htpasswd")
    H.write_htpasswd(htpasswd, [(user, "pw-" + user) for user in (SUBJECT, OTHER_SUBJECT)])
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
    # without a consent store this process read the whole log: never behind
    assert doc["complete"] is True and doc["behind"] == [], doc
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
    gw.get("/fraud/%s/record" % SUBJECT, who="data-trust", purpose="fraud-investigation")
    out = subprocess.run([H.audit_tool(), "report", "--subject", SUBJECT, "--format", "json",
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


def test_the_view_spans_every_rotated_file_compressed_or_not_whatever_the_directory(
        gateway_factory):
    """Rotated twice as the shipped logrotate rule does (rename, graceful
    restart; the older file gzip-compressed at the second rotation): a new
    child's view lists the person's disclosures from all three files, in
    order, also once the log's directory is one only root may enter (the
    parent opens the rotated files for the children)."""
    auth_dir = tempfile.mkdtemp(prefix="pds-e2e-auth-")
    os.chmod(auth_dir, 0o755)
    htpasswd = os.path.join(auth_dir, "htpasswd")
    H.write_htpasswd(htpasswd, [(SUBJECT, "pw-" + SUBJECT), (OTHER_SUBJECT, "pw-" + OTHER_SUBJECT)])
    try:
        body = (ORGANISATIONS + AGREEMENTS + CITIZENS_LOCATION
                + PERSON_VIEW.replace("%(htpasswd)s", htpasswd))
        g = gateway_factory(body, extra_modules=AUTH_MODULES)
        log = g.httpd.audit_path
        times = []

        def disclose():
            r = g.get("/citizens/%s/record" % SUBJECT)
            assert r.status_code == 200
            times.append(g.audit_for(r)["time"])

        disclose()
        os.rename(log, log + ".1")
        H.graceful_restart(g.httpd)
        disclose()
        disclose()
        os.rename(log + ".1", log + ".2")
        subprocess.run(["gzip", log + ".2"], check=True)
        os.rename(log, log + ".1")
        H.graceful_restart(g.httpd)
        disclose()
        assert os.path.exists(log + ".2.gz") and os.path.exists(log + ".1")
        H.graceful_restart(g.httpd)         # new children build their index anew
        assert [d["time"] for d in my_view(g, SUBJECT)] == times
        assert my_view(g, OTHER_SUBJECT) == []
        if os.geteuid() == 0:
            directory = os.path.dirname(log)
            mode = os.stat(directory).st_mode & 0o777
            os.chmod(directory, 0o700)
            try:
                H.graceful_restart(g.httpd)
                assert [d["time"] for d in my_view(g, SUBJECT)] == times
                disclose()
                assert [d["time"] for d in my_view(g, SUBJECT)] == times
            finally:
                os.chmod(directory, mode)
    finally:
        shutil.rmtree(auth_dir, ignore_errors=True)
