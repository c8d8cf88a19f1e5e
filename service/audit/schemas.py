"""Shapes of the audit trail as the API shows it (read-only: there is no input shape)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class AuditRole(StrEnum):
    """The caller's role when the write was made; ``public`` never writes, but is a role the trail can name."""

    admin = "admin"
    steward = "steward"
    editor = "editor"
    reviewer = "reviewer"
    platform = "platform"
    public = "public"


class AuditExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class AuditEntryOut(BaseModel):
    id: int = Field(description="position in the hash chain: 1, 2, 3 … without gaps")
    at: datetime = Field(description="when the writing transaction committed its entries (UTC)")
    actor: str = Field(
        description="the owner of the API key (or `system` for start-up and command-line work)"
    )
    role: AuditRole
    key_id: str | None = Field(description="the public id of the API key used")
    request_id: str = Field(description="the request's X-Request-ID (`system` outside a request)")
    method: str | None
    route: str | None = Field(description="the route template, e.g. /v1/indicators/{code}")
    entity_type: str = Field(description="indicator, legal_basis, department, duty, import, change_set …")
    entity_id: str
    action: str = Field(description="create, update, delete, retire, import, apply, settle, backfill …")
    before: dict[str, Any] | None = Field(
        description="changed fields before (update), the whole row (delete)"
    )
    after: dict[str, Any] | None = Field(
        description="changed fields after (update), the whole row (create), a summary (bulk operations)"
    )
    reason: str | None
    prev_hash: str = Field(description="hash of the previous entry (64 zeros for the first)")
    hash: str = Field(description="SHA-256 hex of prev_hash + the entry's canonical JSON")


class AuditPage(BaseModel):
    items: list[AuditEntryOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")


class VerifyOut(BaseModel):
    """The chain recomputed from the first entry to the head."""

    ok: bool
    entries: int = Field(description="entries checked (up to the head when the check began)")
    first_bad_id: int | None = Field(
        default=None, description="the first entry that is missing or does not match its hash"
    )
    problem: str | None = None
    head_id: int = Field(description="the newest entry according to the chain head")
    head_hash: str = Field(description="its hash: publish or store it elsewhere to anchor the chain")
