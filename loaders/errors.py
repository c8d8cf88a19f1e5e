"""Error types of the loaders (re-exported by :mod:`loaders.readers`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LoadError", "RowError"]


@dataclass(frozen=True)
class RowError:
    """One problem, located as precisely as known.

    ``row`` is the number a user sees (spreadsheet row, NDJSON line, 1-based JSON
    array index) or ``None`` for whole-file problems; ``field`` is the canonical
    field name, or the original header/key when it could not be resolved.
    """

    row: int | None
    field: str | None
    message: str


class LoadError(Exception):
    """The file as a whole cannot be read (bad format, limits exceeded, bad header)."""

    def __init__(self, errors: list[RowError] | RowError | str) -> None:
        if isinstance(errors, str):
            errors = [RowError(None, None, errors)]
        elif isinstance(errors, RowError):
            errors = [errors]
        self.errors: list[RowError] = errors
        super().__init__("; ".join(e.message for e in errors) or "load error")
