"""Payloads of the suggestion API (names fixed by the issue: external tools call them)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from loaders.text import normalize_text
from service.domain import KIND_ALIASES, Comparator, Kind

MAX_TEXT_CHARS = 2000
MAX_LIMIT = 50
MAX_BATCH = 100
# Context longer than any stored name cannot match; it is still not an error, just bounded.
MAX_CONTEXT_CHARS = 1000


def _kind(v: Any) -> Any:
    if isinstance(v, str):
        text = normalize_text(v)
        return KIND_ALIASES.get(text, text) or None
    return v


def _optional_text(v: Any) -> Any:
    if isinstance(v, str):
        return normalize_text(v) or None
    return v


OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]


class SuggestRequest(BaseModel):
    """A target text and what the user knows about it (each context field is optional)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="The target sentence(s) as written (绩效目标), up to 2000 characters",
    )
    department: OptionalText = Field(
        default=None, max_length=MAX_CONTEXT_CHARS, description="Department name or code; unknown → not used"
    )
    sector: OptionalText = Field(
        default=None, max_length=200, description="Sector name or code; unknown → not used"
    )
    kind: Annotated[Kind | None, BeforeValidator(_kind)] = Field(
        default=None, description="Indicator kind to prefer (common, sector, department_duty, …)"
    )
    fiscal_year: int | None = Field(default=None, ge=1990, le=2100, description="Resolves 年底前 to a date")
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text must not be blank")
        return v


class SuggestBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[SuggestRequest] = Field(min_length=1, max_length=MAX_BATCH)


class SuggestedIndicator(BaseModel):
    """The catalogue row being suggested (the full record is at ``GET /v1/indicators/{code}``)."""

    code: str
    name: str
    kind: Kind
    status: str
    level1: str
    level2: str | None = None
    unit: str | None = None
    comparator: Comparator | None = None
    comparator_symbol: str | None = None
    value: float | str | None = None
    raw_value: str | None = None
    sector: str | None = None
    sector_code: str | None = None
    department: str | None = None
    department_code: str | None = None


class ProposedValue(BaseModel):
    """A value for the indicator taken from the text; ``span`` indexes the text as sent ([start, end))."""

    comparator: Comparator
    comparator_symbol: str
    value: float | str
    value_max: float | None = Field(default=None, description="upper bound when the text gives a range")
    unit: str | None = None
    span: list[int] = Field(min_length=2, max_length=2)
    text: str = Field(description="the characters of the text at span")


class SuggestionItem(BaseModel):
    indicator: SuggestedIndicator
    score: float
    dimension: str = Field(description="产出-数量, 产出-质量, 产出-时效, 成本, 效益, 满意度 or 其他")
    reasons: list[str]
    matched_terms: list[str]
    proposed: ProposedValue | None = None
    confidence: str = Field(description="高, 中 or 低, from the calibrated probability")
    probability: float = Field(description="calibrated probability that the row belongs in the target's table")
    generic_sectors: int = Field(
        default=0, description="a generic name (shown once): how many sector families use it; 0 otherwise"
    )


class DraftFields(BaseModel):
    """The new indicator as ``POST /v1/proposals`` takes it in a create item's ``fields``."""

    name: str
    level1: str
    level2: str
    unit: str | None = None
    comparator: Comparator | None = None
    value: float | str | None = None
    raw_value: str | None = None
    sector: str | None = None
    department: str | None = None
    definition: str | None = None


class DraftProposalItem(BaseModel):
    """A create item for ``POST /v1/proposals`` (``items: [draft.proposal_item, …]``), as is."""

    action: str = "create"
    fields: DraftFields
    reason: str


class DraftOut(BaseModel):
    """An indicator the library lacks, drafted from the text (not in the catalogue)."""

    draft: bool = Field(default=True, description="always true: not a catalogue row")
    name: str
    level1: str
    level2: str
    dimension: str
    unit: str | None = None
    comparator: Comparator
    comparator_symbol: str
    value: float | str | None = None
    value_max: float | None = None
    span: list[int] | None = Field(default=None, description="the quantity it comes from, [start, end)")
    text: str | None = Field(default=None, description="the characters of the text at span")
    reason: str
    proposal_item: DraftProposalItem


class Filler(BaseModel):
    dimension: str
    indicator: SuggestedIndicator
    score: float
    reasons: list[str]


class CoverageOut(BaseModel):
    """Which dimensions of a target table the suggestions cover, and catalogue fillers for the rest."""

    present: list[str]
    missing: list[str]
    fillers: list[Filler]


class QuantityOut(BaseModel):
    text: str
    span: list[int] = Field(min_length=2, max_length=2)
    value: float
    value_max: float | None = None
    unit: str | None = None
    comparator: Comparator | None = None
    comparator_symbol: str | None = None
    change: str | None = Field(default=None, description="increase / decrease for 提高5% / 降低5%")
    context: str = ""
    object: str = ""


class DeadlineOut(BaseModel):
    text: str
    span: list[int] = Field(min_length=2, max_length=2)
    date: dt.date | None = None


class FieldOut(BaseModel):
    """The target's 行业领域 (sector family): given by the caller, or inferred from the catalogue's words."""

    name: str | None = Field(description="the sector family (教育, 水利 …); None when nothing tells")
    sector: str | None = Field(default=None, description="the catalogue's most used sector label of the family")
    confidence: float = Field(description="1 when given; else the top family's share of its and the runner-up's evidence")
    label: str = Field(description="高, 中 or 低")
    source: str = Field(description="given | department | text | none")
    evidence: list[str]


class ParsedOut(BaseModel):
    quantities: list[QuantityOut]
    deadlines: list[DeadlineOut]
    field: FieldOut


class SuggestResponse(BaseModel):
    items: list[SuggestionItem] = Field(description="best first; may be shorter than limit (rows under the floor are not shown)")
    drafts: list[DraftOut] = Field(description="indicators the library lacks: quantities no item took, missing dimensions")
    coverage: CoverageOut
    parsed: ParsedOut


class SuggestBatchResponse(BaseModel):
    results: list[SuggestResponse]
