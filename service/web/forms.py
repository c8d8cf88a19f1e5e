"""Reading what a page's form or query string sends: one place, so no page parses a field its own way.

Every field arrives as text. A field read here either comes back in the type the page needs or raises
``ValidationFailed`` naming the field in Chinese, which the page shows as a 4xx (never a 500).
``str.isdigit`` is not a test for ``int``: it accepts '²' (int() refuses it) and '٣' / '１２' (int()
reads them as other numbers), so identifiers are ASCII digits and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from service.deps import MAX_INT
from service.errors import FieldError, ValidationFailed

_ASCII_DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)


def _is_control(c: str) -> bool:
    """C0 controls but tab and line breaks, DEL, and the C1 controls (U+0080-U+009F)."""
    code = ord(c)
    return (code < 32 and c not in "\t\r\n") or 0x7F <= code <= 0x9F


def refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def text(raw: str | None, field: str, *, max_length: int, required: bool = False) -> str:
    """Trimmed text; NUL and other control characters (except tab and line breaks) are refused, as
    they cannot be stored in every database nor written to a workbook, and a page must not echo them."""
    value = (raw or "").strip()
    if required and not value:
        raise refuse(field, "必填")
    if len(value) > max_length:
        raise refuse(field, f"过长(最多 {max_length} 个字符)")
    if any(_is_control(c) for c in value):
        raise refuse(field, "含有不可见的控制字符")
    return value


def texts(raws: Iterable[str] | None, field: str, *, max_length: int) -> list[str] | None:
    """Several free-text values (facets named by the catalogue's own words); empties dropped, None when
    nothing is left. Each is checked like :func:`text`: a page never echoes a control character."""
    picked = [v for v in (text(r, field, max_length=max_length) for r in raws or ()) if v]
    return picked or None


def optional_id(raw: str | None, field: str) -> int | None:
    """An optional record id: empty means none; otherwise 1…2³¹-1 in ASCII digits."""
    value = (raw or "").strip()
    if not value:
        return None
    if not _ASCII_DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_INT:
        raise refuse(field, "应为正整数编号")
    return int(value)


def choice(raw: str | None, field: str, allowed: Collection[str]) -> str | None:
    """One of a fixed set of values (an enum's), or None when empty."""
    value = (raw or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise refuse(field, "不是可选的值")
    return value


def choices(raws: Iterable[str] | None, field: str, allowed: Collection[str]) -> list[str] | None:
    """Several values of a fixed set (facet check-boxes); empties are dropped, None when nothing is left."""
    picked = [v for v in (choice(r, field, allowed) for r in raws or ()) if v is not None]
    return picked or None
