"""pds-audit, the security team's tool (SPEC: Issue 4), on logs a real gateway
wrote with keys the tool itself generated: keygen; verify (intact, each kind
of tampering named at the right line, the public key alone and what it
covers, a rotated series ordered by first seq, an outside anchor for the last
seq); query with every filter in each format; the totals report and a
person's access report against the requests that were made. A few cases a
gateway cannot produce (hostile values for HTML and terminals, over-long
lines) use a chained log sealed here with the format of lib/pds_chain.h."""
import csv
import datetime as dt
import gzip
import hashlib
import hmac
import io
import json
import lzma
import os
import re
import shutil
import socket
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import pds_harness as H
from pds_configs import (CITIZENS_LOCATION, CITIZEN_RECORD, HB_DIRECT_CARE, ORGANISATIONS,
                         OTHER_SUBJECT, SUBJECT, agreement)

TRUST_WELLBEING = agreement("trust-wellbeing", "data-trust", "wellbeing", CITIZEN_RECORD,
                            "Release name.given")
CONFIG = ORGANISATIONS + HB_DIRECT_CARE + TRUST_WELLBEING + CITIZENS_LOCATION
CHECKPOINT_EVERY = 4


def record_path(subject):
    return "/citizens/%s/record" % subject


# ----------------------------------------------------------------- helpers

def run(*args, stdin=None):
    # bytes decoded here: text=True would turn CSV's CRLF into LF
    p = subprocess.run([H.audit_tool(), *args], capture_output=True, timeout=120,
                       input=None if stdin is None else stdin.encode())
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_ok(*args):
    rc, out, err = run(*args)
    assert rc == 0, "pds-audit %s: exit %d\n%s%s" % (" ".join(args), rc, out, err)
    return out


def make_keys(directory):
    """The gateway's keys, as an administrator makes them: with pds-audit keygen."""
    keys = {"hmac": os.path.join(directory, "audit.key"),
            "signing": os.path.join(directory, "audit-signing.pem"),
            "public": os.path.join(directory, "audit-signing.pub.pem")}
    run_ok("keygen", "--hmac", keys["hmac"])
    run_ok("keygen", "--signing", keys["signing"], "--public", keys["public"])
    return keys


def audit_directives(keys, extra=""):
    return ('PDSAuditKey "%s"\nPDSAuditSigningKey "%s"\nPDSAuditCheckpoint %d\n%s'
            % (keys["hmac"], keys["signing"], CHECKPOINT_EVERY, extra))


def read_lines(path):
    with open(path) as f:
        text = f.read()
    assert text.endswith("\n")
    return text.split("\n")[:-1]


def write_lines(path, lines, final_newline=True):
    with open(path, "w") as f:
        f.write("\n".join(lines) + ("\n" if final_newline else ""))
    return str(path)


def kinds(lines):
    return [json.loads(l).get("type", "decision") for l in lines]


def seq_of(line):
    return json.loads(line)["seq"]


def first_report_line(out):
    return out.splitlines()[0] if out else ""


def seal(records, key, first_seq=1, prev="0" * 64):
    """A chained log (lib/pds_chain.h): seq, prev, the record's members, mac."""
    lines = []
    for n, rec in enumerate(records):
        members = json.dumps(rec, separators=(",", ":"))[1:-1]
        body = '{"seq":%d,"prev":"%s",%s' % (first_seq + n, prev, members)
        mac = hmac.new(key, (body + "}").encode(), hashlib.sha256).hexdigest()
        line = body + ',"mac":"%s"}' % mac
        lines.append(line)
        prev = hashlib.sha256(line.encode()).hexdigest()
    return lines


def decision(**members):
    rec = {"time": "2026-11-22T10:00:00.000000Z", "request_id": "r", "client_ip": "127.0.0.1",
           "organisation": "org", "agreement": "agr", "agreement_version": "1",
           "purpose": "care", "legal_basis": "public-task", "subject": "s1",
           "method": "GET", "path": "/citizens/s1/record", "decision": "allow",
           "reason": None, "status": 200, "fields": ["name.given"], "visible_from": None}
    rec.update(members)
    return rec


@pytest.fixture
def synthetic(tmp_path):
    """write(records) -> (log path, key path) of a sealed synthetic log."""
    key = os.urandom(32)
    keyfile = tmp_path / "synthetic.key"
    H.write_private(str(keyfile), (key.hex() + "\n").encode())

    def write(records, name="synthetic.jsonl"):
        path = write_lines(tmp_path / name, seal(records, key))
        return path, str(keyfile)
    return write


# ----------------------------------------------------------------- the world

class World:
    """A gateway whose log the tests read, and what was asked of it."""

    def __init__(self, gw, keys):
        self.gw, self.keys = gw, keys
        self.log = gw.httpd.audit_path
        self.requests = []      # (who, subject, response, its audit record)

    def ask(self, who, subject, purpose, expect):
        r = self.gw.get(record_path(subject), who=who, purpose=purpose)
        assert r.status_code == expect, H.describe(r)
        self.requests.append((who, subject, r, self.gw.audit_for(r)))
        return r

    def ids(self, pred=lambda who, subject, r: True):
        return {r.headers["PDS-Request-Id"] for who, subject, r, _ in self.requests
                if pred(who, subject, r)}


