"""A person's view from the consent store's persistent index (issue #15 part
2): with a consent store, the view of who received a person's data lists
every file of the audit log's series after a full stop and start, a
rotation (rename + graceful) and a compression, and indexes each line of
the log once (the cursor is in the store, so nothing is read again). A store
at schema 1 or 2, exactly as the previous releases made them, is migrated to
3 at start, on SQLite and on PostgreSQL, its consents and its index kept
(issue #15 part 3). Each node indexes its log from the background too: an
idle node's disclosures reach another node's view within the bound; an
answer that may lack a node's latest ones says so, as JSON and on the
portal's page; a renamed node's disclosures are listed once."""
import functools
import html
import os
import re
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
            + "\n" + person_location("/my/disclosures", "pds-disclosures", pw)
            + person_location("/portal", "pds-portal", pw))


_started = []      # the gateways of the running test, stopped with its store


@pytest.fixture
def shared():
    d = nobody_owned_dir("pds-e2e-index-")
    yield d
    # the gateways go with their store (they would go on indexing into it)
    H.stop_gateways([g for g in _started if g.httpd.running])
    del _started[:]
    shutil.rmtree(d, ignore_errors=True)


def start(gateway_factory, tmp_path_factory, shared, store_line):
    pw = htpasswd_file(shared, [(SUBJECT, "pw"), (OTHER_SUBJECT, "pw")])
    receipt = receipt_key(str(tmp_path_factory.mktemp("k")))
    text = body(store_line, pw).replace("%(receipt)s", receipt)
    g = gateway_factory(text, extra_modules=AUTH_MODULES, log_level="warn pds:info")
    _started.append(g)
    return g


def my_answer(gw, who=SUBJECT, path="/my/disclosures"):
    s = H.requests.Session()
    s.trust_env = False
    with s:
        r = s.get(gw.url(path), auth=(who, "pw"), verify=gw.pki.ca_cert, timeout=20)
    assert r.status_code == 200, H.describe(r)
    return r


def my_view(gw, who=SUBJECT):
    return my_answer(gw, who).json()["disclosures"]


# PDS_DISCLOSURE_INDEX_INTERVAL_SEC and _STALE_SEC (mod_pds_disclosure_index.h)
INDEX_INTERVAL = 2
INDEX_STALE = 30
MARGIN = 4                      # for a loaded 2-core machine


def release(g, times):
    """SUBJECT's record released by g; its audit record's time into times."""
    r = g.get("/citizens/%s/record" % SUBJECT)
    assert r.status_code == 200, H.describe(r)
    times.append(g.audit_for(r)["time"])


def query(db, sql, args=()):
    """The rows a query of the SQLite store at db answers."""
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchall()


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

    disclose = functools.partial(release, g, times)

    def cursor():
        return query(db, "SELECT last_seq, lines FROM pds_disclosure_cursors")[0]

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


def check_migrated(g, versions, before=()):
    assert versions == [1, 2, 3], versions
    r = call(g, "GET", "/consents", (SUBJECT, "pw"))
    assert r.status_code == 200, H.describe(r)
    assert [(c["id"], c["state"]) for c in r.json()["consents"]] == [(CONSENT_ID, "active")]
    # the migrated consent still decides; the view answers from the new
    # tables, the disclosures indexed before the migration first
    ok = g.get(RECORD, purpose="care-planning")
    assert ok.status_code == 200, H.describe(ok)
    assert [d["time"] for d in my_view(g)] == list(before) + [g.audit_for(ok)["time"]]


