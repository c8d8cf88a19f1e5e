"""Indicator payloads: the one input model (API body and import row alike) and the public shape."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from loaders.fields import split_list_cell
from loaders.text import normalize_text
from loaders.values import parse_comparator, parse_raw_value
from service.domain import (
    BOOL_FALSE,
    BOOL_TRUE,
    DIRECTION_ALIASES,
    HORIZON_ALIASES,
    KIND_ALIASES,
    STATUS_ALIASES,
    VALUE_BASIS_ALIASES,
    Comparator,
    Direction,
    Horizon,
    IndicatorStatus,
    Kind,
    ValueBasis,
)
from service.names import RequiredName

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_NUMERIC_COMPARATORS = {
    Comparator.ge,
    Comparator.le,
    Comparator.gt,
    Comparator.lt,
    Comparator.eq,
    Comparator.approx,
}


class FieldValueError(ValueError):
    """A check across fields that one field is to blame for: ``errors_from`` reports it under ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v
    if not isinstance(v, str):
        return v
    out = normalize_text(v)
    return out or None


def _alias(table: dict[str, Any]) -> Any:
    def convert(v: Any) -> Any:
        v = _text(v)
        if v is None or not isinstance(v, str):
            return v
        return table.get(v, v)

    return convert


_CN_DATE = re.compile(r"^(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?$")


def _date(v: Any) -> Any:
    """Dates as tables write them: 2023-04-01, 2023/4/1, 2023年4月1日 (a datetime keeps its date)."""
    v = _text(v)
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, str):
        m = _CN_DATE.match(v)
        if m:
            return f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
    return v


def _listify(name: str) -> Any:
    """A list field given as a list, a JSON array text, or text split as a spreadsheet cell is
    (``split_list_cell``: keywords on 、,;|, duties and goals only on line breaks)."""

    def convert(v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            s = v.strip()
            if s.startswith("["):
                try:
                    v = json.loads(s)
                except ValueError:
                    pass
            if isinstance(v, str):
                return split_list_cell(name, v)
        if isinstance(v, list | tuple):
            return [p for p in (normalize_text(str(x)) for x in v if x is not None) if p]
        return v

    return convert


def _bool(v: Any) -> Any:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in BOOL_TRUE:
        return True
    if s in BOOL_FALSE:
        return False
    return v


def _comparator(v: Any) -> Any:
    v = _text(v)
    if v is None or isinstance(v, Comparator):
        return v
    return parse_comparator(str(v))


Text = Annotated[str | None, BeforeValidator(_text)]
Labels = Annotated[list[str], BeforeValidator(_listify("keywords"))]
Sentences = Annotated[list[str], BeforeValidator(_listify("duties"))]


class IndicatorDraft(BaseModel):
    """What a user may say about an indicator, normalised on the way in.

    Used for ``POST /v1/indicators``, for each imported row, and (all fields
    optional) for PATCH. Chinese aliases and symbols are accepted and mapped to
    the canonical English values.
    """

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, pattern=CODE_PATTERN)
    name: Annotated[str, BeforeValidator(_text)] = Field(min_length=1, max_length=500)
    kind: Annotated[Kind, BeforeValidator(_alias(KIND_ALIASES))] = Kind.sector
    level1: Text = None
    level2: Text = None
    raw_level1: Text = Field(default=None, description="level1 as the source table wrote it (kept on export)")
    raw_level2: Text = Field(default=None, description="level2 as the source table wrote it")
    sector: Text = Field(default=None, max_length=200)
    department: Text = Field(default=None, max_length=200)
    definition: Text = Field(default=None, max_length=10_000)
    formula: Text = Field(default=None, max_length=2_000)
    unit: Text = Field(default=None, max_length=100)
    comparator: Annotated[Comparator | None, BeforeValidator(_comparator)] = None
    # A number no float holds (JSON Infinity, NaN) is refused, never stored as a wrong value.
    value: Annotated[float, Field(allow_inf_nan=False)] | str | None = None
    value_max: float | None = Field(
        default=None, allow_inf_nan=False, description="upper bound when the value is a range (90%~95%)"
    )
    raw_value: str | None = Field(default=None, max_length=500)
    value_basis: Annotated[ValueBasis | None, BeforeValidator(_alias(VALUE_BASIS_ALIASES))] = None
    value_basis_text: Text = None
    scoring_rule: Text = Field(default=None, max_length=10_000)
    data_source: Text = Field(default=None, max_length=2_000)
    frequency: Text = Field(default=None, max_length=100)
    budget_types: Labels = Field(default_factory=list)
    keywords: Labels = Field(default_factory=list)
    basis: Text = Field(default=None, max_length=5_000)
    basis_clause: Text = Field(default=None, max_length=2_000)
    direction: Annotated[Direction | None, BeforeValidator(_alias(DIRECTION_ALIASES))] = None
    is_core: Annotated[bool, BeforeValidator(_bool)] = False
    horizon: Annotated[Horizon, BeforeValidator(_alias(HORIZON_ALIASES))] = Horizon.annual
    weight: float | None = Field(default=None, ge=0, le=1000)
    source: Text = Field(default=None, max_length=2_000)
    notes: Text = Field(default=None, max_length=10_000)
    status: Annotated[IndicatorStatus | None, BeforeValidator(_alias(STATUS_ALIASES))] = None
    effective_from: Annotated[date | None, BeforeValidator(_date)] = Field(
        default=None, description="date the indicator is in force from (生效日期)"
    )
    expires_on: Annotated[date | None, BeforeValidator(_date)] = Field(
        default=None, description="date it stops being in force (失效日期)"
    )
    duties: Sentences = Field(default_factory=list)
    strategic_goals: Sentences = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _keep_free_text_basis(cls, data: Any) -> Any:
        # Tables often write free text (“财政管理统一要求”) where the value basis goes:
        # keep it verbatim in value_basis_text instead of rejecting the row.
        if isinstance(data, dict):
            vb = data.get("value_basis")
            if isinstance(vb, str):
                norm = normalize_text(vb)
                if norm and norm not in VALUE_BASIS_ALIASES and norm not in ValueBasis.__members__:
                    data = {
                        **data,
                        "value_basis": None,
                        "value_basis_text": data.get("value_basis_text") or norm,
                    }
        return data

    @model_validator(mode="after")
    def _derive_value(self) -> IndicatorDraft:
        """Fill comparator/value/unit from the raw value, and check they agree."""
        if self.raw_value is not None:
            self.raw_value = self.raw_value.strip() or None
        if isinstance(self.value, str):
            text = normalize_text(self.value)
            parsed = parse_raw_value(text)
            if self.raw_value is None:
                self.raw_value = self.value.strip() or None
            self.value = parsed.value
            self.value_max = self.value_max if self.value_max is not None else parsed.value_max
            self.comparator = self.comparator or parsed.comparator
            self.unit = self.unit or parsed.unit
        elif self.value is None and self.raw_value:
            parsed = parse_raw_value(self.raw_value)
            self.value = parsed.value
            self.value_max = self.value_max if self.value_max is not None else parsed.value_max
            self.comparator = self.comparator or parsed.comparator
            self.unit = self.unit or parsed.unit
        if self.value_max is not None and not (
            isinstance(self.value, int | float) and self.value <= self.value_max
        ):
            raise FieldValueError(
                "value_max", f"value_max {self.value_max} needs a numeric value not above it (value: {self.value})"
            )
        if self.comparator in _NUMERIC_COMPARATORS and isinstance(self.value, str):
            raise FieldValueError(
                "value", f"value 「{self.value}」 is not a number, but comparator is {self.comparator.value}"
            )
        if self.effective_from and self.expires_on and self.expires_on < self.effective_from:
            raise FieldValueError("expires_on", "expires_on is before effective_from")
        if self.direction is None and self.comparator is not None:
            if self.comparator in (Comparator.ge, Comparator.gt, Comparator.eq):
                self.direction = Direction.positive
            elif self.comparator in (Comparator.le, Comparator.lt):
                self.direction = Direction.negative
        return self