@pytest.fixture(scope="module")
def world(gateway_factory, tmp_path_factory):
    keys = make_keys(str(tmp_path_factory.mktemp("keys")))
    gw = gateway_factory(CONFIG, audit_directives=audit_directives(keys))
    w = World(gw, keys)
    for _ in range(3):
        w.ask("health-board", SUBJECT, "direct-care", 200)
    for _ in range(2):
        w.ask("health-board", OTHER_SUBJECT, "direct-care", 200)
        w.ask("data-trust", SUBJECT, "wellbeing", 200)
        w.ask("health-board", SUBJECT, "marketing", 403)          # purpose-mismatch
    w.ask("pinned", SUBJECT, "direct-care", 403)                  # no-agreement
    w.ask(None, SUBJECT, "direct-care", 401)                      # unknown-caller
    w.ask("health-board", OTHER_SUBJECT, None, 400)               # purpose-missing
    w.ask("data-trust", OTHER_SUBJECT, "wellbeing", 200)
    while kinds(read_lines(w.log))[-1] != "decision":
        w.ask("health-board", OTHER_SUBJECT, "direct-care", 200)  # a tail after a checkpoint
    lines = read_lines(w.log)
    assert "checkpoint" in kinds(lines), "the gateway wrote no checkpoint"
    return w


def verify(w, *args, key=True, public=True):
    k = (["--key", w.keys["hmac"]] if key else []) + \
        (["--public-key", w.keys["public"]] if public else [])
    return run("verify", *k, *args)


# =================================================================== keygen

def test_keygen_hmac_writes_an_owner_only_key_and_never_overwrites(tmp_path):
    key = str(tmp_path / "audit.key")
    rc, out, err = run("keygen", "--hmac", key)
    assert rc == 0, err
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    content = open(key).read()
    assert re.fullmatch(r"[0-9a-f]{64}\n", content)
    assert content.strip() not in out + err, "key material printed"
    rc, out, err = run("keygen", "--hmac", key)
    assert rc == 2 and "refusing to overwrite" in err
    assert open(key).read() == content


def test_keygen_signing_writes_an_ed25519_pair(tmp_path):
    priv, pub = str(tmp_path / "s.pem"), str(tmp_path / "s.pub.pem")
    rc, out, err = run("keygen", "--signing", priv, "--public", pub)
    assert rc == 0, err
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    private = serialization.load_pem_private_key(open(priv, "rb").read(), None)
    public = serialization.load_pem_public_key(open(pub, "rb").read())
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    assert public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == \
        private.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)
    assert "PRIVATE" not in out + err


def test_keygen_signing_leaves_nothing_when_the_public_file_exists(tmp_path):
    priv, pub = tmp_path / "s.pem", tmp_path / "s.pub.pem"
    pub.write_text("someone's public key\n")
    rc, _, err = run("keygen", "--signing", str(priv), "--public", str(pub))
    assert rc == 2 and "refusing to overwrite" in err
    assert not priv.exists() and pub.read_text() == "someone's public key\n"


# =================================================================== verify

def test_verify_an_intact_log(world):
    lines = read_lines(world.log)
    rc, out, err = verify(world, world.log)
    assert rc == 0, out + err
    assert first_report_line(out) == "intact: 1 file(s), %d line(s), seq 1..%d" % (
        len(lines), len(lines))
    assert "MACs: checked on every line" in out
    assert "checkpoints: %d signature(s) verified" % kinds(lines).count("checkpoint") in out


def test_verify_with_the_public_key_alone_reports_what_it_covers(world):
    lines = read_lines(world.log)
    last_cp = max(seq_of(l) for l, k in zip(lines, kinds(lines)) if k == "checkpoint")
    last = seq_of(lines[-1])
    assert last > last_cp
    rc, out, _ = verify(world, world.log, key=False)
    assert rc == 0, out
    assert "MACs: not checked (no --key)" in out
    assert ("lines covered by a verified signature: seq 1..%d (%d of %d)"
            % (last_cp, last_cp, len(lines))) in out
    after = "seq %d" % last if last == last_cp + 1 else "seq %d..%d" % (last_cp + 1, last)
    assert after + " after the last checkpoint: NOT authenticated" in out


def test_verify_reads_standard_input(world):
    with open(world.log) as f:
        rc, out, _ = run("verify", "--key", world.keys["hmac"], "-", stdin=f.read())
    assert rc == 0 and out.startswith("intact: 1 file(s)"), out
    assert "-:" not in out


def _decisions(lines):
    return [i for i, k in enumerate(kinds(lines)) if k == "decision"]


def _edit(lines, i):
    out = list(lines)
    out[i] = out[i].replace('"status":200', '"status":201', 1).replace(
        '"status":403', '"status":200', 1)
    assert out[i] != lines[i]
    return out


def _rechain_from(lines, i):
    """Edits line i and recomputes every later prev, as someone without the keys
    would: the MACs and the checkpoint signatures can't follow."""
    out = _edit(lines, i)
    for j in range(i + 1, len(out)):
        prev = hashlib.sha256(out[j - 1].encode()).hexdigest()
        out[j] = re.sub(r'"prev":"[0-9a-f]{64}"', '"prev":"%s"' % prev, out[j], count=1)
    return out


def _forge_last(lines):
    """The last line (after the last checkpoint) changed: its prev still links,
    its MAC is the old one."""
    return lines[:-1] + [lines[-1].replace('"status":200', '"status":299', 1)]


def _first_checkpoint_after(lines, i):
    return next(n for n, k in enumerate(kinds(lines)) if k == "checkpoint" and n > i)


LAST, CHECKPOINT = "last line", "the first checkpoint after line 3"

