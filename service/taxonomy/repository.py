"""SQL for the reference trees: categories, sectors, departments."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from service.models import Category, Department, Indicator, Sector


def all_categories(session: Session) -> list[Category]:
    return list(session.execute(select(Category).order_by(Category.sort, Category.id)).scalars())


def add_category(session: Session, category: Category) -> Category:
    session.add(category)
    session.flush()
    return category


def indicator_counts_by_category(session: Session, *, exclude_status: str = "retired") -> dict[int, int]:
    stmt = (
        select(Indicator.category_id, func.count())
        .where(Indicator.status != exclude_status)
        .group_by(Indicator.category_id)
    )
    return {int(cid): int(n) for cid, n in session.execute(stmt)}


def all_sectors(session: Session) -> list[Sector]:
    return list(session.execute(select(Sector).order_by(Sector.code)).scalars())


def add_sector(session: Session, sector: Sector) -> Sector:
    session.add(sector)
    session.flush()
    return sector


def indicator_counts_by_sector(session: Session) -> dict[int, int]:
    stmt = (
        select(Indicator.sector_id, func.count())
        .where(Indicator.status != "retired", Indicator.sector_id.is_not(None))  # type: ignore[union-attr]
        .group_by(Indicator.sector_id)
    )
    return {int(sid): int(n) for sid, n in session.execute(stmt)}


def all_departments(session: Session) -> list[Department]:
    return list(session.execute(select(Department).order_by(Department.code)).scalars())


def add_department(session: Session, department: Department) -> Department:
    session.add(department)
    session.flush()
    return department


def indicator_counts_by_department(session: Session) -> dict[int, int]:
    stmt = (
        select(Indicator.department_id, func.count())
        .where(Indicator.status != "retired", Indicator.department_id.is_not(None))  # type: ignore[union-attr]
        .group_by(Indicator.department_id)
    )
    return {int(did): int(n) for did, n in session.execute(stmt)}
