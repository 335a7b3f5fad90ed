"""pds-audit, the security team's tool, on logs a real gateway wrote: keygen,
verify (intact, each kind of tampering, public key only, rotated series,
expected last seq), query in each format, the totals report and a person's
access report. SPEC: Issue 4 (pds-audit)."""
import csv
import hashlib
import hmac
import io
import json
import os
import stat
import subprocess

import pytest

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS, SUBJECT

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION
PATH = "/citizens/%s/record" % SUBJECT
ALLOWED, REFUSED = 7, 4


def tool():
    path = os.environ.get("PDS_AUDIT_TOOL")
    if not path:
        pytest.fail("PDS_AUDIT_TOOL is not set (run through `make check-e2e`)")
    return path


def run(*args):
    p = subprocess.run([tool(), *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def gw(gateway_factory):
    gw = gateway_factory(CONFIG)
    gw.responses = [gw.get(PATH) for _ in range(ALLOWED)]
    gw.responses += [gw.get(PATH, purpose="marketing") for _ in range(REFUSED)]
    assert [r.status_code for r in gw.responses] == [200] * ALLOWED + [403] * REFUSED
    return gw


def key_args(gw):
    return ["--key", gw.httpd.audit_key_path, "--public-key", gw.httpd.audit_public_key_path]


def tampered(gw, tmp_path, change):
    with open(gw.httpd.audit_path) as f:
        lines = f.read().split("\n")[:-1]
    data = change(lines)
    out = tmp_path / "tampered.jsonl"
    out.write_text(data if isinstance(data, str) else "\n".join(data) + "\n")
    return str(out)


# ------------------------------------------------------------------- keygen

def test_keygen_writes_owner_only_keys_and_never_overwrites(tmp_path):
    key = str(tmp_path / "audit.key")
    rc, out, err = run("keygen", "--hmac", key)
    assert rc == 0, err
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert len(open(key).read().strip()) == 64
    assert open(key).read().strip() not in out + err
    rc, out, err = run("keygen", "--hmac", key)
    assert rc == 2 and "overwrite" in err
    signing, public = str(tmp_path / "s.pem"), str(tmp_path / "s.pub.pem")
    rc, out, err = run("keygen", "--signing", signing, "--public", public)
    assert rc == 0, err
    assert stat.S_IMODE(os.stat(signing).st_mode) == 0o600
    assert "BEGIN PUBLIC KEY" in open(public).read()


def test_generated_keys_work_in_a_gateway(gateway_factory, tmp_path):
    key, signing = str(tmp_path / "k"), str(tmp_path / "s.pem")
    assert run("keygen", "--hmac", key)[0] == 0
    assert run("keygen", "--signing", signing, "--public", str(tmp_path / "p.pem"))[0] == 0
    g = gateway_factory(CONFIG, audit_directives=(
        'PDSAuditKey "%s"\nPDSAuditSigningKey "%s"\nPDSAuditCheckpoint 2\n' % (key, signing)))
    for _ in range(3):
        assert g.get(PATH).status_code == 200
    rc, out, _ = run("verify", "--key", key, "--public-key", str(tmp_path / "p.pem"),
                     g.httpd.audit_path)
    assert rc == 0 and out.startswith("intact"), out


# ------------------------------------------------------------------- verify

def test_verify_an_intact_log(gw):
    rc, out, err = run("verify", *key_args(gw), gw.httpd.audit_path)
    assert rc == 0, out + err
    assert out.startswith("intact: 1 file(s)") and "MACs checked" in out


def test_verify_with_the_public_key_alone(gw):
    rc, out, _ = run("verify", "--public-key", gw.httpd.audit_public_key_path,
                     gw.httpd.audit_path)
    assert rc == 0 and "MACs not checked" in out and "covered by a verified signature" in out


@pytest.mark.parametrize("name,change,line,code", [
    ("edited value", lambda ls: ls[:3] + [ls[3].replace("direct-care", "direct-carx", 1)]
     + ls[4:], 4, "bad-mac"),
    ("deleted line", lambda ls: ls[:2] + ls[3:], 3, "seq-gap"),
    ("swapped lines", lambda ls: ls[:1] + [ls[2], ls[1]] + ls[3:], 2, "seq-gap"),
    ("inserted copy", lambda ls: ls[:3] + [ls[1]] + ls[3:], 4, "seq-gap"),
])
def test_verify_finds_tampering(gw, tmp_path, name, change, line, code):
    path = tampered(gw, tmp_path, change)
    rc, out, _ = run("verify", *key_args(gw), path)
    assert rc == 1, out
    assert out.startswith("%s:%d: seq " % (path, line)) and (": %s:" % code) in out, out
    assert "NOT INTACT" in out


def test_verify_finds_a_truncated_last_line(gw, tmp_path):
    path = tampered(gw, tmp_path, lambda ls: "\n".join(ls)[:-20])
    rc, out, _ = run("verify", *key_args(gw), path)
    assert rc == 1 and "truncated last line" in out, out


def test_expect_last_seq_finds_lines_cut_from_the_end(gw, tmp_path):
    with open(gw.httpd.audit_path) as f:
        last = json.loads(f.read().split("\n")[-2])["seq"]
    path = tampered(gw, tmp_path, lambda ls: ls[:-2])
    rc, out, _ = run("verify", *key_args(gw), path)
    assert rc == 0, "without an outside anchor, a log cut at a line boundary looks whole"
    rc, out, _ = run("verify", *key_args(gw), "--expect-last-seq", str(last), path)
    assert rc == 1 and "expected %d" % last in out, out
    rc, out, _ = run("verify", *key_args(gw), "--expect-last-seq", str(last),
                     gw.httpd.audit_path)
    assert rc == 0, out


def test_verify_with_the_wrong_key(gw, tmp_path):
    other = str(tmp_path / "other.key")
    assert run("keygen", "--hmac", other)[0] == 0
    rc, out, _ = run("verify", "--key", other, gw.httpd.audit_path)
    assert rc == 1 and ":1: seq 1: bad-mac:" in out, out


# -------------------------------------------------------------------- query

def test_query_filters_and_formats(gw):
    rc, out, _ = run("query", "--decision", "deny", "--format", "csv", gw.httpd.audit_path)
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == REFUSED
    assert {r["reason"] for r in rows} == {"purpose-mismatch"}
    assert {r["request_id"] for r in rows} == {
        r.headers["PDS-Request-Id"] for r in gw.responses if r.status_code == 403}

    rc, out, _ = run("query", "--subject", SUBJECT, "--format", "jsonl", gw.httpd.audit_path)
    recs = [json.loads(l) for l in out.splitlines()]
    # Refused attempts on the subject's record name the subject too.
    assert len(recs) == ALLOWED + REFUSED
    assert [r["decision"] for r in recs].count("allow") == ALLOWED
    assert all("mac" in r for r in recs), "jsonl keeps the evidence whole"

    rc, out, _ = run("query", "--organisation", "health-board", gw.httpd.audit_path)
    assert rc == 0 and out.splitlines()[0].startswith("TIME")
    assert len(out.splitlines()) == 1 + ALLOWED + REFUSED

    rc, out, _ = run("query", "--since", "2999-01-01", "--format", "jsonl",
                     gw.httpd.audit_path)
    assert rc == 0 and out == ""


# ------------------------------------------------------------------- report

def test_totals_report(gw):
    rc, out, _ = run("report", "--format", "json", gw.httpd.audit_path)
    assert rc == 0
    doc = json.loads(out)
    hb = [a for a in doc["agreements"] if a["agreement"] == "hb-direct-care"]
    assert hb == [{"agreement": "hb-direct-care", "organisation": "health-board",
                   "allowed": ALLOWED, "refused": REFUSED,
                   "refused_by_reason": {"purpose-mismatch": REFUSED}}]
    assert set(doc["fields_released"].values()) == {ALLOWED}
    rc, out, _ = run("report", gw.httpd.audit_path)
    assert rc == 0 and "hb-direct-care" in out and "purpose-mismatch=%d" % REFUSED in out


def test_person_access_report(gw):
    rc, out, _ = run("report", "--subject", SUBJECT, "--format", "json", gw.httpd.audit_path)
    assert rc == 0
    doc = json.loads(out)
    assert doc["subject"] == SUBJECT
    assert len(doc["disclosures"]) == ALLOWED
    ids = {r.headers["PDS-Request-Id"] for r in gw.responses if r.status_code == 200}
    assert {d["request_id"] for d in doc["disclosures"]} == ids
    assert all(d["organisation"] == "health-board" and d["purpose"] == "direct-care"
               for d in doc["disclosures"])
    rc, out, _ = run("report", "--subject", SUBJECT, gw.httpd.audit_path)
    assert rc == 0 and "Disclosures about %s: %d" % (SUBJECT, ALLOWED) in out
    rc, out, _ = run("report", "--subject", SUBJECT, "--format", "html", gw.httpd.audit_path)
    assert rc == 0 and out.startswith("<!DOCTYPE html>") and out.count('class="event"') == ALLOWED
    assert "http://" not in out and "https://" not in out, "the page must be self-contained"


def test_html_escapes_what_came_from_the_log(tmp_path):
    """A log value is data, never markup: a synthetic chained log (sealed here
    with the format of lib/pds_chain.h) whose organisation is a script."""
    key = os.urandom(32)
    prev, lines = "0" * 64, []
    for seq in (1, 2):
        body = ('{"seq":%d,"prev":"%s","time":"2026-11-22T10:00:0%dZ","request_id":"r%d",'
                '"organisation":"<script>alert(1)</script>","agreement":"a&b",'
                '"purpose":"p","legal_basis":"public-task","subject":"s1","decision":"allow",'
                '"reason":null,"status":200,"fields":["x\\"><img src=y>"]' % (seq, prev, seq, seq))
        mac = hmac.new(key, (body + "}").encode(), hashlib.sha256).hexdigest()
        line = body + ',"mac":"%s"}' % mac
        lines.append(line)
        prev = hashlib.sha256(line.encode()).hexdigest()
    log = tmp_path / "synthetic.jsonl"
    log.write_text("\n".join(lines) + "\n")
    keyfile = tmp_path / "k"
    keyfile.write_text(key.hex() + "\n")
    assert run("verify", "--key", str(keyfile), str(log))[0] == 0
    for args in (["report", "--subject", "s1"], ["report"]):
        rc, out, _ = run(*args, "--format", "html", str(log))
        assert rc == 0
        assert "<script>" not in out and "<img" not in out
        assert "&lt;script&gt;" in out


# -------------------------------------------------------------------- usage

def test_help_and_misuse():
    rc, out, _ = run("--help")
    assert rc == 0 and "usage: pds-audit" in out
    assert run("verify", "--help")[0] == 0
    assert run()[0] == 2
    assert run("frobnicate")[0] == 2
    rc, _, err = run("verify", "/nonexistent")
    assert rc == 2 and "--key" in err
    assert run("query", "--format", "xml", "/dev/null")[0] == 2
    assert run("verify", "--key")[0] == 2
