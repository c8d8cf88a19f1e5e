"""Change set payloads: the policy-change requests, the change set with its items, review and apply."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from loaders.text import normalize_text
from service.domain import BASIS_KIND_ALIASES, BasisKind
from service.legal_bases.schemas import LegalBasisOut


class ChangeSetStatus(StrEnum):
    draft = "draft"
    applied = "applied"
    discarded = "discarded"


class ItemAction(StrEnum):
    rebase = "rebase"  # rest the indicator on the new edition, keeping its clause
    revise_value = "revise_value"  # a new standard value (and the new edition, when there is one)
    retire = "retire"
    no_change = "no_change"
    create = "create"  # from an approved proposal: a new indicator
    revise = "revise"  # from an approved proposal: the fields it proposed


class Decision(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


def _text(v: Any) -> Any:
    return normalize_text(v) or None if isinstance(v, str) else v


def _kind(v: Any) -> Any:
    return BASIS_KIND_ALIASES.get(normalize_text(v), normalize_text(v)) if isinstance(v, str) else v


Text = Annotated[str, BeforeValidator(_text)]


class EditionIn(BaseModel):
    """A new edition of a document: it supersedes the edition in force from ``effective_on``."""

    model_config = ConfigDict(extra="forbid")

    doc_no: Text = Field(min_length=1, max_length=200)
    title: Text = Field(min_length=1, max_length=500)
    effective_on: date
    issued_on: date | None = None
    issuer: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, max_length=500)
    summary: Text = Field(min_length=1, max_length=10_000, description="what changed (修订要点)")
    kind: Annotated[BasisKind | None, BeforeValidator(_kind)] = None
    sectors: list[str] | None = Field(default=None, description="default: the old edition's sectors")
    source: str | None = Field(default=None, max_length=2000)


class RepealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_on: date
    summary: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, max_length=10_000)


class AffectedTarget(BaseModel):
    """A target (绩效目标) that uses at least one indicator of the change set."""

    external_id: str
    department_code: str | None
    fiscal_year: int | None
    project: str | None
    indicators: list[str]


class ChangeSetItemOut(BaseModel):
    id: int
    indicator_code: str
    indicator_name: str
    department_code: str | None
    action: ItemAction
    proposed: dict[str, Any]
    decision: Decision
    note: str | None
    decided_by: str | None
    decided_at: datetime | None
    base_revision: int
    version: int


class ChangeSetCounts(BaseModel):
    items: int
    by_decision: dict[str, int]
    by_action: dict[str, int]


class ChangeSetSummary(BaseModel):
    id: int
    title: str
    origin: str
    status: ChangeSetStatus
    legal_basis_id: int | None
    new_basis_id: int | None
    proposal_id: int | None = Field(default=None, description="the approved proposal (origin proposal)")
    effective_on: date | None
    summary: str | None
    author: str | None
    applied_by: str | None
    applied_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    counts: ChangeSetCounts


class ChangeSetOut(ChangeSetSummary):
    """The change set with the affected targets and one page of items (all of them up to 1000)."""

    targets: list[AffectedTarget]
    items: list[ChangeSetItemOut]
    items_limit: int
    items_offset: int


class ChangeSetList(BaseModel):
    items: list[ChangeSetSummary]
    total: int


class ItemPage(BaseModel):
    items: list[ChangeSetItemOut]
    total: int
    limit: int
    offset: int


class PolicyChangeOut(BaseModel):
    """The legal basis as recorded (the new edition, or the repealed document) and the change set opened."""

    basis: LegalBasisOut
    change_set: ChangeSetOut


class ChangeSetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(default=None, min_length=1, max_length=500)
    summary: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, max_length=10_000)
    effective_on: date | None = None


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ItemAction | None = None
    proposed: dict[str, Any] | None = Field(default=None, description="merged into the proposal")
    decision: Decision | None = None
    note: str | None = Field(default=None, max_length=2000)


class SettleIn(BaseModel):
    """Decide many items at once: ``items`` is "all" (every item still pending) or a list of item ids."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    items: Literal["all"] | Annotated[list[int], Field(min_length=1, max_length=100_000)]
    note: str | None = Field(default=None, max_length=2000)


class SettleOut(BaseModel):
    updated: int
    counts: ChangeSetCounts


class ApplyIn(BaseModel):
    """No fields: who applies is the caller's key, never a name in the body (422 for one)."""

    model_config = ConfigDict(extra="forbid")


class ApplyOut(BaseModel):
    change_set: ChangeSetSummary
    applied: int = Field(description="accepted items carried out (no_change included)")
    revised: int = Field(description="indicators that got a new revision")
    rejected: int
