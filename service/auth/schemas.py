"""API shapes for keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.auth.principal import Role


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=200, description="who uses the key: a person or a system")
    role: Role
    departments: list[str] = Field(default_factory=list, description="department codes; editors only")
    expires_at: datetime | None = Field(default=None, description="when the key stops working (UTC)")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    note: str | None = Field(default=None, max_length=500)


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=0, ge=0, le=7 * 24 * 3600, description="the old key keeps working this long (0: revoked now)"
    )


class KeyOut(BaseModel):
    id: str
    owner: str
    role: Role
    departments: list[str]
    note: str | None
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    rotated_from: str | None
    last_used_at: datetime | None
    active: bool


class KeyCreated(KeyOut):
    token: str = Field(description="the key itself: shown this once, stored only as a hash")


class KeyList(BaseModel):
    items: list[KeyOut]
