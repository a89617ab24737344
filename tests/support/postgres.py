"""A throwaway PostgreSQL 15 server for the tests.

``postgres_server()`` runs ``initdb`` into a fresh temporary directory, starts
the server on a free port on 127.0.0.1 (its Unix socket stays inside that
directory), and on exit stops it and removes the directory::

    with postgres_server() as pg:
        url = pg.create_database("dnsgate_test")  # postgresql+psycopg://...
        ...

Durability is switched off (``fsync``, ``synchronous_commit``,
``full_page_writes``): the data is worth nothing after the test run.
Authentication is ``trust`` on loopback, which is fine for a server that
lives for one test session.

PostgreSQL refuses to run as root, so as root the binaries run as the
``postgres`` system user (created if missing) through ``runuser``.

The binaries are looked up in ``$DNSGATE_TEST_PG_BINDIR`` or else
``/usr/lib/postgresql/15/bin``; if they are missing this raises
``PostgresUnavailable``. It never skips: a test run that was asked for
PostgreSQL and cannot have it must fail.

With pytest-xdist each worker is its own process, so each starts its own
server (a session-scoped fixture); servers never share a port or directory.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL, make_url

BINDIR_ENV = "DNSGATE_TEST_PG_BINDIR"
DEFAULT_BINDIR = Path("/usr/lib/postgresql/15/bin")
SYSTEM_USER = "postgres"  # the OS user that runs the server when we are root
SUPERUSER = "postgres"  # the database superuser that initdb creates
DEFAULT_DBNAME = "dnsgate"
HOST = "127.0.0.1"

_INITDB_FLAGS = ("--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
_USERADD_FLAGS = ("--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin")
_START_ATTEMPTS = 5  # a free port can be taken by someone else before we bind it
_DBNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

_SETTINGS = {
    "listen_addresses": HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
    "timezone": "UTC",
}


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are not installed, or the server would not start."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it listens and how to get databases on it."""

    host: str
    port: int
    user: str
    datadir: Path
    socket_dir: Path

    def url(self, dbname: str = DEFAULT_DBNAME) -> str:
        """The SQLAlchemy URL of database ``dbname`` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` if given); return its URL."""
        return create_database(self.url("postgres"), name, template=template)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, closing any connections to it."""
        drop_database(self.url("postgres"), name)


def create_database(url_base: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` on the server of ``url_base`` and return its URL.

    ``url_base`` is the URL of any database on that server (its database part
    is ignored; the statement runs in the ``postgres`` maintenance database).
    With ``template`` the new database is a copy of that one, which is how a
    test gets a fresh, already-migrated schema in a few milliseconds. A
    template must have no open connections while it is copied: dispose of
    the engine that built it first.
    """
    parts = [sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_checked(name)))]
    if template is not None:
        parts.append(sql.SQL("TEMPLATE {}").format(sql.Identifier(_checked(template))))
    _run_maintenance(url_base, sql.SQL(" ").join(parts))
    return make_url(url_base).set(database=name).render_as_string(hide_password=False)