# Schema 2's index as the previous release created it (git show
# c464eb6:lib/pds_disclosure_store.c, pds_store_schema_v2[]), and a
# disclosure to SUBJECT another node indexed under it.
SCHEMA_V2 = SCHEMA_V1 + [
    "CREATE TABLE pds_disclosures ("
    " node TEXT NOT NULL,"
    " seq BIGINT NOT NULL,"
    " subject TEXT NOT NULL,"
    " time TEXT NOT NULL,"
    " month TEXT NOT NULL,"
    " agreement TEXT NOT NULL,"
    " visible_from BIGINT NOT NULL,"
    " entry TEXT NOT NULL,"
    " PRIMARY KEY (node, seq, subject))",
    "CREATE INDEX pds_disclosures_by_subject ON pds_disclosures (subject, time)",
    "CREATE INDEX pds_disclosures_by_month ON pds_disclosures (agreement, month)",
    "CREATE TABLE pds_disclosure_cursors ("
    " node TEXT PRIMARY KEY,"
    " file_first BIGINT NOT NULL,"
    " file_offset BIGINT NOT NULL,"
    " last_seq BIGINT NOT NULL,"
    " lines BIGINT NOT NULL,"
    " updated BIGINT NOT NULL)",
    "INSERT INTO pds_schema (version) VALUES (2)",
]
V2_TIME = "2026-01-05T09:00:00.000000Z"


def v2_index_rows():
    entry = ('{"time":"%s","organisation":"health-board","agreement":"hb-care",'
             '"agreement_version":null,"purpose":"care-planning","legal_basis":"consent",'
             '"fields":["name.given"]}' % V2_TIME)
    return ["INSERT INTO pds_disclosures (node, seq, subject, time, month, agreement, "
            "visible_from, entry) VALUES ('gw-old', 41, '%s', '%s', '2026-01', 'hb-care', 0, "
            "'%s')" % (SUBJECT, V2_TIME, entry)]


def postgres():
    """A PostgreSQL server for the test, not started yet (the test skips
    where there is none)."""
    ok, why = pds_postgres.postgres_available()
    if not ok:
        pytest.skip("PostgreSQL is needed (tools/install-deps.sh installs it): " + why)
    return pds_postgres.Postgres()


def migrated_sqlite(gateway_factory, tmp_path_factory, shared, statements, before=()):
    """A gateway started on a SQLite store that statements made, checked."""
    db = os.path.join(shared, "consent.db")
    with sqlite3.connect(db) as c:
        for sql in statements:
            c.execute(sql)
    os.chmod(db, 0o600)
    if os.geteuid() == 0:
        shutil.chown(db, "nobody", "nogroup")
    g = start(gateway_factory, tmp_path_factory, shared, 'PDSConsentStore sqlite3 "%s"\n' % db)
    versions = [r[0] for r in query(db, "SELECT version FROM pds_schema ORDER BY version")]
    check_migrated(g, versions, before)
    return db


def migrated_postgresql(gateway_factory, tmp_path_factory, shared, statements, before=()):
    """The same on a PostgreSQL store."""
    pg = postgres()
    try:
        pg.start()
        pg.psql(";\n".join(statements) + ";\n")
        g = start(gateway_factory, tmp_path_factory, shared,
                  'PDSConsentStore pgsql "%s"\n' % pg.conninfo)
        versions = [int(v) for v in
                    pg.psql("SELECT version FROM pds_schema ORDER BY version").split()]
        check_migrated(g, versions, before)
        g.close_sessions()
        g.httpd.stop()
    finally:
        pg.stop()


def test_a_schema_1_sqlite_store_is_migrated_to_3_and_keeps_its_consents(
        gateway_factory, tmp_path_factory, shared):
    migrated_sqlite(gateway_factory, tmp_path_factory, shared, SCHEMA_V1 + v1_consent_rows())


def test_a_schema_1_postgresql_store_is_migrated_to_3_and_keeps_its_consents(
        gateway_factory, tmp_path_factory, shared):
    migrated_postgresql(gateway_factory, tmp_path_factory, shared,
                        SCHEMA_V1 + v1_consent_rows())


