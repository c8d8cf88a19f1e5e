"""SQL for revisions: append, read the newest, read history, find the revision valid at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from service.codes import code_key
from service.db import bulk_insert, bulk_update_column
from service.models import (
    Indicator,
    IndicatorRevision,
    IndicatorRevisionBasis,
    LegalBasis,
    LegalBasisRevision,
    Release,
    ReleaseItem,
)

_CHUNK = 2000
# Core tables: bulk inserts through them skip the ORM's per-row bookkeeping (a third of a 100k import).
REVISION = IndicatorRevision.__table__  # type: ignore[attr-defined]
REVISION_BASIS = IndicatorRevisionBasis.__table__  # type: ignore[attr-defined]
INDICATOR = Indicator.__table__  # type: ignore[attr-defined]


def insert_indicator_revisions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, REVISION, rows)


def indicator_rows(session: Session, ids: Sequence[int]) -> list[Any]:
    """Indicator rows (Core, attribute access like the model) in the order of ``ids``, read fresh."""
    found: dict[int, Any] = {}
    for start in range(0, len(ids), 5000):
        chunk = list(ids[start : start + 5000])
        for row in session.execute(select(INDICATOR).where(INDICATOR.c.id.in_(chunk))):
            found[row.id] = row
    return [found[i] for i in ids if i in found]


def revision_ids(session: Session, heads: Sequence[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(indicator id, number) → revision id, for revisions just inserted."""
    wanted = set(heads)
    out: dict[tuple[int, int], int] = {}
    ids = sorted({i for i, _ in heads})
    for start in range(0, len(ids), _CHUNK):
        stmt = select(
            col(IndicatorRevision.id), col(IndicatorRevision.indicator_id), col(IndicatorRevision.number)
        ).where(col(IndicatorRevision.indicator_id).in_(ids[start : start + _CHUNK]))
        for rid, iid, number in session.execute(stmt):
            if (iid, number) in wanted:
                out[(iid, number)] = rid
    return out


def newest_revision_id(session: Session) -> int:
    return int(session.execute(select(func.max(REVISION.c.id))).scalar_one_or_none() or 0)


def revision_span(session: Session, *, change_seq: int, after_id: int) -> tuple[int | None, int | None, int]:
    """(first id, last id, count) of the indicator revisions above ``after_id`` recorded under one
    catalogue change number (a primary-key range: cheap however long history is)."""
    stmt = select(func.min(REVISION.c.id), func.max(REVISION.c.id), func.count()).where(
        REVISION.c.id > after_id, REVISION.c.change_seq == change_seq
    )
    first, last, count = session.execute(stmt).one()
    return first, last, int(count)


def insert_revision_bases(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, REVISION_BASIS, rows)


def set_indicator_heads(session: Session, heads: Sequence[tuple[int, int]]) -> None:
    """Point each indicator (id, number) at its newest revision."""
    bulk_update_column(session, INDICATOR, "revision", [(n, i) for i, n in heads])


def head_indicator_revisions(session: Session, ids: Sequence[int]) -> dict[int, IndicatorRevision]:
    """The newest revision of each indicator that has one."""
    out: dict[int, IndicatorRevision] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        stmt = (
            select(IndicatorRevision)
            .join(Indicator, col(Indicator.id) == col(IndicatorRevision.indicator_id))
            .where(col(IndicatorRevision.indicator_id).in_(chunk))
            .where(col(IndicatorRevision.number) == col(Indicator.revision))
        )
        for rev in session.execute(stmt).scalars():
            out[rev.indicator_id] = rev
    return out


def indicator_history(session: Session, indicator_id: int) -> list[IndicatorRevision]:
    stmt = (
        select(IndicatorRevision)
        .where(col(IndicatorRevision.indicator_id) == indicator_id)
        .order_by(col(IndicatorRevision.number))
    )
    return list(session.execute(stmt).scalars())


def indicator_revision(session: Session, indicator_id: int, number: int) -> IndicatorRevision | None:
    stmt = select(IndicatorRevision).where(
        col(IndicatorRevision.indicator_id) == indicator_id, col(IndicatorRevision.number) == number
    )
    return session.execute(stmt).scalars().first()


