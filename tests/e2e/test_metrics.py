"""The operator's surfaces through a real httpd: the metrics (SetHandler
pds-metrics, scraped with a real Prometheus text parser, and its JSON), the
counts matching the audit log after a run of mixed requests from several
children at once, mod_pds's section of mod_status's server-status, the
health check (503 while the audit log cannot be written, 200 again after),
the decision log (PDSDecisionLog) and `apachectl -t -D DUMP_PDS`. Under the
event and the prefork MPM. SPEC: Issue 14, item 3."""
import collections
import concurrent.futures
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from prometheus_client.parser import text_string_to_metric_families

import pds_harness as H
import pds_postgres
from pds_configs import (AUTH_MODULES, CITIZENS_LOCATION, CITIZEN_RECORD, HB_DIRECT_CARE,
                         ORGANISATIONS, PATH, SUBJECT, agreement, location)
from test_consent import nobody_owned_dir

STATUS_MODULE = [("status_module", "mod_status.so")]
MISBEHAVE_MODES = ["ok", "not-json", "html", "gzip", "partial", "error500",
                   "trailing-garbage"]

AGREEMENTS = (
    HB_DIRECT_CARE
    + agreement("hb-misbehave", "health-board", "direct-care",
                ["GET /misbehave/%s/{subject}/record" % m for m in MISBEHAVE_MODES],
                "Release name.given")
    + agreement("hb-down", "health-board", "direct-care", "GET /down/{subject}/record",
                "Release name.given")
    + agreement("hb-care-planning", "health-board", "care-planning",
                "GET /consented/{subject}/record", "Release name.given dob",
                basis="consent")
    + agreement("trust-outreach", "data-trust", "outreach", CITIZEN_RECORD,
                "Release name.given", basis="legitimate-interests"))

OPERATOR = """
<Location /metrics>
    SetHandler pds-metrics
</Location>
<Location /metrics.json>
    SetHandler pds-metrics-json
</Location>
<Location /health>
    SetHandler pds-health
</Location>
"""

STATUS = """
<Location /server-status>
    SetHandler server-status
</Location>
"""


