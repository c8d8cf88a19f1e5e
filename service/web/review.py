"""Proposal pages: the review queue, one proposal side by side with the catalogue, comments and decisions.

Each action posts a form, calls the proposals service exactly as the API does (the same checks, moves,
If-Match on the proposal's ETag) and redirects back (post/redirect/get). A refused action rolls the
request's transaction back and shows the proposal again with the reason, in the status the API gives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as default
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from service.auth.access import PAGE_ASSIGN, PAGE_PROPOSALS, PAGE_PROPOSE, PAGE_REVIEW, REVIEW
from service.auth.context import current_principal
from service.deps import EntityId, OffsetParam, SessionDep, SuggestDep
from service.domain import (
    COMPARATOR_SYMBOLS,
    PROPOSAL_CLOSED,
    PROPOSAL_MOVES,
    Comparator,
    ProposalMove,
    ProposalState,
)
from service.errors import DomainError, FieldError, NotFound, ValidationFailed
from service.indicators import service as indicators
from service.proposals import service as proposals
from service.proposals.schemas import (
    AssignIn,
    CommentIn,
    CommentOut,
    DecisionIn,
    Finding,
    ItemAction,
    ProposalItemOut,
)
from service.versions import service as versions
from service.web import forms
from service.web.rendering import FIELD_LABELS, refusal, render

router = APIRouter()

# The reviewer's moves, in the order the buttons appear; the proposer's moves have their own route.
REVIEW_MOVES = (ProposalMove.start_review, ProposalMove.approve, ProposalMove.request_changes, ProposalMove.reject)
MOVE_LABELS: dict[str, str] = {
    ProposalMove.start_review: "开始审核",
    ProposalMove.approve: "批准",
    ProposalMove.request_changes: "退回修改",
    ProposalMove.reject: "驳回",
    ProposalMove.submit: "提交审核",
    ProposalMove.withdraw: "撤回提案",
    "create": "创建",
}
# On this page "reason" is what the reviewer writes with a decision.
PAGE_LABELS = {"reason": "审核意见", "reviewers": "审核人", "body": "评论内容", "item_id": "评论的条目", "parent_id": "回复的评论"}
ACTION_LABELS = {ItemAction.create: "新增指标", ItemAction.revise: "修订指标", ItemAction.retire: "停用指标"}
SEVERITY_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}
# Fields shown on a new indicator, in reading order; anything else it carries follows.
_NEW_FIELD_ORDER = (
    "name", "kind", "level1", "level2", "sector", "department", "unit", "comparator", "value", "raw_value",
    "value_basis", "definition", "formula", "data_source", "basis", "basis_clause", "scoring_rule",
)  # fmt: skip


@dataclass
class FieldRow:
    """One line of the side-by-side table: the catalogue's value today next to the proposed one."""

    name: str
    label: str
    current: Any
    proposed: Any
    changed: bool
    findings: list[Finding] = default(default_factory=list)
    threads: list[CommentOut] = default(default_factory=list)


@dataclass
class ItemView:
    item: ProposalItemOut
    label: str
    rows: list[FieldRow]
    findings: list[Finding]  # those not about one field
    threads: list[CommentOut]  # those not about one field
    stale: bool  # the indicator was revised after the proposal was judged against it


def _current_fields(session: Session, item: ProposalItemOut, closed: bool) -> tuple[dict[str, Any], int | None]:
    """The catalogue's side of the table: today's indicator while the proposal is open; once it is
    closed, the revision it was judged against (after approval today's would be the proposal itself)."""
    code = item.indicator_code
    if not code or item.action == ItemAction.create:
        return {}, None
    try:
        if closed and item.base_revision:
            values = dict(versions.revision(session, code, item.base_revision).snapshot or {})
            head = item.base_revision
        else:
            out, _ = indicators.get_indicator(session, code)
            values, head = out.model_dump(mode="json"), out.revision
    except NotFound:
        return {}, None
    if values.get("comparator") in COMPARATOR_SYMBOLS:
        values["comparator"] = COMPARATOR_SYMBOLS[Comparator(values["comparator"])]
    return values, head