def test_a_schema_2_sqlite_store_is_migrated_to_3_and_keeps_its_index(
        gateway_factory, tmp_path_factory, shared):
    db = migrated_sqlite(gateway_factory, tmp_path_factory, shared,
                         SCHEMA_V2 + v1_consent_rows() + v2_index_rows(), before=[V2_TIME])
    lines = sorted(r[0] for r in query(db, "SELECT line FROM pds_disclosures"))
    assert lines[-1] == "v2 gw-old 41" and re.fullmatch("[0-9a-f]{64}", lines[0]), lines


def test_a_schema_2_postgresql_store_is_migrated_to_3_and_keeps_its_index(
        gateway_factory, tmp_path_factory, shared):
    migrated_postgresql(gateway_factory, tmp_path_factory, shared,
                        SCHEMA_V2 + v1_consent_rows() + v2_index_rows(), before=[V2_TIME])


def test_nodes_sharing_postgresql_show_every_nodes_disclosures_each_once(
        gateway_factory, tmp_path_factory, shared):
    """Two nodes, one PostgreSQL: a person sees what both disclosed, from
    either node; concurrent views (several children racing over the index)
    add no row twice and index each line of a node's log once."""
    pg = postgres()
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


def view_until(gw, predicate, timeout):
    """The view's JSON once predicate(answer) holds; fails after timeout s."""
    start = time.monotonic()
    while True:
        answer = my_answer(gw).json()
        if predicate(answer):
            return answer, time.monotonic() - start
        assert time.monotonic() - start < timeout, answer
        time.sleep(0.2)


def test_an_idle_nodes_disclosures_reach_another_nodes_view_and_a_silent_node_is_said(
        gateway_factory, tmp_path_factory, shared):
    """Node gw1 releases a record and is asked nothing more: gw2's view
    lists it within PDS_DISCLOSURE_INDEX_INTERVAL_SEC (gw1 indexes its log
    from the background), and says it is complete. gw1 stopped and silent
    for longer than the bound: gw2's answer says it may lack gw1's latest
    disclosures, as JSON and on the portal's page, in plain words; gw1 back,
    the answer is whole again."""
    pg = postgres()
    try:
        pg.start()
        store = 'PDSConsentStore pgsql "%s"\n' % pg.conninfo
        gw1, gw2 = [start(gateway_factory, tmp_path_factory, shared,
                          "PDSNodeName gw%d\n" % (i + 1) + store) for i in range(2)]
        assert my_view(gw2) == []
        released = []
        release(gw1, released)
        answer, took = view_until(gw2, lambda a: [d["time"] for d in a["disclosures"]]
                                  == released, INDEX_INTERVAL + MARGIN)
        print("gw1's disclosure in gw2's view after %.1f s" % took)
        assert answer["complete"] is True and answer["behind"] == [], answer
        assert "PDS00530" in gw1.httpd.error_log_text()     # indexed without a request
        page = my_answer(gw2, path="/portal/disclosures").text
        assert 'id="incomplete"' not in page

        # gw1 stops; its cursor as it is once it has been silent past the bound
        gw1.close_sessions()
        gw1.httpd.stop()
        pg.psql("UPDATE pds_disclosure_cursors SET updated = updated - %d WHERE node = 'gw1'"
                % ((INDEX_STALE + 30) * 10 ** 6))
        answer = my_answer(gw2).json()
        assert [d["time"] for d in answer["disclosures"]] == released
        assert answer["complete"] is False, answer
        [behind] = answer["behind"]
        assert behind["node"] == "gw1" and behind["reason"] == "not-checked", behind
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", behind["since"]), behind
        page = my_answer(gw2, path="/portal/disclosures").text
        notice = re.search(r'<div class="problem" id="incomplete" role="status">(.*?)</div>',
                           page, re.S)
        assert notice, page
        words = html.unescape(re.sub(r"<[^>]+>", " ", notice.group(1)))
        assert "This list may not be complete yet" in words, words
        assert "gw1" in words and behind["since"][:10] in words, words
        assert "Look again in a few minutes" in words, words

        # gw1 back: it says it looked, and the answer is whole again
        gw1.httpd.start()
        answer, _ = view_until(gw2, lambda a: a["complete"], INDEX_INTERVAL + MARGIN)
        assert answer["behind"] == [] and len(answer["disclosures"]) == 1, answer
        assert 'id="incomplete"' not in my_answer(gw2, path="/portal/disclosures").text
        for g in (gw1, gw2):
            g.close_sessions()
            g.httpd.stop()
    finally:
        pg.stop()