def indicator_revision_at(session: Session, indicator_id: int, before: datetime) -> IndicatorRevision | None:
    """The revision in force just before ``before`` (the newest one valid from earlier)."""
    stmt = (
        select(IndicatorRevision)
        .where(
            col(IndicatorRevision.indicator_id) == indicator_id, col(IndicatorRevision.valid_from) < before
        )
        .order_by(col(IndicatorRevision.valid_from).desc(), col(IndicatorRevision.number).desc())
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def revisions_at(
    session: Session, before: datetime, ids: Sequence[int] | None = None
) -> list[IndicatorRevision]:
    """For every indicator (or the given ones), its revision in force just before ``before``."""
    conditions = [col(IndicatorRevision.valid_from) < before]
    if ids is not None:
        conditions.append(col(IndicatorRevision.indicator_id).in_(list(ids)))
    sub = (
        select(
            col(IndicatorRevision.indicator_id).label("iid"),
            func.max(col(IndicatorRevision.number)).label("n"),
        )
        .where(*conditions)
        .group_by(col(IndicatorRevision.indicator_id))
        .subquery()
    )
    stmt = (
        select(IndicatorRevision)
        .join(
            sub,
            (col(IndicatorRevision.indicator_id) == sub.c.iid) & (col(IndicatorRevision.number) == sub.c.n),
        )
        .order_by(col(IndicatorRevision.code))
    )
    return list(session.execute(stmt).scalars())


def unrecorded_indicator_ids(session: Session) -> list[int]:
    """Indicators written before revisions existed (revision 0)."""
    return [
        int(i)
        for i in session.execute(select(col(Indicator.id)).where(col(Indicator.revision) == 0)).scalars()
    ]


# --- legal bases -----------------------------------------------------------------------------------


def head_basis_revisions(session: Session, ids: Sequence[int]) -> dict[int, LegalBasisRevision]:
    newest = (
        select(
            col(LegalBasisRevision.legal_basis_id).label("bid"),
            func.max(col(LegalBasisRevision.number)).label("n"),
        )
        .where(col(LegalBasisRevision.legal_basis_id).in_(list(ids)))
        .group_by(col(LegalBasisRevision.legal_basis_id))
        .subquery()
    )
    stmt = select(LegalBasisRevision).join(
        newest,
        (col(LegalBasisRevision.legal_basis_id) == newest.c.bid)
        & (col(LegalBasisRevision.number) == newest.c.n),
    )
    return {r.legal_basis_id: r for r in session.execute(stmt).scalars()}


def insert_basis_revisions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(LegalBasisRevision), list(rows))


def basis_history(session: Session, basis_id: int) -> list[LegalBasisRevision]:
    stmt = (
        select(LegalBasisRevision)
        .where(col(LegalBasisRevision.legal_basis_id) == basis_id)
        .order_by(col(LegalBasisRevision.number))
    )
    return list(session.execute(stmt).scalars())


def unrecorded_basis_ids(session: Session) -> list[int]:
    recorded = select(col(LegalBasisRevision.legal_basis_id))
    stmt = select(col(LegalBasis.id)).where(col(LegalBasis.id).not_in(recorded))
    return [int(i) for i in session.execute(stmt).scalars()]


def release_by_name(session: Session, name: str) -> Release | None:
    """The release ``name`` names, in any case or width (service/codes.py): the exact name first."""
    found = session.execute(select(Release).where(col(Release.name) == name)).scalars().first()
    if found is None:
        found = (
            session.execute(select(Release).where(col(Release.name_key) == code_key(name))).scalars().first()
        )
    return found


def release_revision(session: Session, release_id: int, indicator_id: int) -> IndicatorRevision | None:
    stmt = (
        select(IndicatorRevision)
        .join(ReleaseItem, col(ReleaseItem.revision_id) == col(IndicatorRevision.id))
        .where(col(ReleaseItem.release_id) == release_id, col(ReleaseItem.indicator_id) == indicator_id)
    )
    return session.execute(stmt).scalars().first()
