"""SQL for the change feed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlmodel import Session, col

from service.models import ChangeEvent


def append(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5000):
        session.execute(insert(ChangeEvent), list(rows[start : start + 5000]))


def after(session: Session, seq: int, event_id: int, limit: int) -> list[ChangeEvent]:
    stmt = (
        select(ChangeEvent)
        .where(tuple_(col(ChangeEvent.change_seq), col(ChangeEvent.id)) > tuple_(seq, event_id))
        .order_by(col(ChangeEvent.change_seq), col(ChangeEvent.id))
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())
