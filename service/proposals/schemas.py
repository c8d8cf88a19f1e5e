"""Proposal payloads: the proposal with its items, the automated findings, reviewers, comments, decisions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from loaders.text import normalize_text
from service.domain import ProposalMove, ProposalState
from service.indicators.schemas import CODE_PATTERN


class ItemAction(StrEnum):
    create = "create"
    revise = "revise"
    retire = "retire"


class Severity(StrEnum):
    error = "error"  # blocks approval
    warning = "warning"
    info = "info"


class ReviewDecision(StrEnum):
    """The moves a reviewer (or finance) makes; ``submit`` and ``withdraw`` have their own routes."""

    start_review = ProposalMove.start_review.value
    request_changes = ProposalMove.request_changes.value
    approve = ProposalMove.approve.value
    reject = ProposalMove.reject.value


def _text(v: Any) -> Any:
    return normalize_text(v) or None if isinstance(v, str) else v


Text = Annotated[str, BeforeValidator(_text)]
OptionalText = Annotated[str | None, BeforeValidator(_text)]


class ProposalItemIn(BaseModel):
    """One proposed change. ``fields`` uses the indicator API's names (IndicatorDraft / IndicatorPatch)."""

    model_config = ConfigDict(extra="forbid")

    action: ItemAction
    indicator_code: OptionalText = Field(
        default=None, pattern=CODE_PATTERN, description="revise/retire: the indicator; create: leave out"
    )
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="create: the new indicator (name required); revise: the fields to change; retire: empty",
    )
    reason: OptionalText = Field(default=None, max_length=2000)


class ProposalItemEdit(ProposalItemIn):
    id: int | None = Field(default=None, description="an existing item to change; leave out for a new one")


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text = Field(min_length=1, max_length=500)
    department_code: Text = Field(min_length=1, max_length=64, description="the proposing department")
    reason: OptionalText = Field(default=None, max_length=10_000)
    items: list[ProposalItemIn] = Field(min_length=1, max_length=1000)


class ProposalPatch(BaseModel):
    """Title, reason or items (the full new list: items with an ``id`` are kept and changed, the rest new)."""

    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(default=None, min_length=1, max_length=500)
    reason: OptionalText = Field(default=None, max_length=10_000)
    items: list[ProposalItemEdit] | None = Field(default=None, min_length=1, max_length=1000)


class Related(BaseModel):
    """Something a finding points at: a catalogue indicator (with its duplicate score) or a legal basis."""

    kind: str = Field(description="indicator | legal_basis")
    code: str = Field(description="indicator code, or the document number")
    name: str
    department_code: str | None = None
    unit: str | None = None
    score: float | None = Field(default=None, description="duplicates: similarity in [0, 1]")
    href: str


class Finding(BaseModel):
    check: str = Field(
        description="required | ownership | levels | basis | duplicate | consistency | quantifiable | usage"
    )
    severity: Severity
    item: int | None = Field(default=None, description="the item's id (None: the proposal as a whole)")
    seq: int | None = Field(default=None, description="the item's position, 1-based")
    field: str | None = None
    message: str
    related: list[Related] = Field(default_factory=list)


class CheckCounts(BaseModel):
    error: int = 0
    warning: int = 0
    info: int = 0


class ProposalItemOut(BaseModel):
    id: int
    seq: int
    action: ItemAction
    indicator_code: str | None
    fields: dict[str, Any]
    reason: str | None
    base_revision: int | None
    checks: list[Finding]
    comments: int


class ReviewerOut(BaseModel):
    reviewer: str
    assigned_by: str
    assigned_at: datetime


class Transition(BaseModel):
    from_state: ProposalState | None
    to_state: ProposalState
    move: str
    by: str
    at: datetime
    reason: str | None = None


class ProposalSummary(BaseModel):
    id: int
    title: str
    department_code: str
    state: ProposalState
    proposer: str
    item_count: int
    reviewers: list[str]
    counts: CheckCounts
    checked_at: datetime | None
    submitted_at: datetime | None
    change_set_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class ProposalOut(ProposalSummary):
    reason: str | None
    proposer_key_id: str | None
    decision: str | None
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    checks: list[Finding] = Field(description="every finding, of the proposal and of its items")
    items: list[ProposalItemOut]
    assignments: list[ReviewerOut]
    comment_count: int
    history: list[Transition]


class ProposalList(BaseModel):
    items: list[ProposalSummary]
    total: int
    limit: int
    offset: int


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewers: list[Text] = Field(
        min_length=1, max_length=20, description="actors holding an active reviewer key"
    )


class ReviewersOut(BaseModel):
    proposal_id: int
    reviewers: list[ReviewerOut]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision
    reason: OptionalText = Field(
        default=None, max_length=10_000, description="required when requesting changes or rejecting"
    )


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: int | None = None
    field: OptionalText = Field(
        default=None, max_length=64, description="an indicator field, or title/reason"
    )
    parent_id: int | None = Field(default=None, description="the comment answered (a thread)")
    body: Text = Field(min_length=1, max_length=10_000)


class CommentOut(BaseModel):
    id: int
    item_id: int | None
    seq: int | None
    field: str | None
    parent_id: int | None
    author: str
    role: str
    body: str
    created_at: datetime
    replies: list[CommentOut] = Field(default_factory=list)


class CommentThreads(BaseModel):
    proposal_id: int
    total: int
    threads: list[CommentOut]


class RevisionRef(BaseModel):
    code: str
    number: int
    change: str
    fields: list[str]
    reason: str | None
    href: str


class ReviewOut(BaseModel):
    """The review as it stands (or as it ended): checks, discussion, decision and what approval created."""

    proposal_id: int
    title: str
    department_code: str
    state: ProposalState
    proposer: str
    reviewers: list[str]
    counts: CheckCounts
    checks: list[Finding]
    checked_at: datetime | None
    comment_count: int
    comments: list[CommentOut]
    decision: str | None
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    history: list[Transition]
    change_set_id: int | None
    change_set_href: str | None
    revisions: list[RevisionRef]
    created: list[str] = Field(description="codes of the indicators the approval created")
