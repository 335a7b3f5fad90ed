"""A person's view from the consent store's persistent index (issue #15 part
2): with a consent store, the view of who received a person's data lists
every file of the audit log's series after a full stop and start, a
rotation (rename + graceful) and a compression, and indexes each line of
the log once (the cursor is in the store, so nothing is read again). A store
at schema 1, exactly as the previous release made it, is migrated to 2 at
start, on SQLite and on PostgreSQL, its consents kept (issue #15 part 3)."""
import os
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

import pds_harness as H
import pds_postgres
from pds_configs import AUTH_MODULES, CITIZENS_LOCATION, ORGANISATIONS, OTHER_SUBJECT, \
    SUBJECT, location, person_location
from test_consent import CONSENT_AGREEMENT, nobody_owned_dir
from test_consent_deploy import call, consented_location, htpasswd_file, person_api, \
    receipt_key
from test_disclosures import AGREEMENTS

RECORD = "/consented/%s/record" % SUBJECT

# Schema 1 as the previous release created it (git show
# 6730dee:lib/pds_consent_store.c, schema_v1[]), statement by statement.
SCHEMA_V1 = [
    "CREATE TABLE pds_schema (version INTEGER NOT NULL)",
    "CREATE TABLE pds_consents ("
    " id VARCHAR(64) PRIMARY KEY,"
    " subject VARCHAR(64) NOT NULL,"
    " organisation VARCHAR(64) NOT NULL,"
    " agreement VARCHAR(64),"
    " purpose VARCHAR(64) NOT NULL,"
    " fields TEXT NOT NULL,"
    " legal_basis VARCHAR(32) NOT NULL,"
    " notice VARCHAR(128) NOT NULL,"
    " created BIGINT NOT NULL,"
    " expires BIGINT NOT NULL,"
    " state VARCHAR(16) NOT NULL,"
    " version INTEGER NOT NULL,"
    " updated BIGINT NOT NULL,"
    " actor VARCHAR(100) NOT NULL)",
    "CREATE INDEX pds_consents_by_subject ON pds_consents (subject, organisation, purpose)",
    "CREATE TABLE pds_consent_history ("
    " consent_id VARCHAR(64) NOT NULL REFERENCES pds_consents (id),"
    " version INTEGER NOT NULL,"
    " action VARCHAR(16) NOT NULL,"
    " state VARCHAR(16) NOT NULL,"
    " actor VARCHAR(100) NOT NULL,"
    " time BIGINT NOT NULL,"
    " PRIMARY KEY (consent_id, version))",
    "CREATE TABLE pds_mandates ("
    " subject VARCHAR(64) NOT NULL,"
    " manager VARCHAR(64) NOT NULL,"
    " granted BIGINT NOT NULL,"
    " revoked BIGINT,"
    " PRIMARY KEY (subject, manager, granted))",
    "CREATE TABLE pds_optouts ("
    " subject VARCHAR(64) NOT NULL,"
    " purpose VARCHAR(64) NOT NULL,"
    " granted BIGINT NOT NULL,"
    " revoked BIGINT,"
    " PRIMARY KEY (subject, purpose, granted))",
    "INSERT INTO pds_schema (version) VALUES (1)",
]

CONSENT_ID = "c-" + "0123456789abcdef" * 2


def v1_consent_rows():
    """A live consent of SUBJECT's (health-board, care-planning, name.given)
    and its grant, as schema 1 holds them."""
    now = int(time.time() * 1e6)
    year = 365 * 86400 * 10 ** 6
    return [
        "INSERT INTO pds_consents (id, subject, organisation, agreement, purpose, fields, "
        "legal_basis, notice, created, expires, state, version, updated, actor) VALUES "
        "('%s', '%s', 'health-board', NULL, 'care-planning', '[\"name.given\"]', 'consent', "
        "'n-1', %d, %d, 'active', 1, %d, '%s')" % (CONSENT_ID, SUBJECT, now, now + year, now,
                                                   SUBJECT),
        "INSERT INTO pds_consent_history (consent_id, version, action, state, actor, time) "
        "VALUES ('%s', 1, 'grant', 'active', '%s', %d)" % (CONSENT_ID, SUBJECT, now),
    ]


def body(store_line, pw):
    return (ORGANISATIONS + store_line
            + 'PDSConsentReceiptKey "%(receipt)s"\n'
            + AGREEMENTS + CONSENT_AGREEMENT + CITIZENS_LOCATION + location("/fraud/")
            + consented_location() + person_api(pw)
            + "\n" + person_location("/my/disclosures", "pds-disclosures", pw))


