"""Lists of codes or names in a request body must not name one thing twice.

A repeated entry reaches the database as a second row for a unique link and used to come back as
409 "stored meanwhile; reload and retry", which no retry can ever satisfy: it is the client's
mistake, so it is refused up front as 422 naming the repeated position.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from service.errors import FieldError, ValidationFailed

T = TypeVar("T")


def require_unique(
    values: Sequence[T],
    field: Callable[[int], str],
    *,
    key: Callable[[T], Hashable] = lambda v: v,
    label: Callable[[T], str] = str,
) -> None:
    """422 with one error per repeat, e.g. ``indicators[1]``: "ZZ-00006 is listed twice (first at [0])"."""
    first: dict[Hashable, int] = {}
    errors: list[FieldError] = []
    for k, value in enumerate(values):
        seen = first.setdefault(key(value), k)
        if seen != k:
            errors.append(
                FieldError(field=field(k), message=f"{label(value)} 重复列出（首次在第 {seen + 1} 项）")
            )
    if errors:
        raise ValidationFailed("A list names the same entry more than once", errors=errors[:100])
