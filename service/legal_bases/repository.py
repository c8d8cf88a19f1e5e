"""SQL for legal bases and their edition chain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from service.models import IndicatorBasis, LegalBasis, LegalBasisLink


def all_bases(session: Session) -> list[LegalBasis]:
    return list(session.execute(select(LegalBasis).order_by(col(LegalBasis.id))).scalars())


def get(session: Session, basis_id: int) -> LegalBasis | None:
    return session.get(LegalBasis, basis_id)


def find(session: Session, doc_no: str, title: str) -> LegalBasis | None:
    stmt = select(LegalBasis).where(col(LegalBasis.doc_no) == doc_no, col(LegalBasis.title) == title)
    return session.execute(stmt).scalar_one_or_none()


def add(session: Session, basis: LegalBasis) -> LegalBasis:
    session.add(basis)
    session.flush()
    return basis


def add_link(session: Session, *, basis_id: int, target_id: int, relation: str) -> None:
    if session.get(LegalBasisLink, (basis_id, target_id)) is None:
        session.add(LegalBasisLink(basis_id=basis_id, target_id=target_id, relation=relation))
        session.flush()


def all_links(session: Session) -> list[LegalBasisLink]:
    return list(session.execute(select(LegalBasisLink)).scalars())


def indicator_counts(session: Session) -> dict[int, int]:
    stmt = select(col(IndicatorBasis.legal_basis_id), func.count()).group_by(
        col(IndicatorBasis.legal_basis_id)
    )
    return {int(b): int(n) for b, n in session.execute(stmt)}