def _item_view(session: Session, item: ProposalItemOut, threads: list[CommentOut], closed: bool) -> ItemView:
    current, head = _current_fields(session, item, closed)
    if item.action == ItemAction.retire:
        proposed: dict[str, Any] = {"status": "retired"}
    elif item.action == ItemAction.create:
        order = [f for f in _NEW_FIELD_ORDER if f in item.fields] + [
            f for f in item.fields if f not in _NEW_FIELD_ORDER
        ]
        proposed = {f: item.fields[f] for f in order}
    else:
        proposed = dict(item.fields)
    by_field: dict[str | None, list[Finding]] = defaultdict(list)
    for finding in item.checks:
        by_field[finding.field if finding.field in proposed else None].append(finding)
    talk: dict[str | None, list[CommentOut]] = defaultdict(list)
    for thread in threads:
        talk[thread.field if thread.field in proposed else None].append(thread)
    rows = [
        FieldRow(
            name=name,
            label=FIELD_LABELS.get(name, name),
            current=current.get(name) if current else None,
            proposed=value,
            changed=item.action == ItemAction.create or str(current.get(name)) != str(value),
            findings=by_field.get(name, []),
            threads=talk.get(name, []),
        )
        for name, value in proposed.items()
        if item.action != ItemAction.create or value not in (None, "", [])
    ]
    stale = item.base_revision is not None and head is not None and head != item.base_revision
    return ItemView(item, ACTION_LABELS[item.action], rows, by_field.get(None, []), talk.get(None, []), stale)


def _proposal_context(session: Session, proposal_id: EntityId) -> dict[str, Any]:
    out, tag = proposals.get_proposal(session, proposal_id)
    threads = proposals.comment_threads(session, proposal_id).threads
    per_item: dict[int | None, list[CommentOut]] = defaultdict(list)
    for thread in threads:
        per_item[thread.item_id].append(thread)
    principal = current_principal()
    state = ProposalState(out.state)
    may_review = principal.role in REVIEW.roles and principal.actor != out.proposer
    # Compared by code key (service/codes.py): a scope written "jyt" covers the department JYT.
    may_propose = principal.covers_department(out.department_code)
    moves = [m for m in REVIEW_MOVES if may_review and (state, m) in PROPOSAL_MOVES]
    own_moves = [m for m in (ProposalMove.submit, ProposalMove.withdraw) if may_propose and (state, m) in PROPOSAL_MOVES]
    return {
        "p": out,
        "etag": tag,
        "items": [_item_view(session, i, per_item.get(i.id, []), state in PROPOSAL_CLOSED) for i in out.items],
        "general_findings": [f for f in out.checks if f.item is None],
        "general_threads": per_item.get(None, []),
        "moves": moves,
        "own_moves": own_moves,
        "move_labels": MOVE_LABELS,
        "severities": SEVERITY_LABELS,
        "may_comment": state not in PROPOSAL_CLOSED,
        "may_assign": principal.is_finance() and state not in PROPOSAL_CLOSED,
        "review": proposals.review_summary(session, proposal_id) if out.change_set_id else None,
        "refused": None,
    }  # fmt: skip


def _attempt(
    request: Request,
    session: Session,
    proposal_id: EntityId,
    action: Callable[[], object],
    anchor: Callable[[], str] = lambda: "",
) -> Response:
    """Run one action; on success back to the proposal, on refusal the proposal again with the reason."""
    try:
        action()
    except ValidationError as exc:
        session.rollback()
        errors = [FieldError(field=".".join(str(p) for p in e["loc"]), message=e["msg"]) for e in exc.errors()]
        return _refused(request, session, proposal_id, ValidationFailed("输入不符合要求", errors=errors))
    except DomainError as exc:
        if exc.status in (401, 404):
            raise
        # Nothing of a refused action may stay: the move may already have written before the refusal.
        session.rollback()
        return _refused(request, session, proposal_id, exc)
    return RedirectResponse(f"/ui/proposals/{proposal_id}{anchor()}", status_code=303)


def _refused(request: Request, session: Session, proposal_id: EntityId, error: DomainError) -> HTMLResponse:
    context = {**_proposal_context(session, proposal_id), "refused": refusal(error, PAGE_LABELS)}
    return render(request, "proposal.html", context, status_code=error.status)


