"""A denial is final whatever httpd's other access control says (DESIGN
invariant 8): Satisfy Any/All, Require in every form, an authentication
module in front. With mod_access_compat's Satisfy Any httpd goes on to the
authentication hooks after an access hook refused, and used to serve the
record after mod_pds had written its problem document.

Two layers, each tested on its own:
- `httpd -t` refuses a Satisfy Any that can apply to an enforced location;
- at run time, also where no check can see it (a .htaccess file in an
  enforced <Directory>), a denial still ends the request: only the problem
  document, nothing served, nothing proxied, and one audit record saying
  deny (or, where an access hook that runs before mod_pds's refused and the
  login Satisfy Any then needed was missing, httpd's own refusal).
"""
import base64
import hashlib
import json
import os
import shutil
import tempfile

import pytest

import pds_harness as H
from pds_configs import CITIZENS_LOCATION, HB_DIRECT_CARE, HB_FIELDS, ORGANISATIONS, SUBJECT

AUTH_MODULES = [("access_compat_module", "mod_access_compat.so"),
                ("auth_basic_module", "mod_auth_basic.so"),
                ("authn_file_module", "mod_authn_file.so"),
                ("authz_user_module", "mod_authz_user.so"),
                ("authz_host_module", "mod_authz_host.so"),
                ("rewrite_module", "mod_rewrite.so")]

USER, PASSWORD = "clerk", "correct horse"
BASIC = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()

RECORD = "/citizens/%s/record" % SUBJECT

REQUIRES = {
    "none": "",
    "all-granted": "Require all granted",
    "valid-user": "Require valid-user",
    "any-of": "<RequireAny>\n    Require valid-user\n    Require all denied\n</RequireAny>",
    "all-of": "<RequireAll>\n    Require valid-user\n    Require all granted\n</RequireAll>",
}
SATISFIES = {"default": "", "all": "Satisfy All"}
HOSTS = {"deny-from-all": "Order deny,allow\nDeny from all",
         "allow-from-all": "Order allow,deny\nAllow from all"}
AUTHN = {"basic-valid-login": True, "no-login": False}


def htpasswd_line():
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
    return "%s:{SHA}%s\n" % (USER, digest)


def combos():
    """Satisfy x Require x host rule, for a <Location> (Satisfy Any there is
    refused by httpd -t)."""
    for s in sorted(SATISFIES):
        for q in sorted(REQUIRES):
            for h in sorted(HOSTS):
                yield s, q, h


def any_combos():
    """Require x host rule, under Satisfy Any (from a .htaccess file)."""
    for q in sorted(REQUIRES):
        for h in sorted(HOSTS):
            yield q, h


def auth_block(passwd, require, satisfy, hosts):
    return "\n".join(["AuthType Basic", 'AuthName "council staff"',
                      'AuthUserFile "%s"' % passwd, hosts, require, satisfy]) + "\n"


def fetch(gw, target, authn, plain=False):
    """GET target with no organisation identity (no client certificate, no
    token), optionally with a valid Basic login. Returns (response, bytes
    the server sent after the response's declared end)."""
    headers = [("PDS-Purpose", "direct-care"), ("Connection", "close")]
    if authn:
        headers.append(("Authorization", BASIC))
    with gw.connect(who=None, plain=plain) as conn:
        conn.sock.sendall(H.build_request("GET", target, headers=headers))
        resp, rest = H._read_response(conn.sock)
        while True:
            try:
                more = conn.sock.recv(65536)
            except OSError:
                break
            if not more:
                break
            rest += more
    return resp, rest


