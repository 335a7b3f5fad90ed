"""A throwaway PostgreSQL server for the end-to-end tests.

    from pds_postgres import Postgres, postgres_available
    pg = Postgres(); pg.start()          # initdb + start, database and role 'pds'
    pg.psql("select 1")                  # -> "1\n"
    pg.conninfo                          # the string apr_dbd's pgsql driver takes
    pg.kill(); pg.restart()              # the store goes down, then comes back
    pg.stop()                            # fast shutdown, directory removed

The server listens on 127.0.0.1 only, on a free port outside the kernel's
ephemeral range (so no outgoing connection can take it while the server is
down between kill() and restart()), with trust authentication for loopback
and Unix-socket connections. Its directory is made under /dev/shm (a tmpfs:
much faster) or /tmp, see base_dir(), not in pytest's tmp dirs (those are
0700 root, and PostgreSQL will not run as root: when the euid is 0, initdb
and pg_ctl run as the 'postgres' system user through runuser). initdb runs
once per process, into a template cluster that each server copies.

Layout of the directory (owned by the server's user, mode 0700):
    data/            the cluster
    postgres.log     the server's log (pg_ctl -l), appended to across restarts
    .s.PGSQL.<port>  the Unix socket

Nothing here knows pytest. Every started server is stopped at interpreter
exit (atexit) if the tests did not stop it.

Environment:
  PDS_PG_BINDIR   where initdb, pg_ctl and postgres are
                  (default /usr/lib/postgresql/15/bin)
  PDS_PG_TMPDIR   where the servers' directories go (default: base_dir())
"""
import atexit
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BINDIR = os.environ.get("PDS_PG_BINDIR", "/usr/lib/postgresql/15/bin")
PSQL = "/usr/bin/psql" if os.access("/usr/bin/psql", os.X_OK) else os.path.join(BINDIR, "psql")
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
SERVER_USER = "postgres"            # the system user the server runs as when we are root

HOST = "127.0.0.1"
DATABASE = "pds"
ROLE = "pds"
PASSWORD = "pds-test"
SUPERUSER = "postgres"              # initdb -U: the bootstrap superuser's name

START_TIMEOUT = 30                  # seconds pg_ctl start/stop may wait
BIND_RETRIES = 3                    # new ports tried when the chosen one is taken

_PG_ENV_DROP = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD",
                "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGOPTIONS", "PGSSLMODE",
                "PGDATA", "PGCLUSTER", "PGCONNECT_TIMEOUT", "PGTARGETSESSIONATTRS")


class PostgresError(RuntimeError):
    pass


def base_dir():
    """Where the servers' directories go: $PDS_PG_TMPDIR, else /dev/shm when
    it is a roomy tmpfs (initdb 0.5 s there against 1.5 s on this machine's
    ext4 /tmp), else /tmp. Never pytest's tmp dirs: 0700 root."""
    env = os.environ.get("PDS_PG_TMPDIR")
    if env:
        return env
    try:
        st = os.statvfs("/dev/shm")
        if (os.stat("/dev/shm").st_mode & 0o1777 == 0o1777
                and st.f_bavail * st.f_frsize >= 1 << 30):
            return "/dev/shm"
    except OSError:
        pass
    return "/tmp"


def _as_root():
    return os.geteuid() == 0


def _clean_env():
    env = {k: v for k, v in os.environ.items() if k not in _PG_ENV_DROP}
    env["LC_ALL"] = "C"          # English, deterministic messages; initdb gets --locale=C
    env["LANG"] = "C"
    env.pop("LANGUAGE", None)
    return env


def _server_cmd(argv):
    """argv, run as the server's user: through runuser when we are root."""
    if _as_root():
        return [RUNUSER, "-u", SERVER_USER, "--"] + argv
    return argv


