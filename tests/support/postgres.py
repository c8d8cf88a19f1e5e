"""A throwaway PostgreSQL cluster for the test session.

``start_postgres(workdir)`` runs ``initdb`` into a fresh folder, starts the server on 127.0.0.1 on a
free port (unix socket inside the cluster folder; fsync/full_page_writes/synchronous_commit off),
creates the database ``catalog_test`` and returns a :class:`PostgresServer`.

* As root, ``initdb``/``postgres`` refuse to run: they run as the ``postgres`` OS user (created by
  Debian's ``postgresql-common``; if missing, a system user ``catalog-pg`` is created). When that
  user cannot reach ``workdir`` (pytest's ``/tmp/pytest-of-root`` is mode 0700) the cluster lives in
  a private ``/tmp/catalog-pg-*`` folder instead, removed by :meth:`PostgresServer.close`.
* ``CATALOG_TEST_POSTGRES_URL`` (an SQLAlchemy URL) makes it use that server instead: nothing is
  started, ``managed`` is False, ``restart``/``kill`` raise.
* Binaries: ``$CATALOG_PG_BINDIR``, ``pg_config --bindir``, the newest ``/usr/lib/postgresql/*/bin``,
  or ``initdb`` on PATH.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import ServerStartError, free_port, require_or_skip, required, tail

__all__ = [
    "DATABASE",
    "PostgresServer",
    "find_bindir",
    "postgres_available",
    "start_postgres",
    "start_postgres_or_skip",
]

DATABASE = "catalog_test"
SUPERUSER = "postgres"  # the cluster's superuser role (initdb -U), whatever the OS user is
ENV_URL = "CATALOG_TEST_POSTGRES_URL"
ENV_ADMIN_URL = "CATALOG_TEST_POSTGRES_ADMIN_URL"
ENV_BINDIR = "CATALOG_PG_BINDIR"
FALLBACK_OS_USER = "catalog-pg"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN"

_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "100",
    "shared_buffers": "128MB",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "timezone": "'UTC'",
}


def _has_initdb(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() and (bindir / "postgres").is_file()


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_bindir() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl``/``postgres``, newest version first, or None."""
    env = os.environ.get(ENV_BINDIR)
    if env:
        return Path(env) if _has_initdb(Path(env)) else None
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidate = Path(out.stdout.strip())
            if _has_initdb(candidate):
                # pg_config comes from libpq-dev and may name an older server than the newest one.
                newest = _newest_debian_bindir()
                if newest is not None and _version_key(newest) > _version_key(candidate):
                    return newest
                return candidate
    newest = _newest_debian_bindir()
    if newest is not None:
        return newest
    initdb = shutil.which("initdb")
    if initdb:
        candidate = Path(initdb).resolve().parent
        if _has_initdb(candidate):
            return candidate
    return None


def _newest_debian_bindir() -> Path | None:
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if _has_initdb(p)]
    return max(found, key=_version_key) if found else None


def postgres_available() -> str | None:
    """None when a PostgreSQL server can be had for tests, else why not."""
    if os.environ.get(ENV_URL):
        return None
    if os.name != "posix":
        return "throwaway PostgreSQL clusters are only supported on POSIX systems"
    if find_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found "
            "(apt-get install postgresql, or set CATALOG_PG_BINDIR, or CATALOG_TEST_POSTGRES_URL)"
        )
    if os.geteuid() == 0 and _os_user_for_root() is None and shutil.which("useradd") is None:
        return "running as root, there is no 'postgres' OS user and no useradd to create one"
    return None


