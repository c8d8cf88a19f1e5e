"""SQL for indicators, their basis links and the catalogue change counter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, or_, select, update
from sqlmodel import Session, col

from service.codes import code_key, resolve_code
from service.db import bulk_insert
from service.models import CatalogState, CodeSequence, Indicator, IndicatorBasis, LegalBasis

INDICATOR = Indicator.__table__  # type: ignore[attr-defined]
BASIS_LINK = IndicatorBasis.__table__  # type: ignore[attr-defined]

# Columns a user's data determines; everything else is bookkeeping.
CONTENT_COLUMNS: tuple[str, ...] = (
    "code", "name", "kind", "category_id", "sector_id", "department_id", "raw_level1", "raw_level2",
    "definition", "formula", "unit", "comparator", "value", "value_num", "value_max", "raw_value", "value_basis",
    "value_basis_text", "scoring_rule", "data_source", "frequency", "budget_types", "keywords", "basis",
    "direction", "is_core", "horizon", "weight", "source", "notes", "status", "natural_key",
    "effective_from", "expires_on", "superseded_by",
)  # fmt: skip


def bump_change_seq(session: Session) -> int:
    """Take the next catalogue change number; the row lock serialises writers until commit."""
    session.execute(
        update(CatalogState)
        .where(col(CatalogState.id) == 1)
        .values(change_seq=col(CatalogState.change_seq) + 1)
    )
    seq = session.execute(
        select(col(CatalogState.change_seq)).where(col(CatalogState.id) == 1)
    ).scalar_one_or_none()
    if seq is None:
        session.execute(insert(CatalogState).values(id=1, change_seq=1))
        return 1
    return int(seq)


def current_change_seq(session: Session) -> int:
    seq = session.execute(
        select(col(CatalogState.change_seq)).where(col(CatalogState.id) == 1)
    ).scalar_one_or_none()
    return int(seq or 0)


def allocate_codes(session: Session, prefix: str, count: int) -> range:
    """Reserve ``count`` consecutive sequence numbers for a code prefix."""
    row = session.get(CodeSequence, prefix, with_for_update=True)
    if row is None:
        row = CodeSequence(prefix=prefix, next_value=1)
        session.add(row)
    start = row.next_value
    row.next_value = start + count
    session.flush()
    return range(start, start + count)


def get_by_code(session: Session, code: str) -> Indicator | None:
    """The indicator a code names, however it is cased or wide (``service/codes.py``)."""
    found = get_many_by_codes(session, [code])
    return found[0] if found else None


def get_many_by_codes(session: Session, codes: Sequence[str]) -> list[Indicator]:
    """The indicators the codes name (compared by key), once each, in no particular order."""
    if not codes:
        return []
    out: dict[int, Indicator] = {}
    for start in range(0, len(codes), 5000):
        chunk = list(codes[start : start + 5000])
        stmt = select(Indicator).where(
            or_(col(Indicator.code).in_(chunk), col(Indicator.code_key).in_({code_key(c) for c in chunk}))
        )
        rows = list(session.execute(stmt).scalars())
        exact = {i.code: i for i in rows}
        by_key = {i.code_key: i for i in rows if i.code_key is not None}
        for c in chunk:
            if (ind := resolve_code(c, exact, by_key)) is not None:
                out[ind.id or 0] = ind
    return list(out.values())


def get_many_by_ids(session: Session, ids: Sequence[int]) -> list[Indicator]:
    """Indicators by id, in the order given."""
    found: dict[int, Indicator] = {}
    for start in range(0, len(ids), 5000):
        chunk = list(ids[start : start + 5000])
        # populate_existing: the caller may hold these rows from before a Core UPDATE in this transaction.
        stmt = select(Indicator).where(col(Indicator.id).in_(chunk)).execution_options(populate_existing=True)
        for ind in session.execute(stmt).scalars():
            found[ind.id or 0] = ind
    return [found[i] for i in ids if i in found]


def count_all(session: Session) -> int:
    from sqlalchemy import func

    return int(session.execute(select(func.count()).select_from(Indicator)).scalar_one())


def content_rows(session: Session) -> list[Row[Any]]:
    """Every indicator's id, version, code key and content columns (import matching)."""
    cols = [INDICATOR.c.id, INDICATOR.c.version, INDICATOR.c.code_key] + [
        INDICATOR.c[c] for c in CONTENT_COLUMNS
    ]
    return list(session.execute(select(*cols)))


