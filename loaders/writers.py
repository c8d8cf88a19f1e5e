"""Write indicator rows as JSONL, CSV or XLSX under one of three header profiles.

* ``canonical`` — English field names, enum values, booleans true/false;
* ``chinese`` — Chinese headers, comparators as symbols (≥ ≤ = …, 定性), enums as
  Chinese labels (计划标准, 正向, 年度 …), booleans 是/否;
* ``platform`` — the budget-integration platform's column codes (KPI_LV1, KPI_VAL,
  COMPUTESIGN …), comparators as symbols, YEARFLAG 0/1, ISFIXED 1/0.

Each profile reads back through :func:`loaders.readers.read_records` to the same
fields. CSV/XLSX cells starting with = + - @ (or tab/CR) get a leading "'" so that
spreadsheet programs do not run them as formulas, and so do cells starting with "'" (so
that the reader's unescape is the exact inverse: "'=x" → "''=x" → "'=x"). JSONL is never
escaped. List fields are one item per line in a cell (``loaders.fields.join_list_cell``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from loaders.fields import (
    CANONICAL_FIELDS,
    CHINESE_EXPORT_COLUMNS,
    FIELD_ORDER,
    PLATFORM_EXPORT_COLUMNS,
    join_list_cell,
)
from loaders.text import format_number, normalize_optional
from loaders.values import parse_comparator
from service.domain import (
    COMPARATOR_SYMBOLS,
    DIRECTION_ALIASES,
    HORIZON_ALIASES,
    KIND_ALIASES,
    STATUS_ALIASES,
    VALUE_BASIS_ALIASES,
    Comparator,
    Direction,
    Horizon,
    IndicatorStatus,
    Kind,
    ValueBasis,
)

__all__ = ["ExportProfile", "escape_formula", "write_csv", "write_jsonl", "write_xlsx"]


class ExportProfile(StrEnum):
    """Header/value conventions of an export (see the module docstring)."""

    canonical = "canonical"
    chinese = "chinese"
    platform = "platform"


_PROFILE_HEADERS: dict[ExportProfile, Mapping[str, str]] = {
    ExportProfile.canonical: {name: name for name in CANONICAL_FIELDS},
    ExportProfile.chinese: CHINESE_EXPORT_COLUMNS,
    ExportProfile.platform: PLATFORM_EXPORT_COLUMNS,
}

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Text starting with the escape character itself is escaped too, or "'=x" would read back as "=x".
_ESCAPED_STARTS = (*_FORMULA_TRIGGERS, "'")


# What XML 1.0 cannot hold: openpyxl's ILLEGAL_CHARACTERS_RE covers the C0 controls only, so U+FFFE/U+FFFF
# (and lone surrogates, which cannot be encoded at all) would be written as they are and the workbook
# would not open ("not well-formed"). The service refuses them on input; the writers must never produce a
# corrupt file whatever older data holds, so every text cell goes through :func:`xml_safe`.
XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters an XLSX cell cannot hold (removed, as openpyxl's own filter did)."""
    return XML_ILLEGAL_RE.sub("", text)


def escape_formula(text: str) -> str:
    """Prefix "'" to text a spreadsheet would treat as a formula ("=SUM(A1)", "-0%", "@x") and to
    text starting with "'"; ``loaders.readers.unescape_formula`` is its exact inverse."""
    return "'" + text if text.startswith(_ESCAPED_STARTS) else text


def _first_labels(aliases: Mapping[str, Any]) -> dict[Any, str]:
    """Enum member → its first (preferred) non-numeric Chinese alias."""
    out: dict[Any, str] = {}
    for label, member in aliases.items():
        if not label.isdigit():
            out.setdefault(member, label)
    return out


# Enum-valued fields: the enum, and its Chinese labels for the chinese/platform profiles.
_ENUM_FIELDS: dict[str, tuple[type[Enum], dict[Any, str]]] = {
    "kind": (Kind, _first_labels(KIND_ALIASES)),
    "value_basis": (ValueBasis, _first_labels(VALUE_BASIS_ALIASES)),
    "direction": (Direction, _first_labels(DIRECTION_ALIASES)),
    "horizon": (Horizon, _first_labels(HORIZON_ALIASES)),
    "status": (IndicatorStatus, _first_labels(STATUS_ALIASES)),
}
_PLATFORM_YEARFLAG = {Horizon.annual: "0", Horizon.mid_term: "1"}


def _as_enum(enum: type[Enum], value: object) -> Enum | None:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            return None
    return None


def _convert_comparator(value: object, profile: ExportProfile) -> object:
    try:
        cmp = parse_comparator(value if isinstance(value, str | Comparator) else str(value))
    except ValueError:
        return value  # unknown text is exported as given
    if cmp is None:
        return None
    return cmp.value if profile is ExportProfile.canonical else COMPARATOR_SYMBOLS[cmp]


