"""SQL for the quality report: flat rows of the current catalogue, its basis links, basis statuses then."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from service.models import Department, Indicator, IndicatorBasis, LegalBasis, LegalBasisRevision


@dataclass(frozen=True, slots=True)
class Row:
    """What the lint reads of one indicator; ``value`` is a number when the indicator has one."""

    code: str
    name: str
    status: str
    department_code: str | None
    department_name: str | None
    unit: str | None
    comparator: str | None
    value: float | str | None


@dataclass(frozen=True, slots=True)
class Link:
    """A legal basis an indicator rests on, with the basis status of the time viewed."""

    basis_id: int
    doc_no: str
    title: str
    status: str


def status_counts(session: Session) -> dict[str, int]:
    stmt = select(col(Indicator.status), func.count()).group_by(col(Indicator.status))
    return {str(s): int(n) for s, n in session.execute(stmt)}


def current_rows(session: Session, statuses: Sequence[str]) -> list[Row]:
    """Every indicator with one of ``statuses``, as plain rows (no ORM objects: 100k of them)."""
    stmt = (
        select(
            col(Indicator.code),
            col(Indicator.name),
            col(Indicator.status),
            col(Department.code),
            col(Department.name),
            col(Indicator.unit),
            col(Indicator.comparator),
            col(Indicator.value),
            col(Indicator.value_num),
        )
        .outerjoin(Department, col(Department.id) == col(Indicator.department_id))
        .where(col(Indicator.status).in_(list(statuses)))
        .execution_options(yield_per=5000)
    )
    return [
        Row(
            code=code,
            name=name,
            status=status,
            department_code=dept_code,
            department_name=dept_name,
            unit=unit,
            comparator=comparator,
            value=value_num if value_num is not None else value,
        )
        for code, name, status, dept_code, dept_name, unit, comparator, value, value_num in session.execute(
            stmt
        )
    ]


def current_links(session: Session, statuses: Sequence[str]) -> dict[str, list[Link]]:
    """Indicator code → its legal bases with their status today, for indicators with one of ``statuses``."""
    stmt = (
        select(
            col(Indicator.code),
            col(LegalBasis.id),
            col(LegalBasis.doc_no),
            col(LegalBasis.title),
            col(LegalBasis.status),
        )
        .select_from(IndicatorBasis)
        .join(Indicator, col(Indicator.id) == col(IndicatorBasis.indicator_id))
        .join(LegalBasis, col(LegalBasis.id) == col(IndicatorBasis.legal_basis_id))
        .where(col(Indicator.status).in_(list(statuses)))
        .order_by(col(Indicator.code), col(LegalBasis.id))
    )
    out: dict[str, list[Link]] = {}
    for code, basis_id, doc_no, title, status in session.execute(stmt):
        out.setdefault(code, []).append(Link(int(basis_id), doc_no, title, status))
    return out


def basis_statuses_at(session: Session, before: datetime) -> dict[int, str]:
    """Each legal basis's status in its newest revision valid before ``before``."""
    newest = (
        select(
            col(LegalBasisRevision.legal_basis_id).label("bid"),
            func.max(col(LegalBasisRevision.number)).label("n"),
        )
        .where(col(LegalBasisRevision.valid_from) < before)
        .group_by(col(LegalBasisRevision.legal_basis_id))
        .subquery()
    )
    stmt = select(col(LegalBasisRevision.legal_basis_id), col(LegalBasisRevision.status)).join(
        newest,
        and_(
            col(LegalBasisRevision.legal_basis_id) == newest.c.bid,
            col(LegalBasisRevision.number) == newest.c.n,
        ),
    )
    return {int(b): str(s) for b, s in session.execute(stmt)}