@router.get("/proposals", dependencies=[Depends(PAGE_PROPOSALS)])
def queue_page(
    request: Request,
    session: SessionDep,
    state: Annotated[str | None, Query(max_length=32)] = None,
    offset: OffsetParam = 0,
) -> HTMLResponse:
    """The proposals the caller may see — a reviewer's are those assigned to them — newest first."""
    picked = forms.choice(state, "state", {s.value for s in ProposalState})
    chosen = ProposalState(picked) if picked else None
    page = proposals.list_proposals(
        session, state=chosen, department=None, assigned_to=None, limit=50, offset=offset
    )
    waiting = {ProposalState.submitted, ProposalState.in_review}
    context = {"page": page, "state": chosen.value if chosen else "", "waiting": waiting,
               "all_states": list(ProposalState)}  # fmt: skip
    return render(request, "proposals.html", context)


@router.get("/proposals/{proposal_id}", dependencies=[Depends(PAGE_PROPOSALS)])
def proposal_page(request: Request, proposal_id: EntityId, session: SessionDep) -> HTMLResponse:
    return render(request, "proposal.html", _proposal_context(session, proposal_id))


@router.post("/proposals/{proposal_id}/comments", dependencies=[Depends(PAGE_PROPOSALS)])
def comment(
    request: Request,
    proposal_id: EntityId,
    session: SessionDep,
    body: Annotated[str, Form(max_length=10_000)] = "",
    item_id: Annotated[str, Form()] = "",
    field: Annotated[str, Form(max_length=64)] = "",
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    """A comment on the proposal, an item or one field of an item, or a reply to a thread."""
    anchor = "#talk"

    def act() -> None:
        nonlocal anchor
        item = forms.optional_id(item_id, "item_id")
        parent = forms.optional_id(parent_id, "parent_id")
        proposals.add_comment(session, proposal_id, CommentIn(
            item_id=item, field=field or None, parent_id=parent, body=body,
        ))  # fmt: skip
        anchor = f"#item-{item}" if item is not None else "#talk"

    return _attempt(request, session, proposal_id, act, lambda: anchor)


@router.post("/proposals/{proposal_id}/decision", dependencies=[Depends(PAGE_REVIEW)])
def decision(
    request: Request,
    proposal_id: EntityId,
    session: SessionDep,
    engine: SuggestDep,
    decision: Annotated[str, Form(max_length=32)],
    etag: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """start_review, approve, request_changes or reject — approval applies the proposal as revisions."""

    def act() -> None:
        data = DecisionIn.model_validate({"decision": decision, "reason": reason or None})
        proposals.decide(session, proposal_id, data, engine, if_match=etag)

    return _attempt(request, session, proposal_id, act)


@router.post("/proposals/{proposal_id}/move", dependencies=[Depends(PAGE_PROPOSE)])
def proposer_move(
    request: Request,
    proposal_id: EntityId,
    session: SessionDep,
    engine: SuggestDep,
    move: Annotated[str, Form(max_length=32)],
    etag: Annotated[str, Form(max_length=64)],
) -> Response:
    """The proposer's side: submit (the checks run) or withdraw."""

    def act() -> None:
        if move == ProposalMove.submit.value:
            proposals.submit(session, proposal_id, engine, if_match=etag)
        elif move == ProposalMove.withdraw.value:
            proposals.withdraw(session, proposal_id, if_match=etag)
        else:
            raise ValidationFailed("未知的操作", errors=[FieldError(field="move", message=move)])

    return _attempt(request, session, proposal_id, act)


@router.post("/proposals/{proposal_id}/reviewers", dependencies=[Depends(PAGE_ASSIGN)])
def assign(
    request: Request,
    proposal_id: EntityId,
    session: SessionDep,
    reviewers: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    """Assign reviewers by name (several separated by commas or 、)."""
    names = [n.strip() for n in reviewers.replace("、", ",").replace(",", ",").split(",") if n.strip()]
    return _attempt(
        request, session, proposal_id,
        lambda: proposals.assign_reviewers(session, proposal_id, AssignIn(reviewers=names)),
    )  # fmt: skip