def insert_indicators(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert new indicators; each row's ``code_key`` is derived here, so no caller can forget it."""
    bulk_insert(session, INDICATOR, [{**r, "code_key": code_key(r["code"])} for r in rows])


def update_indicators(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk update by ``_id``; each row dict holds the new content and bookkeeping columns."""
    if not rows:
        return
    keys = [k for k in rows[0] if k != "_id"]
    stmt = update(INDICATOR).where(INDICATOR.c.id == bindparam("_id")).values({k: bindparam(k) for k in keys})
    for start in range(0, len(rows), 5000):
        session.connection().execute(stmt, rows[start : start + 5000])


def update_if_version(
    session: Session, indicator_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Compare-and-set on the version column: False when someone else changed the row first."""
    result = session.execute(
        update(INDICATOR)
        .where(INDICATOR.c.id == indicator_id, INDICATOR.c.version == expected_version)
        .values(**values, version=expected_version + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def ids_by_codes(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Indicator ids keyed by the codes *as given*, matched by key: callers look up what they passed."""
    wanted = list(codes)
    out: dict[str, int] = {}
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        stmt = select(col(Indicator.code), col(Indicator.code_key), col(Indicator.id)).where(
            or_(col(Indicator.code).in_(chunk), col(Indicator.code_key).in_({code_key(c) for c in chunk}))
        )
        rows = list(session.execute(stmt))
        exact = {c: int(i) for c, _, i in rows}
        by_key = {k: int(i) for _, k, i in rows if k is not None}
        for c in chunk:
            if (found := resolve_code(c, exact, by_key)) is not None:
                out[c] = found
    return out


def basis_links(
    session: Session, indicator_ids: Sequence[int]
) -> dict[int, list[tuple[IndicatorBasis, LegalBasis]]]:
    out: dict[int, list[tuple[IndicatorBasis, LegalBasis]]] = {}
    for start in range(0, len(indicator_ids), 5000):
        chunk = list(indicator_ids[start : start + 5000])
        stmt = (
            select(IndicatorBasis, LegalBasis)
            .join(LegalBasis, col(LegalBasis.id) == col(IndicatorBasis.legal_basis_id))
            .where(col(IndicatorBasis.indicator_id).in_(chunk))
            .order_by(col(LegalBasis.id))
        )
        for link, basis in session.execute(stmt):
            out.setdefault(link.indicator_id, []).append((link, basis))
    return out


def all_basis_link_keys(session: Session) -> dict[int, set[tuple[int, str | None]]]:
    out: dict[int, set[tuple[int, str | None]]] = {}
    for ind_id, lb_id, clause in session.execute(
        select(
            col(IndicatorBasis.indicator_id), col(IndicatorBasis.legal_basis_id), col(IndicatorBasis.clause)
        )
    ):
        out.setdefault(int(ind_id), set()).add((int(lb_id), clause))
    return out


def replace_basis_links(session: Session, links: dict[int, list[dict[str, Any]]]) -> None:
    """Set the basis links of the given indicators to exactly ``links[indicator_id]``."""
    ids = list(links)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        session.execute(delete(BASIS_LINK).where(BASIS_LINK.c.indicator_id.in_(chunk)))
    rows = [dict(r, indicator_id=i) for i, rs in links.items() for r in rs]
    for start in range(0, len(rows), 5000):
        session.execute(insert(BASIS_LINK), rows[start : start + 5000])


INDEX_COLUMNS = (
    "id",
    "code",
    "name",
    "keywords",
    "definition",
    "category_id",
    "sector_id",
    "department_id",
    "kind",
    "status",
)


def index_rows(session: Session, *, since_seq: int | None = None) -> list[Row[Any]]:
    """The few columns search needs (not whole ORM objects: a 100k rebuild must stay light)."""
    stmt = select(*[INDICATOR.c[c] for c in INDEX_COLUMNS])
    if since_seq is not None:
        stmt = stmt.where(INDICATOR.c.change_seq > since_seq)
    return list(session.execute(stmt))


def index_basis_ids(session: Session, indicator_ids: Sequence[int] | None = None) -> dict[int, list[int]]:
    stmt = select(col(IndicatorBasis.indicator_id), col(IndicatorBasis.legal_basis_id))
    out: dict[int, list[int]] = {}
    if indicator_ids is None:
        for i, b in session.execute(stmt):
            out.setdefault(int(i), []).append(int(b))
        return out
    for start in range(0, len(indicator_ids), 5000):
        chunk = list(indicator_ids[start : start + 5000])
        for i, b in session.execute(stmt.where(col(IndicatorBasis.indicator_id).in_(chunk))):
            out.setdefault(int(i), []).append(int(b))
    return out
