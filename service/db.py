"""Engine creation, schema migration and the per-request session."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


# JSON columns (revision snapshots, keywords, feed payloads) go through orjson: a 100k import writes
# 100k snapshots, and the standard library's encoder was a tenth of its time.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        # As many connections as the server's thread pool has threads (40): writers queue on SQLite's
        # lock, not on the pool, and a reader never waits for a connection behind them.
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10,
            max_overflow=40, **JSON_CODEC,
        )  # fmt: skip

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # A 64 MiB page cache and memory-mapped reads keep graph walks over 100k rows off the disk path.
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA mmap_size=268435456")
            cur.close()

        return engine
    # Up to the server's 40 thread-pool threads, so a reader never waits for a connection.
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=30, **JSON_CODEC)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def current_revision(conn: Connection) -> str | None:
    """The schema revision the database is at (None: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """Commit when the unit of work succeeds, roll back when it raises.

    ``write`` on SQLite takes the write lock first (BEGIN IMMEDIATE, waiting up to the busy timeout).
    Otherwise a writer reads under a snapshot and then tries to upgrade it; when another writer has
    committed meanwhile SQLite refuses at once ("database is locked") instead of waiting, and the loser
    of an If-Match race would get a 500 instead of its 412.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            if write and engine.dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def brief_write(engine: Engine, *, wait_seconds: float) -> Iterator[Session]:
    """A unit of work that waits at most ``wait_seconds`` for a lock, then raises ``OperationalError``.

    For bookkeeping that may be skipped and retried later (a key's last use): it must never queue
    behind a long import for the busy timeout (SQLite, 30 s) or without end (PostgreSQL row locks).
    """
    ms = max(int(wait_seconds * 1000), 1)
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        usual = 0
        if sqlite:
            usual = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {ms}")
            conn.commit()
        try:
            with Session(bind=conn, expire_on_commit=False) as session:
                if sqlite:
                    session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = '{ms}ms'")
                yield session
                session.commit()
        finally:
            if sqlite:
                # The connection goes back to the pool: later users expect the usual busy timeout.
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {usual}")
                conn.commit()


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _sqlite_value(value: Any) -> Any:
    """A Python value as SQLAlchemy's SQLite types would store it (JSON text, datetime text, …)."""
    if isinstance(value, dict | list):
        return _json_dumps(value)
    if isinstance(value, datetime):
        return _sqlite_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # isoformat, not strftime: glibc's %Y does not pad years before 1000 ("67-04-20"), which SQLAlchemy
    # then cannot read back.
    return value.isoformat(sep=" ", timespec="microseconds")


def _column_converter(column_type: Any) -> Callable[[Any], Any] | None:
    """One converter per column instead of type tests per value (5M values in a 100k import)."""
    if isinstance(column_type, TypeDecorator):  # SQLModel's AutoString wraps a String
        column_type = column_type.impl_instance
    if isinstance(column_type, JSON):
        return lambda v: None if v is None else _json_dumps(v)
    if isinstance(column_type, DateTime):
        last: list[Any] = [None, None]  # rows of one write share their timestamp: convert it once

        def convert(v: Any) -> Any:
            if v is None or isinstance(v, str):
                return v
            if v != last[0]:
                last[0], last[1] = v, _sqlite_datetime(v)
            return last[1]

        return convert
    if isinstance(column_type, Date):
        return lambda v: v.isoformat() if isinstance(v, date) else v
    if isinstance(column_type, Integer | String | Float | Boolean):
        return None  # the driver takes these as they are
    return _sqlite_value


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]], *, chunk: int = 5000) -> None:
    """Insert many rows (all with the same keys) in the session's transaction.

    On SQLite the rows go straight to the driver's ``executemany`` with values converted as
    SQLAlchemy's types would store them — four times faster than Core's per-row bind processing,
    which dominated 100k-row imports. Other databases take the Core path.
    """
    if not rows:
        return
    conn = session.connection()
    columns = list(rows[0])
    uniform = all(len(r) == len(columns) and all(c in r for c in columns) for r in rows)
    if conn.dialect.name != "sqlite" or not uniform:  # Core applies column defaults to missing keys
        for start in range(0, len(rows), chunk):
            conn.execute(table.insert(), list(rows[start : start + chunk]))
        return
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    converters = [_column_converter(table.c[c].type) if c in table.c else _sqlite_value for c in columns]
    convert = [(i, f) for i, f in enumerate(converters) if f is not None]
    getter = itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))

    def values(r: dict[str, Any]) -> tuple[Any, ...] | list[Any]:
        # itemgetter builds the tuple in C; only the few JSON/date columns go through Python.
        if not convert:
            return getter(r)
        v = list(getter(r))
        for i, f in convert:
            v[i] = f(v[i])
        return v

    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), chunk):
            cursor.executemany(sql, [values(r) for r in rows[start : start + chunk]])
    finally:
        cursor.close()


def bulk_update_column(
    session: Session, table: Table, column: str, values: Sequence[tuple[Any, int]], *, key: str = "id"
) -> None:
    """``UPDATE table SET column = v WHERE key = k`` for many (v, k) pairs of plain values.

    SQLite takes the pairs straight through the driver's ``executemany`` (as ``bulk_insert`` does);
    other databases take Core's executemany.
    """
    if not values:
        return
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        stmt = table.update().where(table.c[key] == bindparam("_k")).values({column: bindparam("_v")})
        conn.execute(stmt, [{"_v": v, "_k": k} for v, k in values])
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f"UPDATE {table.name} SET {column} = ? WHERE {key} = ?", list(values))
    finally:
        cursor.close()