def assert_denial_is_final(gw, resp, trailing, record_text, httpd_may_refuse=False):
    """The caller got the unknown-caller problem document and nothing else;
    nothing was served or proxied; one audit record says deny. With
    httpd_may_refuse, httpd itself may have refused the request before
    mod_pds was asked (an access hook that runs before mod_pds's refused, and
    the login that Satisfy Any then needed was missing)."""
    detail = H.describe(resp) + "\n--- after the response ---\n" + trailing.decode(
        "utf-8", "replace")
    assert trailing == b"", "bytes after the response:\n" + detail
    assert record_text not in resp.content.decode("utf-8", "replace"), detail
    H.assert_no_leak(resp)
    assert gw.backend.requests() == [], "the back end was asked: %r" % gw.backend.requests()
    if (httpd_may_refuse and resp.status_code in (401, 403, 500)
            and "PDS-Request-Id" not in resp.headers):
        return
    H.assert_problem(resp, "unknown-caller")
    doc = json.loads(resp.content)          # the whole body is the document
    assert doc["reason"] == "unknown-caller", detail
    rec = gw.audit_for(resp)
    H.assert_audit(rec, decision="deny", reason="unknown-caller", status=401, fields=[])


# ------------------------------------------------- Satisfy Any at httpd -t

def satisfy_any_configs():
    loc = CITIZENS_LOCATION
    return {
        "after-pdsgateway": loc.replace("PDSGateway on", "PDSGateway on\n    Satisfy Any"),
        "before-pdsgateway": loc.replace("PDSGateway on", "Satisfy any\n    PDSGateway on"),
        "quoted": loc.replace("PDSGateway on", "PDSGateway on\n    Satisfy \"ANY\""),
        "inside-if": loc.replace("PDSGateway on", "PDSGateway on\n    <If \"true\">\n"
                                 "        Satisfy Any\n    </If>"),
        "inside-limit": loc.replace("PDSGateway on", "PDSGateway on\n    <Limit GET>\n"
                                    "        Satisfy Any\n    </Limit>"),
        "enclosing-location": "<Location />\n    Satisfy Any\n</Location>\n" + loc,
        "sub-location": loc + "<Location /citizens/special/>\n    Satisfy Any\n</Location>\n",
        "location-match": loc + "<LocationMatch \"^/c\">\n    Satisfy Any\n</LocationMatch>\n",
        "regex-location": loc + "<Location ~ \"record$\">\n    Satisfy Any\n</Location>\n",
        "proxy-section": loc + "<Proxy \"*\">\n    Satisfy Any\n</Proxy>\n",
        "server-wide-if": loc + "<If \"-n %%{HTTP_HOST}\">\n    Satisfy Any\n</If>\n",
    }


@pytest.mark.parametrize("name", sorted(satisfy_any_configs()))
def test_satisfy_any_in_reach_of_a_gateway_fails_config_test(httpd_factory, name):
    body = ORGANISATIONS + HB_DIRECT_CARE + satisfy_any_configs()[name]
    h = httpd_factory(body, extra_modules=AUTH_MODULES)
    rc, out = h.config_test()
    assert rc != 0, "httpd -t accepted Satisfy Any over a gateway:\n" + out
    assert "PDS00102" in out and "Satisfy Any" in out, out
    assert h.conf_path in out, out
    line = h.line_of("Satisfy ")
    assert "line %d of %s" % (line, h.conf_path) in out, out
    assert "line %d of %s" % (h.line_of("PDSGateway on"), h.conf_path) in out, out


def test_satisfy_any_in_a_virtual_host_over_a_main_server_gateway_fails(httpd_factory):
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION,
                      vhost_body="    <Location /citizens/>\n        Satisfy Any\n"
                                 "    </Location>\n", extra_modules=AUTH_MODULES)
    rc, out = h.config_test()
    assert rc != 0 and "PDS00102" in out, out
    assert "line %d of %s" % (h.line_of("Satisfy Any"), h.conf_path) in out, out


@pytest.mark.parametrize("extra", [
    "<Location /citizens/>\n    Satisfy All\n</Location>\n",
    "<Location /docs/>\n    Satisfy Any\n</Location>\n",
    "<Directory /srv/unrelated>\n    Satisfy Any\n</Directory>\n",
], ids=["satisfy-all", "unrelated-location", "directory"])
def test_satisfy_that_cannot_loosen_a_gateway_passes_config_test(httpd_factory, extra):
    h = httpd_factory(ORGANISATIONS + HB_DIRECT_CARE + CITIZENS_LOCATION + extra,
                      extra_modules=AUTH_MODULES)
    rc, out = h.config_test()
    assert rc == 0, out