# Each case: how to tamper with the lines, then (line number, code) reported
# with the audit key, and with the public key alone (None: not detectable).
TAMPERING = {
    "edited value": (lambda ls: _edit(ls, 2), (3, "bad-mac"), (4, "broken-chain")),
    "deleted line": (lambda ls: ls[:2] + ls[3:], (3, "seq-gap"), (3, "seq-gap")),
    "swapped lines": (lambda ls: ls[:1] + [ls[2], ls[1]] + ls[3:], (2, "seq-gap"),
                      (2, "seq-gap")),
    "inserted copy": (lambda ls: ls[:3] + [ls[1]] + ls[3:], (4, "seq-gap"), (4, "seq-gap")),
    "blank line": (lambda ls: ls[:2] + [""] + ls[2:], (3, "bad-json"), (3, "bad-json")),
    "rechained edit": (lambda ls: _rechain_from(ls, 2), (3, "bad-mac"),
                       (CHECKPOINT, "bad-checkpoint")),
    "edit after the last checkpoint": (_forge_last, (LAST, "bad-mac"), None),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "public-key"])
def test_verify_names_the_first_tampered_line(world, tmp_path, case, with_key):
    change, by_key, by_public = TAMPERING[case]
    lines = read_lines(world.log)
    path = write_lines(tmp_path / "tampered.jsonl", change(lines))
    rc, out, err = verify(world, path, key=with_key, public=not with_key)
    expected = by_key if with_key else by_public
    if expected is None:
        assert rc == 0 and "NOT authenticated" in out, out
        return
    line, code = expected
    line = {LAST: len(lines), CHECKPOINT: _first_checkpoint_after(lines, 2) + 1}.get(line, line)
    assert rc == 1, out + err
    assert re.match(r"%s:%d: (seq \d+: )?%s: " % (re.escape(path), line, code),
                    first_report_line(out)), out
    assert "NOT INTACT" in out


def test_verify_finds_a_truncated_last_line(world, tmp_path):
    lines = read_lines(world.log)
    cut = lines[:-1] + [lines[-1][:-30]]
    path = write_lines(tmp_path / "cut.jsonl", cut, final_newline=False)
    rc, out, _ = verify(world, path)
    assert rc == 1, out
    assert first_report_line(out).startswith(
        "%s:%d: seq %d: truncated: truncated last line" % (path, len(lines), seq_of(lines[-1])))
    assert "NOT INTACT: 1 file(s), %d line(s)" % (len(lines) - 1) in out


def test_verify_finds_a_line_too_long_without_reading_it_whole(world, tmp_path):
    lines = read_lines(world.log)
    huge = lines[:3] + ['{"seq":%d,"prev":"%s' % (seq_of(lines[3]), "0" * (3 << 20))] + lines[4:]
    path = write_lines(tmp_path / "huge.jsonl", huge)
    rc, out, _ = verify(world, path)
    assert rc == 1, out
    assert first_report_line(out).startswith("%s:4: seq %d: line-too-long:" % (
        path, seq_of(lines[3])))


def test_expect_last_seq_finds_lines_cut_from_the_end(world, tmp_path):
    lines = read_lines(world.log)
    last = seq_of(lines[-1])
    path = write_lines(tmp_path / "short.jsonl", lines[:-2])
    rc, out, _ = verify(world, path)
    assert rc == 0, "without an anchor kept elsewhere, a log cut at a line boundary looks whole"
    rc, out, _ = verify(world, "--expect-last-seq", str(last), path)
    assert rc == 1, out
    assert first_report_line(out) == ("last seq is %d, expected %d: 2 line(s) are missing at "
                                      "the end" % (last - 2, last))
    rc, out, _ = verify(world, "--expect-last-seq", str(last), world.log)
    assert rc == 0, out


def test_verify_with_another_key_fails_on_the_first_line(world, tmp_path):
    other = str(tmp_path / "other.key")
    run_ok("keygen", "--hmac", other)
    rc, out, _ = run("verify", "--key", other, world.log)
    assert rc == 1 and first_report_line(out).startswith("%s:1: seq 1: bad-mac:" % world.log)


def test_verify_a_log_that_starts_mid_chain(world, tmp_path):
    """Issue #10 item 4: a log whose first lines were removed is not intact,
    unless the operator vouches for where it now begins (--anchor)."""
    lines = read_lines(world.log)
    path = write_lines(tmp_path / "tail.jsonl", lines[5:])
    rc, out, _ = verify(world, path)
    assert rc == 1, out
    assert first_report_line(out).startswith("%s:1: seq 6: missing-head: the log begins at "
                                             "seq 6" % path), out
    assert "NOT INTACT" in out
    anchor = "6:" + json.loads(lines[5])["mac"]
    rc, out, _ = verify(world, "--anchor", anchor, path)
    assert rc == 0, out
    assert "the first line is seq 6, the anchor's" in out


# ---------------------------------------------------------- a rotated series

@pytest.fixture(scope="module")
def rotated(gateway_factory, tmp_path_factory):
    """A log rotated twice as an administrator would: renamed (the first time
    to a dated name, the second to .1, so that names do not sort by age),
    then a graceful restart. Returns (world, [files oldest first])."""
    keys = make_keys(str(tmp_path_factory.mktemp("rkeys")))
    gw = gateway_factory(CONFIG, audit_directives=audit_directives(keys))
    w = World(gw, keys)
    files = []
    for rotated_name in ("audit.jsonl.2026-11-01", "audit.jsonl.1", None):
        for _ in range(3):
            w.ask("health-board", SUBJECT, "direct-care", 200)
        w.ask("health-board", SUBJECT, "marketing", 403)
        if rotated_name is not None:
            path = os.path.join(os.path.dirname(w.log), rotated_name)
            os.rename(w.log, path)
            files.append(path)
            H.graceful_restart(gw.httpd)
    files.append(w.log)
    assert json.loads(read_lines(w.log)[0])["type"] == "file-start"
    return w, files


