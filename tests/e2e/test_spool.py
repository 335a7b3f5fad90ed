"""PDSSpoolDirectory: a back-end body past PDSSpoolThreshold waits for the
filter in an unnamed file, and everything else stays as it was: a large
collection filtered to a small answer is answered exactly, no file is ever
visible in the directory, a body cut short still fails closed, PDSMaxBodySize
still holds, and a directory that cannot take the file gives a problem and
an audit record, not a crash. `apachectl -t` refuses a directory the
children could not use. SPEC: PDSSpoolDirectory, PDSSpoolThreshold."""
import json
import os
import shutil
import stat
import tempfile
import threading
import time

import pytest

import pds_harness as H
from pds_configs import ORGANISATIONS, SUBJECT, agreement, location

COUNT = 8000                # residents in the large collection
PAD = 2400                  # bytes of notes each: about 20 MB in all
GATEWAY_LOG = ["PDS00032", r"\[proxy(_http)?:error\]", "AH01102", "AH01110"]


def rid(i):
    return "8%09d" % i


def make_spool_dir(prefix="pds-e2e-spool-", mode=0o700):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, mode)
    if os.geteuid() == 0:
        shutil.chown(d, "nobody", "nogroup")     # the harness's User
    return d


class Watcher:
    """Watches the spool directory and the gateway's open files while a
    request runs: names listed in the directory, and descriptors pointing
    into it (an unnamed file reads as "DIR/#inode (deleted)")."""

    def __init__(self, directory):
        self.dir = directory
        self.listed = set()
        self.open_files = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.listed.update(os.listdir(self.dir))
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/comm" % pid) as f:
                        if f.read().strip() not in ("apache2", "httpd"):
                            continue
                    fds = os.listdir("/proc/%s/fd" % pid)
                except OSError:
                    continue
                for fd in fds:
                    try:
                        target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                    except OSError:
                        continue
                    if target.startswith(self.dir + "/"):
                        self.open_files.add(target)
            time.sleep(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def spool_dir():
    d = make_spool_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """A back end holding COUNT residents of district ZZ1, each with PAD
    bytes of notes, and the answer releasing only id and given name."""
    d = str(tmp_path_factory.mktemp("spool-backend"))
    data = os.path.join(d, "residents.json")
    residents = [{"id": rid(i), "name": {"given": "R%d" % i, "family": "F"},
                  "address": {"postcode": "ZZ1 %dAA" % (i % 10)},
                  "notes": "n" * PAD} for i in range(COUNT)]
    with open(data, "w") as f:
        json.dump(residents, f)
    backend = H.Backend(os.path.join(d, "run"), data=data).start()
    backend.expected = [{"id": r["id"], "name": {"given": r["name"]["given"]}}
                        for r in residents]
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def gw(gateway_factory, spool_dir, collection):
    body = (ORGANISATIONS
            + "PDSSpoolDirectory %s\n" % spool_dir
            + agreement("hb-collection", "health-board", "direct-care",
                        "GET /big/{district}/residents", "RecordSubject id",
                        "Release [*].id [*].name.given")
            + agreement("hb-misbehave", "health-board", "direct-care",
                        ["GET /misbehave/%s/{subject}/record" % m for m in
                         ("ok", "trickle-2097152", "cut-4194304", "big-1048576")]
                        + ["GET /limit/%s/{subject}/record" % m for m in
                           ("big-1048576", "big-1048577", "trickle-1048577")],
                        "Release name.given")
            + """
<Location /big/>
    PDSGateway on
    PDSMaxBodySize 67108864
    ProxyPass %s/api/districts/
</Location>
""" % collection.url
            + location("/misbehave/", "/api/misbehave/", "    PDSMaxBodySize 8388608")
            + location("/limit/", "/api/misbehave/", "    PDSMaxBodySize 1048576"))
    return gateway_factory(body)


def test_a_large_collection_is_filtered_to_its_small_release(gw, spool_dir, collection):
    with Watcher(spool_dir) as w:
        r = gw.get("/big/ZZ1/residents", timeout=120)
    assert len(r.content) < 1024 * 1024 < 20 * len(r.content)
    audit = H.assert_allowed(gw, r, collection.expected, "hb-collection")
    assert sorted(audit["fields"]) == ["[*].id", "[*].name.given"]
    assert b"nnnn" not in r.content
    assert w.listed == set()                # never a name in the directory
    assert all(t.endswith(" (deleted)") for t in w.open_files), w.open_files
    assert os.listdir(spool_dir) == []


def test_a_body_in_flight_has_an_unnamed_file_and_leaves_none(gw, spool_dir):
    # 2 MiB in 64 KiB pieces 20 ms apart: over half a second in flight.
    with Watcher(spool_dir) as w:
        r = gw.get("/misbehave/trickle-2097152/%s/record" % SUBJECT, timeout=60)
    H.assert_allowed(gw, r, {"name": {"given": "Big"}}, "hb-misbehave")
    assert w.open_files, "the body was not spooled"
    assert all(t.endswith(" (deleted)") for t in w.open_files), w.open_files
    assert w.listed == set()
    assert os.listdir(spool_dir) == []


def test_a_small_body_does_not_touch_the_directory(gw, spool_dir, rec):
    with Watcher(spool_dir) as w:
        r = gw.get("/misbehave/ok/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, H.pick(rec, "name.given"), "hb-misbehave")
    assert w.open_files == set() and w.listed == set()


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_a_spooled_body_cut_short_fails_closed(gw, spool_dir):
    r = gw.get("/misbehave/cut-4194304/%s/record" % SUBJECT, timeout=60)
    H.assert_denied(gw, r, "backend-error", agreement="hb-misbehave")
    assert b"xxxx" not in r.content and b"Big" not in r.content
    assert os.listdir(spool_dir) == []


@pytest.mark.allow_log(*GATEWAY_LOG)
def test_max_body_size_still_holds_past_the_threshold(gw, spool_dir):
    r = gw.get("/limit/big-1048576/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, {"name": {"given": "Big"}}, "hb-misbehave")
    for mode in ("big-1048577", "trickle-1048577"):
        gw.backend.clear()
        r = gw.get("/limit/%s/%s/record" % (mode, SUBJECT), timeout=60)
        H.assert_denied(gw, r, "backend-too-large", agreement="hb-misbehave")
        assert b"xxxx" not in r.content
    assert os.listdir(spool_dir) == []


@pytest.mark.allow_log("PDS00514", *GATEWAY_LOG)
def test_a_directory_that_became_unwritable_is_a_500_with_a_record(gw, spool_dir, rec):
    offset = gw.httpd.error_log_size()
    os.chmod(spool_dir, 0o500)
    try:
        r = gw.get("/misbehave/big-1048576/%s/record" % SUBJECT)
        audit = H.assert_denied(gw, r, "internal-error", agreement="hb-misbehave")
        assert audit["status"] == 500
        assert b"xxxx" not in r.content
        assert spool_dir not in r.text      # the detail does not name the directory
        # a body under the threshold needs no file
        gw.backend.clear()
        r = gw.get("/misbehave/ok/%s/record" % SUBJECT)
        H.assert_allowed(gw, r, H.pick(rec, "name.given"), "hb-misbehave")
    finally:
        os.chmod(spool_dir, 0o700)
    log = gw.httpd.error_log_text(offset)
    assert "PDS00514" in log and spool_dir in log, log
    # and the server still answers from the spool once it is writable again
    gw.backend.clear()
    r = gw.get("/misbehave/big-1048576/%s/record" % SUBJECT)
    H.assert_allowed(gw, r, {"name": {"given": "Big"}}, "hb-misbehave")


# -- apachectl -t --------------------------------------------------------------

def spool_config(directory, extra=""):
    return ORGANISATIONS + "PDSSpoolDirectory %s\n%s" % (directory, extra)


def test_a_good_spool_directory_passes_httpd_t(httpd_factory, spool_dir):
    h = httpd_factory(spool_config(spool_dir, "PDSSpoolThreshold 4096\n"))
    rc, out = h.config_test()
    assert rc == 0, out
    h = httpd_factory(ORGANISATIONS + "PDSSpoolDirectory off\n")
    rc, out = h.config_test()
    assert rc == 0, out


@pytest.mark.parametrize("case", ["missing", "world-writable", "not-users", "file",
                                  "threshold", "in-a-vhost"])
def test_a_spool_directory_the_children_cannot_use_fails_httpd_t(httpd_factory, case,
                                                                 request):
    expect = None
    if case == "missing":
        d, expect = "/nonexistent/pds-spool", "not an existing directory"
        body = spool_config(d)
    elif case == "file":
        fd, d = tempfile.mkstemp(prefix="pds-e2e-spool-file-")
        os.close(fd)
        request.addfinalizer(lambda: os.unlink(d))
        body, expect = spool_config(d), "not an existing directory"
    elif case == "world-writable":
        d = make_spool_dir(mode=0o777)
        body, expect = spool_config(d), "PDS00511"
    elif case == "not-users":
        if os.geteuid() != 0:
            pytest.skip("needs root: the check is against User")
        d = tempfile.mkdtemp(prefix="pds-e2e-spool-root-")      # root's, 0700
        body, expect = spool_config(d), "PDS00512"
    elif case == "threshold":
        d = make_spool_dir()
        body, expect = spool_config(d, "PDSSpoolThreshold 100\n"), "PDSSpoolThreshold"
    else:
        d = make_spool_dir()
        body, expect = ORGANISATIONS, "PDSSpoolDirectory"
    if case not in ("missing", "file"):
        request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    if case == "in-a-vhost":
        h = httpd_factory(body, vhost_body="PDSSpoolDirectory %s\n" % d)
    else:
        h = httpd_factory(body)
    rc, out = h.config_test()
    assert rc != 0, out
    assert expect in out, out
    if case == "world-writable":
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o777
        os.chmod(d, 0o1777)         # with the sticky bit it is accepted
        rc, out = h.config_test()
        assert rc == 0, out
