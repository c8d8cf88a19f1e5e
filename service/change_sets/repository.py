"""SQL for change sets and their items (and the reads across indicators and targets they need)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlmodel import Session, col

from service.models import (
    ChangeSet,
    ChangeSetItem,
    Department,
    Indicator,
    IndicatorBasis,
    LegalBasis,
    Target,
    TargetIndicator,
    utcnow,
)

ITEM = ChangeSetItem.__table__  # type: ignore[attr-defined]
CHANGE_SET = ChangeSet.__table__  # type: ignore[attr-defined]
_CHUNK = 2000
_DEPARTMENT_CODE: Any = col(Department.code).label("department_code")


def add(session: Session, change_set: ChangeSet) -> ChangeSet:
    session.add(change_set)
    session.flush()
    return change_set


def get(session: Session, change_set_id: int) -> ChangeSet | None:
    return session.get(ChangeSet, change_set_id)


def get_for_update(session: Session, change_set_id: int) -> ChangeSet | None:
    """The change set, its row locked until commit (PostgreSQL; SQLite serialises writers anyway)."""
    stmt = select(ChangeSet).where(col(ChangeSet.id) == change_set_id).with_for_update()
    return session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()


def list_sets(
    session: Session, *, status: str | None, basis_id: int | None = None, limit: int, offset: int
) -> tuple[list[ChangeSet], int]:
    conditions: list[Any] = []
    if status:
        conditions.append(col(ChangeSet.status) == status)
    if basis_id is not None:
        conditions.append((col(ChangeSet.legal_basis_id) == basis_id) | (col(ChangeSet.new_basis_id) == basis_id))
    stmt = select(ChangeSet).where(*conditions)
    count = select(func.count()).select_from(ChangeSet).where(*conditions)
    rows = session.execute(stmt.order_by(col(ChangeSet.id).desc()).limit(limit).offset(offset)).scalars()
    return list(rows), int(session.execute(count).scalar_one())


# Guarded UPDATEs (compare-and-set) instead of SELECT … FOR UPDATE: the same statement serialises
# writers on PostgreSQL (row lock, WHERE re-checked) and on SQLite (database lock), and its rowcount
# tells the caller whether it won.
def compare_and_set(session: Session, change_set_id: int, version: int, values: dict[str, Any]) -> bool:
    """Update a draft change set only if it still has ``version``; False when stale or no longer draft."""
    result = session.execute(
        update(CHANGE_SET)
        .where(
            CHANGE_SET.c.id == change_set_id,
            CHANGE_SET.c.version == version,
            CHANGE_SET.c.status == "draft",
        )
        .values(**values, version=version + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def set_basis_status_if(session: Session, basis_id: int, *, expected: str, status: str) -> bool:
    """Compare-and-set of a legal basis's status (bumping its version); False when it was not ``expected``."""
    table = LegalBasis.__table__  # type: ignore[attr-defined]
    result = session.execute(
        update(table)
        .where(table.c.id == basis_id, table.c.status == expected)
        .values(status=status, version=table.c.version + 1, updated_at=utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def insert_items(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5000):
        session.execute(insert(ITEM), list(rows[start : start + 5000]))


def get_item(session: Session, change_set_id: int, item_id: int) -> ChangeSetItem | None:
    item = session.get(ChangeSetItem, item_id)
    return item if item is not None and item.change_set_id == change_set_id else None


def update_item_if_version(session: Session, item_id: int, version: int, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(ITEM)
        .where(ITEM.c.id == item_id, ITEM.c.version == version)
        .values(**values, version=version + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def settle_items(
    session: Session, change_set_id: int, item_ids: Sequence[int] | None, values: dict[str, Any]
) -> int:
    """Set the decision of the listed items (None: every pending item); returns how many changed."""
    base = (
        update(ITEM).where(ITEM.c.change_set_id == change_set_id).values(**values, version=ITEM.c.version + 1)
    )
    if item_ids is None:
        result = session.execute(base.where(ITEM.c.decision == "pending"))
        return int(result.rowcount)  # type: ignore[attr-defined]
    done = 0
    for start in range(0, len(item_ids), _CHUNK):
        result = session.execute(base.where(ITEM.c.id.in_(list(item_ids[start : start + _CHUNK]))))
        done += int(result.rowcount)  # type: ignore[attr-defined]
    return done


def existing_item_ids(session: Session, change_set_id: int, item_ids: Sequence[int]) -> set[int]:
    out: set[int] = set()
    for start in range(0, len(item_ids), _CHUNK):
        stmt = select(col(ChangeSetItem.id)).where(
            col(ChangeSetItem.change_set_id) == change_set_id,
            col(ChangeSetItem.id).in_(list(item_ids[start : start + _CHUNK])),
        )
        out.update(int(i) for i in session.execute(stmt).scalars())
    return out


def counts(session: Session, change_set_id: int) -> list[tuple[str, str, int]]:
    """(decision, action, number of items) for one change set."""
    stmt = (
        select(col(ChangeSetItem.decision), col(ChangeSetItem.action), func.count())
        .where(col(ChangeSetItem.change_set_id) == change_set_id)
        .group_by(col(ChangeSetItem.decision), col(ChangeSetItem.action))
    )
    return [(str(d), str(a), int(n)) for d, a, n in session.execute(stmt)]


def item_page(
    session: Session,
    change_set_id: int,
    *,
    limit: int,
    offset: int,
    decision: str | None = None,
    action: str | None = None,
) -> tuple[list[Row[Any]], int]:
    """Items with their indicator's code, name and department, in item order."""
    # Item order is insertion order, which is the impact walk's (indicator code) order.
    where = [col(ChangeSetItem.change_set_id) == change_set_id]
    if decision:
        where.append(col(ChangeSetItem.decision) == decision)
    if action:
        where.append(col(ChangeSetItem.action) == action)
    columns: list[Any] = [ChangeSetItem, col(Indicator.code), col(Indicator.name), _DEPARTMENT_CODE]
    stmt = (
        select(*columns)
        .join(Indicator, col(Indicator.id) == col(ChangeSetItem.indicator_id))
        .outerjoin(Department, col(Department.id) == col(Indicator.department_id))
        .where(*where)
        .order_by(col(ChangeSetItem.id))
        .limit(limit)
        .offset(offset)
    )
    total = session.execute(select(func.count()).select_from(ChangeSetItem).where(*where)).scalar_one()
    return list(session.execute(stmt).all()), int(total)


def pending_item_ids(session: Session, change_set_id: int, *, limit: int) -> tuple[list[int], int]:
    where = (col(ChangeSetItem.change_set_id) == change_set_id, col(ChangeSetItem.decision) == "pending")
    ids = session.execute(
        select(col(ChangeSetItem.id)).where(*where).order_by(col(ChangeSetItem.id)).limit(limit)
    ).scalars()
    total = session.execute(select(func.count()).select_from(ChangeSetItem).where(*where)).scalar_one()
    return [int(i) for i in ids], int(total)


def proposals(
    session: Session, change_set_id: int, actions: Sequence[str]
) -> list[tuple[int, str, str, dict[str, Any], str]]:
    """(item id, indicator code, action, proposed, decision) of the items with one of ``actions``."""
    stmt = (
        select(
            col(ChangeSetItem.id),
            col(Indicator.code),
            col(ChangeSetItem.action),
            col(ChangeSetItem.proposed),
            col(ChangeSetItem.decision),
        )
        .join(Indicator, col(Indicator.id) == col(ChangeSetItem.indicator_id))
        .where(
            col(ChangeSetItem.change_set_id) == change_set_id, col(ChangeSetItem.action).in_(list(actions))
        )
    )
    return [(int(i), str(c), str(a), dict(p or {}), str(d)) for i, c, a, p, d in session.execute(stmt)]


def accepted_items(session: Session, change_set_id: int) -> list[Row[Any]]:
    """Accepted items with their indicator's code and current revision number, in item order."""
    stmt = (
        select(ChangeSetItem, col(Indicator.code), col(Indicator.revision))
        .join(Indicator, col(Indicator.id) == col(ChangeSetItem.indicator_id))
        .where(col(ChangeSetItem.change_set_id) == change_set_id, col(ChangeSetItem.decision) == "accepted")
        .order_by(col(ChangeSetItem.id))
    )
    return list(session.execute(stmt).all())


def items_by_decision(session: Session, change_set_id: int, decision: str) -> int:
    stmt = (
        select(func.count())
        .select_from(ChangeSetItem)
        .where(col(ChangeSetItem.change_set_id) == change_set_id, col(ChangeSetItem.decision) == decision)
    )
    return int(session.execute(stmt).scalar_one())


def indicator_heads(session: Session, codes: Sequence[str]) -> dict[str, tuple[int, int, str]]:
    """code → (id, revision number, status) for the given codes."""
    out: dict[str, tuple[int, int, str]] = {}
    for start in range(0, len(codes), _CHUNK):
        stmt = select(
            col(Indicator.code), col(Indicator.id), col(Indicator.revision), col(Indicator.status)
        ).where(col(Indicator.code).in_(list(codes[start : start + _CHUNK])))
        out.update({str(c): (int(i), int(r), str(s)) for c, i, r, s in session.execute(stmt)})
    return out


def basis_links(session: Session, indicator_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Each indicator's basis links with the linked document's number, title and status."""
    out: dict[int, list[Row[Any]]] = {}
    for start in range(0, len(indicator_ids), _CHUNK):
        stmt = (
            select(
                col(IndicatorBasis.indicator_id),
                col(IndicatorBasis.legal_basis_id),
                col(IndicatorBasis.clause),
                col(IndicatorBasis.note),
                col(LegalBasis.doc_no),
                col(LegalBasis.status),
            )
            .join(LegalBasis, col(LegalBasis.id) == col(IndicatorBasis.legal_basis_id))
            .where(col(IndicatorBasis.indicator_id).in_(list(indicator_ids[start : start + _CHUNK])))
            .order_by(col(IndicatorBasis.indicator_id), col(IndicatorBasis.legal_basis_id))
        )
        for row in session.execute(stmt):
            out.setdefault(int(row.indicator_id), []).append(row)
    return out


def indicator_texts(session: Session, indicator_ids: Sequence[int]) -> dict[int, str | None]:
    """The free-text basis (取值依据/政策依据) of each indicator."""
    out: dict[int, str | None] = {}
    for start in range(0, len(indicator_ids), _CHUNK):
        stmt = select(col(Indicator.id), col(Indicator.basis)).where(
            col(Indicator.id).in_(list(indicator_ids[start : start + _CHUNK]))
        )
        out.update({int(i): b for i, b in session.execute(stmt)})
    return out


def targets_using(session: Session, indicator_ids: Sequence[int]) -> list[Row[Any]]:
    """(external_id, department code, fiscal year, project, indicator code) for every use of the indicators."""
    rows: list[Row[Any]] = []
    for start in range(0, len(indicator_ids), _CHUNK):
        columns: list[Any] = [
            col(Target.external_id),
            _DEPARTMENT_CODE,
            col(Target.fiscal_year),
            col(Target.project),
            col(Indicator.code).label("indicator_code"),
        ]
        stmt = (
            select(*columns)
            .select_from(TargetIndicator)
            .join(Target, col(Target.id) == col(TargetIndicator.target_id))
            .join(Indicator, col(Indicator.id) == col(TargetIndicator.indicator_id))
            .outerjoin(Department, col(Department.id) == col(Target.department_id))
            .where(col(TargetIndicator.indicator_id).in_(list(indicator_ids[start : start + _CHUNK])))
        )
        rows.extend(session.execute(stmt).all())
    return rows


def set_indicator_columns(
    session: Session, rows: Sequence[dict[str, Any]], *, change_seq: int, now: datetime
) -> None:
    """Bulk update indicators by ``_id`` (rows of one shape), bumping version and change number."""
    # The version bump makes every ETag a client holds stale, exactly as a single PATCH would.
    if not rows:
        return
    table = Indicator.__table__  # type: ignore[attr-defined]
    keys = [k for k in rows[0] if k != "_id"]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values(
            {
                **{k: bindparam(k) for k in keys},
                "version": table.c.version + 1,
                "change_seq": change_seq,
                "updated_at": now,
            }
        )
    )
    for start in range(0, len(rows), 5000):
        session.connection().execute(stmt, list(rows[start : start + 5000]))
