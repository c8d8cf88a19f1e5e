"""SQL for releases: freeze the published set, list, page through a release, compare two."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from service.codes import code_key
from service.domain import IndicatorStatus
from service.errors import Conflict
from service.models import Indicator, IndicatorRevision, Release, ReleaseItem

_CHUNK = 2000
ITEM = ReleaseItem.__table__  # type: ignore[attr-defined]
REVISION = IndicatorRevision.__table__  # type: ignore[attr-defined]
INDICATOR = Indicator.__table__  # type: ignore[attr-defined]


def by_name(session: Session, name: str) -> Release | None:
    """The release ``name`` names, in any case or width (service/codes.py): the exact name first."""
    found = session.execute(select(Release).where(col(Release.name) == name)).scalars().first()
    if found is None:
        found = (
            session.execute(select(Release).where(col(Release.name_key) == code_key(name))).scalars().first()
        )
    return found


def newest(session: Session) -> Release | None:
    return session.execute(select(Release).order_by(col(Release.id).desc()).limit(1)).scalars().first()


def all_newest_first(session: Session) -> list[Release]:
    return list(session.execute(select(Release).order_by(col(Release.id).desc())).scalars())


def insert_release(session: Session, release: Release) -> Release:
    """Add the release row; a name taken meanwhile by a concurrent publisher is a 409."""
    release.name_key = code_key(release.name)  # its unique index refuses the name in another case
    session.add(release)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Release {release.name!r} already exists", extra={"name": release.name}) from exc
    return release


def freeze_published(session: Session, release_id: int) -> int:
    """One INSERT … SELECT: every standard indicator at its head revision becomes an item of the release."""
    source = (
        select(literal(release_id), INDICATOR.c.id, REVISION.c.id, REVISION.c.number)
        .select_from(INDICATOR)
        .join(
            REVISION,
            and_(REVISION.c.indicator_id == INDICATOR.c.id, REVISION.c.number == INDICATOR.c.revision),
        )
        .where(INDICATOR.c.status == IndicatorStatus.standard.value)
    )
    stmt = insert(ITEM).from_select(["release_id", "indicator_id", "revision_id", "number"], source)
    session.execute(stmt)
    return count_items(session, release_id)


def count_items(session: Session, release_id: int) -> int:
    stmt = select(func.count()).select_from(ITEM).where(ITEM.c.release_id == release_id)
    return int(session.execute(stmt).scalar_one())


# --- contents --------------------------------------------------------------------------------------


def page_of_release(
    session: Session, release_id: int, *, after: str | None, limit: int
) -> list[IndicatorRevision]:
    """Up to ``limit`` frozen revisions of a release, by code, after the keyset ``after``.

    Walks the indicator code index and probes the item key, so a page costs the same at any depth.
    """
    stmt = (
        select(IndicatorRevision)
        .select_from(Indicator)
        .join(
            ReleaseItem,
            (col(ReleaseItem.release_id) == release_id)
            & (col(ReleaseItem.indicator_id) == col(Indicator.id)),
        )
        .join(IndicatorRevision, col(IndicatorRevision.id) == col(ReleaseItem.revision_id))
        .order_by(col(Indicator.code))
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(col(Indicator.code) > after)
    return list(session.execute(stmt).scalars())


def past_rows(
    session: Session, *, release_id: int | None = None, before: datetime | None = None, by_code: bool = False
) -> list[tuple[int, str, dict[str, Any]]]:
    """(revision id, code, snapshot) of every revision in a release, or in force just before ``before``.

    Plain rows, not ORM objects: building a search index over 100k snapshots spends half as long.
    """
    stmt = select(REVISION.c.id, REVISION.c.code, REVISION.c.snapshot)
    if release_id is not None:
        stmt = stmt.join(ITEM, ITEM.c.revision_id == REVISION.c.id).where(ITEM.c.release_id == release_id)
    else:
        assert before is not None
        newest = (
            select(REVISION.c.indicator_id.label("iid"), func.max(REVISION.c.number).label("n"))
            .where(REVISION.c.valid_from < before)
            .group_by(REVISION.c.indicator_id)
            .subquery()
        )
        stmt = stmt.join(
            newest, and_(REVISION.c.indicator_id == newest.c.iid, REVISION.c.number == newest.c.n)
        )
    if by_code:
        stmt = stmt.order_by(REVISION.c.code)
    return [(int(i), str(c), snap) for i, c, snap in session.execute(stmt)]


def revisions_by_ids(session: Session, ids: Sequence[int]) -> dict[int, IndicatorRevision]:
    stmt = select(IndicatorRevision).where(col(IndicatorRevision.id).in_(list(ids)))
    return {r.id or 0: r for r in session.execute(stmt).scalars()}


def next_valid_from(session: Session, heads: Sequence[tuple[int, int]]) -> dict[int, Any]:
    """For (indicator id, revision number) pairs: when the following revision took over, if one did."""
    wanted = {(i, n + 1) for i, n in heads}
    out: dict[int, Any] = {}
    ids = sorted({i for i, _ in heads})
    for start in range(0, len(ids), _CHUNK):
        stmt = select(REVISION.c.indicator_id, REVISION.c.number, REVISION.c.valid_from).where(
            REVISION.c.indicator_id.in_(ids[start : start + _CHUNK])
        )
        for iid, number, valid_from in session.execute(stmt):
            if (iid, number) in wanted:
                out[int(iid)] = valid_from
    return out


# --- comparing two releases ------------------------------------------------------------------------


def count_diff(session: Session, a: int, b: int) -> tuple[int, int, int]:
    """(only in b, only in a, same revision in both), counted in SQL over the item primary keys."""
    ia, ib = ITEM.alias("ia"), ITEM.alias("ib")
    in_a = select(func.count()).select_from(ia).where(ia.c.release_id == a).scalar_subquery()
    in_b = select(func.count()).select_from(ib).where(ib.c.release_id == b).scalar_subquery()
    both = (
        select(func.count())
        .select_from(ia)
        .join(ib, and_(ib.c.release_id == b, ib.c.indicator_id == ia.c.indicator_id))
        .where(ia.c.release_id == a)
        .scalar_subquery()
    )
    same = (
        select(func.count())
        .select_from(ia)
        .join(
            ib,
            and_(
                ib.c.release_id == b,
                ib.c.indicator_id == ia.c.indicator_id,
                ib.c.revision_id == ia.c.revision_id,
            ),
        )
        .where(ia.c.release_id == a)
        .scalar_subquery()
    )
    total_a, total_b, common, unchanged = session.execute(select(in_a, in_b, both, same)).one()
    return int(total_b) - int(common), int(total_a) - int(common), int(unchanged)


def only_in(session: Session, release_id: int, other_id: int) -> list[tuple[int, str]]:
    """(indicator id, code) of the items of ``release_id`` that ``other_id`` lacks, by code."""
    mine, theirs = ITEM.alias("mine"), ITEM.alias("theirs")
    stmt = (
        select(mine.c.indicator_id, INDICATOR.c.code)
        .select_from(mine)
        .join(INDICATOR, INDICATOR.c.id == mine.c.indicator_id)
        .outerjoin(
            theirs, and_(theirs.c.release_id == other_id, theirs.c.indicator_id == mine.c.indicator_id)
        )
        .where(mine.c.release_id == release_id, theirs.c.indicator_id.is_(None))
        .order_by(INDICATOR.c.code)
    )
    return [(int(i), str(c)) for i, c in session.execute(stmt)]


def revised_pairs(
    session: Session, a: int, b: int
) -> Iterator[tuple[str, int, int, dict[str, Any], dict[str, Any]]]:
    """Items in both releases at different revisions, by code: (code, number a, number b, snapshot a, snapshot b).

    Streamed in batches: only the rows in flight are held, however many differ.
    """
    ia, ib = ITEM.alias("ia"), ITEM.alias("ib")
    ra, rb = REVISION.alias("ra"), REVISION.alias("rb")
    stmt = (
        select(ra.c.code, ra.c.number, rb.c.number, ra.c.snapshot, rb.c.snapshot)
        .select_from(ia)
        .join(
            ib,
            and_(
                ib.c.release_id == b,
                ib.c.indicator_id == ia.c.indicator_id,
                ib.c.revision_id != ia.c.revision_id,
            ),
        )
        .join(ra, ra.c.id == ia.c.revision_id)
        .join(rb, rb.c.id == ib.c.revision_id)
        .where(ia.c.release_id == a)
        .order_by(ra.c.code)
        .execution_options(yield_per=1000)
    )
    for code, number_a, number_b, snap_a, snap_b in session.execute(stmt):
        yield str(code), int(number_a), int(number_b), snap_a, snap_b


def statuses_at(session: Session, indicator_ids: Sequence[int], change_seq: int) -> dict[int, str]:
    """Each indicator's status in its newest revision recorded up to a catalogue change number."""
    best: dict[int, tuple[int, str]] = {}
    ids = sorted(set(indicator_ids))
    for start in range(0, len(ids), _CHUNK):
        stmt = select(REVISION.c.indicator_id, REVISION.c.number, REVISION.c.status).where(
            REVISION.c.indicator_id.in_(ids[start : start + _CHUNK]), REVISION.c.change_seq <= change_seq
        )
        for iid, number, status in session.execute(stmt):
            if int(iid) not in best or number > best[int(iid)][0]:
                best[int(iid)] = (int(number), str(status))
    return {i: s for i, (_, s) in best.items()}
