"""SQL for the reference trees: categories, sectors, departments."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from service.codes import code_key
from service.models import Category, Department, Indicator, Sector


def all_categories(session: Session) -> list[Category]:
    return list(session.execute(select(Category).order_by(col(Category.sort), col(Category.id))).scalars())


def add_category(session: Session, category: Category) -> Category:
    session.add(category)
    session.flush()
    return category


def indicator_counts_by_category(session: Session, *, exclude_status: str = "retired") -> dict[int, int]:
    stmt = (
        select(col(Indicator.category_id), func.count())
        .where(col(Indicator.status) != exclude_status)
        .group_by(col(Indicator.category_id))
    )
    return {int(cid): int(n) for cid, n in session.execute(stmt)}


def all_sectors(session: Session) -> list[Sector]:
    return list(session.execute(select(Sector).order_by(col(Sector.code), col(Sector.id))).scalars())


def add_sector(session: Session, sector: Sector) -> Sector:
    sector.code_key = code_key(sector.code)  # the unique index on it refuses a second spelling
    session.add(sector)
    session.flush()
    return sector


def indicator_counts_by_sector(session: Session) -> dict[int, int]:
    stmt = (
        select(col(Indicator.sector_id), func.count())
        .where(col(Indicator.status) != "retired", col(Indicator.sector_id).is_not(None))
        .group_by(col(Indicator.sector_id))
    )
    return {int(sid): int(n) for sid, n in session.execute(stmt)}


def all_departments(session: Session) -> list[Department]:
    return list(session.execute(select(Department).order_by(col(Department.code))).scalars())


def add_department(session: Session, department: Department) -> Department:
    department.code_key = code_key(department.code)  # the unique index on it refuses a second spelling
    session.add(department)
    session.flush()
    return department


def indicator_counts_by_department(session: Session) -> dict[int, int]:
    stmt = (
        select(col(Indicator.department_id), func.count())
        .where(col(Indicator.status) != "retired", col(Indicator.department_id).is_not(None))
        .group_by(col(Indicator.department_id))
    )
    return {int(did): int(n) for did, n in session.execute(stmt)}
