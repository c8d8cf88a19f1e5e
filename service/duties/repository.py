"""SQL for department duties (三定职责), strategic goals and their indicator links."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session, col

from service.models import Duty, IndicatorDuty, IndicatorGoal, StrategicGoal

DUTY_LINK = IndicatorDuty.__table__  # type: ignore[attr-defined]
GOAL_LINK = IndicatorGoal.__table__  # type: ignore[attr-defined]


def duties_of(session: Session, department_id: int) -> list[Duty]:
    stmt = select(Duty).where(col(Duty.department_id) == department_id).order_by(col(Duty.id))
    return list(session.execute(stmt).scalars())


def goals_of(session: Session, department_id: int) -> list[StrategicGoal]:
    stmt = (
        select(StrategicGoal)
        .where(col(StrategicGoal.department_id) == department_id)
        .order_by(col(StrategicGoal.id))
    )
    return list(session.execute(stmt).scalars())


def get_duty(session: Session, duty_id: int) -> Duty | None:
    return session.get(Duty, duty_id)


def get_goal(session: Session, goal_id: int) -> StrategicGoal | None:
    return session.get(StrategicGoal, goal_id)


def add(session: Session, item: Duty | StrategicGoal) -> None:
    session.add(item)
    session.flush()


def remove(session: Session, item: Duty | StrategicGoal) -> None:
    session.delete(item)
    session.flush()


def indicator_ids_for_duty(session: Session, duty_id: int) -> list[int]:
    return [
        int(i)
        for i in session.execute(
            select(col(IndicatorDuty.indicator_id)).where(col(IndicatorDuty.duty_id) == duty_id)
        ).scalars()
    ]


def indicator_ids_for_goal(session: Session, goal_id: int) -> list[int]:
    return [
        int(i)
        for i in session.execute(
            select(col(IndicatorGoal.indicator_id)).where(col(IndicatorGoal.goal_id) == goal_id)
        ).scalars()
    ]


def link_counts(session: Session, *, goals: bool) -> dict[int, int]:
    column = col(IndicatorGoal.goal_id) if goals else col(IndicatorDuty.duty_id)
    return {int(k): int(n) for k, n in session.execute(select(column, func.count()).group_by(column))}


def set_duty_links(session: Session, duty_id: int, indicator_ids: Sequence[int]) -> None:
    session.execute(delete(DUTY_LINK).where(DUTY_LINK.c.duty_id == duty_id))
    if indicator_ids:
        session.execute(insert(DUTY_LINK), [{"indicator_id": i, "duty_id": duty_id} for i in indicator_ids])


def set_goal_links(session: Session, goal_id: int, indicator_ids: Sequence[int]) -> None:
    session.execute(delete(GOAL_LINK).where(GOAL_LINK.c.goal_id == goal_id))
    if indicator_ids:
        session.execute(insert(GOAL_LINK), [{"indicator_id": i, "goal_id": goal_id} for i in indicator_ids])


def set_indicator_links(
    session: Session, indicator_id: int, *, duty_ids: Sequence[int], goal_ids: Sequence[int]
) -> None:
    """Replace what one indicator measures (used by indicator writes and imports)."""
    session.execute(delete(DUTY_LINK).where(DUTY_LINK.c.indicator_id == indicator_id))
    session.execute(delete(GOAL_LINK).where(GOAL_LINK.c.indicator_id == indicator_id))
    if duty_ids:
        session.execute(insert(DUTY_LINK), [{"indicator_id": indicator_id, "duty_id": d} for d in duty_ids])
    if goal_ids:
        session.execute(insert(GOAL_LINK), [{"indicator_id": indicator_id, "goal_id": g} for g in goal_ids])


def indicator_link_refs(
    session: Session, indicator_id: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(department id, name) of the duties and of the goals one indicator measures."""
    return measure_refs(session, [indicator_id]).get(indicator_id, ([], []))


def all_measure_refs(session: Session) -> dict[int, tuple[list[tuple[int, str]], list[tuple[int, str]]]]:
    """indicator id → ((department id, duty name) …, (department id, goal name) …), for exports."""
    return measure_refs(session, None)


_CHUNK = 2000


def measure_names(session: Session, ids: Sequence[int] | None) -> dict[int, tuple[list[str], list[str]]]:
    """indicator id → (duty names, goal names) for the given indicators (``None``: all)."""
    return {
        ind: ([name for _, name in duties], [name for _, name in goals])
        for ind, (duties, goals) in measure_refs(session, ids).items()
    }


def measure_refs(
    session: Session, ids: Sequence[int] | None
) -> dict[int, tuple[list[tuple[int, str]], list[tuple[int, str]]]]:
    """indicator id → (department id, name) of its duties and of its goals (``ids`` None: all).

    The department is part of what an indicator measures: a duty of another department is not
    the same duty as one of the same name in the indicator's own.
    """
    out: dict[int, tuple[list[tuple[int, str]], list[tuple[int, str]]]] = {}
    duties = (
        select(col(IndicatorDuty.indicator_id), col(Duty.department_id), col(Duty.name))
        .join(Duty, col(Duty.id) == col(IndicatorDuty.duty_id))
        .order_by(col(Duty.id))
    )
    goals = (
        select(col(IndicatorGoal.indicator_id), col(StrategicGoal.department_id), col(StrategicGoal.name))
        .join(StrategicGoal, col(StrategicGoal.id) == col(IndicatorGoal.goal_id))
        .order_by(col(StrategicGoal.id))
    )
    # Chunked IN lists: each chunk reads only its own links (a scan per chunk made 100k imports quadratic).
    chunks = [None] if ids is None else [list(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]
    for chunk in chunks:
        d = duties if chunk is None else duties.where(col(IndicatorDuty.indicator_id).in_(chunk))
        g = goals if chunk is None else goals.where(col(IndicatorGoal.indicator_id).in_(chunk))
        for ind, dept, name in session.execute(d):
            out.setdefault(int(ind), ([], []))[0].append((int(dept), name))
        for ind, dept, name in session.execute(g):
            out.setdefault(int(ind), ([], []))[1].append((int(dept), name))
    # Links are a set: list them by name (code points, the same on every backend), not by the ids an
    # import happens to create, so an exported catalogue reads back in the same order.
    for duty_refs, goal_refs in out.values():
        duty_refs.sort(key=lambda ref: (ref[1], ref[0]))
        goal_refs.sort(key=lambda ref: (ref[1], ref[0]))
    return out
