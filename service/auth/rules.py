"""The ownership rule: which indicators a caller may write. One rule, used by every editor's write path.

An indicator is owned by its department; one with no department (the whole seed, the common indicators)
is finance's. Finance (admin, steward) writes every indicator; an editor only those owned by a
department its key is scoped to; nobody else writes indicators at all. "Write" covers everything an
editor can do to an indicator: propose to create, revise or retire it, and link it to a duty or a
strategic goal (the MEASURES link is part of the indicator). Citing an indicator in a target is a read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.auth.principal import Principal
from service.errors import FieldError, Forbidden


def may_write_indicator(principal: Principal, owner: str | None) -> bool:
    """May ``principal`` write an indicator owned by department ``owner`` (None: finance's)?

    The department scope of keys, applied to the indicator's owner: finance covers every department
    and the none; an editor its own departments, never the none; other roles none at all.
    """
    return principal.covers_department(owner)


@dataclass(frozen=True)
class IndicatorClaim:
    """One indicator a request would write: where the request names it, and who owns it."""

    field: str  # e.g. items[2].indicator_code, indicators[0], or a table's column
    code: str | None  # None: an indicator still to be created
    owner: str | None  # the owning department's code; None: finance's
    row: int | None = None  # a table's row


def require_indicator_owner(principal: Principal, claims: Iterable[IndicatorClaim], *, doing: str) -> None:
    """403 naming every claim ``principal`` may not write (nothing is written: the request rolls back).

    ``doing`` is what the request does to them, in Chinese (it is shown on pages): 提出修改或停用 …
    """
    refused = [c for c in claims if not may_write_indicator(principal, c.owner)]
    if not refused:
        return
    scope = "、".join(sorted(principal.departments)) or "无"
    errors = [
        FieldError(
            field=c.field,
            row=c.row,
            message=(
                f"指标 {c.code or '(新建)'} 属于"
                + (f"部门 {c.owner}" if c.owner else "财政部门(无归属部门)")
                + f",不能{doing}(本密钥只限部门 {scope} 的指标)"
            ),
        )
        for c in refused
    ]
    raise Forbidden(
        f"{principal.actor} ({principal.role_name}, departments: {scope}) may not write {len(refused)} "
        "indicator(s) owned by another department or by finance (无权操作其他部门或财政部门的指标)",
        errors=errors,
    )
