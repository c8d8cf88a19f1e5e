"""Payloads for department duties and strategic goals."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from service.codes import display_code
from service.names import RequiredName


def _code(v: Any) -> Any:
    """Full-width or padded codes (ＪＹＴ, " JYT ") are cleaned before the pattern judges them."""
    return display_code(v) if isinstance(v, str) else v


class MeasuredIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RequiredName = Field(max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    indicators: list[str] = Field(default_factory=list, description="codes of the indicators that measure it")


class MeasuredPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RequiredName | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    indicators: list[str] | None = None


class MeasuredOut(BaseModel):
    """A duty (三定职责) or strategic goal (战略目标) with the indicators that measure it."""

    id: int
    department_code: str
    name: str
    description: str | None
    indicators: list[str]


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, BeforeValidator(_code)] = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    name: RequiredName = Field(max_length=200)
    parent_code: str | None = None
