"""Legal basis payloads."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from loaders.text import normalize_text
from service.domain import BASIS_KIND_ALIASES, BASIS_STATUS_ALIASES, BasisKind, BasisStatus


def _alias(table: dict[str, Any]) -> Any:
    def convert(v: Any) -> Any:
        if isinstance(v, str):
            v = normalize_text(v)
            return table.get(v, v)
        return v

    return convert


def _text(v: Any) -> Any:
    return normalize_text(v) or None if isinstance(v, str) else v


class LegalBasisIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_no: Annotated[str, BeforeValidator(_text)] = Field(min_length=1, max_length=200)
    title: Annotated[str, BeforeValidator(_text)] = Field(min_length=1, max_length=500)
    kind: Annotated[BasisKind | None, BeforeValidator(_alias(BASIS_KIND_ALIASES))] = None
    issuer: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, max_length=500)
    issued_on: date | None = None
    effective_on: date | None = None
    status: Annotated[BasisStatus, BeforeValidator(_alias(BASIS_STATUS_ALIASES))] = BasisStatus.in_force
    supersedes: list[int] = Field(default_factory=list, description="ids of the editions this one replaces")
    amends: list[int] = Field(default_factory=list, description="ids of the documents this one amends")
    sectors: list[str] = Field(default_factory=list)
    source: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, max_length=10_000)


class LegalBasisOut(BaseModel):
    id: int
    doc_no: str
    title: str
    kind: BasisKind
    issuer: str | None
    issued_on: date | None
    effective_on: date | None
    date_text: str | None
    status: BasisStatus
    supersedes: list[int]
    superseded_by: list[int]
    amends: list[int]
    amended_by: list[int]
    supersedes_text: str | None
    sectors: list[str]
    source: str | None
    note: str | None
    indicator_count: int = 0


class LegalBasisPage(BaseModel):
    items: list[LegalBasisOut]
    total: int
