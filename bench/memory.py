#!/usr/bin/python3
"""Memory of the gateway's children (bench/memory.sh, bench/rss.sh).

    memory.py body [--module SO] [--size MB] [--spool DIR|off] [--path stream|rows]
        One gateway, one request for a collection of about SIZE MB (50) of
        which about 1 MB is released; prints the serving child's peak
        RssAnon (sampled every 2 ms while the request runs) and its VmHWM,
        before and after.
    memory.py soak [--module SO] [--requests N] [--concurrency C]
        N requests (100000) with ab on keep-alive connections; prints each
        child's VmRSS and RssAnon at the start and at the end.

Built on the e2e harness (tests/e2e/pds_harness.py): its PKI, token keys,
stand-in back end and httpd configuration. Ports from BENCH_PORT (19200:
back end; +1, +2 the gateway). Run as root, the children run as nobody.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import pds_harness as H                                     # noqa: E402
from conftest import config_context                         # noqa: E402
from pds_configs import ORGANISATIONS, SUBJECT              # noqa: E402

PAD = 2400          # bytes of notes per resident: released is about 1/45 of the body


def status_of(pid):
    """VmRSS, VmHWM, RssAnon, RssFile of a process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0])
    return out


class Sampler:
    """The highest RssAnon of each pid, sampled every 2 ms."""

    def __init__(self, pids):
        self.pids, self.peak = pids, {p: 0 for p in pids}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for p in self.pids:
                try:
                    self.peak[p] = max(self.peak[p], status_of(p)["RssAnon"])
                except (OSError, KeyError):
                    pass
            time.sleep(0.002)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def setup(args, work):
    pki = H.Pki.create(os.path.join(work, "pki"))
    keys = H.TokenKeys(os.path.join(work, "keys"))
    base = int(os.environ.get("BENCH_PORT", "19200"))
    data = None
    if getattr(args, "size", None):
        count = int(args.size * 1024 * 1024 / (PAD + 100))
        data = os.path.join(work, "residents.json")
        residents = [{"id": "8%09d" % i, "name": {"given": "R%d" % i, "family": "F"},
                      "address": {"postcode": "ZZ1 %dAA" % (i % 10)}, "notes": "n" * PAD}
                     for i in range(count)]
        with open(data, "w") as f:
            json.dump(residents, f)
        os.chmod(work, 0o755)
        os.chmod(data, 0o644)
    backend = H.Backend(os.path.join(work, "backend"), port=base, data=data).start()
    ctx = config_context(pki, keys, backend)
    pseudonym = os.path.join(work, "pseudonym.key")
    with open(pseudonym, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(pseudonym, 0o600)
    spool = ""
    if getattr(args, "spool", "off") != "off":
        spool = "PDSSpoolDirectory %s\n" % args.spool
    body = (ORGANISATIONS % ctx) + spool + """
PDSPseudonymKey "%(pseudonym)s"
<PDSAgreement rows>
    Party         health-board
    Purpose       direct-care
    LegalBasis    public-task
    Valid         2020-01-01 2099-12-31
    Resource      GET /rows/{district}/residents
    RecordSubject id
    Release       [*].id [*].name.given
</PDSAgreement>
<PDSAgreement stream>
    Party         health-board
    Purpose       direct-care
    LegalBasis    public-task
    Valid         2020-01-01 2099-12-31
    Resource      GET /stream/{district}/residents
    Deidentified  [*].id
    Release       [*].name.given [*].address.postcode
</PDSAgreement>
<PDSAgreement ok>
    Party         health-board
    Purpose       direct-care
    LegalBasis    public-task
    Valid         2020-01-01 2099-12-31
    Resource      GET /ok/{subject}/record
    Release       name.given dob
</PDSAgreement>
<Location /rows/>
    PDSGateway on
    PDSMaxBodySize 134217728
    ProxyPass %(backend)s/api/districts/
</Location>
<Location /stream/>
    PDSGateway on
    PDSMaxBodySize 134217728
    ProxyPass %(backend)s/api/districts/
</Location>
<Location /ok/>
    PDSGateway on
    ProxyPass %(backend)s/api/misbehave/ok/
</Location>
""" % dict(ctx, pseudonym=pseudonym)
    httpd = H.Httpd(os.path.join(work, "gateway"), body.replace("%", "%%"), pki=pki,
                    module=args.module, log_level="error")
    httpd.https_port, httpd.http_port = base + 1, base + 2
    httpd.write_conf()
    httpd.start()
    return H.Gateway(httpd, pki, keys, backend), keys


def token(keys):
    return H.mint_token(keys["hb-ec"], "ES256", H.token_claims("health-board", lifetime=3500))


def parent_pid(gw):
    with open(os.path.join(gw.httpd.root, "run", "httpd.pid")) as f:
        return int(f.read())


def cmd_body(args):
    work = tempfile.mkdtemp(prefix="pds-bench-memory-")
    gw = None
    try:
        gw, keys = setup(args, work)
        hdr = {"Authorization": "Bearer " + token(keys)}
        # warm up: TLS, the first request of a child
        r = gw.get("/ok/8000000000/record", plain=True, headers=hdr)    # a resident of data
        assert r.status_code == 200, H.describe(r)
        kids = H.child_pids(parent_pid(gw))
        before = {p: status_of(p) for p in kids}
        t0 = time.time()
        with Sampler(kids) as s:
            r = gw.get("/%s/ZZ1/residents" % args.path, plain=True, headers=hdr,
                       timeout=300)
        took = time.time() - t0
        after = {p: status_of(p) for p in kids}
        if r.status_code != 200:
            print("request failed: %d %s" % (r.status_code, r.text[:300]))
            return 1
        body_mb = os.path.getsize(os.path.join(work, "residents.json")) / 1048576
        print("module %s, path %s, spool %s" % (args.module, args.path, args.spool))
        print("back-end body %.1f MB, released %.2f MB, %.1f s" % (
            body_mb, len(r.content) / 1048576, took))
        served = max(kids, key=lambda p: s.peak[p] - before[p]["RssAnon"])
        for p in kids:
            mark = " (served it)" if p == served else ""
            print("child %d%s: RssAnon %d -> peak %d -> %d KiB; VmHWM %d -> %d KiB; "
                  "RssFile %d KiB after" % (p, mark, before[p]["RssAnon"], s.peak[p],
                                             after[p]["RssAnon"], before[p]["VmHWM"],
                                             after[p]["VmHWM"], after[p]["RssFile"]))
        print("RESULT path=%s spool=%s body_mb=%.1f released_mb=%.2f peak_rss_anon_kib=%d "
              "peak_rss_anon_growth_kib=%d vmhwm_kib=%d vmhwm_growth_kib=%d" % (
                  args.path, "on" if args.spool != "off" else "off", body_mb,
                  len(r.content) / 1048576, s.peak[served],
                  s.peak[served] - before[served]["RssAnon"], after[served]["VmHWM"],
                  after[served]["VmHWM"] - before[served]["VmHWM"]))
        if args.spool != "off":
            left = os.listdir(args.spool)
            print("spool directory after: %s" % (left or "empty"))
        return 0
    finally:
        if gw is not None:
            gw.httpd.stop()
            gw.backend.stop()
        shutil.rmtree(work, ignore_errors=True)


def cmd_soak(args):
    work = tempfile.mkdtemp(prefix="pds-bench-rss-")
    gw = None
    try:
        gw, keys = setup(args, work)
        url = gw.url("/ok/%s/record" % SUBJECT, plain=True)
        hdr = ["-H", "Authorization: Bearer " + token(keys), "-H", "PDS-Purpose: direct-care"]
        subprocess.run(["ab", "-q", "-k", "-n", "200", "-c", str(args.concurrency)] + hdr
                       + [url], check=True, capture_output=True, timeout=60)
        kids = H.child_pids(parent_pid(gw))
        start = {p: status_of(p) for p in kids}
        t0 = time.time()
        out = subprocess.run(["ab", "-q", "-k", "-n", str(args.requests), "-c",
                              str(args.concurrency)] + hdr + [url], capture_output=True,
                             text=True, timeout=args.timeout)
        took = time.time() - t0
        end = {}
        for p in H.child_pids(parent_pid(gw)):
            end[p] = status_of(p)
        for line in out.stdout.splitlines():
            if line.lstrip().startswith(("Complete requests", "Failed requests", "Non-2xx",
                                         "Requests per second", "(Connect:")):
                print(line)
        print("%d requests in %.0f s" % (args.requests, took))
        for p in sorted(set(start) | set(end)):
            a, b = start.get(p), end.get(p)
            print("child %d: VmRSS %s -> %s KiB, RssAnon %s -> %s KiB" % (
                p, a["VmRSS"] if a else "-", b["VmRSS"] if b else "(gone)",
                a["RssAnon"] if a else "-", b["RssAnon"] if b else "(gone)"))
        return 0 if out.returncode == 0 else 1
    finally:
        if gw is not None:
            gw.httpd.stop()
            gw.backend.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("body")
    b.add_argument("--module", required=True)
    b.add_argument("--size", type=float, default=50.0)
    b.add_argument("--spool", default="off")
    b.add_argument("--path", choices=("stream", "rows"), default="stream")
    s = sub.add_parser("soak")
    s.add_argument("--module", required=True)
    s.add_argument("--requests", type=int, default=1000000)
    s.add_argument("--concurrency", type=int, default=8)
    s.add_argument("--timeout", type=int, default=3600)
    args = ap.parse_args()
    return cmd_body(args) if args.cmd == "body" else cmd_soak(args)


if __name__ == "__main__":
    sys.exit(main())