class IndicatorPatch(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: RequiredName | None = Field(default=None, max_length=500)
    kind: str | None = None
    level1: str | None = None
    level2: str | None = None
    sector: str | None = None
    department: str | None = None
    definition: str | None = None
    formula: str | None = None
    unit: str | None = None
    comparator: str | None = None
    value: float | str | None = None
    value_max: float | None = None
    raw_value: str | None = None
    value_basis: str | None = None
    value_basis_text: str | None = None
    scoring_rule: str | None = None
    data_source: str | None = None
    frequency: str | None = None
    budget_types: list[str] | str | None = None
    keywords: list[str] | str | None = None
    basis: str | None = None
    basis_clause: str | None = None
    direction: str | None = None
    is_core: bool | str | None = None
    horizon: str | None = None
    weight: float | None = None
    source: str | None = None
    notes: str | None = None
    status: str | None = Field(
        default=None,
        description="lifecycle move (draft → proposed → standard → superseded | retired); 409 if invalid",
    )
    superseded_by: str | None = Field(
        default=None, description="code of the replacing indicator (with status superseded)"
    )
    effective_from: date | None = None
    expires_on: date | None = None
    duties: list[str] | str | None = None
    strategic_goals: list[str] | str | None = None
    reason: str | None = Field(default=None, max_length=2_000, description="why; kept on the revision")


class BasisRef(BaseModel):
    id: int
    doc_no: str
    title: str
    kind: str
    status: str
    clause: str | None = None
    note: str | None = None


class IndicatorOut(BaseModel):
    code: str
    name: str
    kind: Kind
    framework: str
    category_id: int
    level1: str
    level2: str | None
    raw_level1: str | None = None
    raw_level2: str | None = None
    sector: str | None = None
    sector_code: str | None = None
    department: str | None = None
    department_code: str | None = None
    definition: str | None = None
    formula: str | None = None
    unit: str | None = None
    comparator: Comparator | None = None
    comparator_symbol: str | None = None
    value: float | str | None = None
    value_max: float | None = None
    raw_value: str | None = None
    value_basis: ValueBasis | None = None
    value_basis_text: str | None = None
    scoring_rule: str | None = None
    data_source: str | None = None
    frequency: str | None = None
    budget_types: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    basis: str | None = None
    legal_bases: list[BasisRef] = Field(default_factory=list)
    duties: list[str] = Field(default_factory=list)
    strategic_goals: list[str] = Field(default_factory=list)
    direction: Direction | None = None
    is_core: bool = False
    horizon: Horizon = Horizon.annual
    weight: float | None = None
    source: str | None = None
    notes: str | None = None
    status: IndicatorStatus
    effective_from: date | None = None
    expires_on: date | None = None
    superseded_by: str | None = Field(
        default=None, description="code of the indicator that replaces this one"
    )
    version: int = Field(description="optimistic-lock counter; the ETag")
    revision: int = Field(default=0, description="number of the revision shown (see /history)")
    valid_from: datetime | None = Field(default=None, description="set on reads with ?as_of= or ?release=")
    valid_to: datetime | None = Field(default=None, description="when the next revision took over, if it has")
    created_at: datetime
    updated_at: datetime


class IndicatorPage(BaseModel):
    items: list[IndicatorOut]
    total: int
    next_cursor: str | None = None
    facets: dict[str, dict[str, int]] = Field(default_factory=dict)