@pytest.fixture
def shared():
    d = nobody_owned_dir("pds-e2e-index-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start(gateway_factory, tmp_path_factory, shared, store_line):
    pw = htpasswd_file(shared, [(SUBJECT, "pw"), (OTHER_SUBJECT, "pw")])
    receipt = receipt_key(str(tmp_path_factory.mktemp("k")))
    text = body(store_line, pw).replace("%(receipt)s", receipt)
    return gateway_factory(text, extra_modules=AUTH_MODULES, log_level="warn pds:info")


def my_view(gw, who=SUBJECT):
    s = H.requests.Session()
    s.trust_env = False
    with s:
        r = s.get(gw.url("/my/disclosures"), auth=(who, "pw"), verify=gw.pki.ca_cert,
                  timeout=20)
    assert r.status_code == 200, H.describe(r)
    return r.json()["disclosures"]


def lines_in(path):
    if path.endswith(".gz"):
        out = subprocess.run(["gzip", "-dc", path], capture_output=True, check=True).stdout
    else:
        with open(path, "rb") as f:
            out = f.read()
    return out.count(b"\n")


def series_lines(log):
    d = os.path.dirname(log)
    base = os.path.basename(log)
    return sum(lines_in(os.path.join(d, n)) for n in os.listdir(d)
               if (n == base or n.startswith(base + ".")) and not n.endswith(".head"))


def test_the_view_survives_restart_rotation_and_compression_reading_each_line_once(
        gateway_factory, tmp_path_factory, shared):
    db = os.path.join(shared, "consent.db")
    g = start(gateway_factory, tmp_path_factory, shared, 'PDSConsentStore sqlite3 "%s"\n' % db)
    log = g.httpd.audit_path
    times = []

    def disclose():
        r = g.get("/citizens/%s/record" % SUBJECT)
        assert r.status_code == 200, H.describe(r)
        times.append(g.audit_for(r)["time"])

    def cursor():
        with sqlite3.connect(db) as c:
            return c.execute("SELECT last_seq, lines FROM pds_disclosure_cursors").fetchone()

    disclose()
    restricted = g.get("/fraud/%s/record" % SUBJECT, who="data-trust",
                       purpose="fraud-investigation")
    assert restricted.status_code == 200
    assert [d["time"] for d in my_view(g)] == times         # never the restricted one
    disclose()
    assert [d["time"] for d in my_view(g)] == times
    # a full stop and start: the index is in the store, the cursor too
    g.close_sessions()
    g.httpd.stop()
    g.httpd.start()
    before = cursor()
    disclose()
    assert [d["time"] for d in my_view(g)] == times
    after = cursor()
    assert 1 <= after[1] - before[1] <= 5, (before, after)  # the new lines, not the log again
    # rotated as logrotate does (rename, graceful), then the older one compressed;
    # records written between the rename and the graceful restart are in the view
    os.rename(log, log + ".1")
    assert g.get("/citizens/%s/record" % SUBJECT).status_code == 200
    view = my_view(g)                       # the record went to the renamed file
    assert [d["time"] for d in view[:-1]] == times and len(view) == len(times) + 1
    times.append(view[-1]["time"])
    H.graceful_restart(g.httpd)
    disclose()
    assert [d["time"] for d in my_view(g)] == times
    os.rename(log + ".1", log + ".2")
    subprocess.run(["gzip", log + ".2"], check=True)
    os.rename(log, log + ".1")
    H.graceful_restart(g.httpd)
    disclose()
    disclose()
    g.close_sessions()
    g.httpd.stop()
    g.httpd.start()
    assert [d["time"] for d in my_view(g)] == times
    assert my_view(g, OTHER_SUBJECT) == []
    # every line of the series indexed exactly once, across two stops, two
    # rotations and a compression; one row per disclosure of the person
    assert cursor()[1] == series_lines(log), (cursor(), series_lines(log))
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT COUNT(*) FROM pds_disclosures WHERE subject = ?",
                         (SUBJECT,)).fetchone()[0]
    assert rows == len(times) + 1                           # and the restricted one, withheld
    assert "PDS00530" in g.httpd.error_log_text()
    if os.geteuid() == 0:
        # a log directory only root may enter: the parent's descriptors serve
        directory = os.path.dirname(log)
        mode = os.stat(directory).st_mode & 0o777
        os.chmod(directory, 0o700)
        try:
            H.graceful_restart(g.httpd)
            disclose()
            assert [d["time"] for d in my_view(g)] == times
        finally:
            os.chmod(directory, mode)


def check_migrated(g, versions):
    assert versions == [1, 2], versions
    r = call(g, "GET", "/consents", (SUBJECT, "pw"))
    assert r.status_code == 200, H.describe(r)
    assert [(c["id"], c["state"]) for c in r.json()["consents"]] == [(CONSENT_ID, "active")]
    # the migrated consent still decides; the view answers from the new tables
    ok = g.get(RECORD, purpose="care-planning")
    assert ok.status_code == 200, H.describe(ok)
    assert [d["time"] for d in my_view(g)] == [g.audit_for(ok)["time"]]


