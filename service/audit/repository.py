"""SQL for the audit trail: append under the head lock, filtered keyset reads, the chain walk.

There is no update or delete here, and none may be added: the tables refuse them anyway.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from service.audit.chain import GENESIS_HASH
from service.models import AuditEntry, AuditHead

ENTRY = AuditEntry.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Filters:
    """What GET /v1/audit and its export may narrow by (all optional, combined with AND)."""

    actor: str | None = None
    role: str | None = None
    key_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    route: str | None = None
    request_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


# --- appending ------------------------------------------------------------------------------------


def lock_head(conn: Connection) -> tuple[int, str]:
    """(last id, last hash) of the chain, with the head row locked until commit.

    An UPDATE rather than SELECT … FOR UPDATE: it takes the row lock on PostgreSQL and the write
    lock on SQLite alike, so the head read after it is the newest on both.
    """
    row = conn.execute(
        update(HEAD)
        .where(HEAD.c.id == 1)
        .values(last_id=HEAD.c.last_id)
        .returning(HEAD.c.last_id, HEAD.c.last_hash)
    ).first()
    if row is None:  # a database migrated without its head row: start the chain
        conn.execute(insert(HEAD).values(id=1, last_id=0, last_hash=GENESIS_HASH))
        return lock_head(conn)
    return int(row[0]), str(row[1])


def append(conn: Connection, rows: Sequence[dict[str, Any]], *, at: datetime) -> None:
    """Insert entries (ids and hashes already chained) and move the head to the last of them."""
    conn.execute(insert(ENTRY), list(rows))
    last = rows[-1]
    conn.execute(
        update(HEAD).where(HEAD.c.id == 1).values(last_id=last["id"], last_hash=last["hash"], updated_at=at)
    )


# --- reading --------------------------------------------------------------------------------------


def _filtered(stmt: Select[Any], f: Filters) -> Select[Any]:
    for name in ("actor", "role", "key_id", "entity_type", "entity_id", "action", "route", "request_id"):
        value = getattr(f, name)
        if value is not None:
            stmt = stmt.where(ENTRY.c[name] == value)
    if f.since is not None:
        stmt = stmt.where(ENTRY.c.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(ENTRY.c.at < f.until)
    return stmt


def newest_first(
    session: Session, f: Filters, *, limit: int, before_id: int | None = None
) -> list[AuditEntry]:
    """Up to ``limit`` entries, newest first, older than ``before_id`` (keyset)."""
    stmt = _filtered(select(AuditEntry), f).order_by(col(AuditEntry.id).desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(col(AuditEntry.id) < before_id)
    return list(session.execute(stmt).scalars())


def get(session: Session, entry_id: int) -> AuditEntry | None:
    return session.get(AuditEntry, entry_id)


def count(session: Session, f: Filters) -> int:
    return int(session.execute(_filtered(select(func.count()).select_from(ENTRY), f)).scalar_one())


def oldest_first(
    session: Session, f: Filters, *, batch: int = 1000, upto: int | None = None
) -> Iterator[Any]:
    """Every matching entry as a row, in chain order, read in keyset batches (memory stays flat)."""
    last = 0
    while True:
        stmt = _filtered(select(ENTRY), f).where(ENTRY.c.id > last).order_by(ENTRY.c.id).limit(batch)
        if upto is not None:
            stmt = stmt.where(ENTRY.c.id <= upto)
        rows = session.execute(stmt).all()
        yield from rows
        if len(rows) < batch:
            return
        last = int(rows[-1].id)


def head(session: Session) -> tuple[int, str]:
    row = session.execute(select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)
