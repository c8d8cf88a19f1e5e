"""SQL for legal bases and their edition chain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from service.codes import key_map, resolve_code
from service.models import IndicatorBasis, LegalBasis, LegalBasisLink


def all_bases(session: Session) -> list[LegalBasis]:
    return list(session.execute(select(LegalBasis).order_by(col(LegalBasis.id))).scalars())


def get(session: Session, basis_id: int) -> LegalBasis | None:
    return session.get(LegalBasis, basis_id)


def find(session: Session, doc_no: str, title: str) -> LegalBasis | None:
    """The record with this title whose document number is ``doc_no`` in any case or width
    (``gb 5749-2022`` is GB 5749-2022, service/codes.py); the exact spelling first."""
    stmt = select(LegalBasis).where(col(LegalBasis.title) == title).order_by(col(LegalBasis.id))
    editions = list(session.execute(stmt).scalars())  # a title has a handful of editions at most
    exact = {b.doc_no: b for b in editions}
    return resolve_code(doc_no, exact, key_map((b.doc_no, b) for b in editions))


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
