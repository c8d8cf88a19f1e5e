"""SQL for the outbox: events written in the catalogue's own transactions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from service.models import GraphSyncState, OutboxEvent

OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]


def append(session: Session, entity: str, keys: Iterable[object]) -> int:
    rows = [{"entity": entity, "entity_key": str(k)} for k in keys]
    for start in range(0, len(rows), 5000):
        session.execute(insert(OUTBOX), rows[start : start + 5000])
    return len(rows)


def max_event_id(session: Session) -> int:
    return int(session.execute(select(func.max(col(OutboxEvent.id)))).scalar_one() or 0)


def applied_event_id(session: Session, backend: str) -> int:
    stmt = select(col(GraphSyncState.last_event_id)).where(col(GraphSyncState.backend) == backend)
    return int(session.execute(stmt).scalar_one_or_none() or 0)
