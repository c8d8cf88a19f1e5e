"""Performance targets (绩效目标) registered by the finance platform."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TargetRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="indicator code")
    comparator: str | None = None
    value: float | str | None = None
    unit: str | None = Field(default=None, max_length=100)
    raw_value: str | None = Field(default=None, max_length=500)


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=128, description="the platform's id of the target")
    department: str | None = Field(default=None, description="department code or name")
    fiscal_year: int | None = Field(default=None, ge=1990, le=2100)
    project: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, max_length=10_000)
    indicators: list[TargetRowIn] = Field(default_factory=list, max_length=500)


class TargetRowOut(BaseModel):
    code: str
    name: str
    comparator: str | None
    value: str | None
    unit: str | None
    raw_value: str | None


class TargetOut(BaseModel):
    external_id: str
    department: str | None
    department_code: str | None
    fiscal_year: int | None
    project: str | None
    text: str | None
    indicators: list[TargetRowOut]
    version: int
    created_at: datetime
    updated_at: datetime
