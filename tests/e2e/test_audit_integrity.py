"""The audit log at its edges, through a real httpd and the built pds-audit
(issue #10 items 4, 5 and 8):

- lines removed at the head of the log (its first lines, the first file of a
  rotated series) make `pds-audit verify` fail unless the operator gives an
  anchor; the chain's head is kept beside the log (PDSAuditLog.head), so a
  start after the log was deleted or cut refuses to begin a new chain
  (PDS00160), at `apachectl -t` too;
- a collection of thousands of people is audited in bounded lines, every one
  of them still sees the disclosure, and the gateway restarts after it; a
  last line longer than 64 KiB (written by an older version) is continued;
- records written while the log is rotated under load are all there, once,
  in one chain that verifies, and the head names the last of them.
"""
import concurrent.futures
import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

import pds_harness as H
from pds_configs import (AUTH_MODULES, CITIZENS_LOCATION, HB_DIRECT_CARE, ORGANISATIONS, PATH,
                         person_location)

CONFIG = ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION


# ----------------------------------------------------------------- helpers

def verify(gw, *args):
    h = gw.httpd
    p = subprocess.run([H.audit_tool(), "verify", "--key", h.audit_key_path, "--public-key",
                        h.audit_public_key_path, *args], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def read_lines(path):
    with open(path) as f:
        text = f.read()
    assert text.endswith("\n"), "%s ends with a partial line" % path
    return text.split("\n")[:-1]


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return str(path)


def anchor_of(line):
    rec = json.loads(line)
    return "%d:%s" % (rec["seq"], rec["mac"])


def head_of(gw):
    """The head file's (seq, mac, hash), as lib/pds_chain.h describes it."""
    with open(gw.httpd.audit_path + ".head") as f:
        text = f.read()
    assert len(text) == 181 and text.endswith("\n"), repr(text)
    magic, version, seq, mac, digest = text.split()
    assert (magic, version) == ("pds-audit-head", "1")
    return int(seq[4:]), mac[4:], digest[5:]


def assert_head_is_last_line(gw, path=None):
    last = read_lines(path or gw.httpd.audit_path)[-1]
    seq, mac, digest = head_of(gw)
    assert seq == json.loads(last)["seq"]
    assert mac == json.loads(last)["mac"]
    assert digest == hashlib.sha256(last.encode()).hexdigest()


def ask(gw, n=1, purpose="direct-care"):
    out = []
    for _ in range(n):
        r = gw.get(PATH, purpose=purpose)
        assert r.status_code == (200 if purpose == "direct-care" else 403), H.describe(r)
        out.append(r)
    return out


def asked_then_stopped(gateway_factory, n):
    """A gateway with CONFIG that answered n requests and was then stopped."""
    gw = gateway_factory(CONFIG)
    ask(gw, n)
    gw.close_sessions()
    gw.httpd.stop()
    return gw


def restart(gw):
    gw.close_sessions()
    gw.httpd.stop()
    gw.httpd.start()


def refused_start(gw):
    """Starts httpd expecting it to refuse; returns what it said."""
    gw.close_sessions()
    with pytest.raises(H.HttpdError) as failed:
        gw.httpd.start()
    return str(failed.value)


def seal_after(last_line, members, key_hex):
    """One more line of a chain (lib/pds_chain.h), as the gateway would seal it."""
    prev = hashlib.sha256(last_line.encode()).hexdigest()
    body = '{"seq":%d,"prev":"%s",%s' % (json.loads(last_line)["seq"] + 1, prev,
                                         json.dumps(members, separators=(",", ":"))[1:-1])
    mac = hmac.new(bytes.fromhex(key_hex.strip()), (body + "}").encode(),
                   hashlib.sha256).hexdigest()
    return body + ',"mac":"%s"}' % mac


# ============================================ item 4: the head of the log

@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory(CONFIG)


def test_the_head_file_names_the_last_line(gw):
    ask(gw, 3)
    ask(gw, 1, purpose="marketing")
    head = gw.httpd.audit_path + ".head"
    assert stat.S_IMODE(os.stat(head).st_mode) == 0o600
    assert_head_is_last_line(gw)


def test_verify_fails_a_log_whose_first_lines_were_removed(gw, tmp_path):
    ask(gw, 6)
    lines = read_lines(gw.httpd.audit_path)
    rc, out = verify(gw, gw.httpd.audit_path)
    assert rc == 0, out
    assert "anchor of the first line: %s" % anchor_of(lines[0]) in out
    for n in (1, 3):
        path = write_lines(tmp_path / ("cut-%d.jsonl" % n), lines[n:])
        rc, out = verify(gw, path)
        assert rc == 1, out
        assert out.startswith("%s:1: seq %d: missing-head: the log begins at seq %d, not at "
                              "the chain's first line (seq 1): %d line(s) before it are "
                              "missing" % (path, n + 1, n + 1, n)), out
        assert "NOT INTACT" in out
        # The operator's anchor: the log may begin at this line...
        rc, out = verify(gw, "--anchor", anchor_of(lines[n]), path)
        assert rc == 0, out
        # ... but not one line later, nor with another line's MAC.
        rc, out = verify(gw, "--anchor", anchor_of(lines[n - 1]), path)
        assert rc == 1 and "missing-head" in out and "after the anchor's seq %d" % n in out, out
        wrong = "%d:%s" % (n + 1, json.loads(lines[n + 1])["mac"])
        rc, out = verify(gw, "--anchor", wrong, path)
        assert rc == 1 and "anchor-mismatch" in out, out


def test_verify_fails_a_series_without_its_first_file(gateway_factory, tmp_path):
    gw = gateway_factory(CONFIG)
    log = gw.httpd.audit_path
    ask(gw, 3)
    os.rename(log, log + ".1")
    H.graceful_restart(gw.httpd)
    ask(gw, 3)
    assert_head_is_last_line(gw)
    rc, out = verify(gw, "--series", log)
    assert rc == 0 and out.startswith("intact: 2 file(s)"), out
    second = read_lines(log)[0]
    assert json.loads(second)["type"] == "file-start"
    # verify prints each file's anchor: what the operator keeps before
    # letting an old file go.
    assert "  %s: " % log in out and "anchor %s" % anchor_of(second) in out, out
    shutil.move(log + ".1", str(tmp_path / "archived.jsonl"))
    rc, out = verify(gw, "--series", log)
    assert rc == 1, out
    assert out.startswith("%s:1: seq %d: missing-head:" % (log, json.loads(second)["seq"])), out
    rc, out = verify(gw, "--series", "--anchor", anchor_of(second), log)
    assert rc == 0, out
    # the old file and the new, given in order, are one chain again
    rc, out = verify(gw, str(tmp_path / "archived.jsonl"), log)
    assert rc == 0, out


def test_a_start_after_the_log_was_deleted_refuses_a_new_chain(gateway_factory):
    gw = gateway_factory(CONFIG)
    log = gw.httpd.audit_path
    ask(gw, 4)
    last = json.loads(read_lines(log)[-1])["seq"]
    gw.close_sessions()
    gw.httpd.stop()
    os.unlink(log)
    rc, out = gw.httpd.config_test()
    assert rc != 0 and "PDS00160" in out, out
    assert "the log is missing or holds no record, but the chain had reached seq %d" % last \
        in out, out
    assert log + ".head aside" in out, out
    text = refused_start(gw)
    assert "PDS00160" in text, text
    assert not os.path.exists(log) or os.path.getsize(log) == 0, "a new chain was begun"
    # The operator decides: the head moved aside, a new chain begins.
    os.rename(log + ".head", log + ".head.old")
    gw.httpd.start()
    ask(gw)
    assert json.loads(read_lines(log)[0])["seq"] == 1
    assert_head_is_last_line(gw)


def test_apachectl_t_between_a_rotation_rename_and_its_graceful_restart_passes(
        gateway_factory):
    """`apachectl graceful` (logrotate's postrotate, systemctl reload) runs
    -t after the rename: the renamed file ends where the head says, so -t
    passes and the restart continues the chain; a cold start instead is
    still refused."""
    gw = gateway_factory(CONFIG)
    log = gw.httpd.audit_path
    ask(gw, 3)
    os.rename(log, log + ".1")
    rc, out = gw.httpd.config_test()
    assert rc == 0 and "PDS00160" not in out, out
    H.graceful_restart(gw.httpd)
    ask(gw, 2)
    assert json.loads(read_lines(log)[0])["type"] == "file-start"
    rc, out = verify(gw, "--series", log)
    assert rc == 0 and out.startswith("intact: 2 file(s)"), out
    # renamed again, but the server stopped: the new chain is refused
    ask(gw)
    gw.close_sessions()
    gw.httpd.stop()
    os.rename(log, log + ".0")
    rc, out = gw.httpd.config_test()
    assert rc == 0, out
    assert "PDS00160" in refused_start(gw)
    # a renamed file that does not end at the head does not count
    lines = read_lines(log + ".0")
    write_lines(log + ".0", lines[:-1])
    rc, out = gw.httpd.config_test()
    assert rc != 0 and "PDS00160" in out, out
    write_lines(log + ".0", lines)
    os.rename(log + ".0", log)
    gw.httpd.start()
    ask(gw)
    assert_head_is_last_line(gw)


def test_a_start_after_lines_were_cut_from_the_end_refuses(gateway_factory):
    gw = asked_then_stopped(gateway_factory, 5)
    log = gw.httpd.audit_path
    lines = read_lines(log)
    write_lines(log, lines[:-2])
    rc, out = gw.httpd.config_test()
    assert rc != 0 and "PDS00160" in out, out
    assert "ends at seq %d but the chain had reached seq %d: 2 line(s) are missing" % (
        len(lines) - 2, len(lines)) in out, out
    assert "PDS00160" in refused_start(gw)
    # As many lines, sealed with the key, but the last is not the one written.
    with open(gw.httpd.audit_key_path) as f:
        key = f.read()
    other = seal_after(lines[-2], {"time": "2026-11-22T10:00:00.000000Z",
                                   "request_id": "not-the-one", "decision": "allow"}, key)
    write_lines(log, lines[:-1] + [other])
    text = refused_start(gw)
    assert "PDS00160" in text and "is not the line the chain's head names" in text, text
    write_lines(log, lines)
    gw.httpd.start()
    r = ask(gw)[0]
    assert gw.audit_for(r)["seq"] == len(lines) + 1
    assert_head_is_last_line(gw)


def test_an_empty_log_with_an_empty_head_starts(gateway_factory):
    """A first start: no log, no head; the head is made with the log."""
    gw = gateway_factory(CONFIG)
    assert os.path.exists(gw.httpd.audit_path + ".head")
    ask(gw)
    assert_head_is_last_line(gw)


# =========================== item 5: a collection of thousands of people

BIG = 7000

BIG_AGREEMENT = """
<PDSAgreement hb-district-list>
    Party         health-board
    Purpose       care-planning
    LegalBasis    legal-obligation
    Valid         2020-01-01 2099-12-31
    Resource      GET /big/{district}/residents
    Release       [*].id [*].name.given
    RecordSubject id
</PDSAgreement>
"""


def big_id(i):
    return "7%09d" % i


@pytest.fixture(scope="module")
def big(gateway_factory, tmp_path_factory):
    """A gateway in front of a back end holding BIG residents of one
    district, with the person's view for the one in the middle."""
    d = str(tmp_path_factory.mktemp("big-backend"))
    data = os.path.join(d, "residents.json")
    residents = [{"id": big_id(i), "name": {"given": "R%d" % i, "family": "F"},
                  "address": {"postcode": "ZZ1 %dAA" % (i % 10)}}
                 for i in range(BIG)]
    with open(data, "w") as f:
        json.dump(residents, f)
    backend = H.Backend(os.path.join(d, "run"), data=data).start()
    auth_dir = tempfile.mkdtemp(prefix="pds-e2e-auth-")
    os.chmod(auth_dir, 0o755)
    htpasswd = os.path.join(auth_dir, "htpasswd")
    middle = big_id(BIG // 2)
    subprocess.run(["htpasswd", "-b", "-c", htpasswd, middle, "pw"], check=True,
                   capture_output=True)
    os.chmod(htpasswd, 0o644)
    body = (ORGANISATIONS + BIG_AGREEMENT + """
<Location /big/>
    PDSGateway on
    PDSMaxBodySize 8388608
    ProxyPass %s/api/districts/
</Location>
""" % backend.url + person_location("/my/disclosures", "pds-disclosures", htpasswd))
    gw = gateway_factory(body, extra_modules=AUTH_MODULES)
    gw.middle = middle
    yield gw
    backend.stop()
    shutil.rmtree(auth_dir, ignore_errors=True)


def my_view(gw, who, password):
    s = H.requests.Session()
    s.trust_env = False
    r = s.get(gw.url("/my/disclosures"), auth=(who, password), verify=gw.pki.ca_cert,
              timeout=30)
    assert r.status_code == 200, H.describe(r)
    return r.json()["disclosures"]


def test_a_collection_of_thousands_is_audited_in_bounded_lines(big):
    gw = big
    r = gw.get("/big/ZZ1/residents", purpose="care-planning", timeout=60)
    assert r.status_code == 200, H.describe(r)
    assert len(r.json()) == BIG
    rid = r.headers["PDS-Request-Id"]
    lines = read_lines(gw.httpd.audit_path)
    assert max(len(l) for l in lines) < 20000, "an audit line is not bounded"
    recs = [json.loads(l) for l in lines]
    (rec,) = [x for x in recs if x.get("request_id") == rid and "type" not in x]
    assert rec["records"] == BIG and "subjects" not in rec
    parts = [x for x in recs if x.get("type") == "subjects" and x["request_id"] == rid]
    assert len(parts) == rec["subjects_parts"] > 1
    # the parts are the lines just before the record, in order
    assert [p["seq"] for p in parts] == list(range(rec["seq"] - len(parts), rec["seq"]))
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
    released = [s for p in parts for s in p["subjects"]]
    assert released == [big_id(i) for i in range(BIG)]
    rc, out = verify(gw, gw.httpd.audit_path)
    assert rc == 0, out

    # The person in the middle sees it, in their own view and in the report.
    view = my_view(gw, gw.middle, "pw")
    assert [d["agreement"] for d in view] == ["hb-district-list"]
    assert view[0]["fields"] == ["[*].id", "[*].name.given"]
    out = subprocess.run([H.audit_tool(), "report", "--subject", gw.middle, "--format", "json",
                          gw.httpd.audit_path], capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    assert [d["request_id"] for d in doc["disclosures"]] == [rid]
    out = subprocess.run([H.audit_tool(), "query", "--subject", big_id(BIG - 1), "--format", "jsonl",
                          gw.httpd.audit_path], capture_output=True, text=True, check=True)
    assert [json.loads(l)["request_id"] for l in out.stdout.splitlines()] == [rid]
    out = subprocess.run([H.audit_tool(), "query", "--subject", "7999999999", "--format", "jsonl",
                          gw.httpd.audit_path], capture_output=True, text=True, check=True)
    assert out.stdout == ""

    # And the gateway starts again after it, continuing the chain.
    last = json.loads(lines[-1])["seq"]
    restart(gw)
    r2 = gw.get("/big/ZZ1/residents", purpose="care-planning", timeout=60)
    assert r2.status_code == 200, H.describe(r2)
    first_part = min(json.loads(l)["seq"] for l in read_lines(gw.httpd.audit_path)
                     if r2.headers["PDS-Request-Id"] in l)
    assert first_part == last + 1
    rc, out = verify(gw, gw.httpd.audit_path)
    assert rc == 0, out
    assert len(my_view(gw, gw.middle, "pw")) == 2


def test_a_last_line_longer_than_64k_is_continued(gateway_factory):
    """A line an older version wrote (one collection record holding every
    subject): recovery reads back as far as the line goes."""
    gw = asked_then_stopped(gateway_factory, 2)
    log = gw.httpd.audit_path
    lines = read_lines(log)
    with open(gw.httpd.audit_key_path) as f:
        key = f.read()
    long_line = seal_after(lines[-1], {"time": "2026-11-22T10:00:00.000000Z",
                                       "request_id": "old-collection", "decision": "allow",
                                       "records": 7000,
                                       "subjects": [big_id(i) for i in range(7000)]}, key)
    assert len(long_line) > 84000
    write_lines(log, lines + [long_line])
    gw.httpd.start()
    r = ask(gw)[0]
    assert gw.audit_for(r)["seq"] == len(lines) + 2
    rc, out = verify(gw, log)
    assert rc == 0, out


# ============ item 8: write and sync under one lock, rotation under load

@pytest.fixture
def reachable_dir():
    """A log directory httpd's User can enter (pytest's own are root's 0700),
    so that children can reopen the log after a rotation."""
    d = tempfile.mkdtemp(prefix="pds-e2e-audit-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


SLOW_SYNC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>
/* fdatasync as a slow disk has it: 20 ms. */
int fdatasync(int fd)
{
    static int (*real)(int);
    struct timespec ts = { 0, 20 * 1000 * 1000 };

    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    nanosleep(&ts, NULL);
    return real(fd);
}
"""


def _preload_library(tmp_path, name, source):
    """`source` built into an LD_PRELOAD library httpd's User can load."""
    src, lib = tmp_path / (name + ".c"), str(tmp_path / (name + ".so"))
    src.write_text(source)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the LD_PRELOAD library")
    subprocess.run([cc, "-shared", "-fPIC", "-o", lib, str(src), "-ldl"], check=True)
    os.chmod(str(tmp_path), 0o755)
    os.chmod(lib, 0o755)
    return lib


@pytest.fixture
def slow_sync(tmp_path):
    """An LD_PRELOAD library that makes every fdatasync take 20 ms, so that
    a rotation in the same child lands while a record is being synced."""
    return _preload_library(tmp_path, "slow_sync", SLOW_SYNC)


def _rotate_under_load(gw, rotations=3):
    """8 clients ask without pause while the log is rotated `rotations`
    times (rename, graceful restart). Returns (responses, rotated files)."""
    log = gw.httpd.audit_path
    stop = []

    def client(n):
        s = H.requests.Session()
        s.trust_env = False
        c = gw.pki["health-board"]
        got = []
        try:
            while not stop:
                purpose = "marketing" if len(got) % 4 == 3 else "direct-care"
                try:
                    r = s.get(gw.url(PATH), cert=(c.cert, c.key), verify=gw.pki.ca_cert,
                              timeout=30, headers={"PDS-Purpose": purpose})
                except H.requests.ConnectionError:
                    continue        # a connection closed by a graceful restart
                got.append(r)
        finally:
            s.close()
        return got

    rotated = []
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client, n) for n in range(8)]
        for k in range(1, rotations + 1):
            time.sleep(0.7)
            name = "%s.%d" % (log, 10 - k)      # older files sort first by seq, not name
            os.rename(log, name)
            rotated.append(name)
            H.graceful_restart(gw.httpd)
        time.sleep(0.7)
        stop.append(True)
        responses = [r for f in futures for r in f.result()]
    return responses, rotated


def _assert_every_record_once(gw, responses, rotated):
    log = gw.httpd.audit_path
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 403}, [H.describe(r) for r in responses
                                    if r.status_code not in (200, 403)][:2]
    rc, out = verify(gw, "--series", log)
    assert rc == 0, out
    assert out.startswith("intact: %d file(s)" % (len(rotated) + 1)), out
    ids = []
    for path in rotated + [log]:
        ids += [json.loads(l).get("request_id") for l in read_lines(path)]
    for r in responses:
        assert ids.count(r.headers["PDS-Request-Id"]) == 1
    assert_head_is_last_line(gw)


def test_rotation_under_load_keeps_every_record_in_one_chain(gateway_factory, reachable_dir):
    gw = gateway_factory(CONFIG + "StartServers 2\n",
                         audit_log=os.path.join(reachable_dir, "audit.jsonl"))
    responses, rotated = _rotate_under_load(gw)
    assert len(responses) > 100
    _assert_every_record_once(gw, responses, rotated)


def test_a_record_is_synced_on_the_descriptor_it_was_written_to(gateway_factory,
                                                               reachable_dir, slow_sync,
                                                               monkeypatch):
    """With each fdatasync taking 20 ms, a child that follows a rotation
    (closing the old descriptor) while another of its threads syncs a record
    must not make that sync fail (EBADF: 503 audit-unavailable) or sync
    another file: the write, the sync and the rotation share one lock."""
    monkeypatch.setenv("LD_PRELOAD", slow_sync)
    gw = gateway_factory(CONFIG + "StartServers 2\n",
                         audit_log=os.path.join(reachable_dir, "audit.jsonl"))
    monkeypatch.delenv("LD_PRELOAD")
    responses, rotated = _rotate_under_load(gw, rotations=4)
    assert len(responses) > 20
    _assert_every_record_once(gw, responses, rotated)


# ============ a record cut short by a full disk is cut back off

SHORT_WRITE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* While the file $PDS_TEST_SHORT_WRITE_FLAG exists, the next write to the
 * file $PDS_TEST_SHORT_WRITE_LOG writes half of what it was given, and the
 * write of the rest fails with ENOSPC, as on a disk that fills up in the
 * middle of a line. The flag is removed when it fires: once. */
ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    static __thread int cutting;
    const char *log = getenv("PDS_TEST_SHORT_WRITE_LOG");
    const char *flag = getenv("PDS_TEST_SHORT_WRITE_FLAG");
    char link[64], path[PATH_MAX];
    ssize_t len;

    if (real == NULL)
        real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (log == NULL || flag == NULL || n < 2)
        return real(fd, buf, n);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    len = readlink(link, path, sizeof(path) - 1);
    if (len <= 0)
        return real(fd, buf, n);
    path[len] = '\0';
    if (strcmp(path, log) != 0)
        return real(fd, buf, n);
    if (cutting) {
        cutting = 0;
        errno = ENOSPC;
        return -1;
    }
    if (unlink(flag) != 0)
        return real(fd, buf, n);
    cutting = 1;
    return real(fd, buf, n / 2);
}
"""


@pytest.mark.allow_log(r"PDS00045")
def test_a_record_cut_short_by_a_full_disk_is_cut_back_off(gateway_factory, tmp_path,
                                                          reachable_dir, monkeypatch):
    """The disk fills in the middle of a record: the request is refused
    (503, nothing released), the half line is removed from the log, the
    refusal's record and the next request's start on lines of their own,
    and the log still verifies."""
    lib = _preload_library(tmp_path, "short_write", SHORT_WRITE)
    flags = tempfile.mkdtemp(prefix="pds-e2e-flag-")
    os.chmod(flags, 0o777)          # httpd's User removes the flag when it fires
    flag = os.path.join(flags, "cut-next-write")
    try:
        log = os.path.realpath(os.path.join(reachable_dir, "audit.jsonl"))
        monkeypatch.setenv("LD_PRELOAD", lib)
        monkeypatch.setenv("PDS_TEST_SHORT_WRITE_LOG", log)
        monkeypatch.setenv("PDS_TEST_SHORT_WRITE_FLAG", flag)
        gw = gateway_factory(CONFIG, audit_log=log)
        monkeypatch.delenv("LD_PRELOAD")
        assert gw.get(PATH).status_code == 200
        size = os.path.getsize(log)

        open(flag, "w").close()
        r = gw.get(PATH)
        H.assert_problem(r, "audit-unavailable", 503)
        assert not os.path.exists(flag), "the short write did not happen"
        # The half line is gone; what follows it is the refusal's own record.
        with open(log, "rb") as f:
            f.seek(size)
            added = f.read().decode().splitlines()
        assert len(added) == 1, added
        refusal = json.loads(added[0])
        assert (refusal["decision"], refusal["reason"], refusal["status"]) == (
            "deny", "audit-unavailable", 503)
        assert refusal["request_id"] == r.headers["PDS-Request-Id"]

        after = gw.get(PATH)
        assert after.status_code == 200, H.describe(after)
        assert gw.audit_for(after)["request_id"] == after.headers["PDS-Request-Id"]
        for line in gw.httpd.audit_all_lines():
            json.loads(line)
        p = subprocess.run([H.audit_tool(), "verify", "--key", gw.httpd.audit_key_path, log],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        shutil.rmtree(flags, ignore_errors=True)
