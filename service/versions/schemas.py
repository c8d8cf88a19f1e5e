"""Shapes of history, revisions and diffs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RevisionOut(BaseModel):
    code: str
    number: int
    change: str = Field(
        description="INITIAL | MAJOR (meaning) | MINOR (value, basis, lifecycle) | PATCH (wording)"
    )
    status: str
    fields: list[str] = Field(description="fields that differ from the previous revision")
    reason: str | None
    author: str | None
    change_set_id: int | None
    valid_from: datetime
    valid_to: datetime | None = Field(description="when the next revision took over; null for the newest")
    recorded_at: datetime
    snapshot: dict[str, Any] | None = Field(
        default=None, description="the indicator as this revision says it"
    )


class HistoryOut(BaseModel):
    code: str
    current: int
    revisions: list[RevisionOut]


class FieldChange(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class RevisionDiff(BaseModel):
    code: str
    from_revision: int
    to_revision: int
    change: str | None = Field(description="classification of the difference; null when identical")
    changes: list[FieldChange]


class BasisRevisionOut(BaseModel):
    number: int
    status: str
    fields: list[str]
    reason: str | None
    author: str | None
    change_set_id: int | None
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    snapshot: dict[str, Any]


class BasisHistoryOut(BaseModel):
    id: int
    revisions: list[BasisRevisionOut]
