"""Text normalisation shared by every loader.

Real tables mix full-width and half-width characters, carry zero-width and
control characters pasted from Word/PDF, and break cells over several lines.
Everything the loaders hand to the service goes through :func:`normalize_text`
so that "１００％" and "100%" (or "（推断）" and "(推断)") compare equal.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import lru_cache

__all__ = ["format_number", "normalize_optional", "normalize_text", "shorten"]

# NFKC folds superscripts into plain digits ("m³" → "m3"), which silently changes
# units, and circled/parenthesised numbers ("②", "⑴") into bare digits, which turns
# enumeration marks into values; keep those and spell the m²/m³ ligatures out.
_UNIT_LIGATURES = str.maketrans({"㎡": "m²", "㎥": "m³", "㎠": "cm²", "㎤": "cm³", "㎟": "mm²"})
_PROTECTED = "²³\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf"
_PROTECTED_RE = re.compile(f"([{_PROTECTED}])")
_NEEDS_UNIT_CARE = re.compile(f"[{_PROTECTED}㎡㎥㎠㎤㎟]")

# Unicode categories removed outright: control (Cc), format (Cf: zero-width
# space/joiners, BOM, bidi marks, soft hyphen), surrogates (Cs), private use (Co).
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
# Control characters that are whitespace and must become a space, not vanish.
_WHITESPACE_CONTROLS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")


def _nfkc_keep_superscripts(s: str) -> str:
    if not _NEEDS_UNIT_CARE.search(s):
        return unicodedata.normalize("NFKC", s)
    parts = _PROTECTED_RE.split(s.translate(_UNIT_LIGATURES))
    # split() with a capturing group returns the separators at odd positions.
    return "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))


def normalize_text(s: str) -> str:
    # Tables repeat their units, levels, sectors and basis titles on every row: short cells are
    # normalised once (a 100k import normalises 1.3M cells).
    if len(s) <= 256:
        return _normalize_cached(s)
    return _normalize(s)


@lru_cache(maxsize=1 << 16)
def _normalize_cached(s: str) -> str:
    return _normalize(s)


def _normalize(s: str) -> str:
    """Normalise a cell or label for storage and comparison.

    NFKC (full-width digits, letters and punctuation become half-width, e.g.
    "（" → "(", "，" → ",", "１００％" → "100%"; the superscripts ² and ³ are kept so
    that "m³" stays a unit, and circled numbers such as "②" stay enumeration marks), then NUL, zero-width, format and other control
    characters are removed, whitespace runs (including line breaks and the
    ideographic space) collapse to a single space, and the result is stripped.
    """
    if not s:
        return ""
    s = _nfkc_keep_superscripts(s)
    # isprintable() is False for every control/format/private-use character (and for
    # line separators), so the per-character pass only runs on the rare dirty strings.
    if not s.isprintable():
        out: list[str] = []
        for ch in s:
            if ch in _WHITESPACE_CONTROLS:
                out.append(" ")
            elif unicodedata.category(ch) not in _DROP_CATEGORIES:
                out.append(ch)
        s = "".join(out)
    # str.split() without arguments splits on every Unicode whitespace run.
    return " ".join(s.split())


def format_number(value: int | float | Decimal) -> str:
    """Render a number the way a person would type it: ``100`` not ``100.0``, ``0.05`` not ``5e-02``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    dec = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if not dec.is_finite():
        return str(value)
    if dec == dec.to_integral_value():
        return str(int(dec))
    # format(..., "f") never switches to exponent notation.
    return format(dec.normalize(), "f")


def normalize_optional(s: object) -> str | None:
    """Normalise any cell value to text, or ``None`` when it is empty.

    ``None``, empty and whitespace-only strings and NaN become ``None``; integers
    and integral floats lose their ".0" (Excel stores 12 as 12.0); booleans
    become "true"/"false"; dates become ISO 8601; enums their value.
    """
    if s is None:
        return None
    if isinstance(s, Enum):
        s = s.value
    if isinstance(s, str):
        return normalize_text(s) or None
    if isinstance(s, bool):
        return "true" if s else "false"
    if isinstance(s, float) and (math.isnan(s) or math.isinf(s)):
        return None
    if isinstance(s, int | float | Decimal):
        return format_number(s)
    if isinstance(s, datetime):
        return s.date().isoformat() if s.time() == time(0) and s.tzinfo is None else s.isoformat()
    if isinstance(s, date | time):
        return s.isoformat()
    return normalize_text(str(s)) or None


def shorten(text: str, limit: int = 80) -> str:
    """``text`` fit to quote in an error message: at most ``limit`` characters, no lone surrogates."""
    clipped = text if len(text) <= limit else text[:limit] + "…"
    return clipped.encode("utf-8", "replace").decode("utf-8")