def _os_user_for_root() -> str | None:
    for name in ("postgres", FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


def _ensure_os_user() -> str:
    """As root: the OS user that owns and runs the cluster (created when missing)."""
    existing = _os_user_for_root()
    if existing is not None:
        return existing
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_OS_USER,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return FALLBACK_OS_USER


def _sqlalchemy_url(user: str, host: str, port: int, database: str) -> str:
    return f"postgresql+psycopg://{user}@{host}:{port}/{database}"


@dataclass
class PostgresServer:
    """A running (or stopped) PostgreSQL server; see the module docstring."""

    url: str
    admin_url: str
    managed: bool
    host: str = "127.0.0.1"
    port: int = 0
    database: str = DATABASE
    bindir: Path | None = None
    base_dir: Path | None = None  # holds data/, sock/, postgres.log
    os_user: str | None = None  # OS user running the server when we are root, else None
    settings: dict[str, str] = field(default_factory=dict)  # postgresql.conf overrides
    owns_base_dir: bool = False  # base_dir lies outside workdir: close() removes it
    _running: bool = field(default=False, repr=False)

    # -- locations -----------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "postgres.log"

    @property
    def conninfo(self) -> str:
        """libpq/psycopg URL of ``url`` (no ``+psycopg``)."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def admin_conninfo(self) -> str:
        return self.admin_url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def pid(self) -> int | None:
        """The postmaster's pid, from ``postmaster.pid`` (None when not running / not managed)."""
        if not self.managed:
            return None
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def url_for(self, database: str) -> str:
        """The SQLAlchemy URL of another database on this server."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    # -- process control -----------------------------------------------------------------------
    def _run(
        self, args: list[str], *, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a server binary, as ``os_user`` when we are root."""
        kwargs: dict[str, Any] = {}
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        env.pop("PGDATA", None)
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.base_dir,
            env=env,
            check=False,
            **kwargs,
        )
        if check and proc.returncode != 0:
            raise ServerStartError(
                f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n"
                f"--- tail of {self.log_file} ---\n{tail(self.log_file)}"
            )
        return proc

    def _bin(self, name: str) -> str:
        assert self.bindir is not None
        return str(self.bindir / name)

    def _write_settings(self) -> None:
        settings = {
            **_SERVER_SETTINGS,
            **self.settings,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
        }
        conf = self.data_dir / "catalog_test.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            os.chown(conf, entry.pw_uid, entry.pw_gid)
        main = self.data_dir / "postgresql.conf"
        text = main.read_text(encoding="utf-8")
        if "include 'catalog_test.conf'" not in text:
            main.write_text(text + "\ninclude 'catalog_test.conf'\n", encoding="utf-8")

    def start(self, timeout: float = 60) -> None:
        """Start the server on the existing data directory (same port) and wait until it accepts."""
        self._require_managed("start")
        if self._running and self.pid is not None:
            return
        proc = self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(timeout)),
                "-s",
                "start",
            ],
            timeout=timeout + 30,
            check=False,
        )
        if proc.returncode != 0:
            raise ServerStartError(
                f"pg_ctl start exited {proc.returncode}: {proc.stdout}{proc.stderr}\n"
                f"--- tail of {self.log_file} ---\n{tail(self.log_file)}"
            )
        self._running = True
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll with psycopg until the admin database answers ``SELECT 1``."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_conninfo, connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"PostgreSQL on port {self.port} not ready after {timeout:.0f}s: {exc}\n"
                        f"--- tail of {self.log_file} ---\n{tail(self.log_file)}"
                    ) from exc
                time.sleep(0.2)

    def stop(self, timeout: float = 60) -> None:
        """Stop the server (fast shutdown, then immediate); keeps the data for ``start``/``restart``.

        A no-op for an external server (``managed`` False) or one that is not running.
        """
        if not self.managed or self.base_dir is None or not (self.data_dir / "postmaster.pid").exists():
            self._running = False
            return
        proc = self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(timeout)),
                "-s",
                "stop",
            ],
            timeout=timeout + 30,
            check=False,
        )
        if proc.returncode != 0 and (self.data_dir / "postmaster.pid").exists():
            self._run(
                [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "-s", "stop"],
                check=False,
            )
        self._running = False

    def restart(self, timeout: float = 60) -> None:
        """Stop then start again on the same data and port (for fault tests)."""
        self._require_managed("restart")
        self.stop(timeout)
        self.start(timeout)

    def kill(self) -> None:
        """SIGKILL the postmaster and its children, as a crash would (``start`` recovers)."""
        self._require_managed("kill")
        pid = self.pid
        if pid is None:
            return
        victims = [pid, *_children(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(_alive(v) for v in victims) and time.monotonic() < deadline:
            time.sleep(0.05)
        # The postmaster was daemonized by pg_ctl, so init reaps it -- maybe late. Until then its
        # zombie makes the next start refuse ("lock file postmaster.pid already exists").
        deadline = time.monotonic() + 5
        while _exists(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _exists(pid):
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        self._running = False

    def close(self) -> None:
        """Stop the server and remove its cluster folder when it lies outside ``workdir``."""
        self.stop()
        if self.owns_base_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- databases -----------------------------------------------------------------------------
    def create_database(self, name: str, *, drop_existing: bool = False) -> str:
        """Create database ``name`` (owner: the superuser) and return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_conninfo, autocommit=True) as conn:
            if drop_existing:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
            )
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def recreate_database(self, name: str = DATABASE) -> str:
        """Drop (disconnecting everybody) and create ``name`` again: a clean slate."""
        return self.create_database(name, drop_existing=True)

    def _require_managed(self, what: str) -> None:
        if not self.managed:
            raise RuntimeError(f"cannot {what} an external PostgreSQL server ({ENV_URL} is set)")


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(stat.parent.name))
    return kids


def _exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _external_server() -> PostgresServer:
    from sqlalchemy.engine import make_url

    url = make_url(os.environ[ENV_URL])
    admin = os.environ.get(ENV_ADMIN_URL) or url.set(database="postgres").render_as_string(
        hide_password=False
    )
    return PostgresServer(
        url=url.render_as_string(hide_password=False),
        admin_url=admin,
        managed=False,
        host=url.host or "",
        port=url.port or 5432,
        database=url.database or "",
    )


def _reachable_by(user: str, path: Path) -> bool:
    entry = pwd.getpwnam(user)
    proc = subprocess.run(
        ["test", "-x", str(path)],
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        cwd="/",
        check=False,
        capture_output=True,
    )
    return proc.returncode == 0


def start_postgres(
    workdir: Path, *, database: str = DATABASE, timeout: float = 60, settings: dict[str, str] | None = None
) -> PostgresServer:
    """Start a throwaway cluster under ``workdir`` (or use ``$CATALOG_TEST_POSTGRES_URL``).

    ``settings`` adds/overrides ``postgresql.conf`` entries (values as written in the file, e.g.
    ``{"synchronous_commit": "on"}``). By default the cluster trades durability for speed
    (fsync/full_page_writes/synchronous_commit off): after :meth:`PostgresServer.kill` the last few
    hundred ms of commits may be lost unless their transaction ran ``SET synchronous_commit = on``.
    """
    if os.environ.get(ENV_URL):
        return _external_server()
    reason = postgres_available()
    if reason is not None:
        raise ServerStartError(reason)
    bindir = find_bindir()
    assert bindir is not None
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    os_user = _ensure_os_user() if os.geteuid() == 0 else None
    base_dir = workdir / "postgres"
    owns = False
    if os_user is not None and not _reachable_by(os_user, workdir):
        # e.g. pytest's /tmp/pytest-of-root is 0700: the postgres user cannot get in.
        base_dir = Path(tempfile.mkdtemp(prefix="catalog-pg-"))
        owns = True
        (workdir / "postgres-location.txt").write_text(f"{base_dir}\n", encoding="utf-8")
    elif len(str(base_dir / "sock")) > _SOCKET_PATH_MAX:
        base_dir = Path(tempfile.mkdtemp(prefix="catalog-pg-"))
        owns = True
        (workdir / "postgres-location.txt").write_text(f"{base_dir}\n", encoding="utf-8")
    base_dir.mkdir(parents=True, exist_ok=True)
    (base_dir / "sock").mkdir(exist_ok=True)
    if os_user is not None:
        entry = pwd.getpwnam(os_user)
        for path in (base_dir, base_dir / "sock"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        base_dir.chmod(0o700)

    server = PostgresServer(
        url="",
        admin_url="",
        managed=True,
        port=0,
        database=database,
        bindir=bindir,
        base_dir=base_dir,
        os_user=os_user,
        owns_base_dir=owns,
        settings=dict(settings or {}),
    )
    if owns:
        atexit.register(server.close)
    else:
        atexit.register(server.stop)

    initdb = [
        server._bin("initdb"),
        "-D",
        str(server.data_dir),
        "-U",
        SUPERUSER,
        "--auth=trust",
        "--encoding=UTF8",
        "--no-sync",
    ]
    proc = server._run([*initdb, "--locale=C.UTF-8"], check=False)
    if proc.returncode != 0:  # no C.UTF-8 locale on this system: plain C with UTF-8 encoding
        shutil.rmtree(server.data_dir, ignore_errors=True)
        server._run([*initdb, "--no-locale"])

    last_error: ServerStartError | None = None
    for _attempt in range(3):  # retry on the rare race for the free port
        server.port = free_port()
        server.url = _sqlalchemy_url(SUPERUSER, server.host, server.port, database)
        server.admin_url = _sqlalchemy_url(SUPERUSER, server.host, server.port, "postgres")
        server._write_settings()
        try:
            server.start(timeout)
            break
        except ServerStartError as exc:
            last_error = exc
            server.stop()
            if "could not bind" not in str(exc) and "already in use" not in str(exc):
                raise
    else:
        assert last_error is not None
        raise last_error
    server.create_database(database)
    return server


def start_postgres_or_skip(workdir: Path, **kwargs: Any) -> PostgresServer:
    """``start_postgres`` with the skip-or-fail policy of :func:`tests.support.require_or_skip`.

    Unavailable binaries skip (fail with ``REQUIRE_POSTGRES=1``); binaries that are there but do not
    start also skip with the error, or raise it with the full log when required.
    """
    require_or_skip("postgres", postgres_available())
    try:
        return start_postgres(workdir, **kwargs)
    except ServerStartError as exc:
        if required("postgres"):
            raise
        require_or_skip("postgres", f"binaries found but the server did not start: {exc}")
        raise  # unreachable: require_or_skip raised