def test_a_schema_1_sqlite_store_is_migrated_to_2_and_keeps_its_consents(
        gateway_factory, tmp_path_factory, shared):
    db = os.path.join(shared, "consent.db")
    with sqlite3.connect(db) as c:
        for sql in SCHEMA_V1 + v1_consent_rows():
            c.execute(sql)
    os.chmod(db, 0o600)
    if os.geteuid() == 0:
        shutil.chown(db, "nobody", "nogroup")
    g = start(gateway_factory, tmp_path_factory, shared, 'PDSConsentStore sqlite3 "%s"\n' % db)
    with sqlite3.connect(db) as c:
        versions = [r[0] for r in c.execute("SELECT version FROM pds_schema ORDER BY version")]
    check_migrated(g, versions)


def test_a_schema_1_postgresql_store_is_migrated_to_2_and_keeps_its_consents(
        gateway_factory, tmp_path_factory, shared):
    ok, why = pds_postgres.postgres_available()
    if not ok:
        pytest.skip("PostgreSQL is needed (tools/install-deps.sh installs it): " + why)
    pg = pds_postgres.Postgres()
    try:
        pg.start()
        pg.psql(";\n".join(SCHEMA_V1 + v1_consent_rows()) + ";\n")
        g = start(gateway_factory, tmp_path_factory, shared,
                  'PDSConsentStore pgsql "%s"\n' % pg.conninfo)
        versions = [int(v) for v in
                    pg.psql("SELECT version FROM pds_schema ORDER BY version").split()]
        check_migrated(g, versions)
        g.close_sessions()
        g.httpd.stop()
    finally:
        pg.stop()


def test_nodes_sharing_postgresql_show_every_nodes_disclosures_each_once(
        gateway_factory, tmp_path_factory, shared):
    """Two nodes, one PostgreSQL: a person sees what both disclosed, from
    either node; concurrent views (several children racing over the index)
    add no row twice and index each line of a node's log once."""
    ok, why = pds_postgres.postgres_available()
    if not ok:
        pytest.skip("PostgreSQL is needed (tools/install-deps.sh installs it): " + why)
    pg = pds_postgres.Postgres()
    try:
        pg.start()
        store = 'PDSConsentStore pgsql "%s"\n' % pg.conninfo
        nodes = [start(gateway_factory, tmp_path_factory, shared,
                       "PDSNodeName gw%d\n" % (i + 1) + store) for i in range(2)]
        times = []
        for g in (nodes[0], nodes[1], nodes[0]):
            r = g.get("/citizens/%s/record" % SUBJECT)
            assert r.status_code == 200, H.describe(r)
            times.append(g.audit_for(r)["time"])
        # each node indexes its own log when its view is asked
        my_view(nodes[0])
        assert sorted(d["time"] for d in my_view(nodes[1])) == sorted(times)
        assert sorted(d["time"] for d in my_view(nodes[0])) == sorted(times)
        for _ in range(6):
            r = nodes[0].get("/citizens/%s/record" % SUBJECT)
            assert r.status_code == 200
            times.append(nodes[0].audit_for(r)["time"])
        views = []
        threads = [threading.Thread(target=lambda: views.append(my_view(nodes[0])))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(views) == 8
        assert [d["time"] for d in my_view(nodes[1])] == sorted(times)
        rows = pg.psql("SELECT node, COUNT(*), COUNT(DISTINCT seq) FROM pds_disclosures "
                       "GROUP BY node ORDER BY node").split()
        assert rows == ["gw1|8|8", "gw2|1|1"], rows
        lines = pg.psql("SELECT lines FROM pds_disclosure_cursors WHERE node = 'gw1'").strip()
        assert int(lines) == series_lines(nodes[0].httpd.audit_path)
        for g in nodes:
            g.close_sessions()
            g.httpd.stop()
    finally:
        pg.stop()


def test_under_pseudonymous_audit_the_index_holds_pseudonyms_only(
        gateway_factory, tmp_path_factory, shared):
    """PDSAuditSubject pseudonym: the store's index names people as the log
    does, by pseudonym, and the view still finds the signed-in person's."""
    keyfile = str(tmp_path_factory.mktemp("pskey") / "subjects.key")
    H.write_private(keyfile, (os.urandom(32).hex() + "\n").encode())
    db = os.path.join(shared, "consent.db")
    g = start(gateway_factory, tmp_path_factory, shared,
              'PDSConsentStore sqlite3 "%s"\n' % db
              + 'PDSAuditSubject pseudonym "%s"\n' % keyfile)
    r = g.get("/citizens/%s/record" % SUBJECT)
    assert r.status_code == 200, H.describe(r)
    logged = g.audit_for(r)["subject"]
    assert logged != SUBJECT
    assert [d["time"] for d in my_view(g)] == [g.audit_for(r)["time"]]
    assert my_view(g, OTHER_SUBJECT) == []
    with sqlite3.connect(db) as c:
        subjects = [row[0] for row in c.execute("SELECT subject FROM pds_disclosures")]
    assert subjects == [logged]
    for path in (db, db + "-wal"):
        if os.path.exists(path):
            with open(path, "rb") as f:
                assert SUBJECT.encode() not in f.read(), path
