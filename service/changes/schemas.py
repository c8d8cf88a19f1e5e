"""Change feed shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ChangeOut(BaseModel):
    event_id: str = Field(description="unique and stable: a consumer that sees it twice applies it once")
    cursor: str = Field(description="opaque; pass as ?after= to continue after this event")
    type: str = Field(
        description="indicator.created | indicator.revised | indicator.retired | legal_basis.* | …"
    )
    entity: str
    key: str = Field(description="indicator code, legal basis id, release name or change set id")
    payload: dict[str, Any]
    created_at: datetime


class ChangePage(BaseModel):
    items: list[ChangeOut]
    next_cursor: str | None = Field(description="pass as ?after= next time; unchanged when nothing is new")
    has_more: bool