def _convert_scalar(name: str, value: object, profile: ExportProfile) -> str | int | float | None:
    """One value as it should appear in a CSV/XLSX cell (numbers stay numbers for XLSX)."""
    if value is None:
        return None
    if name == "comparator":
        value = _convert_comparator(value, profile)
    elif name in _ENUM_FIELDS:
        enum, labels = _ENUM_FIELDS[name]
        member = _as_enum(enum, value)
        if member is not None:
            if profile is ExportProfile.canonical:
                value = member.value
            elif profile is ExportProfile.platform and name == "horizon":
                value = _PLATFORM_YEARFLAG[Horizon(member.value)]
            else:
                value = labels.get(member, member.value)
    if isinstance(value, bool):
        return {ExportProfile.canonical: ("true", "false"), ExportProfile.chinese: ("是", "否"),
                ExportProfile.platform: ("1", "0")}[profile][0 if value else 1]  # fmt: skip
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return normalize_optional(value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def _convert(name: str, value: object, profile: ExportProfile) -> str | int | float | None:
    if isinstance(value, list | tuple | set | frozenset):
        items = [_convert_scalar(name, item, profile) for item in value]
        texts = [format_number(i) if isinstance(i, int | float) else i for i in items if i is not None]
        return join_list_cell(name, texts)
    return _convert_scalar(name, value, profile)


def _columns(rows: Sequence[Mapping[str, object]]) -> list[str]:
    present: set[str] = set()
    for row in rows:
        present.update(row.keys())
    unknown = sorted(present - FIELD_ORDER.keys())
    if unknown:
        raise ValueError(f"unknown export fields {unknown}; allowed: {', '.join(CANONICAL_FIELDS)}")
    return sorted(present, key=FIELD_ORDER.__getitem__)


def _table(
    rows: Iterable[Mapping[str, object]], profile: ExportProfile | str
) -> tuple[list[str], list[str], list[list[str | int | float | None]]]:
    profile = ExportProfile(profile)
    materialised = list(rows)
    columns = _columns(materialised)
    headers = [_PROFILE_HEADERS[profile][c] for c in columns]
    body = [[_convert(c, row.get(c), profile) for c in columns] for row in materialised]
    return columns, headers, body


def _csv_text(value: str | int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        return format_number(value)
    return escape_formula(value)


def write_csv(rows: Iterable[Mapping[str, object]], *, profile: ExportProfile | str = ExportProfile.canonical) -> bytes:
    """Rows as CSV (UTF-8 with BOM so Excel shows Chinese correctly, CRLF line ends).

    Columns are the canonical fields present in any row, in canonical order,
    headed per ``profile``. Raises ``ValueError`` for keys that are not canonical fields.
    """
    _, headers, body = _table(rows, profile)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for values in body:
        writer.writerow([_csv_text(v) for v in values])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _sheet_title(title: str) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in xml_safe(title)).strip("'")[:31]
    return cleaned or "指标"


def write_xlsx(
    rows: Iterable[Mapping[str, object]],
    *,
    profile: ExportProfile | str = ExportProfile.canonical,
    sheet_title: str = "指标",
) -> bytes:
    """Rows as an .xlsx workbook (write-only mode: bold frozen header, fitted column widths).

    Same columns and cell conversions as :func:`write_csv`; numbers stay numeric cells.
    """
    _, headers, body = _table(rows, profile)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(sheet_title))

    # Widths from the header and a sample of rows: CJK characters count double, capped.
    for index, header in enumerate(headers):
        sample = [header, *(_csv_text(values[index]) for values in body[:500])]
        width = max(_display_width(text) for text in sample)
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"

    append_header(sheet, headers)
    for values in body:
        sheet.append([_xlsx_value(v) for v in values])

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_value(value: str | int | float | None) -> str | int | float | None:
    if isinstance(value, str):
        # openpyxl refuses control characters; "=…" would become a formula without the escape.
        return escape_formula(xml_safe(value))
    return value


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot export {type(value).__name__} as JSON")


def _json_safe(value: object) -> object:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_jsonl(rows: Iterable[Mapping[str, object]]) -> Iterator[bytes]:
    """Rows as JSON Lines, one UTF-8 encoded object per line, native types kept.

    Lazy, so large exports can be streamed. Enums become their values, dates ISO
    strings, NaN/inf ``null``.
    """
    for row in rows:
        clean = {key: _json_safe(value) for key, value in row.items()}
        line = json.dumps(clean, ensure_ascii=False, default=_json_default, allow_nan=False)
        yield (line + "\n").encode("utf-8")


def append_header(sheet: Any, headers: Sequence[str]) -> None:
    """A bold header row on a write-only sheet."""
    bold = Font(bold=True)
    cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=xml_safe(header))
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)


TARGET_TABLE_HEADERS = ("一级指标", "二级指标", "三级指标", "指标值", "计量单位", "指标编码")


def write_target_table(rows: Sequence[Sequence[str]], *, goal: str | None = None) -> bytes:
    """A 绩效目标表 as departments hand it in: title, the goal text, then 一级/二级/三级/指标值/单位 rows.

    ``rows`` follow ``TARGET_TABLE_HEADERS``; text is escaped against formula injection.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "绩效目标表"
    width = len(TARGET_TABLE_HEADERS)
    sheet.append(["绩效目标表"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["绩效目标", escape_formula(xml_safe(goal or ""))])
    sheet.merge_cells(start_row=2, start_column=2, end_row=2, end_column=width)
    sheet.append(list(TARGET_TABLE_HEADERS))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([escape_formula(xml_safe(str(v))) if v else "" for v in row])
    for index, column_width in enumerate((12, 16, 36, 14, 10, 20), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column_width
    sheet.freeze_panes = "A4"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
