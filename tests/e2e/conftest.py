"""pytest wiring for the end-to-end tests (the pieces are in pds_harness.py).

Environment:
  PDS_MODULE       the mod_pds.so under test (required by every test that
                   loads mod_pds; `make check-e2e` sets it)
  PDS_HTTPD        the httpd binary (default /usr/sbin/apache2)
  PDS_MODULES_DIR  where httpd's own modules are (default /usr/lib/apache2/modules)

Each test module starts its own httpd with the configuration it needs
(`gateway_factory`, module scope); the PKI, token keys and the legacy back
end are shared by the whole run. After every test the httpd error logs are
read: an `[error]` or `[warn]` line (or worse) fails the test unless the test
allowed it with @pytest.mark.allow_log("PDS00032", r"AH01102") or by
appending patterns to the `log_allow` fixture.
"""
import datetime as _dt
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pds_harness as H  # noqa: E402
from pds_configs import SUBJECT  # noqa: E402

_running = []   # every Httpd started by a fixture and not yet stopped


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_log(*patterns): error-log lines at warn level "
                            "or above matching one of these regular expressions (e.g. a "
                            "PDS00032 tag) do not fail the test")


# ---------------------------------------------------------------- environment

@pytest.fixture(scope="session")
def pds_module():
    path = os.environ.get("PDS_MODULE")
    if not path:
        pytest.fail("PDS_MODULE is not set: point it at the mod_pds.so to test, e.g. "
                    "PDS_MODULE=$builddir/mod_pds/.libs/mod_pds.so (make check-e2e sets it)",
                    pytrace=False)
    if not os.path.isfile(path):
        pytest.fail("PDS_MODULE=%s: no such file; build the module first" % path,
                    pytrace=False)
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def httpd_bin():
    path = os.environ.get("PDS_HTTPD", "/usr/sbin/apache2")
    if not os.access(path, os.X_OK):
        pytest.fail("PDS_HTTPD=%s is not an executable httpd" % path, pytrace=False)
    return path


@pytest.fixture(scope="session")
def modules_dir():
    path = os.environ.get("PDS_MODULES_DIR", "/usr/lib/apache2/modules")
    if not os.path.isfile(os.path.join(path, "mod_ssl.so")):
        pytest.fail("PDS_MODULES_DIR=%s holds no mod_ssl.so" % path, pytrace=False)
    return path


# --------------------------------------------------------- shared test world

@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return H.Pki.create(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def token_keys(tmp_path_factory):
    return H.TokenKeys(str(tmp_path_factory.mktemp("keys")))


@pytest.fixture(scope="session")
def residents():
    return H.load_residents()


@pytest.fixture(scope="session")
def rec(residents):
    """The record of SUBJECT, the resident most tests ask for."""
    return residents[SUBJECT]


@pytest.fixture(scope="session")
def backend(tmp_path_factory):
    be = H.Backend(str(tmp_path_factory.mktemp("backend"))).start()
    yield be
    be.stop()


@pytest.fixture(autouse=True)
def _backend_log_per_test(backend):
    """Each test starts with an empty back-end log: whatever is in it at
    the end reached the back end during that test."""
    backend.clear()
    yield


@pytest.fixture
def log_allow():
    """Patterns a test adds at run time to the error-log allow-list."""
    return []


# ------------------------------------------------------------------- servers

def config_context(pki, keys, backend):
    """The values a configuration template may use as %(name)s."""
    today = H.utc_today()
    day = _dt.timedelta(days=1)
    ctx = {
        "backend": backend.url,
        "ca": pki.ca_cert,
        "today": today.isoformat(),
        "yesterday": (today - day).isoformat(),
        "tomorrow": (today + day).isoformat(),
        "aud": H.TOKEN_AUDIENCE,
    }
    for name, cert in pki.certs.items():
        key = name.replace("-", "_")
        ctx["dn_" + key] = cert.dn
        ctx["sha256_" + key] = cert.sha256
        ctx["sha256hex_" + key] = cert.sha256_hex
    for name, path in keys.public_path.items():
        ctx["key_" + name.replace("-", "_")] = path
    return ctx


@pytest.fixture(scope="module")
def gateway_factory(request, tmp_path_factory, pki, token_keys, backend, httpd_bin, modules_dir):
    """make(body, **httpd_options) -> a started Gateway. `body` may use
    %(name)s placeholders from config_context(); every server started here
    stops when the test module ends."""
    started = []

    def make(body, vhost_body="", with_pds=True, **opts):
        ctx = config_context(pki, token_keys, backend)
        root = str(tmp_path_factory.mktemp("httpd-" + request.module.__name__.split(".")[-1]))
        module = request.getfixturevalue("pds_module") if with_pds else None
        httpd = H.Httpd(root, body % ctx, vhost_body=vhost_body % ctx, pki=pki,
                        module=module, httpd_bin=httpd_bin,
                        modules_dir=modules_dir, **opts)
        httpd.start()
        gw = H.Gateway(httpd, pki, token_keys, backend)
        started.append(gw)
        _running.append(httpd)
        return gw

    yield make
    H.stop_gateways(started)
    for gw in started:
        if gw.httpd in _running:
            _running.remove(gw.httpd)


@pytest.fixture
def httpd_factory(request, tmp_path_factory, pki, token_keys, backend, httpd_bin, modules_dir):
    """make(body, **httpd_options) -> an Httpd that is configured but not
    started (for `httpd -t` checks of configurations)."""
    def make(body, with_pds=True, **opts):
        ctx = config_context(pki, token_keys, backend)
        root = str(tmp_path_factory.mktemp("conftest"))
        module = request.getfixturevalue("pds_module") if with_pds else None
        return H.Httpd(root, body % ctx, pki=pki, module=module,
                       httpd_bin=httpd_bin, modules_dir=modules_dir, **opts)
    return make


# ------------------------------------------------------ error-log discipline

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    offsets = [(h, h.error_log_size()) for h in _running if h.running]
    outcome = yield
    if not offsets:
        return
    if outcome.excinfo is not None:
        # What httpd said while the test ran, beside the traceback: a CI
        # failure is often read once, from the log alone.
        said = "".join(h.error_log_text(off)[-20000:] for h, off in offsets)
        if said:
            item.add_report_section("call", "httpd error log", said)
        return
    allow = []
    for mark in item.iter_markers("allow_log"):
        allow.extend(mark.args)
    allow.extend(item.funcargs.get("log_allow") or [])
    time.sleep(0.05)    # lines httpd writes as the response leaves
    bad = []
    for h, off in offsets:
        bad.extend(h.log_problems(off, allow))
    if bad:
        raise AssertionError("unexpected [warn]/[error] lines in the httpd error log "
                             "(allow them with @pytest.mark.allow_log if expected):\n"
                             + "\n".join(bad))