def test_verify_series_orders_rotated_files_by_first_seq(rotated):
    w, files = rotated
    rc, out, err = verify(w, "--series", w.log)
    assert rc == 0, out + err
    total = sum(len(read_lines(f)) for f in files)
    assert first_report_line(out) == "intact: 3 file(s), %d line(s), seq 1..%d" % (total, total)
    listed = [l.split(":")[0].strip() for l in out.splitlines() if l.startswith("  ")]
    assert listed == files


def test_series_files_in_the_wrong_order_or_with_one_missing_fail(rotated):
    w, files = rotated
    rc, out, _ = verify(w, files[1], files[0], files[2])
    assert rc == 1 and first_report_line(out).startswith("%s:1: seq 1: " % files[0]), out
    rc, out, _ = verify(w, files[0], files[2])
    first_of_last = seq_of(read_lines(files[2])[0])
    assert rc == 1 and first_report_line(out).startswith(
        "%s:1: seq %d: seq-gap:" % (files[2], first_of_last)), out


def test_series_refuses_what_it_cannot_place(rotated, tmp_path):
    w, files = rotated
    for f in files:
        shutil.copy(f, tmp_path / os.path.basename(f))
    current = str(tmp_path / os.path.basename(w.log))
    (tmp_path / (os.path.basename(w.log) + ".3")).write_bytes(b"not an audit log\n")
    rc, _, err = verify(w, "--series", current)
    assert rc == 2 and "its first line has no seq" in err
    os.unlink(str(tmp_path / (os.path.basename(w.log) + ".3")))
    # a damaged compressed file is a read error, named
    (tmp_path / (os.path.basename(w.log) + ".3.gz")).write_bytes(b"\x1f\x8b\x08\x00binary")
    rc, _, err = verify(w, "--series", current)
    assert rc == 2 and "error reading %s.3.gz: the gzip" % current in err, err
    os.unlink(str(tmp_path / (os.path.basename(w.log) + ".3.gz")))
    shutil.copy(files[0], tmp_path / (os.path.basename(w.log) + ".bak"))
    rc, _, err = verify(w, "--series", current)
    assert rc == 2 and "both begin at seq 1" in err


def test_query_and_report_read_a_series(rotated):
    w, _ = rotated
    out = run_ok("query", "--series", "--format", "jsonl", w.log)
    assert {json.loads(l)["request_id"] for l in out.splitlines()} == w.ids()
    doc = json.loads(run_ok("report", "--series", "--format", "json", w.log))
    assert doc["allowed"] == 9 and doc["refused"] == 3


def test_each_rotated_file_ends_with_a_checkpoint_and_verifies_alone(rotated):
    """An archive of one rotated file verifies to its last line with the
    public key alone, from the anchor of its first line (kept off the host)."""
    w, files = rotated
    for path in files[:-1]:
        lines = read_lines(path)
        assert json.loads(lines[-1])["type"] == "checkpoint", path
        first = json.loads(lines[0])
        rc, out, err = verify(w, "--anchor", "%d:%s" % (first["seq"], first["mac"]), path,
                              key=False)
        assert rc == 0, out + err
        assert ("lines covered by a verified signature: seq %d..%d (%d of %d)"
                % (first["seq"], seq_of(lines[-1]), len(lines), len(lines))) in out, out


def compressed_copy(w, files, tmp_path):
    """The series as logrotate leaves it with compress and delaycompress: the
    oldest file gzip-compressed, the one before the current plain. Returns
    the current log's path."""
    base = os.path.basename(w.log)
    with open(files[0], "rb") as f:
        data = f.read()
    with gzip.open(str(tmp_path / (base + ".2.gz")), "wb") as f:
        f.write(data)
    shutil.copy(files[1], tmp_path / (base + ".1"))
    shutil.copy(files[2], tmp_path / base)
    return str(tmp_path / base)


def test_series_reads_gzip_and_xz_files(rotated, tmp_path):
    w, files = rotated
    base = os.path.basename(w.log)
    current = compressed_copy(w, files, tmp_path)
    rc, out, err = verify(w, "--series", current)
    assert rc == 0, out + err
    total = sum(len(read_lines(f)) for f in files)
    assert first_report_line(out) == "intact: 3 file(s), %d line(s), seq 1..%d" % (total, total)
    listed = [l.split(":")[0].strip() for l in out.splitlines() if l.startswith("  ")]
    assert listed == [current + ".2.gz", current + ".1", current]
    # the same with the middle file as xz
    with open(files[1], "rb") as f, lzma.open(str(tmp_path / (base + ".1.xz")), "wb") as out_f:
        out_f.write(f.read())
    os.unlink(str(tmp_path / (base + ".1")))
    rc, out, err = verify(w, "--series", current)
    assert rc == 0, out + err
    listed = [l.split(":")[0].strip() for l in out.splitlines() if l.startswith("  ")]
    assert listed == [current + ".2.gz", current + ".1.xz", current]
    out = run_ok("query", "--series", "--format", "jsonl", current)
    assert {json.loads(l)["request_id"] for l in out.splitlines()} == w.ids()
    doc = json.loads(run_ok("report", "--series", "--format", "json", current))
    assert doc["allowed"] == 9 and doc["refused"] == 3
    # files given one by one are decompressed too
    rc, out, err = verify(w, current + ".2.gz", current + ".1.xz", current)
    assert rc == 0, out + err