def postgres_available():
    """(True, description) when a server can be started here, else (False, why)."""
    for name in ("initdb", "pg_ctl", "postgres"):
        path = os.path.join(BINDIR, name)
        if not os.access(path, os.X_OK):
            return False, ("%s not found: install PostgreSQL 15 (Debian: apt-get install "
                           "postgresql-15) or set PDS_PG_BINDIR" % path)
    if not os.access(PSQL, os.X_OK):
        return False, "no psql client at %s (Debian: postgresql-client-15)" % PSQL
    if _as_root():
        if not os.access(RUNUSER, os.X_OK):
            return False, "running as root and no runuser to drop to the %r user" % SERVER_USER
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return False, ("running as root and there is no %r system user to run "
                           "PostgreSQL as (the Debian package creates it)" % SERVER_USER)
    try:
        proc = subprocess.run(_server_cmd([os.path.join(BINDIR, "postgres"), "--version"]),
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL, cwd="/", env=_clean_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, "cannot run postgres --version: %s" % e
    if proc.returncode != 0:
        return False, ("`%s` failed (%d): %s"
                       % (" ".join(_server_cmd(["postgres", "--version"])), proc.returncode,
                          (proc.stderr or proc.stdout).strip()))
    return True, proc.stdout.strip()


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_port():
    """A free TCP port on 127.0.0.1 below (or above) the ephemeral range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo > 21000:
        span = (20000, lo - 1)
    elif hi < 64000:
        span = (hi + 1, 65000)
    else:
        span = None
    if span:
        for _ in range(100):
            port = random.randint(*span)
            if _port_free(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:   # fall back: any port
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _run_server_cmd(argv, timeout, cwd):
    """Runs argv as the server's user, in cwd (a directory that user can
    enter: it cannot enter root's, and initdb and pg_ctl complain)."""
    try:
        return subprocess.run(_server_cmd(argv), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd,
                              env=_clean_env())
    except subprocess.TimeoutExpired as e:
        raise PostgresError("%s timed out after %ss" % (" ".join(argv), timeout)) from e


def _write_server_file(path, text):
    """Writes a file the server reads, owned by the server's user, 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if _as_root():
        pw = pwd.getpwnam(SERVER_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


_template_dir = None


def _template():
    """A never-started cluster made by initdb once per process (in
    base_dir(), removed at exit), with the test pg_hba.conf and an include of the
    per-server pds_test.conf; every Postgres starts from a copy of it."""
    global _template_dir
    if _template_dir is not None:
        data = os.path.join(_template_dir, "data")
        if os.path.isfile(os.path.join(data, "PG_VERSION")):
            return data
    base = tempfile.mkdtemp(prefix="pds-pg-template-", dir=base_dir())
    atexit.register(shutil.rmtree, base, True)
    os.chmod(base, 0o700)
    if _as_root():
        pw = pwd.getpwnam(SERVER_USER)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data = os.path.join(base, "data")
    proc = _run_server_cmd(
        [os.path.join(BINDIR, "initdb"), "-D", data, "-U", SUPERUSER, "-A", "trust",
         "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], 120, base)
    if proc.returncode != 0:
        shutil.rmtree(base, True)
        raise PostgresError("initdb failed (exit %d):\n%s"
                            % (proc.returncode, (proc.stdout + proc.stderr).strip()))
    _write_server_file(os.path.join(data, "pg_hba.conf"),
                       "# written by tests/e2e/pds_postgres.py\n"
                       "local all all trust\n"
                       "host  all all 127.0.0.1/32 trust\n")
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write("\ninclude 'pds_test.conf'\n")
    _template_dir = base
    return data


class Postgres:
    """One throwaway PostgreSQL server (see the module docstring).

    directory: where it lives (created, chowned to the server's user and
    deleted by stop()); by default a fresh mkdtemp in base_dir(). Every parent
    must be searchable by the 'postgres' user, and the path short enough
    for a Unix socket.
    port: fixed port; by default one is picked, and replaced if another
    process takes it before the server binds it.
    settings: extra postgresql.conf settings, e.g. {"max_connections": 200}.
    """

    def __init__(self, directory=None, port=None, settings=None):
        self._given_dir = directory
        self.dir = os.path.abspath(directory) if directory else None
        self._port_fixed = port is not None
        self.port = int(port) if port else pick_port()
        self.settings = dict(settings or {})
        self._initialised = False
        self._owns_dir = False          # set once the directory is ours to delete
        self._atexit = False
        self.start_seconds = None       # how long the last start()/restart() took

    def __repr__(self):
        return "<Postgres %s:%d %s%s>" % (HOST, self.port, self.dir,
                                         " running" if self.running else "")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ paths

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data") if self.dir else None

    @property
    def log_path(self):
        return os.path.join(self.dir, "postgres.log") if self.dir else None

    @property
    def conninfo(self):
        """The connection string apr_dbd's pgsql driver (libpq) takes."""
        return "host=%s port=%d dbname=%s user=%s password=%s" % (
            HOST, self.port, DATABASE, ROLE, PASSWORD)

    @property
    def running(self):
        pid = self._postmaster_pid()
        return pid is not None and _pid_alive(pid)

    def log_text(self, tail=None):
        """The server log (its last `tail` lines when given)."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""
        if tail:
            text = "\n".join(text.splitlines()[-tail:])
        return text

    # ------------------------------------------------------------ lifecycle

    def start(self):
        """Creates the cluster if need be, starts the server and waits until
        it accepts connections; the first time, creates role and database
        'pds'. Returns self. Starting a running server does nothing. When the
        first start fails, the directory is removed (the error carries the
        server log's tail); a failed restart keeps it for stop() to remove."""
        t0 = time.monotonic()
        if self.running:
            return self
        if self._initialised:
            self._start_server()
        else:
            ok, why = postgres_available()
            if not ok:
                raise PostgresError("PostgreSQL is not available: " + why)
            self._register_atexit()
            try:
                self._make_dir()
                self._initdb()
                self._write_config()
                self._start_server()
                self.psql("CREATE ROLE %s LOGIN PASSWORD '%s';\n"
                          "CREATE DATABASE %s OWNER %s;\n" % (ROLE, PASSWORD, DATABASE, ROLE),
                          user=SUPERUSER, dbname="postgres")
            except BaseException:
                self.stop()
                raise
            self._initialised = True
        self.start_seconds = time.monotonic() - t0
        return self

    def _start_server(self):
        for attempt in range(BIND_RETRIES + 1):
            offset = len(self.log_text())
            proc = self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT), "-l", self.log_path)
            if proc.returncode == 0 and self.running:
                break
            log = self.log_text()[offset:]
            if (not self._port_fixed and attempt < BIND_RETRIES and
                    ("could not bind" in log or "could not create any TCP/IP" in log)):
                self._stop_quietly()
                self.port = pick_port()
                self._write_config()
                continue
            self._stop_quietly()
            raise PostgresError("pg_ctl start failed (exit %d) on %s:%d:\n%s\n--- %s:\n%s"
                                % (proc.returncode, HOST, self.port,
                                   (proc.stdout + proc.stderr).strip(), self.log_path,
                                   self.log_text(tail=40)))
        self._wait_ready()

    def kill(self):
        """The store goes down: an immediate shutdown (no checkpoint, as in
        a crash); the data stay and restart() brings the server back."""
        if self.dir is None or not os.path.isdir(self.data_dir):
            return
        if self.running:
            proc = self._pg_ctl("stop", "-m", "immediate", "-w", "-t", str(START_TIMEOUT))
            if proc.returncode != 0 and self.running:
                self._sigkill()

    def restart(self):
        """kill() if running, then start on the same port with the same data."""
        if not self._initialised:
            raise PostgresError("restart() before start()")
        self.kill()
        fixed, self._port_fixed = self._port_fixed, True     # same port, or fail
        try:
            return self.start()
        finally:
            self._port_fixed = fixed

    def stop(self):
        """Fast shutdown, then the directory is removed. Idempotent."""
        if self._atexit:
            atexit.unregister(self.stop)
            self._atexit = False
        if not self._owns_dir:
            return
        self._stop_quietly()
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.dir):
            raise PostgresError("could not remove %s" % self.dir)
        self._owns_dir = False
        self._initialised = False

    # ------------------------------------------------------------ SQL

    def psql(self, sql, user=ROLE, dbname=DATABASE, timeout=60):
        """Runs SQL (one or more statements, fed on stdin) with psql over
        TCP, stops at the first error and raises PostgresError with psql's
        message; returns psql's stdout, unaligned and tuples only
        (columns separated by '|', e.g. "1\\n" for "select 1")."""
        env = _clean_env()
        env["PGPASSWORD"] = PASSWORD
        env["PGCONNECT_TIMEOUT"] = "5"
        argv = [PSQL, "-X", "-q", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", HOST, "-p", str(self.port), "-U", user, "-d", dbname, "-f", "-"]
        try:
            proc = subprocess.run(argv, input=sql, capture_output=True, text=True,
                                  timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise PostgresError("psql timed out after %ss running: %s" % (timeout, sql))
        if proc.returncode != 0:
            raise PostgresError("psql failed (exit %d) as %s on %s:%d/%s running:\n%s\n%s"
                                % (proc.returncode, user, HOST, self.port, dbname,
                                   sql.strip(), proc.stderr.strip()))
        return proc.stdout

    # ------------------------------------------------------------ internals

    def _run_as_server(self, argv, timeout):
        return _run_server_cmd(argv, timeout, self.dir)

    def _pg_ctl(self, *args):
        return self._run_as_server([os.path.join(BINDIR, "pg_ctl"), "-D", self.data_dir,
                                    "-s"] + list(args), START_TIMEOUT + 30)

    def _make_dir(self):
        if self._given_dir is None:
            self.dir = tempfile.mkdtemp(prefix="pds-pg-", dir=base_dir())
        else:
            if os.path.exists(self.dir) and os.listdir(self.dir):
                raise PostgresError("%s is not empty" % self.dir)
            os.makedirs(self.dir, exist_ok=True)
        self._owns_dir = True
        # sun_path holds 107 bytes; the socket is <dir>/.s.PGSQL.<port>
        if len(os.fsencode(self.dir)) + len("/.s.PGSQL.65535") > 107:
            raise PostgresError("%s is too long a path for the Unix socket" % self.dir)
        os.chmod(self.dir, 0o700)
        if _as_root():
            pw = pwd.getpwnam(SERVER_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            check = self._run_as_server(["test", "-w", self.dir, "-a", "-x", self.dir], 30)
            if check.returncode != 0:
                raise PostgresError("the %r user cannot write %s: a parent directory is "
                                    "not searchable by it (pytest's tmp dirs are 0700 root)"
                                    % (SERVER_USER, self.dir))

    def _register_atexit(self):
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True

    def _initdb(self):
        """The cluster: a copy of this process's initdb'd template (initdb
        takes ~1.5 s, the copy ~0.1 s)."""
        proc = _run_server_cmd(["cp", "-a", _template(), self.data_dir], 120, self.dir)
        if proc.returncode != 0:
            raise PostgresError("copying the template cluster failed:\n%s"
                                % (proc.stdout + proc.stderr).strip())

    def _write_config(self):
        conf = {
            "listen_addresses": "'%s'" % HOST,
            "port": self.port,
            "unix_socket_directories": "'%s'" % self.dir,
            "fsync": "off",                  # the OS still gets every commit: kill() loses nothing
            "full_page_writes": "off",
            "wal_level": "minimal",
            "max_wal_senders": 0,
            "shared_buffers": "'32MB'",
            "max_wal_size": "'256MB'",        # bounds the WAL (in RAM on /dev/shm)
            "jit": "off",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
        }
        for k, v in self.settings.items():
            conf[k] = "'%s'" % v if isinstance(v, str) and not v.startswith("'") else v
        self._write_server_file("pds_test.conf", "".join("%s = %s\n" % kv for kv in conf.items()))

    def _write_server_file(self, name, text):
        _write_server_file(os.path.join(self.data_dir, name), text)

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    pass
                self.psql("select 1", user=SUPERUSER, dbname="postgres", timeout=10)
                return
            except (OSError, PostgresError) as e:
                last = e
                if not self.running:
                    break
                time.sleep(0.05)
        raise PostgresError("PostgreSQL on %s:%d does not accept connections: %s\n--- %s:\n%s"
                            % (HOST, self.port, last, self.log_path, self.log_text(tail=40)))

    def _postmaster_pid(self):
        if self.dir is None:
            return None
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def _sigkill(self):
        pid = self._postmaster_pid()
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL)   # pg_ctl makes the postmaster a session leader
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _stop_quietly(self):
        """Stops the server however it can: fast, then immediate, then SIGKILL."""
        if self.dir is None or not os.path.isdir(self.data_dir or ""):
            return
        for mode in ("fast", "immediate"):
            if not self.running:
                return
            try:
                self._pg_ctl("stop", "-m", mode, "-w", "-t", str(START_TIMEOUT))
            except PostgresError:
                pass
        if self.running:
            self._sigkill()
