"""SQL for the suggestion engine: the indicator columns it keeps, and relational context signals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select, text
from sqlmodel import Session, col

from service.codes import code_key
from service.models import (
    Department,
    Duty,
    Indicator,
    IndicatorDuty,
    IndicatorGoal,
    Sector,
    StrategicGoal,
    Target,
    TargetIndicator,
)

INDICATOR = Indicator.__table__  # type: ignore[attr-defined]

DOC_COLUMNS = (
    "id",
    "code",
    "name",
    "kind",
    "status",
    "category_id",
    "sector_id",
    "department_id",
    "raw_level2",
    "unit",
    "comparator",
    "value",
    "value_num",
    "raw_value",
    "keywords",
    "definition",
)


# Both counters in one round trip: the indicator change counter (drives the engine's refresh) and the
# outbox position (any catalogue write, incl. duties, goals and targets; keys the link cache).
FRESHNESS = text(
    "SELECT (SELECT change_seq FROM catalog_state WHERE id = 1), (SELECT max(id) FROM outbox_event)"
)


def freshness(session: Session) -> tuple[int, int]:
    """(catalogue change counter, last outbox event id); 0 for what does not exist yet."""
    seq, position = session.execute(FRESHNESS).one()
    return int(seq or 0), int(position or 0)


def department_id(session: Session, name_or_code: str) -> int | None:
    """The department named, or coded in any case or width (service/codes.py: ``jyt`` is JYT)."""
    found = session.execute(
        select(col(Department.id)).where(
            (col(Department.name) == name_or_code)
            | (col(Department.code) == name_or_code)
            | (col(Department.code_key) == code_key(name_or_code))
        )
    ).scalar()
    return None if found is None else int(found)


def doc_rows(session: Session, *, since_seq: int | None = None) -> list[Row[Any]]:
    """The columns the engine keeps, for every indicator or for those changed after ``since_seq``."""
    stmt = select(*[INDICATOR.c[c] for c in DOC_COLUMNS])
    if since_seq is not None:
        stmt = stmt.where(INDICATOR.c.change_seq > since_seq)
    return list(session.execute(stmt))


def department_links(session: Session, department_id: int) -> list[tuple[str, str, str]]:
    """(indicator code, link kind, what links it) for indicators tied to the department's work.

    Link kinds: ``duty`` (measures one of its 三定 duties), ``goal`` (one of its strategic goals),
    ``target`` (used in one of its registered performance targets).
    """
    out: list[tuple[str, str, str]] = []
    duty_stmt = (
        select(col(Indicator.code), col(Duty.name))
        .join(IndicatorDuty, col(IndicatorDuty.indicator_id) == col(Indicator.id))
        .join(Duty, col(Duty.id) == col(IndicatorDuty.duty_id))
        .where(col(Duty.department_id) == department_id)
    )
    out.extend((code, "duty", name) for code, name in session.execute(duty_stmt))
    goal_stmt = (
        select(col(Indicator.code), col(StrategicGoal.name))
        .join(IndicatorGoal, col(IndicatorGoal.indicator_id) == col(Indicator.id))
        .join(StrategicGoal, col(StrategicGoal.id) == col(IndicatorGoal.goal_id))
        .where(col(StrategicGoal.department_id) == department_id)
    )
    out.extend((code, "goal", name) for code, name in session.execute(goal_stmt))
    target_stmt = (
        select(col(Indicator.code), col(Target.project), col(Target.external_id))
        .join(TargetIndicator, col(TargetIndicator.indicator_id) == col(Indicator.id))
        .join(Target, col(Target.id) == col(TargetIndicator.target_id))
        .where(col(Target.department_id) == department_id)
    )
    out.extend((code, "target", project or ext) for code, project, ext in session.execute(target_stmt))
    return out


TARGET_STAMP = text(
    "SELECT (SELECT count(*) FROM target), (SELECT coalesce(sum(version), 0) FROM target),"
    " (SELECT count(*) FROM target_indicator)"
)


def target_stamp(session: Session) -> tuple[int, int, int]:
    """Changes whenever a target is registered, replaced or removed (its rows included)."""
    count, versions, rows = session.execute(TARGET_STAMP).one()
    return int(count or 0), int(versions or 0), int(rows or 0)


def target_usage(session: Session) -> list[tuple[int, str, str]]:
    """(target id, its text and project, an indicator code it uses) for every registered target row."""
    stmt = (
        select(col(Target.id), col(Target.text), col(Target.project), col(Indicator.code))
        .join(TargetIndicator, col(TargetIndicator.target_id) == col(Target.id))
        .join(Indicator, col(Indicator.id) == col(TargetIndicator.indicator_id))
        .order_by(col(Target.id))
    )
    return [
        (int(tid), " ".join(x for x in (text_, project) if x), code)
        for tid, text_, project, code in session.execute(stmt)
    ]


def sector_known(session: Session, name_or_code: str) -> bool:
    """A sector of the taxonomy by name or code (it may have no indicators yet)."""
    found = session.execute(
        select(col(Sector.id)).where((col(Sector.name) == name_or_code) | (col(Sector.code) == name_or_code))
    ).first()
    return found is not None
