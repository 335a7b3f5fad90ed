"""Self-test of pds_postgres.Postgres, the throwaway PostgreSQL server the
store tests use. PostgreSQL is required: when it cannot be started these
tests FAIL (not skip, and not as fixture errors: the fixture hands the reason
to the test, which fails with it). The last test stops the shared server, so
it stays last in the file."""
import os
import socket
import subprocess

import pytest

from pds_postgres import HOST, Postgres, PostgresError, postgres_available


@pytest.fixture(scope="module")
def server():
    """The module's Postgres, or the reason there is none (a str)."""
    ok, why = postgres_available()
    if not ok:
        yield "PostgreSQL is required for the store tests and is not usable: " + why
        return
    pg = Postgres()
    try:
        pg.start()
    except PostgresError as e:
        yield "could not start the test PostgreSQL: %s" % e
        return
    yield pg
    pg.stop()


@pytest.fixture
def pg(server):
    return server


def _need(pg):
    if isinstance(pg, str):
        pytest.fail(pg, pytrace=False)
    return pg


def _listeners(port):
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[3] for line in out.splitlines()
                   if len(line.split()) > 3 and line.split()[3].rsplit(":", 1)[-1] == str(port)})


def _other_local_addresses():
    """127.0.0.2 (on lo, not 127.0.0.1) and ::1, plus the machine's other
    IPv4 addresses when `ip` can list them."""
    addrs = [("127.0.0.2", socket.AF_INET), ("::1", socket.AF_INET6)]
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            addr = fields[fields.index("inet") + 1].split("/")[0]
            if addr != HOST:
                addrs.append((addr, socket.AF_INET))
    return addrs


def _connects(addr, family, port):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect((addr, port))
            return True
    except OSError:
        return False


def test_select_1_on_loopback_only(pg):
    pg = _need(pg)
    assert pg.running
    assert pg.psql("select 1") == "1\n"
    assert pg.psql("select current_user, current_database()") == "pds|pds\n"
    assert pg.conninfo == ("host=127.0.0.1 port=%d dbname=pds user=pds password=pds-test"
                           % pg.port)
    assert _listeners(pg.port) == ["127.0.0.1:%d" % pg.port]
    for addr, family in _other_local_addresses():
        assert not _connects(addr, family, pg.port), "reachable on %s:%d" % (addr, pg.port)
    with pytest.raises(PostgresError, match="no_such_table"):
        pg.psql("select * from no_such_table")


def test_kill_then_restart_keeps_data(pg):
    pg = _need(pg)
    port = pg.port
    pg.psql("create table survivor (id int primary key, note text);\n"
            "insert into survivor values (1, 'before the crash');")
    pg.kill()
    assert not pg.running
    assert _listeners(port) == []
    with pytest.raises(PostgresError):
        pg.psql("select 1")
    pg.restart()
    assert pg.running and pg.port == port
    assert pg.psql("select note from survivor where id = 1") == "before the crash\n"


def test_stop_removes_directory(pg):
    pg = _need(pg)
    directory, port = pg.dir, pg.port
    assert os.path.isdir(os.path.join(directory, "data"))
    pg.stop()
    assert not pg.running
    assert not os.path.exists(directory)
    assert _listeners(port) == []
    pg.stop()                                   # idempotent
