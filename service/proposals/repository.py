"""SQL for proposals, their items, reviewer assignments and comments."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from service.models import (
    IndicatorRevision,
    Proposal,
    ProposalComment,
    ProposalItem,
    ProposalReviewer,
)

PROPOSAL = Proposal.__table__  # type: ignore[attr-defined]
ITEM = ProposalItem.__table__  # type: ignore[attr-defined]
COMMENT = ProposalComment.__table__  # type: ignore[attr-defined]


def add(session: Session, proposal: Proposal) -> Proposal:
    session.add(proposal)
    session.flush()
    return proposal


def get(session: Session, proposal_id: int) -> Proposal | None:
    return session.get(Proposal, proposal_id)


def compare_and_set(
    session: Session, proposal_id: int, *, version: int, state: str, values: dict[str, Any]
) -> bool:
    """Update the proposal only if it still has ``version`` and ``state``; False when someone got there first."""
    # A guarded UPDATE serialises writers on both databases (row lock / database lock) and tells who won.
    result = session.execute(
        update(PROPOSAL)
        .where(PROPOSAL.c.id == proposal_id, PROPOSAL.c.version == version, PROPOSAL.c.state == state)
        .values(**values, version=version + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def list_proposals(
    session: Session,
    *,
    state: str | None,
    department: str | None,
    assigned_to: str | None,
    departments: Collection[str] | None,
    reviewer: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Proposal], int]:
    """A page of proposals, newest first, within a scope: an editor's ``departments``, a ``reviewer``'s assignments."""
    where: list[Any] = []
    if state:
        where.append(col(Proposal.state) == state)
    if department:
        where.append(col(Proposal.department_code) == department)
    if departments is not None:
        where.append(col(Proposal.department_code).in_(sorted(departments)))
    for actor in (assigned_to, reviewer):
        if actor:
            assigned = select(col(ProposalReviewer.proposal_id)).where(
                col(ProposalReviewer.reviewer) == actor
            )
            where.append(col(Proposal.id).in_(assigned))
    stmt = select(Proposal).where(*where).order_by(col(Proposal.id).desc()).limit(limit).offset(offset)
    total = session.execute(select(func.count()).select_from(Proposal).where(*where)).scalar_one()
    return list(session.execute(stmt).scalars()), int(total)


# --- items -----------------------------------------------------------------------------------------


def items(session: Session, proposal_id: int) -> list[ProposalItem]:
    """The items in order, read fresh: the service changes them with UPDATEs in the same transaction."""
    stmt = (
        select(ProposalItem)
        .where(col(ProposalItem.proposal_id) == proposal_id)
        .order_by(col(ProposalItem.seq))
        .execution_options(populate_existing=True)
    )
    return list(session.execute(stmt).scalars())


def item_counts(session: Session, proposal_ids: Sequence[int]) -> dict[int, int]:
    if not proposal_ids:
        return {}
    stmt = (
        select(col(ProposalItem.proposal_id), func.count())
        .where(col(ProposalItem.proposal_id).in_(list(proposal_ids)))
        .group_by(col(ProposalItem.proposal_id))
    )
    return {int(p): int(n) for p, n in session.execute(stmt)}


def add_items(session: Session, rows: Sequence[ProposalItem]) -> None:
    session.add_all(rows)
    session.flush()


def update_item(session: Session, item_id: int, values: dict[str, Any]) -> None:
    session.execute(update(ITEM).where(ITEM.c.id == item_id).values(**values))


def move_items_aside(session: Session, proposal_id: int) -> None:
    """Negative positions for every item, so a renumbering never collides with the unique (proposal, seq)."""
    session.execute(update(ITEM).where(ITEM.c.proposal_id == proposal_id).values(seq=-ITEM.c.id))


def delete_items(session: Session, item_ids: Sequence[int]) -> None:
    """Remove items; their comments stay with the proposal (no longer attached to an item)."""
    if not item_ids:
        return
    session.execute(update(COMMENT).where(COMMENT.c.item_id.in_(list(item_ids))).values(item_id=None))
    session.execute(delete(ITEM).where(ITEM.c.id.in_(list(item_ids))))


# --- reviewers -------------------------------------------------------------------------------------


def reviewers(session: Session, proposal_id: int) -> list[ProposalReviewer]:
    stmt = (
        select(ProposalReviewer)
        .where(col(ProposalReviewer.proposal_id) == proposal_id)
        .order_by(col(ProposalReviewer.assigned_at), col(ProposalReviewer.reviewer))
    )
    return list(session.execute(stmt).scalars())


def reviewer_names(session: Session, proposal_ids: Sequence[int]) -> dict[int, list[str]]:
    if not proposal_ids:
        return {}
    stmt = (
        select(col(ProposalReviewer.proposal_id), col(ProposalReviewer.reviewer))
        .where(col(ProposalReviewer.proposal_id).in_(list(proposal_ids)))
        .order_by(col(ProposalReviewer.reviewer))
    )
    out: dict[int, list[str]] = {}
    for pid, reviewer in session.execute(stmt):
        out.setdefault(int(pid), []).append(str(reviewer))
    return out


def is_assigned(session: Session, proposal_id: int, actor: str) -> bool:
    stmt = select(col(ProposalReviewer.reviewer)).where(
        col(ProposalReviewer.proposal_id) == proposal_id, col(ProposalReviewer.reviewer) == actor
    )
    return session.execute(stmt).first() is not None


def add_reviewers(session: Session, rows: Sequence[ProposalReviewer]) -> None:
    session.add_all(rows)
    session.flush()


def remove_reviewer(session: Session, assignment: ProposalReviewer) -> None:
    session.delete(assignment)  # through the ORM, so the audit trail records the row removed
    session.flush()


# --- comments --------------------------------------------------------------------------------------


def add_comment(session: Session, comment: ProposalComment) -> ProposalComment:
    session.add(comment)
    session.flush()
    return comment


def get_comment(session: Session, proposal_id: int, comment_id: int) -> ProposalComment | None:
    comment = session.get(ProposalComment, comment_id)
    return comment if comment is not None and comment.proposal_id == proposal_id else None


def comments(session: Session, proposal_id: int) -> list[ProposalComment]:
    stmt = (
        select(ProposalComment)
        .where(col(ProposalComment.proposal_id) == proposal_id)
        .order_by(col(ProposalComment.created_at), col(ProposalComment.id))
    )
    return list(session.execute(stmt).scalars())


def comment_counts(session: Session, proposal_id: int) -> dict[int | None, int]:
    """Comments per item id (None: on the proposal as a whole)."""
    stmt = (
        select(col(ProposalComment.item_id), func.count())
        .where(col(ProposalComment.proposal_id) == proposal_id)
        .group_by(col(ProposalComment.item_id))
    )
    return {(int(i) if i is not None else None): int(n) for i, n in session.execute(stmt)}


# --- what approval created -------------------------------------------------------------------------


def revisions_of_change_set(session: Session, change_set_id: int) -> list[IndicatorRevision]:
    stmt = (
        select(IndicatorRevision)
        .where(col(IndicatorRevision.change_set_id) == change_set_id)
        .order_by(col(IndicatorRevision.code), col(IndicatorRevision.number))
    )
    return list(session.execute(stmt).scalars())