def test_a_changed_line_inside_a_gzip_file_is_found(rotated, tmp_path):
    w, files = rotated
    current = compressed_copy(w, files, tmp_path)
    lines = read_lines(files[0])
    i = next(n for n, l in enumerate(lines) if '"decision":"allow"' in l)
    lines[i] = lines[i].replace('"decision":"allow"', '"decision":"deny"')
    with gzip.open(current + ".2.gz", "wb") as f:
        f.write(("\n".join(lines) + "\n").encode())
    rc, out, _ = verify(w, "--series", current)
    assert rc == 1, out
    assert first_report_line(out).startswith("%s.2.gz:%d: seq %d: bad-mac"
                                             % (current, i + 1, seq_of(lines[i]))), out
    # cut short: the compressed stream ends early
    with open(files[0], "rb") as f:
        packed = gzip.compress(f.read())
    with open(current + ".2.gz", "wb") as f:
        f.write(packed[:len(packed) // 2])
    rc, _, err = verify(w, "--series", current)
    assert rc == 2 and "the gzip file is cut short" in err, err


# ==================================================================== query

def test_query_jsonl_keeps_the_evidence_byte_for_byte(world):
    out = run_ok("query", "--subject", SUBJECT, "--format", "jsonl", world.log)
    expected = [l for l in read_lines(world.log)
                if json.loads(l).get("subject") == SUBJECT and "type" not in json.loads(l)]
    assert out.splitlines() == expected
    allowed = world.ids(lambda who, s, r: s == SUBJECT and r.status_code == 200)
    assert allowed <= {json.loads(l)["request_id"] for l in expected}


def test_query_csv_is_rfc4180_with_the_record_members(world):
    out = run_ok("query", "--format", "csv", world.log)
    assert out.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert list(rows[0].keys()) == [
        "time", "seq", "request_id", "client_ip", "organisation", "agreement",
        "agreement_version", "purpose", "legal_basis", "subject", "method", "path",
        "decision", "reason", "status", "fields", "visible_from", "node",
        "query", "written", "records", "dropped", "excluded"]
    assert {r["request_id"] for r in rows} == world.ids()
    by_id = {r["request_id"]: r for r in rows}
    for who, subject, resp, rec in world.requests:
        row = by_id[resp.headers["PDS-Request-Id"]]
        assert row["status"] == str(resp.status_code)
        assert row["fields"] == ";".join(rec["fields"])
        assert row["organisation"] == (rec["organisation"] or "")
        assert row["node"] == rec["node"] == socket.gethostname()
        assert row["reason"] == ("" if resp.status_code == 200 else resp.json()["reason"])
        for member in ("query", "records", "dropped", "excluded"):
            assert row[member] == ("" if rec.get(member) is None else str(rec[member])), member
        assert row["written"] == ";".join(rec.get("written") or [])


def test_query_csv_carries_query_writes_and_collection_counts(tmp_path):
    """The members a reader of the CSV needs beside the decision: the query
    accepted, the fields written, a collection's records and those left out."""
    log = tmp_path / "one.jsonl"
    log.write_text(json.dumps({
        "seq": 1, "prev": "0" * 64, "time": "2026-12-03T07:00:00.000000Z",
        "request_id": "r1", "decision": "allow", "status": 200, "fields": ["a", "b"],
        "query": "_page=2&_limit=10", "written": ["phone", "email"], "records": 20,
        "dropped": 1, "excluded": 2, "node": "gw1", "mac": "0" * 64}) + "\n")
    out = run_ok("query", "--format", "csv", str(log))
    row = list(csv.DictReader(io.StringIO(out, newline="")))[0]
    assert (row["query"], row["written"], row["records"], row["dropped"], row["excluded"]) \
        == ("_page=2&_limit=10", "phone;email", "20", "1", "2")


def _csv(world, *filters):
    out = run_ok("query", "--format", "csv", *filters, world.log)
    return {r["request_id"] for r in csv.DictReader(io.StringIO(out, newline=""))}


def test_query_filters(world):
    ids = world.ids
    assert _csv(world, "--decision", "deny") == ids(lambda w, s, r: r.status_code != 200)
    assert _csv(world, "--decision", "allow") == ids(lambda w, s, r: r.status_code == 200)
    assert _csv(world, "--organisation", "data-trust") == ids(lambda w, s, r: w == "data-trust")
    assert _csv(world, "--agreement", "trust-wellbeing") == ids(
        lambda w, s, r: w == "data-trust")
    assert _csv(world, "--purpose", "marketing") == ids(
        lambda w, s, r: r.request.headers.get("PDS-Purpose") == "marketing")
    assert _csv(world, "--reason", "no-agreement") == ids(lambda w, s, r: w == "pinned")
    assert _csv(world, "--reason", "purpose-missing") == ids(lambda w, s, r: r.status_code == 400)
    assert _csv(world, "--subject", OTHER_SUBJECT, "--decision", "allow",
                "--organisation", "health-board") == ids(
        lambda w, s, r: s == OTHER_SUBJECT and w == "health-board" and r.status_code == 200)
    assert _csv(world, "--organisation", "nobody") == set()
    assert _csv(world, "--node", socket.gethostname()) == ids()
    assert _csv(world, "--node", "another-node") == set()


def test_query_time_bounds_include_both_ends(world):
    recs = [rec for *_, rec in world.requests]
    times = sorted(r["time"] for r in recs)
    mid = times[len(times) // 2]
    since, until = _csv(world, "--since", mid), _csv(world, "--until", mid)
    assert since == {r["request_id"] for r in recs if r["time"] >= mid}
    assert until == {r["request_id"] for r in recs if r["time"] <= mid}
    assert since | until == world.ids()
    # the same instant written with an offset
    t = dt.datetime.strptime(mid, "%Y-%m-%dT%H:%M:%S.%fZ") + dt.timedelta(hours=1)
    assert _csv(world, "--since", t.strftime("%Y-%m-%dT%H:%M:%S.%f+01:00")) == since
    day = mid[:10]
    next_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    assert _csv(world, "--since", day, "--until", day) == world.ids()
    assert _csv(world, "--since", next_day) == set()


def test_query_table(world):
    out = run_ok("query", "--organisation", "data-trust", world.log)
    header, *rows = out.splitlines()
    assert header.split() == ["TIME", "NODE", "SEQ", "DECISION", "REASON", "ORGANISATION", "AGREEMENT",
                              "PURPOSE", "SUBJECT", "STATUS", "FIELDS"]
    assert len(rows) == 3
    for row in rows:
        cols = row.split()
        assert cols[1] == socket.gethostname()
        assert cols[3:] == ["allow", "-", "data-trust", "trust-wellbeing", "wellbeing",
                            cols[8], "200", "1"]
        assert cols[8] in (SUBJECT, OTHER_SUBJECT)
    # the columns line up under their headings
    assert all(row.index(" allow ") + 1 == header.index("DECISION") for row in rows)


def test_query_goes_on_past_a_damaged_line(world, tmp_path):
    lines = read_lines(world.log)
    path = write_lines(tmp_path / "damaged.jsonl", lines[:3] + ["{not json"] + lines[3:])
    rc, out, err = run("query", "--format", "jsonl", path)
    assert rc == 0
    assert "damaged.jsonl:4: not a JSON object, skipped" in err
    assert len(out.splitlines()) == kinds(lines).count("decision")


# =================================================================== report

def _expected_totals(world):
    pairs = {}
    for who, subject, resp, rec in world.requests:
        p = pairs.setdefault((rec["agreement"], rec["organisation"]),
                             {"allowed": 0, "refused": 0, "refused_by_reason": {},
                              "fields_released": {}})
        if resp.status_code == 200:
            p["allowed"] += 1
            for f in rec["fields"]:
                p["fields_released"][f] = p["fields_released"].get(f, 0) + 1
        else:
            p["refused"] += 1
            reason = resp.json()["reason"]
            p["refused_by_reason"][reason] = p["refused_by_reason"].get(reason, 0) + 1
    return pairs


def test_totals_report_json_matches_the_requests(world):
    doc = json.loads(run_ok("report", "--format", "json", world.log))
    expected = _expected_totals(world)
    got = {(a["agreement"], a["organisation"]): {k: a[k] for k in (
        "allowed", "refused", "refused_by_reason", "fields_released")} for a in doc["agreements"]}
    assert got == expected
    assert doc["allowed"] == sum(p["allowed"] for p in expected.values())
    assert doc["refused"] == sum(p["refused"] for p in expected.values())
    assert doc["decisions"] == len(world.requests)
    assert ("hb-direct-care", "health-board") in got and ("trust-wellbeing", "data-trust") in got
    assert (None, None) in got, "an unidentified caller counts under null"
    released = {}
    for p in expected.values():
        for f, n in p["fields_released"].items():
            released[f] = released.get(f, 0) + n
    assert doc["fields_released"] == released


def test_totals_report_text_is_aligned(world):
    out = run_ok("report", world.log)
    expected = _expected_totals(world)
    lines = out.splitlines()
    head = next(l for l in lines if l.startswith("AGREEMENT") and "ALLOWED" in l)
    hb = next(l for l in lines if l.startswith("hb-direct-care ") and "health-board" in l)
    p = expected[("hb-direct-care", "health-board")]
    assert hb.split()[:4] == ["hb-direct-care", "health-board", str(p["allowed"]),
                              str(p["refused"])]
    assert "purpose-mismatch=%d" % p["refused_by_reason"]["purpose-mismatch"] in hb
    # right-aligned counts end under the end of their heading
    end = head.index("ALLOWED") + len("ALLOWED")
    assert hb[end - len(str(p["allowed"])):end] == str(p["allowed"])
    assert lines[0].startswith("Decisions: %d (" % len(world.requests))


def test_totals_report_html_is_self_contained(world):
    out = run_ok("report", "--format", "html", world.log)
    assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    for external in ("http://", "https://", "<script", "src=", "<link", "url("):
        assert external not in out
    assert "<td>hb-direct-care</td><td>health-board</td>" in out


def test_report_filters_narrow_the_totals(world):
    doc = json.loads(run_ok("report", "--format", "json", "--organisation", "data-trust",
                            world.log))
    assert [(a["agreement"], a["allowed"]) for a in doc["agreements"]] == [
        ("trust-wellbeing", 3)]


# ----------------------------------------------------- a person's access report

def _allowed_for(world, subject):
    return [(r, rec) for who, s, r, rec in world.requests
            if s == subject and r.status_code == 200]


def test_person_report_json_lists_exactly_the_allowed_disclosures(world):
    doc = json.loads(run_ok("report", "--subject", SUBJECT, "--format", "json", world.log))
    assert doc["subject"] == SUBJECT and "pseudonym" not in doc
    expected = _allowed_for(world, SUBJECT)
    got = doc["disclosures"]
    assert len(got) == len(expected)
    assert [d["request_id"] for d in got] == [rec["request_id"] for _, rec in
                                              sorted(expected, key=lambda x: x[1]["time"])]
    by_id = {d["request_id"]: d for d in got}
    for _, rec in expected:
        d = by_id[rec["request_id"]]
        for member in ("time", "organisation", "agreement", "agreement_version", "purpose",
                       "legal_basis", "fields"):
            assert d[member] == rec[member]


def test_person_report_text_and_html(world):
    expected = _allowed_for(world, SUBJECT)
    others = world.ids(lambda w, s, r: s != SUBJECT or r.status_code != 200)
    out = run_ok("report", "--subject", SUBJECT, world.log)
    assert out.startswith("Disclosures about %s: %d, oldest first" % (SUBJECT, len(expected)))
    assert out.count(" received ") == len(expected)
    assert "data-trust received name.given" in out
    assert "purpose wellbeing; agreement trust-wellbeing" in out
    html = run_ok("report", "--subject", SUBJECT, "--format", "html", world.log)
    assert html.count("<li><time") == len(expected)
    for _, rec in expected:
        assert out.count(rec["request_id"]) == 1 and html.count(rec["request_id"]) == 1
    assert not any(i in out or i in html for i in others)
    for external in ("http://", "https://", "<script", "src=", "<link"):
        assert external not in html


def test_person_report_for_someone_nobody_asked_about(world):
    out = run_ok("report", "--subject", "0000000000", world.log)
    assert out.strip() == "Disclosures about 0000000000: 0"
    doc = json.loads(run_ok("report", "--subject", "0000000000", "--format", "json", world.log))
    assert doc["disclosures"] == []


@pytest.fixture(scope="module")
def pseudonymous(gateway_factory, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pskeys"))
    keys = make_keys(d)
    subject_key = os.path.join(d, "subjects.key")
    run_ok("keygen", "--hmac", subject_key)
    gw = gateway_factory(CONFIG, audit_directives=audit_directives(
        keys, 'PDSAuditSubject pseudonym "%s"\n' % subject_key))
    w = World(gw, keys)
    w.subject_key = subject_key
    w.ask("health-board", SUBJECT, "direct-care", 200)
    w.ask("health-board", OTHER_SUBJECT, "direct-care", 200)
    return w


def test_pseudonymous_logs_are_searched_with_the_pseudonym_key(pseudonymous):
    w = pseudonymous
    assert SUBJECT not in open(w.log).read()
    assert _csv(w, "--subject", SUBJECT) == set()
    got = _csv(w, "--subject", SUBJECT, "--pseudonym-key", w.subject_key)
    assert got == w.ids(lambda who, s, r: s == SUBJECT)
    doc = json.loads(run_ok("report", "--subject", SUBJECT, "--pseudonym-key", w.subject_key,
                            "--format", "json", w.log))
    assert doc["subject"] == SUBJECT and doc["pseudonym"].startswith("ps:")
    assert len(doc["disclosures"]) == 1


# ============================================ values a gateway would not write

HOSTILE = '<script>alert("x")</script>&\'<img src=y>'


def test_html_escapes_every_value_from_the_log(synthetic):
    path, _ = synthetic([
        decision(organisation=HOSTILE, agreement="a&b", purpose="p<q>", subject="s<1>",
                 fields=['x"><img src=y>', "name.given"], consent="<b>c-1</b>",
                 request_id="r<1>"),
        decision(decision="deny", reason="<i>r</i>", status=403, fields=[], subject="s<1>"),
    ])
    for args in (["report", "--subject", "s<1>"], ["report"]):
        out = run_ok(*args, "--format", "html", path)
        assert "<script" not in out and "<img" not in out and "<b>" not in out
        assert "<i>" not in out
        assert "&lt;script&gt;" in out and "a&amp;b" in out
    out = run_ok("report", "--subject", "s<1>", "--format", "html", path)
    assert "<title>Disclosures about s&lt;1&gt;</title>" in out
    assert "&lt;b&gt;c-1&lt;/b&gt;" in out, "the consent member is shown"


def test_text_output_cannot_drive_the_terminal(synthetic):
    path, _ = synthetic([decision(organisation="evil\u001b[2J\u202etxt.exe", subject="s1")])
    for args in (["query"], ["report"], ["report", "--subject", "s1"]):
        out = run_ok(*args, path)
        assert "\x1b" not in out and "\u202e" not in out
        assert "evil\\u001b[2J\\u202etxt.exe" in out


def test_person_report_shows_consent_and_what_the_person_sees(synthetic):
    path, _ = synthetic([
        decision(time="2026-11-22T12:00:00.000000Z", request_id="late", visible_from="never",
                 organisation="police"),
        decision(time="2026-11-22T09:00:00.000000Z", request_id="early", consent="c-42",
                 visible_from="2026-11-22T09:00:00.000000Z"),
        decision(time="2026-11-22T10:00:00.000000Z", request_id="embargoed",
                 visible_from="2027-02-20T10:00:00.000000Z"),
    ])
    doc = json.loads(run_ok("report", "--subject", "s1", "--format", "json", path))
    assert [d["request_id"] for d in doc["disclosures"]] == ["early", "embargoed", "late"]
    assert doc["disclosures"][0]["consent"] == "c-42"
    out = run_ok("report", "--subject", "s1", path)
    assert "consent c-42" in out
    assert "not shown to the person (restricted agreement)" in out
    assert "embargoed: shown to the person from 2027-02-20T10:00:00.000000Z" in out
    assert out.index("request early") < out.index("request embargoed") < out.index("request late")


def test_csv_quotes_what_needs_quoting(synthetic):
    path, _ = synthetic([decision(organisation='a,"b"\r\nc', fields=["x", "y,z"])])
    out = run_ok("query", "--format", "csv", path)
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert rows[0]["organisation"] == 'a,"b"\r\nc' and rows[0]["fields"] == "x;y,z"


def test_query_and_report_survive_a_line_too_long(synthetic, tmp_path):
    path, key = synthetic([decision(request_id="a"), decision(request_id="b")])
    lines = read_lines(path)
    write_lines(path, [lines[0], "x" * (2 << 20), lines[1]])
    rc, out, err = run("query", "--format", "jsonl", path)
    assert rc == 0 and [json.loads(l)["request_id"] for l in out.splitlines()] == ["a", "b"]
    assert ":2: line too long, skipped" in err
    rc, out, _ = run("verify", "--key", key, path)
    assert rc == 1 and first_report_line(out).startswith(path + ":2: line-too-long:")


# ==================================================================== usage

@pytest.mark.parametrize("command", [[], ["keygen"], ["verify"], ["query"], ["report"]])
def test_help(command):
    rc, out, err = run(*command, "--help")
    assert rc == 0 and out.startswith("usage: pds-audit") and err == ""
    if command:
        assert "usage: pds-audit %s" % command[0] in out


MISUSE = [
    ([], "usage: pds-audit"),
    (["frobnicate"], "unknown command frobnicate"),
    (["verify", "/nonexistent"], "--key"),
    (["verify", "--key"], "--key needs a value"),
    (["verify", "--key", "k", "--format", "csv", "f"], "verify does not take --format"),
    (["verify", "--key", "k", "--expect-last-seq", "ten", "f"], "--expect-last-seq"),
    (["verify", "--key", "k", "--anchor", "12", "f"], "--anchor takes SEQ:MAC"),
    (["verify", "--key", "k", "--anchor", "0:" + "a" * 64, "f"], "--anchor takes SEQ:MAC"),
    (["verify", "--key", "k", "--anchor", "3:" + "g" * 64, "f"], "--anchor takes SEQ:MAC"),
    (["verify", "--key", "k", "--anchor", "3:" + "a" * 63, "f"], "--anchor takes SEQ:MAC"),
    (["verify", "--key", "k", "--series", "a", "b"], "--series takes exactly one file"),
    (["verify", "--key", "k", "--series", "/var/log/"], "not a directory"),
    (["verify", "--key", "k", "--expect-last-seq", "1", "--expect-last-seq", "2", "f"],
     "--expect-last-seq is given twice"),
    (["verify-response", "--public-key", "a", "--public-key", "b"], "--public-key is given twice"),
    (["verify", "--key", "k", "-x", "f"], "unknown option -x"),
    (["query", "--format", "xml", "f"], "table, jsonl or csv"),
    (["query", "--decision", "maybe", "f"], "allow or deny"),
    (["query", "--since", "yesterday", "f"], "--since"),
    (["query", "--since", "2026-02-30", "f"], "--since"),
    (["query", "--since", "2026-11-22", "--until", "2026-11-21", "f"], "is after --until"),
    (["query", "--pseudonym-key", "k", "f"], "--pseudonym-key goes with --subject"),
    (["query", "--key", "k", "f"], "query does not take --key"),
    (["query"], "query needs at least one log file"),
    (["report", "--format", "pdf", "f"], "text, json or html"),
    (["report", "--subject", "s", "--decision", "deny", "f"], "do not apply"),
    (["keygen"], "exactly one of"),
    (["keygen", "--hmac", "a", "--signing", "b"], "exactly one of"),
    (["keygen", "--hmac", "a", "--public", "b"], "--public goes with --signing"),
    (["keygen", "--hmac", "a", "extra"], "no file arguments"),
]


@pytest.mark.parametrize("args,message", MISUSE, ids=[" ".join(a) or "none" for a, _ in MISUSE])
def test_misuse_exits_2_with_a_message(args, message):
    rc, out, err = run(*args)
    assert rc == 2 and out == "" and message in err, (rc, out, err)


def test_unreadable_inputs_exit_2(world, tmp_path):
    rc, _, err = run("query", str(tmp_path))
    assert rc == 2 and "is a directory" in err
    rc, _, err = run("query", str(tmp_path / "missing.jsonl"))
    assert rc == 2 and "cannot read" in err
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("not a key\n")
    rc, out, err = run("verify", "--key", str(bad_key), world.log)
    assert rc == 2 and out == "" and "not a key" not in err
    rc, _, err = run("verify", "--public-key", world.keys["hmac"], world.log)
    assert rc == 2


def test_options_may_follow_the_files(world):
    rc, out, _ = run("verify", world.log, "--key=" + world.keys["hmac"])
    assert rc == 0 and out.startswith("intact")