def gateway_body(store_dir, down_port, decision_log="info", status=True):
    key_path = os.path.join(store_dir, "receipt.key")
    if not os.path.exists(key_path):
        H.write_private(key_path, ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    return (ORGANISATIONS
            + 'PDSConsentStore sqlite3 "%s"\n' % os.path.join(store_dir, "consent.db")
            + 'PDSConsentReceiptKey "%s"\n' % key_path
            + "PDSConsentCache shmcb 1\n"
            + ("PDSDecisionLog %s\n" % decision_log if decision_log else "")
            + AGREEMENTS + CITIZENS_LOCATION
            + location("/misbehave/", "/api/misbehave/")
            + "<Location /down/>\n    PDSGateway on\n"
              "    ProxyPass http://127.0.0.1:%d/api/citizens/\n</Location>\n" % down_port
            + "<Location /consented/>\n    PDSGateway on\n"
              "    ProxyPass %(backend)s/api/citizens/\n</Location>\n"
            + OPERATOR + (STATUS if status else ""))


@pytest.fixture(scope="module", params=["event", "prefork"])
def world(request, gateway_factory):
    store = nobody_owned_dir("pds-e2e-metrics-store-")
    audit_dir = nobody_owned_dir("pds-e2e-metrics-audit-")
    down_port = H.free_port()          # nothing listens there: the back end is down
    gw = gateway_factory(gateway_body(store, down_port),
                         extra_modules=AUTH_MODULES + STATUS_MODULE, mpm=request.param,
                         audit_log=os.path.join(audit_dir, "audit.jsonl"),
                         log_level="warn pds:info")
    yield {"gw": gw, "audit_dir": audit_dir, "mpm": request.param}
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(audit_dir, ignore_errors=True)


ALLOW_LOG = ["PDS00032", "PDS00033", "proxy", r"AH0(0957|0959|1114|1102|1084|1097)",
             "AH01144", "AH00898"]


# The mixed run: (description, request kwargs) -> what the gateway should say.
def mixed_requests():
    bad = "/misbehave/%s/" + SUBJECT + "/record"
    return (
        [("allowed", dict(path=PATH))] * 6
        + [("allowed (misbehave ok)", dict(path=bad % "ok"))] * 2
        + [("no purpose", dict(path=PATH, purpose=None))] * 2
        + [("purpose not covered", dict(path=PATH, purpose="marketing"))] * 3
        + [("unknown caller", dict(path=PATH, who=None))] * 2
        + [("purpose not the org's", dict(path=PATH, who="data-trust",
                                          purpose="direct-care"))] * 2
        + [("no agreement for the org", dict(path="/down/%s/record" % SUBJECT,
                                             who="data-trust", purpose="outreach"))] * 2
        + [("consent missing", dict(path="/consented/%s/record" % SUBJECT,
                                    purpose="care-planning"))] * 3
        + [("back end down", dict(path="/down/%s/record" % SUBJECT))] * 3
        + [("not json", dict(path=bad % "not-json"))] * 2
        + [("html", dict(path=bad % "html"))] * 2
        + [("gzip", dict(path=bad % "gzip"))] * 2
        + [("partial", dict(path=bad % "partial"))]
        + [("error500", dict(path=bad % "error500"))] * 2
        + [("trailing garbage", dict(path=bad % "trailing-garbage"))] * 2)


def one(gw, kw):
    """One request on its own connection (so that, under prefork, many
    children answer)."""
    kw = dict(kw)
    path = kw.pop("path")
    who = kw.pop("who", "health-board")
    s = H.requests.Session()
    s.trust_env = False
    s.verify = gw.pki.ca_cert
    if who is not None:
        c = gw.pki[who]
        s.cert = (c.cert, c.key)
    headers = {}
    purpose = kw.pop("purpose", "direct-care")
    if purpose is not None:
        headers["PDS-Purpose"] = purpose
    with s:
        return s.get(gw.url(path), headers=headers, timeout=20)


def run_mixed(gw):
    """The mixed run, eight at a time; returns the responses by description."""
    reqs = mixed_requests()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        resps = list(pool.map(lambda r: one(gw, r[1]), reqs))
    out = collections.defaultdict(list)
    for (what, _), resp in zip(reqs, resps):
        out[what].append(resp)
    return out


def scrape(gw, path="/metrics", **kw):
    r = gw.session(None).get(gw.url(path), timeout=20, **kw)
    assert r.status_code == 200, H.describe(r)
    return r


def families(gw):
    """{metric family name: family} from a scrape, parsed by prometheus_client."""
    r = scrape(gw)
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def samples(fams, family, sample_name=None):
    """{frozenset(labels.items()): value} of one family's samples."""
    fam = fams[family]
    name = sample_name or fam.name + ("_total" if fam.type == "counter" else "")
    return {frozenset(s.labels.items()): s.value for s in fam.samples if s.name == name}


def audit_counts(gw):
    """The decision records, counted by (agreement, organisation, decision,
    reason) as the metrics label them."""
    c = collections.Counter()
    for rec in gw.httpd.audit_records():
        allowed = rec["decision"] == "allow"
        c[(rec.get("agreement") or "", rec.get("organisation") or "", rec["decision"],
           "" if allowed else rec.get("reason") or "")] += 1
    return c


def request_counts(fams):
    out = collections.Counter()
    for labels, value in samples(fams, "pds_requests").items():
        d = dict(labels)
        if value:
            out[(d["agreement"], d["organisation"], d["decision"], d["reason"])] = int(value)
    return out


def test_counts_match_the_audit_log(world, log_allow):
    """After a mixed run from several connections at once, every
    pds_requests_total series equals the number of audit records with those
    labels, and the other families agree with the run."""
    gw = world["gw"]
    log_allow.extend(ALLOW_LOG)
    before = families(gw)
    off = gw.httpd.error_log_size()
    got = run_mixed(gw)
    assert all(r.status_code == 200 for r in got["allowed"]), H.describe(got["allowed"][0])
    H.assert_problem(got["back end down"][0], "backend-unavailable", 503)
    H.assert_problem(got["consent missing"][0], "consent-missing", 403)
    H.assert_problem(got["not json"][0], "backend-bad-response", 502)

    fams = families(gw)
    expected = audit_counts(gw)
    assert request_counts(fams) == expected
    if world["mpm"] == "prefork":
        # the decision log's lines say which process decided: several did,
        # and their counts added up in the one block
        pids = set(re.findall(r"\[pid (\d+)[^\]]*\][^\n]*PDS00411",
                              gw.httpd.error_log_text(off)))
        assert len(pids) > 1, pids
    # the run is in there, by agreement, organisation and reason
    assert expected[("hb-direct-care", "health-board", "allow", "")] >= 6
    assert expected[("", "", "deny", "unknown-caller")] >= 2
    assert expected[("", "data-trust", "deny", "no-agreement")] >= 2
    assert expected[("hb-down", "health-board", "deny", "backend-unavailable")] >= 3
    assert expected[("hb-care-planning", "health-board", "deny", "consent-missing")] >= 3

    def delta(family, labels, sample=None):
        key = frozenset(labels.items())
        return (samples(fams, family, sample).get(key, 0)
                - samples(before, family, sample).get(key, 0))

    # back-end errors by kind, from the reasons
    assert delta("pds_backend_errors", {"kind": "unavailable"}) == 3
    assert delta("pds_backend_errors", {"kind": "error"}) == 2
    assert delta("pds_backend_errors", {"kind": "bad-response"}) == 2 + 2 + 2 + 1 + 2
    # the response filter's refusals by kind: a JSON type with a body that
    # is not JSON (not-json, trailing-garbage) is invalid-json; an HTML
    # page is not-json
    assert delta("pds_filter_rejections", {"kind": "not-json"}) == 2
    assert delta("pds_filter_rejections", {"kind": "encoded"}) == 2
    assert delta("pds_filter_rejections", {"kind": "partial"}) == 1
    assert delta("pds_filter_rejections", {"kind": "invalid-json"}) == 4
    assert delta("pds_filter_rejections", {"kind": "other"}) == 0
    # one audit write per record; a sync covers every record written
    # before it began (group commit), so at most one per record
    records = sum(expected.values())
    writes = samples(fams, "pds_audit_writes")
    assert writes[frozenset({"result": "ok"}.items())] == records
    assert writes[frozenset({"result": "error"}.items())] == 0
    syncs = samples(fams, "pds_audit_syncs")[frozenset({"result": "ok"}.items())]
    assert 1 <= syncs <= records
    assert samples(fams, "pds_audit_syncs").get(frozenset({"result": "error"}.items()), 0) == 0
    assert samples(fams, "pds_audit_write_duration_seconds",
                   "pds_audit_write_duration_seconds_count")[frozenset()] == records
    # the latency histogram counts every decision, by decision
    allowed = sum(n for k, n in expected.items() if k[2] == "allow")
    hist = samples(fams, "pds_request_duration_seconds", "pds_request_duration_seconds_count")
    assert hist[frozenset({"decision": "allow"}.items())] == allowed
    assert hist[frozenset({"decision": "deny"}.items())] == records - allowed
    buckets = samples(fams, "pds_request_duration_seconds",
                      "pds_request_duration_seconds_bucket")
    assert buckets[frozenset({"decision": "allow", "le": "+Inf"}.items())] == allowed
    # three consent decisions, each a lookup: from the store or the cache
    lookups = samples(fams, "pds_consent_lookups")
    consents = sum(lookups[frozenset({"list": "consents", "result": r}.items())]
                   for r in ("hit", "miss"))
    consents_before = sum(samples(before, "pds_consent_lookups")[
        frozenset({"list": "consents", "result": r}.items())] for r in ("hit", "miss"))
    assert consents - consents_before == 3
    assert lookups[frozenset({"list": "consents", "result": "error"}.items())] == 0


def test_json_agrees_with_the_text(world):
    """The JSON variants (Accept, ?format=json, pds-metrics-json) carry the
    same request counts as the text format."""
    gw = world["gw"]
    gw.get(PATH)
    text = request_counts(families(gw))
    for kw, path in ((dict(headers={"Accept": "application/json"}), "/metrics"),
                     (dict(params={"format": "json"}), "/metrics"),
                     ({}, "/metrics.json")):
        r = scrape(gw, path, **kw)
        assert H.media_type(r.headers["Content-Type"]) == "application/json"
        assert r.headers["Cache-Control"] == "no-store"
        doc = r.json()
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", doc["reset_time"])
        req = doc["metrics"]["pds_requests_total"]
        assert req["type"] == "counter"
        got = collections.Counter()
        for s in req["series"]:
            l = s["labels"]
            got[(l["agreement"], l["organisation"], l["decision"], l["reason"])] = s["value"]
        assert got == text
        assert doc["metrics"]["pds_request_duration_seconds"]["type"] == "histogram"
    bad = gw.session(None).get(gw.url("/metrics?x=1"), timeout=20)
    H.assert_problem(bad, "query-not-allowed", 400)
    post = gw.session(None).post(gw.url("/metrics"), timeout=20)
    H.assert_problem(post, "method-not-allowed", 405)


def test_server_status_section(world):
    """mod_status's page has a mod_pds section; ?auto has its lines, with
    the counts of the audit log."""
    gw = world["gw"]
    gw.get(PATH)
    r = gw.session(None).get(gw.url("/server-status"), timeout=20)
    assert r.status_code == 200
    assert "<h2>mod_pds</h2>" in r.text
    assert '<table id="pds-status">' in r.text
    assert "Decisions allowed" in r.text
    auto = gw.session(None).get(gw.url("/server-status?auto"), timeout=20).text
    lines = dict(l.split(": ", 1) for l in auto.splitlines() if l.startswith("PDS"))
    recs = gw.httpd.audit_records()
    assert int(lines["PDSAllowed"]) == sum(1 for x in recs if x["decision"] == "allow")
    assert int(lines["PDSDenied"]) == sum(1 for x in recs if x["decision"] == "deny")
    assert set(lines) == {"PDSAllowed", "PDSDenied", "PDSAuditErrors",
                          "PDSConsentStoreErrors", "PDSBackendErrors", "PDSFilterRejections"}


def health(gw):
    r = gw.session(None).get(gw.url("/health"), timeout=20)
    assert r.headers["Cache-Control"] == "no-store"
    return r


def test_health_flips_when_the_audit_log_cannot_be_written(world, log_allow):
    """200 while the audit log can take a record; 503 naming the audit log
    (and nothing secret) once its directory is replaced by a file, which
    refuses root as well as nobody; 200 again once it is back."""
    gw = world["gw"]
    r = health(gw)
    assert r.status_code == 200, H.describe(r)
    assert r.json() == {"status": "ok", "problems": [],
                        "checks": {"audit_log": "ok", "keys": "ok", "consent_store": "ok"}}
    d = world["audit_dir"]
    os.rename(d, d + ".moved")
    try:
        with open(d, "w") as f:
            f.write("not a directory\n")
        r = health(gw)
        assert r.status_code == 503, H.describe(r)
        doc = r.json()
        assert doc["status"] == "fail"
        assert doc["checks"]["audit_log"] == "fail"
        assert doc["checks"]["keys"] == "ok"
        assert [p["check"] for p in doc["problems"]] == ["audit_log"]
        assert os.path.join(d, "audit.jsonl") in doc["problems"][0]["problem"]
        assert "no longer at" in doc["problems"][0]["problem"]
        key = open(gw.httpd.audit_key_path).read().strip()
        assert key not in r.text
    finally:
        os.unlink(d)
        os.rename(d + ".moved", d)
    r = health(gw)
    assert r.status_code == 200, H.describe(r)


def test_health_flips_when_the_audit_log_is_immutable(world, log_allow):
    """An immutable audit log (chattr +i: refused to root too): the health
    check says so (503), a request is refused audit-unavailable and counted
    as a failed audit write, not as a decision; 200 once the flag is off.
    Skipped where the file system or the capabilities do not allow chattr."""
    gw = world["gw"]
    path = os.path.join(world["audit_dir"], "audit.jsonl")
    if shutil.which("chattr") is None:
        pytest.skip("no chattr (e2fsprogs)")
    log_allow.extend(["PDS00045", "PDS00030", "PDS00021", "PDS00047"])
    before = families(gw)
    if subprocess.run(["chattr", "+i", path], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not allowed here (file system or CAP_LINUX_IMMUTABLE)")
    try:
        r = health(gw)
        assert r.status_code == 503, H.describe(r)
        assert r.json()["problems"] == [
            {"check": "audit_log", "problem": "the audit log %s is immutable (chattr +i)" % path}]
        H.assert_problem(gw.get(PATH), "audit-unavailable", 503)
    finally:
        subprocess.run(["chattr", "-i", path], check=True)
    assert health(gw).status_code == 200
    after = families(gw)
    error = frozenset({"result": "error"}.items())
    assert (samples(after, "pds_audit_writes")[error]
            - samples(before, "pds_audit_writes")[error]) >= 1
    # the refused request left no record, and no count either
    assert request_counts(after) == request_counts(before) == audit_counts(gw)


def test_decision_log_lines(world):
    """PDSDecisionLog info under LogLevel pds:info: one line per decision
    with the request id, organisation, agreement, decision and reason; no
    subject."""
    gw = world["gw"]
    off = gw.httpd.error_log_size()
    allowed = gw.get(PATH)
    denied = gw.get(PATH, purpose="marketing")
    nobody = one(gw, dict(path=PATH, who=None))
    text = gw.httpd.error_log_text(off)
    lines = [l for l in text.splitlines() if "PDS00411" in l]
    assert len(lines) == 3, text
    for resp, want in ((allowed, "organisation=health-board agreement=hb-direct-care "
                                 "decision=allow reason=-"),
                       (denied, "organisation=health-board agreement=hb-direct-care "
                                "decision=deny reason=purpose-mismatch"),
                       (nobody, "organisation=- agreement=- decision=deny "
                                "reason=unknown-caller")):
        rid = resp.headers["PDS-Request-Id"]
        mine = [l for l in lines if "request=%s " % rid in l]
        assert len(mine) == 1, (rid, lines)
        assert want in mine[0]
        assert ":info]" in mine[0]
    assert SUBJECT not in "\n".join(lines)


def test_counters_survive_a_graceful_restart(world):
    """The same organisations and agreements after a graceful restart: the
    counts go on from where they were, still equal to the audit log."""
    gw = world["gw"]
    gw.get(PATH)
    before = request_counts(families(gw))
    reset = samples(families(gw), "pds_metrics_reset_time_seconds",
                    "pds_metrics_reset_time_seconds")
    H.graceful_restart(gw.httpd)
    gw.close_sessions()
    gw.get(PATH)
    after = request_counts(families(gw))
    key = ("hb-direct-care", "health-board", "allow", "")
    assert after[key] == before[key] + 1
    assert after == audit_counts(gw)
    assert samples(families(gw), "pds_metrics_reset_time_seconds",
                   "pds_metrics_reset_time_seconds") == reset


# --------------------------------------------------- a second, quieter gateway

def test_decision_log_below_the_level_is_silent(gateway_factory, tmp_path):
    """PDSDecisionLog debug under LogLevel info writes nothing; the metrics
    and the health check work without mod_status loaded."""
    store = nobody_owned_dir("pds-e2e-metrics-quiet-")
    try:
        gw = gateway_factory(gateway_body(store, H.free_port(), decision_log="debug",
                                          status=False),
                             log_level="info")
        off = gw.httpd.error_log_size()
        assert gw.get(PATH).status_code == 200
        assert gw.get(PATH, purpose="marketing").status_code == 403
        assert "PDS00411" not in gw.httpd.error_log_text(off)
        assert request_counts(families(gw)) == audit_counts(gw)
        r = health(gw)
        assert r.status_code == 200, H.describe(r)
        r = gw.session(None).get(gw.url("/server-status"), timeout=20)
        assert r.status_code == 404
    finally:
        shutil.rmtree(store, ignore_errors=True)


def test_decision_log_directive_errors(httpd_factory):
    """A level httpd does not know fails `apachectl -t` with the line."""
    h = httpd_factory(ORGANISATIONS + "PDSDecisionLog loud\n")
    rc, out = h.config_test()
    assert rc != 0
    assert "PDSDecisionLog: 'loud' is neither off nor a log level" in out
    assert "line %d" % h.line_of("PDSDecisionLog loud") in out


# ------------------------------------------------------------------ DUMP_PDS

def test_dump_pds_lists_the_configuration(httpd_factory):
    """`httpd -t -D DUMP_PDS` prints the organisations, each agreement with
    what it releases and lets write, and the sections that enforce, then
    exits as -t does."""
    store = nobody_owned_dir("pds-e2e-metrics-dump-")
    try:
        h = httpd_factory(gateway_body(store, 9, status=False)
                          + agreement("hb-notes", "health-board", "direct-care",
                                      "POST /citizens/{subject}/notes",
                                      "Release id", "Write note.text note.author",
                                      "Transform id truncate 3"))
        proc = subprocess.run([h.httpd_bin, "-t", "-D", "DUMP_PDS", "-f", h.conf_path],
                              capture_output=True, text=True, timeout=30, env=H.httpd_env())
    finally:
        shutil.rmtree(store, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Syntax OK" in proc.stderr + proc.stdout
    assert out.startswith("mod_pds configuration:\n"), out
    assert "\n  Node name: %s (the host name; set PDSNodeName)\n" % socket.gethostname() in out
    # organisations with how each is recognised
    for org in ("health-board", "data-trust", "pinned-clinic", "research-es"):
        assert "\n    %s\n" % org in out, out
    assert "cert-san     DNS:gateway.data-trust.example" in out
    # agreements, with what each releases and writes
    block = out.split("    hb-direct-care (version 3)\n", 1)[1].split("\n    hb-", 1)[0]
    assert "party        health-board" in block
    assert "purpose      direct-care" in block
    assert "legal basis  public-task" in block
    assert "valid        2020-01-01 to 2099-12-31" in block
    assert "resource     GET /citizens/{subject}/record" in block
    assert "releases     name.given name.family dob care.allergies care.needs" in block
    assert "writes       (nothing)" in block
    notes = out.split("    hb-notes (version 1)\n", 1)[1]
    assert "writes       note.text note.author" in notes
    assert "transforms   id truncate 3" in notes
    assert "legal basis  consent" in out.split("hb-care-planning", 1)[1]
    # the sections, where they were written, and what they reach
    line = h.line_of("<Location /citizens/>")
    assert "    <Location /citizens/> (line %d of %s)\n        PDSGateway on\n" % (
        line, h.conf_path) in out
    citizens = out.split("<Location /citizens/>", 1)[1].split("    <", 1)[0]
    assert re.search(r"agreements +hb-direct-care trust-outreach hb-notes\n", citizens), citizens
    assert "        SetHandler pds-metrics\n" in out
    assert "        SetHandler pds-health\n" in out
    # no key material
    assert "BEGIN" not in out


def test_another_layout_starts_from_zero(gateway_factory):
    """A graceful restart whose configuration adds an organisation gets a
    new block: every count is zero again, and the reset time is later."""
    store = nobody_owned_dir("pds-e2e-metrics-layout-")
    try:
        gw = gateway_factory(gateway_body(store, H.free_port(), decision_log=None,
                                          status=False))
        assert gw.get(PATH).status_code == 200
        fams = families(gw)
        assert sum(request_counts(fams).values()) == 1
        reset = samples(fams, "pds_metrics_reset_time_seconds",
                        "pds_metrics_reset_time_seconds")[frozenset()]
        gw.httpd.body += "\nPDSOrganisation newcomer cert-san DNS:newcomer.example\n"
        gw.httpd.write_conf()
        H.graceful_restart(gw.httpd)
        gw.close_sessions()
        fams = families(gw)
        assert sum(request_counts(fams).values()) == 0
        assert samples(fams, "pds_metrics_reset_time_seconds",
                       "pds_metrics_reset_time_seconds")[frozenset()] >= reset
        assert samples(fams, "pds_audit_writes")[frozenset({"result": "ok"}.items())] == 0
        assert gw.get(PATH).status_code == 200
        assert sum(request_counts(families(gw)).values()) == 1
    finally:
        shutil.rmtree(store, ignore_errors=True)


def test_health_and_counts_when_the_consent_store_is_down(gateway_factory, log_allow):
    """PostgreSQL stopped: the health check says the consent store does not
    answer (503), a consent request counts a store error; back: 200."""
    ok, why = pds_postgres.postgres_available()
    if not ok:
        pytest.fail("PostgreSQL is needed for this test: " + why)
    log_allow.extend(["PDS00088", "PDS00093", "PDS00094", "PDS00095", r"PDS005(3[3-6]|40)"])
    store = nobody_owned_dir("pds-e2e-metrics-pg-")
    pg = pds_postgres.Postgres().start()
    try:
        body = gateway_body(store, H.free_port(), decision_log=None, status=False).replace(
            'PDSConsentStore sqlite3 "%s"' % os.path.join(store, "consent.db"),
            'PDSConsentStore pgsql "%s"' % pg.conninfo)
        gw = gateway_factory(body.replace("PDSConsentCache shmcb 1", "PDSConsentCache shmcb 0"))
        assert health(gw).status_code == 200
        pg.kill()
        try:
            r = health(gw)
            assert r.status_code == 503, H.describe(r)
            doc = r.json()
            assert doc["checks"] == {"audit_log": "ok", "keys": "ok", "consent_store": "fail"}
            assert doc["problems"][0]["check"] == "consent_store"
            H.assert_problem(gw.get("/consented/%s/record" % SUBJECT, purpose="care-planning"),
                             "consent-store-unavailable", 503)
            fams = families(gw)
            assert samples(fams, "pds_consent_lookups")[
                frozenset({"list": "consents", "result": "error"}.items())] == 1
            assert request_counts(fams) == audit_counts(gw)
        finally:
            pg.restart()
        deadline = time.monotonic() + 10
        while health(gw).status_code != 200:
            assert time.monotonic() < deadline, "the health check did not recover"
            time.sleep(0.2)
        H.stop_gateways([gw])       # with its store (it would go on indexing into it)
    finally:
        pg.stop()
        shutil.rmtree(store, ignore_errors=True)
