"""Every file in conf/ passes `httpd -t` (issue 6 item 5): the commented
example with every directive, and Debian's pds.load / pds.conf, each with
its placeholder paths pointed at real files made for the test."""
import os
import re
import secrets
import shutil
import subprocess
import tempfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import pds_harness as H
from pds_configs import AUTH_MODULES

CONF = os.path.join(H.TOP, "conf")


def private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def placeholder_tree(root, pki, token_keys):
    """/etc/pds as the example expects it, under root."""
    etc = os.path.join(root, "etc", "pds")
    for d in ("tls", "keys"):
        os.makedirs(os.path.join(etc, d), exist_ok=True)
    os.makedirs(os.path.join(root, "var", "lib", "pds"), exist_ok=True)
    os.makedirs(os.path.join(root, "logs"), exist_ok=True)
    for name in ("audit.key", "pseudonym.key"):
        H.write_private(os.path.join(etc, name), (secrets.token_hex(32) + "\n").encode())
    for name in ("audit-signing.pem", "receipt.key", "response.key"):
        H.write_private(os.path.join(etc, name), private_pem(ed25519.Ed25519PrivateKey.generate()))
    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(os.path.join(etc, "keys", "uni-research.pem"), "wb") as f:
        f.write(public)
    with open(os.path.join(etc, "receipt-previous.pub"), "wb") as f:
        f.write(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with open(os.path.join(etc, "trust-registry.json"), "w") as f:
        f.write('{"issuers": [], "revoked": []}\n')
    subprocess.run(["htpasswd", "-cbB", os.path.join(etc, "residents.htpasswd"), "9836900608",
                    "pw"], check=True, capture_output=True)
    return etc


def test_the_example_configuration_passes_httpd_t(request, httpd_factory, pki, token_keys,
                                                  tmp_path):
    with open(os.path.join(CONF, "pds-example.conf")) as f:
        text = f.read()
    root = str(tmp_path)
    etc = placeholder_tree(root, pki, token_keys)
    port = H.free_port()
    # The consent store's directory, as the admin guide has it: httpd's
    # children (User) reach and write it (`httpd -t` checks that).
    state = tempfile.mkdtemp(prefix="pds-conf-state-")
    request.addfinalizer(lambda: shutil.rmtree(state, ignore_errors=True))
    os.chmod(state, 0o755)
    os.mkdir(os.path.join(state, "spool"), 0o700)     # PDSSpoolDirectory
    if os.geteuid() == 0:
        shutil.chown(state, "nobody", "nogroup")
        shutil.chown(os.path.join(state, "spool"), "nobody", "nogroup")
    text = (text.replace("/etc/pds/tls/gateway.council.example.crt", pki.path("server.crt"))
                .replace("/etc/pds/tls/gateway.council.example.key", pki.path("server.key"))
                .replace("/etc/pds/tls/partner-client-ca.crt", pki.ca_cert)
                .replace("/etc/pds/", etc + "/")
                .replace("/var/lib/pds/", state + "/")
                .replace("/var/log/pds/", os.path.join(root, "logs") + "/")
                .replace("Listen 8443", "Listen 127.0.0.1:%d" % port)
                .replace("<VirtualHost *:8443>", "<VirtualHost 127.0.0.1:%d>" % port))
    assert " /etc/pds" not in text
    h = httpd_factory(text.replace("%", "%%"), extra_modules=AUTH_MODULES)
    rc, out = h.config_test()
    assert rc == 0, out
    assert "Syntax OK" in out
    # every directive the module has is in the example (the guard checks the
    # names; this checks they are accepted together)
    assert re.search(r"PDSConsentStore|PDSSignResponses", text)


def test_debian_load_and_conf_pass_httpd_t(httpd_factory, pds_module, pki, token_keys, tmp_path):
    with open(os.path.join(CONF, "pds.load")) as f:
        load = f.read().replace("/usr/lib/apache2/modules/mod_pds.so", pds_module)
    with open(os.path.join(CONF, "pds.conf")) as f:
        conf = f.read()
    root = str(tmp_path)
    etc = placeholder_tree(root, pki, token_keys)
    body = load + (conf.replace("/etc/pds/", etc + "/")
                   .replace("/var/log/pds/", os.path.join(root, "logs") + "/"))
    assert "/var/log/pds" not in body
    h = httpd_factory(body.replace("%", "%%"), with_pds=False, audit_log=None)
    rc, out = h.config_test()
    assert rc == 0, out
    assert "Syntax OK" in out