def drop_database(url_base: str, name: str) -> None:
    """Drop database ``name`` on the server of ``url_base``, if it exists."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(_checked(name))
    )
    _run_maintenance(url_base, statement)


@contextlib.contextmanager
def postgres_server(dbname: str = DEFAULT_DBNAME) -> Iterator[PostgresServer]:
    """Start a throwaway server with an empty database ``dbname``; stop and delete it after."""
    bindir = find_bindir()
    runas = _server_user()
    tmp = Path(tempfile.mkdtemp(prefix="dnsgate-pg-", dir=_tmp_parent(runas)))
    started: PostgresServer | None = None
    try:
        datadir, socket_dir = tmp / "data", tmp / "sock"
        socket_dir.mkdir()
        if runas is not None:
            _chown_tree(tmp, runas)
        _initdb(bindir, runas, tmp, datadir, socket_dir)
        started = _start(bindir, runas, tmp, datadir, socket_dir)
        create_database(started.url("postgres"), dbname)
        yield started
    finally:
        if started is not None:
            _pg_ctl(bindir, runas, tmp, "stop", "-D", str(started.datadir), "-m", "immediate")
        shutil.rmtree(tmp, ignore_errors=True)


def find_bindir() -> Path:
    """The directory with ``initdb``, ``pg_ctl`` and ``postgres``, or a clear error."""
    bindir = Path(os.environ.get(BINDIR_ENV) or DEFAULT_BINDIR)
    missing = [n for n in ("initdb", "pg_ctl", "postgres") if not (bindir / n).is_file()]
    if missing:
        raise PostgresUnavailable(
            f"PostgreSQL 15 server binaries not found: {', '.join(missing)} missing in "
            f"{bindir}. Install them with `apt-get install postgresql-15` (scripts/test "
            f"does), or point ${BINDIR_ENV} at the directory that has them."
        )
    return bindir


# -- internals ---------------------------------------------------------------


def _checked(name: str) -> str:
    if not _DBNAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def _run_maintenance(url_base: str, statement: sql.Composable) -> None:
    url = make_url(url_base)
    with psycopg.connect(_conninfo(url, "postgres"), autocommit=True) as conn:
        conn.execute(statement)


def _conninfo(url: URL, dbname: str) -> str:
    params = {
        "host": url.host or HOST,
        "port": str(url.port or 5432),
        "user": url.username or SUPERUSER,
        "dbname": dbname,
        "connect_timeout": "10",
    }
    if url.password:
        params["password"] = str(url.password)
    return make_conninfo(**params)


def _server_user() -> str | None:
    """The user to run the binaries as, or None to run them as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        _run(
            ["useradd", *_USERADD_FLAGS, SYSTEM_USER],
            what=f"creating the system user {SYSTEM_USER!r}",
        )
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root, but `runuser` (util-linux) is missing")
    return SYSTEM_USER


def _tmp_parent(runas: str | None) -> str | None:
    """Where to make the temp dir: the default, unless the server user cannot reach it."""
    if runas is None:
        return None
    parent = Path(tempfile.gettempdir())
    reachable = all(os.stat(p).st_mode & 0o001 for p in (parent, *parent.parents))
    return str(parent) if reachable else "/tmp"


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for item in (path, *path.rglob("*")):
        os.chown(item, entry.pw_uid, entry.pw_gid)


def _initdb(bindir: Path, runas: str | None, cwd: Path, datadir: Path, socket_dir: Path) -> None:
    initdb = [str(bindir / "initdb"), "-D", str(datadir), "-U", SUPERUSER, *_INITDB_FLAGS]
    _run(_as(runas, initdb), what="initdb", cwd=cwd)
    settings = {**_SETTINGS, "unix_socket_directories": str(socket_dir)}
    with (datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# dnsgate test server\n")
        for key, value in settings.items():
            conf.write(f"{key} = '{value}'\n")


def _start(
    bindir: Path, runas: str | None, cwd: Path, datadir: Path, socket_dir: Path
) -> PostgresServer:
    log = cwd / "server.log"
    output = ""
    for _attempt in range(_START_ATTEMPTS):
        port = _free_port()
        # -w: wait until it accepts connections; -o: options for postgres itself
        args = ["-D", str(datadir), "-l", str(log), "-w", "-t", "60", "-o", f"-p {port}"]
        result = _pg_ctl(bindir, runas, cwd, "start", *args)
        if result.returncode == 0:
            return PostgresServer(HOST, port, SUPERUSER, datadir, socket_dir)
        output = result.stdout + result.stderr
        if "could not bind" not in _tail(log):
            break
    raise PostgresUnavailable(
        f"the PostgreSQL test server did not start:\n{output}\n--- {log} ---\n{_tail(log)}"
    )


def _pg_ctl(
    bindir: Path, runas: str | None, cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    argv = _as(runas, [str(bindir / "pg_ctl"), *args])
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _as(runas: str | None, argv: Sequence[str]) -> list[str]:
    return ["runuser", "-u", runas, "--", *argv] if runas else list(argv)


def _run(argv: Sequence[str], *, what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"{what} failed (exit {result.returncode}) as {getpass.getuser()}:\n"
            f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}"
        )


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return "(no log)"