def test_a_renamed_node_lists_each_disclosure_once(gateway_factory, tmp_path_factory, shared):
    """PDSNodeName changed and the node restarted: its index goes on under
    the new name from where it was (the file it was in is known by its
    first line), nothing is indexed again, and each disclosure is in the
    view once."""
    db = os.path.join(shared, "consent.db")
    g = start(gateway_factory, tmp_path_factory, shared,
              'PDSNodeName gw-a\nPDSConsentStore sqlite3 "%s"\n' % db)
    times = []

    disclose = functools.partial(release, g, times)

    def cursors():
        return query(db, "SELECT node, lines FROM pds_disclosure_cursors")

    disclose()
    disclose()
    assert [d["time"] for d in my_view(g)] == times
    [(name, lines)] = cursors()
    assert name == "gw-a"
    g.close_sessions()
    g.httpd.stop()
    g.httpd.body = g.httpd.body.replace("PDSNodeName gw-a", "PDSNodeName gw-b")
    g.httpd.write_conf()
    g.httpd.start()
    disclose()
    view = my_view(g)
    assert [d["time"] for d in view] == times, view
    assert my_answer(g).json()["complete"] is True
    [(name, after)] = cursors()
    assert name == "gw-b" and 1 <= after - lines <= 5, (lines, after)
    rows = query(db, "SELECT COUNT(*), COUNT(DISTINCT line) FROM pds_disclosures "
                 "WHERE subject = ?", (SUBJECT,))
    assert rows == [(3, 3)], rows
    assert re.search(r"PDS00542: .* under the name gw-b \(it was gw-a\)",
                     g.httpd.error_log_text())


@pytest.mark.allow_log("PDS00531", "PDS00540")
def test_a_node_that_cannot_read_its_log_answers_what_is_indexed_and_says_so(
        gateway_factory, tmp_path_factory, shared):
    """The file the index is reading is damaged (a rotated file whose gzip
    is cut short): the view answers what is indexed, says this node is
    behind ("unreadable"), and the portal says the list may not be
    complete; the file repaired, the answer is whole again."""
    db = os.path.join(shared, "consent.db")
    g = start(gateway_factory, tmp_path_factory, shared,
              'PDSNodeName gw-r\nPDSConsentStore sqlite3 "%s"\n' % db)
    log = g.httpd.audit_path
    times = []
    for _ in range(8):                      # more than the 4 KiB a file's probe reads
        release(g, times)
    assert [d["time"] for d in my_view(g)] == times
    os.rename(log, log + ".1")
    subprocess.run(["gzip", log + ".1"], check=True)
    with open(log + ".1.gz", "rb") as f:
        whole = f.read()
    with open(log + ".1.gz", "wb") as f:
        f.write(whole[:-8])                 # its trailer gone: "cut short"
    H.graceful_restart(g.httpd)
    later = []
    release(g, later)
    answer = my_answer(g).json()
    assert [d["time"] for d in answer["disclosures"]] == times, answer
    assert answer["complete"] is False, answer
    assert [(b["node"], b["reason"]) for b in answer["behind"]] == [("gw-r", "unreadable")]
    page = my_answer(g, path="/portal/disclosures").text
    assert 'id="incomplete"' in page and "gw-r" in page, page
    assert "PDS00531" in g.httpd.error_log_text()
    with open(log + ".1.gz", "wb") as f:    # repaired in place (the parent's descriptor)
        f.write(whole)
    answer = my_answer(g).json()
    assert answer["complete"] is True, answer
    assert [d["time"] for d in answer["disclosures"]] == times + later