# ----------------------------- Location + ProxyPass: Satisfy All or default

def readable_dir(prefix):
    """A directory httpd's children (nobody, when root) can read: pytest's
    own temporary directories are private to root."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


@pytest.fixture(scope="module")
def proxied(gateway_factory):
    d = readable_dir("pds-satisfy-passwd-")
    passwd = os.path.join(d, "passwd")
    with open(passwd, "w") as f:
        f.write(htpasswd_line())
    os.chmod(passwd, 0o644)
    body = ORGANISATIONS + HB_DIRECT_CARE
    for n, (s, q, h) in enumerate(combos()):
        body += ("<Location /m%d/citizens/>\n    PDSGateway on\n"
                 "    ProxyPass %%(backend)s/api/citizens/\n%s</Location>\n"
                 % (n, auth_block(passwd, REQUIRES[q], SATISFIES[s], HOSTS[h])))
    body += ("<Location /citizens/>\n    PDSGateway on\n"
             "    ProxyPass %%(backend)s/api/citizens/\n%s</Location>\n"
             % auth_block(passwd, REQUIRES["valid-user"], "Satisfy All",
                          HOSTS["allow-from-all"]))
    yield gateway_factory(body, extra_modules=AUTH_MODULES)
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.allow_log(r"AH01627")
@pytest.mark.parametrize("authn", sorted(AUTHN))
@pytest.mark.parametrize("n,combo", list(enumerate(combos())),
                         ids=["-".join(c) for c in combos()])
def test_denial_is_final_on_a_proxied_gateway(proxied, residents, n, combo, authn):
    resp, trailing = fetch(proxied, "/m%d%s" % (n, RECORD), AUTHN[authn])
    assert_denial_is_final(proxied, resp, trailing, residents[SUBJECT]["name"]["family"])


def test_allow_still_released_behind_a_login(proxied, residents):
    r = proxied.get(RECORD, headers={"Authorization": BASIC})
    H.assert_allowed(proxied, r, H.pick(residents[SUBJECT], *HB_FIELDS), "hb-direct-care", "3")


def test_an_allowed_caller_without_the_servers_login_is_told_to_sign_in(proxied):
    """mod_pds allows the health board, then httpd's own Basic authentication
    refuses: the problem says so (not "internal error" or a back-end error),
    the server's challenge stays so the caller can sign in, and the back end
    is never asked."""
    r = proxied.get(RECORD)
    H.assert_problem(r, "login-required", status=401)
    assert r.headers.get("WWW-Authenticate", "").startswith('Basic realm="council staff"'), r.headers
    H.assert_no_leak(r)
    assert proxied.backend.requests() == []
    H.assert_audit(proxied.audit_for(r), decision="deny", reason="login-required", status=401,
                   organisation="health-board", fields=[])


@pytest.fixture(scope="module")
def ip_refused(gateway_factory):
    body = ORGANISATIONS + HB_DIRECT_CARE
    body += ("<Location /citizens/>\n    PDSGateway on\n"
             "    ProxyPass %(backend)s/api/citizens/\n"
             "    Require ip 192.0.2.1\n</Location>\n")
    return gateway_factory(body, extra_modules=AUTH_MODULES)


@pytest.mark.allow_log(r"AH01630")
def test_an_allowed_caller_refused_by_the_servers_access_rules_is_told_so(ip_refused):
    r = ip_refused.get(RECORD)
    H.assert_problem(r, "access-refused", status=403)
    H.assert_no_leak(r)
    assert ip_refused.backend.requests() == []
    H.assert_audit(ip_refused.audit_for(r), decision="deny", reason="access-refused",
                   status=403, organisation="health-board", fields=[])


# --------------------------- <Directory> + .htaccess: Satisfy Any at run time

@pytest.fixture(scope="module")
def htaccess(gateway_factory, backend):
    """An enforced <Directory> whose .htaccess files (which no configuration
    check can see) say Satisfy Any with each Require and host rule; the record
    is in the directory as a file (/f*); under /p* a RewriteRule [P] sends it
    to the back end; under /s* SSLRequireSSL makes mod_ssl's access hook,
    which runs before mod_pds's, refuse the plain port first."""
    root = readable_dir("pds-satisfy-docroot-")
    passwd = os.path.join(root, "passwd")
    with open(passwd, "w") as f:
        f.write(htpasswd_line())
    os.chmod(passwd, 0o644)
    record = H.requests.get(backend.url + "/api" + RECORD, timeout=10).content
    docroot = os.path.join(root, "docs")
    for kind in ("f", "p", "s"):
        for n, (q, h) in enumerate(any_combos()):
            d = os.path.join(docroot, "%s%d" % (kind, n), "citizens", SUBJECT)
            os.makedirs(d)
            with open(os.path.join(d, "record"), "wb") as f:
                f.write(record)
            text = auth_block(passwd, REQUIRES[q], "Satisfy Any", HOSTS[h])
            if kind == "p":
                text += ("RewriteEngine on\nRewriteRule ^citizens/(.*)$ "
                         "%s/api/citizens/$1 [P]\n" % backend.url)
            if kind == "s":
                text += "SSLRequireSSL\n"
            with open(os.path.join(docroot, "%s%d" % (kind, n), ".htaccess"), "w") as f:
                f.write(text)
    # /citizens/: where the agreement's Resource is, for the allow.
    os.makedirs(os.path.join(docroot, "citizens"))
    with open(os.path.join(docroot, "citizens", ".htaccess"), "w") as f:
        f.write(auth_block(passwd, REQUIRES["all-granted"], "Satisfy Any",
                           HOSTS["allow-from-all"])
                + "RewriteEngine on\nRewriteRule ^(.*)$ %s/api/citizens/$1 [P]\n"
                % backend.url)
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    body = ORGANISATIONS + HB_DIRECT_CARE + ('DocumentRoot "%s"\n<Directory "%s">\n    PDSGateway on\n    AllowOverride All\n'
         '    Options FollowSymLinks\n</Directory>\n' % (docroot, docroot))
    yield gateway_factory(body, extra_modules=AUTH_MODULES), record
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.allow_log(r"AH01627", r"AH02219")
@pytest.mark.parametrize("authn", sorted(AUTHN))
@pytest.mark.parametrize("kind", ["f", "p", "s"],
                         ids=["file", "rewrite-proxy", "mod-ssl-refuses-first"])
@pytest.mark.parametrize("n,combo", list(enumerate(any_combos())),
                         ids=["-".join(c) for c in any_combos()])
def test_denial_is_final_under_satisfy_any_from_htaccess(htaccess, residents, n, combo,
                                                         kind, authn):
    gw, record = htaccess
    resp, trailing = fetch(gw, "/%s%d%s" % (kind, n, RECORD), AUTHN[authn], plain=(kind == "s"))
    assert_denial_is_final(gw, resp, trailing, residents[SUBJECT]["name"]["family"],
                           httpd_may_refuse=(kind == "s" and (not AUTHN[authn]
                                                              or combo[0] == "none")))
    assert record not in resp.content + trailing


@pytest.mark.parametrize("login", [True, False], ids=["basic-valid-login", "no-login"])
def test_allow_under_satisfy_any_from_htaccess_is_still_filtered(htaccess, residents, login):
    gw, _ = htaccess
    r = gw.get(RECORD, headers={"Authorization": BASIC} if login else {})
    H.assert_allowed(gw, r, H.pick(residents[SUBJECT], *HB_FIELDS), "hb-direct-care", "3")
