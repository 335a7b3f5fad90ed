"""json-server (npm, pinned in tests/jsonserver/package.json) as a real back
end for the end-to-end tests, over the synthetic FHIR R4 data set of
tests/jsonserver/fhir_patients.py.

`tools/install-deps.sh` installs it (`npm ci --prefix tests/jsonserver`);
the `json_server` fixture skips the tests that need it, with the reason,
only when it is not installed, for a developer running pytest by hand.
A test module imports the fixture (`from pds_jsonserver import json_server`);
pytest makes one per module that imports it, so when a second module needs
it, import it at the end of conftest.py instead, for one per run.

    from pds_jsonserver import JsonServer
    js = JsonServer("/tmp/x/js").start(); print(js.url); js.stop()
"""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

import pds_configs as C
import pds_harness as H

JSONSERVER_DIR = os.path.join(H.TOP, "tests", "jsonserver")
sys.path.insert(0, JSONSERVER_DIR)

import fhir_patients  # noqa: E402

PACKAGE_JSON = os.path.join(JSONSERVER_DIR, "package.json")
INSTALLED_PACKAGE = os.path.join(JSONSERVER_DIR, "node_modules", "json-server", "package.json")
CLI = os.path.join(JSONSERVER_DIR, "node_modules", "json-server", "lib", "cli", "bin.js")
REQUEST_LOG_MIDDLEWARE = os.path.join(JSONSERVER_DIR, "request-log.js")
DIRECT_HEADER = "X-Test-Direct"     # marks the tests' own requests in the log
INSTALL_HINT = "run tools/install-deps.sh (as root), or npm ci --prefix tests/jsonserver"


def location(prefix, url, *lines, target="/"):
    """An enforced <Location /prefix/> proxying to `url` + `target` (the
    json-server's root by default; any back end's URL will do), with `lines`
    (directives) inside it."""
    return C.location("/%s/" % prefix, target, extra="\n".join("    " + l for l in lines),
                      backend=url)


def pinned_version():
    with open(PACKAGE_JSON, encoding="utf-8") as f:
        return json.load(f)["dependencies"]["json-server"]


def find():
    """(node, cli) for the pinned json-server, or (None, why not)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        return None, "no node on PATH (Debian's nodejs package); " + INSTALL_HINT
    if not os.path.isfile(CLI) or not os.path.isfile(INSTALLED_PACKAGE):
        return None, "json-server is not installed under tests/jsonserver; " + INSTALL_HINT
    return node, CLI


def installed_version():
    with open(INSTALLED_PACKAGE, encoding="utf-8") as f:
        return json.load(f)["version"]


class JsonServer(H.Backend):
    """json-server on a free loopback port over a fresh db.json (it writes
    to it), logging every request it receives, as H.Backend does, through
    the middleware tests/jsonserver/request-log.js: requests(), clear() and
    header() are the stand-in's."""

    def __init__(self, directory, node=None, cli=None, count=fhir_patients.DEFAULT_COUNT,
                 seed=fhir_patients.DEFAULT_SEED):
        super().__init__(directory)
        self.node, self.cli = node, cli
        if node is None:
            self.node, self.cli = find()
            if self.node is None:
                raise RuntimeError(self.cli)
        self.db_path = os.path.join(directory, "db.json")
        self.data = fhir_patients.write(self.db_path, count, seed)

    def start(self, timeout=H.START_TIMEOUT):
        open(self.log_path, "a").close()
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "NODE_OPTIONS")}
        env["PDS_JSONSERVER_LOG"] = self.log_path
        with open(self.stderr_path, "ab") as err:
            # The source comes first: -m takes every argument after it.
            # cwd is the run's directory: json-server reads ./json-server.json
            # and serves ./public when they exist.
            self.proc = subprocess.Popen(
                [self.node, self.cli, self.db_path, "--port", str(self.port),
                 "--host", H.LOOPBACK, "--quiet", "--middlewares", REQUEST_LOG_MIDDLEWARE],
                cwd=self.dir, env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True)
        if not H.wait_for_ports([self.port], timeout, alive=lambda: self.proc.poll() is None):
            self.stop()
            raise RuntimeError("json-server did not start on port %d:\n%s"
                               % (self.port, H.read_text(self.stderr_path)))
        self.clear()
        return self

    def stop(self):
        """Stops json-server's whole process group (TERM, then KILL)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.proc = None

    def direct(self, method, path, **kw):
        """A request straight to json-server, around the gateway (to read or
        set up its state); requests() leaves it out."""
        s = H.requests.Session()
        s.trust_env = False
        kw.setdefault("timeout", 10)
        kw["headers"] = dict(kw.get("headers") or {}, **{DIRECT_HEADER: "1"})
        try:
            return s.request(method, self.url + path, **kw)
        finally:
            s.close()

    def requests(self):
        """Every request the gateway made since the last clear(), in order."""
        return [e for e in super().requests() if not self.header(e, DIRECT_HEADER)]

    def patient(self, pid):
        """The Patient as json-server holds it now."""
        r = self.direct("GET", "/Patient/" + pid)
        assert r.status_code == 200, H.describe(r)
        return r.json()


@pytest.fixture(scope="session")
def json_server(tmp_path_factory):
    """json-server over the FHIR data set for the whole run; skipped (with
    the reason) when json-server is not installed."""
    node, cli = find()
    if node is None:
        pytest.skip(cli)
    want, got = pinned_version(), installed_version()
    if want != got:
        pytest.fail("json-server %s is installed under tests/jsonserver, %s is pinned; %s"
                    % (got, want, INSTALL_HINT), pytrace=False)
    js = JsonServer(str(tmp_path_factory.mktemp("jsonserver")), node, cli).start()
    yield js
    js.stop()
