"""SQL for the change feed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlmodel import Session, col

from service.db import bulk_insert
from service.models import ChangeEvent

EVENT = ChangeEvent.__table__  # type: ignore[attr-defined]  # Core insert: no ORM per-row cost


def append(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, EVENT, rows)


def after(session: Session, seq: int, event_id: int, limit: int) -> list[ChangeEvent]:
    stmt = (
        select(ChangeEvent)
        .where(tuple_(col(ChangeEvent.change_seq), col(ChangeEvent.id)) > tuple_(seq, event_id))
        .order_by(col(ChangeEvent.change_seq), col(ChangeEvent.id))
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())
