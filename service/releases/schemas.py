"""Shapes of releases, their contents and the difference between two of them."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.indicators.schemas import IndicatorOut
from service.versions.schemas import FieldChange

NAME_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReleaseDraft(BaseModel):
    """What a publisher sends: the release's name, the day it takes effect, and notes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="letters, digits, '.', '-', '_' (starting with a letter or digit), e.g. 2026.1",
        examples=["2026.1"],
    )
    effective_on: date = Field(description="YYYY-MM-DD: the day the release takes effect")
    notes: str | None = Field(default=None, max_length=4000)

    @field_validator("effective_on", mode="before")
    @classmethod
    def _iso_date_only(cls, value: Any) -> Any:
        # Pydantic would also take a number as a Unix timestamp; a release date is written as a date.
        if isinstance(value, date):
            return value
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise ValueError("must be a date written YYYY-MM-DD")
        return value


class ReleaseCounts(BaseModel):
    """How one release differs from another; ``major + minor + patch == changed``."""

    added: int = 0
    retired: int = 0
    changed: int = 0
    unchanged: int = 0
    major: int = 0
    minor: int = 0
    patch: int = 0


class ReleaseOut(BaseModel):
    name: str
    effective_on: date
    notes: str | None
    author: str | None
    indicator_count: int = Field(description="indicators frozen in the release (status standard then)")
    created_at: datetime
    previous: str | None = Field(description="the release published before this one, if any")
    changes: ReleaseCounts = Field(
        description="counts against the previous release (all added for the first)"
    )


class ReleaseList(BaseModel):
    items: list[ReleaseOut] = Field(description="newest first")


class ReleaseIndicatorPage(BaseModel):
    release: str
    items: list[IndicatorOut] = Field(description="ordered by code, as the release froze them")
    total: int
    next_cursor: str | None = None


class DiffSection(StrEnum):
    added = "added"
    retired = "retired"
    changed = "changed"


class RetiredItem(BaseModel):
    code: str
    status: str | None = Field(
        description="the indicator's status when the second release was published; null if it did not exist then"
    )


class ChangedItem(BaseModel):
    code: str
    from_revision: int
    to_revision: int
    change: str = Field(description="MAJOR (meaning) | MINOR (value, basis, lifecycle) | PATCH (wording)")
    changes: list[FieldChange]


class ReleaseDiff(BaseModel):
    from_release: str
    to_release: str
    counts: ReleaseCounts = Field(description="exact, whatever the page")
    added: list[str] | None = Field(description="codes in the second release only; null unless included")
    retired: list[RetiredItem] | None = Field(description="in the first release only; null unless included")
    changed: list[ChangedItem] | None = Field(
        description="one page, ordered by code (see next_cursor); null unless included"
    )
    next_cursor: str | None = Field(default=None, description="continues the changed list")
