"""Shapes of the catalogue quality report (``GET /v1/quality``)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from service.domain import BasisStatus, IndicatorStatus


class Severity(StrEnum):
    error = "error"
    warning = "warning"


class MismatchRule(StrEnum):
    non_numeric_value = "non_numeric_value"  # a quantitative comparator with a text value
    percent_over_100 = "percent_over_100"  # unit % with a value above 100
    qualitative_with_unit = "qualitative_with_unit"  # 定性 with a unit of measure


class IndicatorRef(BaseModel):
    code: str
    name: str
    department_code: str | None


class Totals(BaseModel):
    indicators: int = Field(description="indicators in the report: those whose status is in `statuses`")
    statuses: list[IndicatorStatus] = Field(description="the statuses counted")
    by_status: dict[str, int] = Field(description="every status of the catalogue viewed, counted or not")


class WithoutBasis(BaseModel):
    count: int
    items: list[IndicatorRef] = Field(description="by code")


class BasisRef(BaseModel):
    id: int
    doc_no: str
    title: str
    status: BasisStatus


class RepealedBasisFinding(BaseModel):
    code: str
    name: str
    department_code: str | None
    severity: Severity = Field(description="error: no linked basis is in force; warning: some are not")
    in_force: int = Field(description="linked bases still in force")
    out_of_force: list[BasisRef] = Field(description="the linked bases repealed or superseded")


class RepealedBasis(BaseModel):
    count: int
    errors: int
    warnings: int
    items: list[RepealedBasisFinding] = Field(description="errors first, then by code")


class DepartmentShare(BaseModel):
    department_code: str | None = Field(description="null: indicators without a department (共性 etc.)")
    department_name: str | None
    indicators: int
    qualitative: int
    share: float = Field(description="qualitative / indicators, rounded to 4 places")
    flagged: bool = Field(description="share above the threshold: 定量为主、定性为辅 is not met")


class QualitativeShare(BaseModel):
    threshold: float
    overall: DepartmentShare = Field(description="the whole report (department fields null)")
    count: int = Field(description="departments")
    flagged: int
    items: list[DepartmentShare] = Field(description="highest share first, then by department code")


class ClusterMember(BaseModel):
    code: str
    name: str
    department_code: str | None
    unit: str | None


class DuplicateCluster(BaseModel):
    name: str = Field(description="the most common name of the cluster")
    similarity: float = Field(description="lowest similarity (0–1) of a member's name to the cluster's name")
    departments: int
    member_count: int
    members: list[ClusterMember] = Field(description="by department code, then code; capped by `limit`")


class DuplicateClusters(BaseModel):
    min_similarity: float
    count: int
    items: list[DuplicateCluster] = Field(description="most members first")


class UnitVariant(BaseModel):
    unit: str = Field(description="normalised unit (百分比 → %, 名 → 人)")
    count: int
    spellings: list[str] = Field(description="units as written that normalise to it")


class UnitInconsistency(BaseModel):
    name: str = Field(description="the most common spelling of the name")
    indicators: int = Field(description="indicators with this normalised name and a unit")
    variants: list[UnitVariant] = Field(description="most used first")


class InconsistentUnits(BaseModel):
    count: int
    items: list[UnitInconsistency] = Field(description="most variants first, then most indicators")


class UnitValueFinding(BaseModel):
    code: str
    name: str
    department_code: str | None
    rule: MismatchRule
    comparator: str | None
    value: float | str | None
    unit: str | None


class UnitValueMismatch(BaseModel):
    count: int
    by_rule: dict[MismatchRule, int]
    items: list[UnitValueFinding] = Field(description="by code, then rule")


class CodeCollision(BaseModel):
    key: str = Field(description="the code folded for comparison (case, width, spaces)")
    indicators: list[IndicatorRef] = Field(
        description="by code as stored; each answers to its exact code, other spellings find the oldest"
    )


class CodeCollisions(BaseModel):
    """Codes that differ only in case or width (ZZ-00006 and zz-00006). The catalogue refuses new ones;
    these came from before that rule and wait for a steward to retire or supersede the duplicates."""

    count: int
    items: list[CodeCollision] = Field(description="by key; capped by `limit`")


class QualityReport(BaseModel):
    """Lint findings over the catalogue (today's, a release's or a day's); every list capped by `limit`."""

    generated_at: datetime
    as_of: date | None = Field(description="the day viewed, when asked")
    release: str | None = Field(description="the release viewed, when asked")
    limit: int
    totals: Totals
    without_basis: WithoutBasis
    repealed_basis: RepealedBasis
    qualitative_share: QualitativeShare
    duplicate_clusters: DuplicateClusters
    inconsistent_units: InconsistentUnits
    unit_value_mismatch: UnitValueMismatch
