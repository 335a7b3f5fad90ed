"""The consent store's life cycle through a real httpd (issue #15 item 3):
an online backup of the SQLite store taken while the gateway serves and
writes, restored after a stop, gives back exactly the consents of the backup
with their history; a store whose schema is newer than the module is refused
at start with a message saying what to do, and nothing is served from it."""
import os
import shutil
import sqlite3
import subprocess
import threading

import pytest

import pds_harness as H
from pds_configs import AUTH_MODULES, ORGANISATIONS, SUBJECT
from test_consent import CONSENT_AGREEMENT, nobody_owned_dir
from test_consent_deploy import GRANT, call, consented_location, htpasswd_file, person_api, \
    receipt_key

RECORD = "/consented/%s/record" % SUBJECT
SURVEY = dict(GRANT, purpose="care-planning", fields=["care.needs"], notice="n-2")


@pytest.fixture
def store(tmp_path_factory):
    shared = nobody_owned_dir("pds-e2e-store-life-")
    yield shared
    shutil.rmtree(shared, ignore_errors=True)


def config(shared, tmp_path_factory):
    pw = htpasswd_file(shared, [(SUBJECT, "pw")])
    return (ORGANISATIONS + 'PDSConsentStore sqlite3 "%s/consent.db"\n' % shared
            + 'PDSConsentReceiptKey "%s"\n' % receipt_key(str(tmp_path_factory.mktemp("k")))
            + CONSENT_AGREEMENT + consented_location() + person_api(pw))


def consents(gw):
    r = call(gw, "GET", "/consents", (SUBJECT, "pw"))
    assert r.status_code == 200, H.describe(r)
    return {c["id"]: c["state"] for c in r.json()["consents"]}


def backup(db, out):
    """What docs/consent.md tells the sysadmin to run, while httpd runs."""
    p = subprocess.run(["sqlite3", db, ".backup '%s'" % out], capture_output=True, text=True,
                       timeout=60, preexec_fn=lambda: os.umask(0o077))
    assert p.returncode == 0, p.stderr
    return out


def test_an_online_backup_restores_the_consents_it_holds(gateway_factory, store,
                                                         tmp_path_factory):
    body = config(store, tmp_path_factory)
    gw = gateway_factory(body, extra_modules=AUTH_MODULES)
    db = os.path.join(store, "consent.db")
    kept = call(gw, "POST", "/consents", (SUBJECT, "pw"), GRANT)
    assert kept.status_code == 201, H.describe(kept)
    kept_id = kept.json()["consent"]["id"]
    assert call(gw, "POST", "/consents/%s/pause" % kept_id, (SUBJECT, "pw")).status_code == 200
    assert call(gw, "POST", "/consents/%s/resume" % kept_id, (SUBJECT, "pw")).status_code == 200

    # the backup runs while the gateway reads and writes the store
    stop = threading.Event()
    statuses = []

    def traffic():
        while not stop.is_set():
            statuses.append(gw.get(RECORD, purpose="care-planning").status_code)
            g = call(gw, "POST", "/consents", (SUBJECT, "pw"), SURVEY)
            statuses.append(g.status_code)
    t = threading.Thread(target=traffic)
    t.start()
    try:
        copy = backup(db, os.path.join(str(tmp_path_factory.mktemp("backup")), "consent.db"))
    finally:
        stop.set()
        t.join(timeout=60)
    assert statuses and set(statuses) <= {200, 201}, set(statuses)
    assert os.stat(copy).st_mode & 0o077 == 0, "the backup is readable by others"
    with sqlite3.connect(copy) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_backup = {row[0] for row in c.execute("SELECT id FROM pds_consents")}
    assert kept_id in in_backup

    # after the backup: the kept consent is revoked, another is granted
    assert call(gw, "POST", "/consents/%s/revoke" % kept_id, (SUBJECT, "pw")).status_code == 200
    later = call(gw, "POST", "/consents", (SUBJECT, "pw"), SURVEY).json()["consent"]["id"]
    gw.close_sessions()
    gw.httpd.stop()

    # restore: the backup in place of the store (journal files removed), as
    # the store's owner, mode 0600; the gateway starts on it
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    shutil.copyfile(copy, db)
    os.chmod(db, 0o600)
    if os.geteuid() == 0:
        shutil.chown(db, "nobody", "nogroup")
    gw.httpd.start()
    restored = consents(gw)
    assert restored.get(kept_id) == "active", restored     # as it was at the backup
    assert later not in restored, restored                 # made after it
    assert set(restored) == in_backup
    history = call(gw, "GET", "/consents/%s" % kept_id, (SUBJECT, "pw")).json()
    actions = [h.get("action") or h.get("state") for h in history["history"]]
    assert len(actions) == 3, history                      # grant, pause, resume
    assert gw.get(RECORD, purpose="care-planning").status_code == 200


def test_a_store_newer_than_the_module_is_refused(gateway_factory, store, tmp_path_factory):
    body = config(store, tmp_path_factory)
    gw = gateway_factory(body, extra_modules=AUTH_MODULES)
    assert call(gw, "POST", "/consents", (SUBJECT, "pw"), GRANT).status_code == 201
    gw.close_sessions()
    gw.httpd.stop()
    db = os.path.join(store, "consent.db")
    with sqlite3.connect(db) as c:
        c.execute("INSERT INTO pds_schema (version) VALUES (99)")
    with pytest.raises(H.HttpdError) as failed:
        gw.httpd.start()
    text = str(failed.value)
    assert "schema is version 99, newer than this mod_pds knows" in text, text
    assert "upgrade mod_pds" in text, text
    # the store is left as it was: nothing was migrated down or rewritten
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT version FROM pds_schema ORDER BY version")] \
            == [1, 2, 3, 99]
        assert c.execute("SELECT count(*) FROM pds_consents").fetchone()[0] == 1
