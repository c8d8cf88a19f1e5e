"""The one rule for comparing codes: indicator, department and sector codes (and release names).

A code is kept as it was typed (after the text clean-up every input gets: NFKC, no zero-width or
control characters, no surrounding spaces), so what a user wrote stays visible. Two codes are the
same code when their *keys* are equal: the key also folds case, so ``zz-00006``, ``ZZ-00006`` and
the full-width ``ＺＺ－００００６`` name one indicator. The database holds the key in a
``code_key`` column with a unique index, so two spellings of one code cannot both be stored.

Every boundary that takes a code from outside (a path, a query filter, a body field, an import
cell, a graph node id) compares through :func:`code_key`; nothing else may fold codes its own way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import TypeVar

from loaders.text import normalize_text

__all__ = ["code_key", "display_code", "key_map", "resolve_code"]

T = TypeVar("T")


def display_code(code: str) -> str:
    """A code as stored and shown: what was typed, cleaned like every other input text."""
    return normalize_text(code)


def code_key(code: str) -> str:
    """The comparison key of a code: cleaned, then case-folded (Unicode caseless matching).

    ``casefold`` rather than ``lower``/``upper`` so that the few non-ASCII letters legacy codes may
    hold fold like Unicode says (ß ~ SS); upper-cased afterwards because the catalogue's codes are
    written in capitals, which keeps the stored keys readable.
    """
    return unicodedata.normalize("NFKC", normalize_text(code).casefold()).upper()


def resolve_code(code: str, exact: Mapping[str, T], by_key: Mapping[str, T]) -> T | None:
    """Look ``code`` up: the exact stored spelling first, then the key.

    Exact first because a database upgraded with two codes that collide after folding keeps both
    (see the ``code_key`` migration): the younger one has no key and is reachable only as spelled.
    """
    found = exact.get(code)
    if found is not None:
        return found
    return by_key.get(code_key(code))


def key_map(items: Iterable[tuple[str, T]]) -> dict[str, T]:
    """``code_key(code) → item`` keeping the first item per key (callers pass them oldest first)."""
    out: dict[str, T] = {}
    for code, item in items:
        out.setdefault(code_key(code), item)
    return out
