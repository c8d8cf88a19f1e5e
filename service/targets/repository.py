"""SQL for targets and their indicator rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlmodel import Session, col

from service.models import Indicator, Target, TargetIndicator

ROWS = TargetIndicator.__table__  # type: ignore[attr-defined]


def get(session: Session, external_id: str) -> Target | None:
    return session.execute(select(Target).where(col(Target.external_id) == external_id)).scalar_one_or_none()


def add(session: Session, target: Target) -> Target:
    session.add(target)
    session.flush()
    return target


def replace_rows(session: Session, target_id: int, rows: list[dict[str, Any]]) -> None:
    session.execute(delete(ROWS).where(ROWS.c.target_id == target_id))
    if rows:
        session.execute(insert(ROWS), [dict(r, target_id=target_id) for r in rows])


def rows_of(session: Session, target_id: int) -> list[tuple[TargetIndicator, Indicator]]:
    stmt = (
        select(TargetIndicator, Indicator)
        .join(Indicator, col(Indicator.id) == col(TargetIndicator.indicator_id))
        .where(col(TargetIndicator.target_id) == target_id)
        .order_by(col(TargetIndicator.id))
    )
    return [(r, i) for r, i in session.execute(stmt)]
