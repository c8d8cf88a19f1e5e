"""Read indicator files (JSON, NDJSON, CSV, XLSX) into records with canonical keys.

Pure IO: no database, no domain validation. Every value comes back as
normalised text (or ``None``); list fields may also come back as lists when the
source was JSON. Row numbers are the ones a user sees: spreadsheet row (header
is row 1 in a CSV; the real sheet row in XLSX), NDJSON line, 1-based JSON array
index.

Problems with the file as a whole (unreadable, limits exceeded, bad header)
raise :class:`LoadError`; problems with one row are attached to that row's
:class:`RawRecord` in ``errors`` so that a dry run can report them all.

Hostile input is refused, never repaired: in XLSX only visible sheets are read and
formula or error cells are refused (paste values); JSON NaN/Infinity, duplicate keys
and CSV quotes left open are errors naming their row (tests/hostile has the corpus).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import repeat
from operator import is_
from typing import Any

from openpyxl.cell.read_only import EMPTY_CELL
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils import column_index_from_string
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from loaders.errors import LoadError, RowError
from loaders.fields import (
    LEVEL_FIELDS,
    LIST_FIELDS,
    HeaderMap,
    canonical_field,
    column_label,
    is_ignored_header,
    resolve_headers,
    split_list_cell,
)
from loaders.text import format_number, normalize_optional, normalize_text, shorten

__all__ = [
    "Format",
    "LoadError",
    "RawRecord",
    "ReadLimits",
    "RowError",
    "detect_format",
    "read_records",
    "unescape_formula",
]

MiB = 1024 * 1024
_MAX_REPORTED_ERRORS = 1000
# The csv module's own 128 KiB field limit fails without saying which column; ours (max_cell_chars)
# names it, and the upload limit bounds a field anyway.
csv.field_size_limit(max(csv.field_size_limit(), 64 * MiB))


class Format(StrEnum):
    """Supported import formats."""

    json = "json"
    ndjson = "ndjson"
    csv = "csv"
    xlsx = "xlsx"


@dataclass(frozen=True)
class ReadLimits:
    """Bounds that keep a hostile upload from exhausting time or memory."""

    max_bytes: int = 50 * MiB
    max_rows: int = 200_000
    max_cell_chars: int = 10_000
    max_xlsx_uncompressed: int = 200 * MiB
    max_xlsx_ratio: float = 100.0
    max_xlsx_members: int = 10_000
    max_columns: int = 256
    # Blank rows written out in a sheet cost a parse each and are never counted as data rows.
    max_blank_rows: int = 100_000


@dataclass
class RawRecord:
    """One data row: canonical field → normalised text (``None`` when empty)."""

    row: int
    fields: dict[str, object]
    errors: list[RowError] = field(default_factory=list)


# --------------------------------------------------------------------------- format detection

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
_XLSX_TYPES = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
                 "application/jsonlines", "application/json-seq"}  # fmt: skip
_JSON_TYPES = {"application/json", "text/json"}
_CSV_TYPES = {"text/csv", "application/csv", "text/comma-separated-values", "text/tab-separated-values",
              "text/plain", "application/vnd.ms-excel"}  # fmt: skip  # browsers on Windows send ms-excel for .csv
_EXTENSIONS = {
    ".json": Format.json,
    ".ndjson": Format.ndjson,
    ".jsonl": Format.ndjson,
    ".csv": Format.csv,
    ".tsv": Format.csv,
    ".txt": Format.csv,
    ".xlsx": Format.xlsx,
    ".xlsm": Format.xlsx,
}


def _sniff_json(data: bytes) -> Format | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return Format.json
    if head.startswith(b"{"):
        first_line = data.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
        try:
            json.loads(first_line)
        except (ValueError, RecursionError):
            return Format.json  # a pretty-printed single object
        return Format.ndjson
    return None


def detect_format(*, content_type: str | None, filename: str | None, data: bytes) -> Format:
    """Decide the format from magic bytes, file extension, content type, then content.

    Raises :class:`LoadError` for legacy .xls and for anything unrecognisable.
    """
    if data.startswith(_OLE2_MAGIC) or (filename or "").lower().endswith(".xls"):
        raise LoadError("不支持旧版 .xls 文件,请另存为 .xlsx 或 CSV; legacy .xls is not supported, save as .xlsx or CSV")
    if data.startswith(_ZIP_MAGIC):
        return Format.xlsx
    name = (filename or "").lower()
    for ext, fmt in _EXTENSIONS.items():
        if name.endswith(ext):
            return fmt
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype in _XLSX_TYPES:
        return Format.xlsx
    if ctype in _NDJSON_TYPES:
        return Format.ndjson
    if ctype in _JSON_TYPES:
        return _sniff_json(data) or Format.json
    sniffed = _sniff_json(data)
    if sniffed is not None:
        return sniffed
    if ctype in _CSV_TYPES:
        return Format.csv
    # No usable hint: text with a delimiter in its first line is most likely CSV.
    first_line = data[:4096].split(b"\n", 1)[0]
    if data and any(d in first_line for d in (b",", b";", b"\t")):
        return Format.csv
    raise LoadError(
        f"无法识别文件格式(文件名 {filename!r}, 类型 {content_type!r}),支持 JSON/NDJSON/CSV/XLSX; "
        "unrecognised file format"
    )


# --------------------------------------------------------------------------- cell cleaning

# The exact inverse of loaders.writers.escape_formula, which prefixes "'" to text starting with a
# formula trigger or with "'" itself: only such a pair is unescaped, "'abc" stays "'abc".
_FORMULA_ESCAPED = re.compile(r"^'[=+\-@\t\r']")


def unescape_formula(text: str) -> str:
    """Undo the writers' formula-injection escape: "'=SUM(A1)" → "=SUM(A1)", "''x" → "'x".

    Only for CSV/XLSX cells, the formats a spreadsheet opens; JSON text is never escaped.
    """
    return text[1:] if _FORMULA_ESCAPED.match(text) else text


def _too_long(row: int | None, name: str | None, limits: ReadLimits) -> LoadError:
    where = f"第{row}行" if row is not None else ""
    return LoadError(
        RowError(row, name, f"{where}字段 {name} 超过 {limits.max_cell_chars} 个字符; cell exceeds the length limit")
    )


def _clean_text(value: str, *, row: int | None, name: str | None, limits: ReadLimits) -> str | None:
    if len(value) > limits.max_cell_chars:
        raise _too_long(row, name, limits)
    return normalize_text(value) or None


def _clean_scalar(value: object, *, row: int | None, name: str | None, limits: ReadLimits) -> str | None:
    if isinstance(value, str):
        return _clean_text(value, row=row, name=name, limits=limits)
    if isinstance(value, timedelta):
        return str(value)
    return normalize_optional(value)


def _clean_cell(
    value: str, *, row: int | None, name: str | None, limits: ReadLimits
) -> str | list[str] | None:
    """A CSV/XLSX text cell: formula escape undone, list fields split into their items."""
    if len(value) > limits.max_cell_chars:
        raise _too_long(row, name, limits)
    value = unescape_formula(value)
    if name in LIST_FIELDS:
        # Split before normalising: the line breaks between items would become spaces.
        return split_list_cell(name, value) or None
    return normalize_text(value) or None


# --------------------------------------------------------------------------- text decoding


def _decode(data: bytes, *, lines_are_rows: bool) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (Excel on Chinese Windows).

    Undecodable text names its line (and, in CSV and NDJSON, that line as the row).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError(f"UTF-16 解码失败: {exc}; cannot decode UTF-16 text") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        # The encoding that read further is the one the file meant: its failure is the bad spot.
        line = data.count(b"\n", 0, max(utf8_error.start, exc.start)) + 1
        raise LoadError(
            RowError(
                line if lines_are_rows else None,
                None,
                f"第{line}行无法识别文本编码(既不是 UTF-8 也不是 GBK/GB18030); "
                f"text is neither UTF-8 nor GB18030 at line {line}",
            )
        ) from exc


# --------------------------------------------------------------------------- JSON / NDJSON


def _json_error(exc: json.JSONDecodeError, *, line_offset: int = 0, row: int | None = None) -> RowError:
    line = exc.lineno + line_offset
    return RowError(row, None, f"JSON 格式错误: 第{line}行第{exc.colno}列: {exc.msg}; invalid JSON at line {line}")


class _Object(dict[str, object]):
    """A JSON object that remembers the keys it was given twice (a plain dict keeps the last one)."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) < len(pairs):
        obj.duplicates = tuple(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
    return obj


@dataclass(frozen=True)
class _NotANumber:
    """NaN, Infinity, or a number no float or sane integer holds: reported with its row and field."""

    text: str


def _parse_float(text: str) -> float | _NotANumber:
    value = float(text)
    return value if math.isfinite(value) else _NotANumber(text)


def _parse_int(text: str) -> int | _NotANumber:
    # int() refuses more than 4300 digits with a ValueError that json does not report as a syntax error.
    return int(text) if len(text) <= 100 else _NotANumber(text[:20] + "…")


_JSON = json.JSONDecoder(
    object_pairs_hook=_object, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_NotANumber
)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


@lru_cache(maxsize=4096)
def _canonical_key(key: str) -> str | None:
    # Every object of a JSON file repeats the same keys: look each one up once.
    return canonical_field(key)


def _json_scalar(value: object, *, row: int, name: str, limits: ReadLimits) -> str | None:
    if isinstance(value, _NotANumber):
        raise LoadError(
            RowError(row, name, f"第{row}条字段 {name} 的值 {value.text} 不是有限数字; {name} is not a finite JSON number")
        )
    return _clean_scalar(value, row=row, name=name, limits=limits)


def _record_from_object(obj: object, *, row: int, limits: ReadLimits) -> RawRecord:
    record = RawRecord(row=row, fields={})
    if not isinstance(obj, dict):
        record.errors.append(RowError(row, None, f"第{row}条不是对象(JSON object); row is not an object"))
        return record
    for key in getattr(obj, "duplicates", ()):
        shown = shorten(key)
        record.errors.append(
            RowError(row, _canonical_key(key) or shown, f"字段「{shown}」在同一对象中出现两次; key {shown!r} given twice")
        )
    origin: dict[str, str] = {}
    for key, value in obj.items():
        key_text = str(key)
        # No header alias is anywhere near 200 characters long.
        canonical = _canonical_key(key_text) if len(key_text) <= 200 else None
        if canonical is None:
            if len(key_text) > 200 or not is_ignored_header(key_text):
                shown = shorten(key_text)
                record.errors.append(RowError(row, shown, f"未知字段「{shown}」; unknown field {shown!r}"))
            continue
        if canonical in origin:
            record.errors.append(
                RowError(row, canonical, f"字段「{key_text}」与「{origin[canonical]}」重复; duplicate field {canonical!r}")
            )
            continue
        origin[canonical] = key_text
        if isinstance(value, list):
            items: list[str] = []
            total = 0
            for item in value:
                if isinstance(item, dict | list):
                    record.errors.append(RowError(row, canonical, f"字段 {canonical} 的列表项必须是文本; nested value"))
                    continue
                text = _json_scalar(item, row=row, name=canonical, limits=limits)
                if text is not None:
                    total += len(text)
                    items.append(text)
            if total > limits.max_cell_chars:
                raise _too_long(row, canonical, limits)
            record.fields[canonical] = items
        elif isinstance(value, dict):
            record.errors.append(RowError(row, canonical, f"字段 {canonical} 不能是对象; nested object not allowed"))
        else:
            record.fields[canonical] = _json_scalar(value, row=row, name=canonical, limits=limits)
    return record


def _too_many_rows(limits: ReadLimits) -> LoadError:
    return LoadError(f"数据行数超过上限 {limits.max_rows}; more than {limits.max_rows} rows")


def _skip_space(text: str, pos: int) -> int:
    match = _JSON_SPACE.match(text, pos)
    return match.end() if match else pos


def _json_value(text: str, pos: int, *, row: int | None) -> tuple[object, int]:
    try:
        return _JSON.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise LoadError(_json_error(exc, row=row)) from exc
    except RecursionError as exc:
        where = f"第{row}条" if row is not None else ""
        raise LoadError(RowError(row, None, f"{where}JSON 嵌套过深; JSON nested too deeply")) from exc


def _json_syntax(message: str, text: str, pos: int, *, row: int | None) -> LoadError:
    return LoadError(_json_error(json.JSONDecodeError(message, text, pos), row=row))


def _read_json(text: str, limits: ReadLimits) -> list[RawRecord]:
    """A JSON array of objects (or one object), parsed one element at a time.

    Rows are made as elements are read, so a flood of tiny elements stops at the row limit
    instead of first becoming millions of objects, and a syntax error names its element (row).
    """
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        doc, end = _json_value(text, pos, row=None)
        if _skip_space(text, end) != len(text):
            raise _json_syntax("Extra data", text, end, row=None)
        if not isinstance(doc, dict):
            raise LoadError("JSON 顶层必须是对象数组; top-level JSON must be an array of objects")
        return [_record_from_object(doc, row=1, limits=limits)]
    records: list[RawRecord] = []
    pos = _skip_space(text, pos + 1)
    if not text.startswith("]", pos):
        while True:
            row = len(records) + 1
            if row > limits.max_rows:
                raise _too_many_rows(limits)
            element, pos = _json_value(text, pos, row=row)
            records.append(_record_from_object(element, row=row, limits=limits))
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif text.startswith("]", pos):
                break
            else:
                raise _json_syntax("Expecting ',' delimiter", text, pos, row=row)
    if _skip_space(text, pos + 1) != len(text):
        raise _json_syntax("Extra data", text, pos + 1, row=None)
    return records


def _read_ndjson(text: str, limits: ReadLimits) -> list[RawRecord]:
    records: list[RawRecord] = []
    errors: list[RowError] = []
    # split("\n") rather than splitlines(): U+2028 and friends are legal inside JSON strings.
    for line_no, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if len(records) >= limits.max_rows:
            raise _too_many_rows(limits)
        try:
            obj = _JSON.decode(stripped)
        except json.JSONDecodeError as exc:
            errors.append(_json_error(exc, line_offset=line_no - 1, row=line_no))
            if len(errors) >= 100:
                break
            continue
        except RecursionError as exc:
            raise LoadError(RowError(line_no, None, f"第{line_no}行 JSON 嵌套过深; nested too deeply")) from exc
        records.append(_record_from_object(obj, row=line_no, limits=limits))
    if errors:
        raise LoadError(errors)
    return records


# --------------------------------------------------------------------------- tabular (CSV / XLSX)


class _TableBuilder:
    """Turns header + cell rows into records; shared by CSV and XLSX."""

    def __init__(self, header: HeaderMap, *, limits: ReadLimits) -> None:
        self.header = header
        self.limits = limits
        self.records: list[RawRecord] = []
        self._unnamed = frozenset(header.unnamed)

    def add(self, row: int, cells: Sequence[object]) -> RawRecord | None:
        """Add one row (cells already converted to text or None); rows without data are skipped."""
        header = self.header
        errors: list[RowError] = []
        has_data = False
        for index, value in enumerate(cells):
            if value is None or index in header.ignored:
                continue
            has_data = True
            if index >= header.width:
                errors.append(
                    RowError(row, None, f"第{row}行{column_label(index)}有数据,但超出表头列数; cell beyond the last header")
                )
                break
            if index in self._unnamed:
                errors.append(RowError(row, None, f"第{row}行{column_label(index)}有数据,但该列没有表头; cell without header"))
        if not has_data:
            return None
        if len(self.records) >= self.limits.max_rows:
            raise _too_many_rows(self.limits)
        fields: dict[str, object] = {
            name: cells[index] if index < len(cells) else None for index, name in header.columns.items()
        }
        record = RawRecord(row=row, fields=fields, errors=errors)
        self.records.append(record)
        return record


def _header_or_fail(cells: Sequence[object], row: int) -> HeaderMap:
    header = resolve_headers(cells, row=row)
    if header.errors:
        raise LoadError(header.errors)
    if not header.columns:
        raise LoadError(RowError(row, None, "表头中没有可识别的列; the header row has no known column"))
    return header


def _sniff_delimiter(text: str) -> str:
    """Pick , ; or tab: the candidate that splits the header line into the most fields."""
    first = next((line for line in text[:65536].splitlines() if line.strip()), "")
    best, best_count = ",", 1
    for delimiter in (",", "\t", ";"):
        try:
            count = len(next(csv.reader([first], delimiter=delimiter)))
        except (csv.Error, StopIteration):
            continue
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _another_delimiter(cell: str, delimiter: str) -> bool:
    """A whole row read as one cell holding two or more of another delimiter: the file mixes them."""
    return any(d != delimiter and cell.count(d) >= 2 for d in (",", "\t", ";"))


def _read_csv(text: str, limits: ReadLimits) -> list[RawRecord]:
    text = text.replace("\x00", "")
    delimiter = _sniff_delimiter(text)
    # strict: a quote left open must not swallow the rest of the file into one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    builder: _TableBuilder | None = None
    row = 0
    try:
        for row, raw_cells in enumerate(reader, start=1):
            one_cell = len(raw_cells) == 1
            while raw_cells and not raw_cells[-1].strip():
                raw_cells.pop()
            if len(raw_cells) > limits.max_columns:
                raise LoadError(RowError(row, None, f"第{row}行超过 {limits.max_columns} 列; too many columns"))
            if builder is None:
                if not any(c.strip() for c in raw_cells):
                    continue
                for i, c in enumerate(raw_cells):
                    if len(c) > limits.max_cell_chars:
                        raise _too_long(row, column_label(i), limits)
                builder = _TableBuilder(_header_or_fail(raw_cells, row), limits=limits)
                continue
            if one_cell and builder.header.width > 1 and _another_delimiter(raw_cells[0], delimiter):
                raise LoadError(
                    RowError(row, None, f"第{row}行整行在一个单元格里,分隔符与表头不一致; the row uses another delimiter than the header")
                )
            names = builder.header.columns
            cells = [
                _clean_cell(c, row=row, name=names.get(i, column_label(i)), limits=limits) for i, c in enumerate(raw_cells)
            ]
            builder.add(row, cells)
    except csv.Error as exc:
        # csv raises on broken quoting (strict) and on fields past field_size_limit.
        raise LoadError(RowError(row + 1, None, f"CSV 格式错误(第{row + 1}行): {exc}; malformed CSV")) from exc
    if builder is None:
        raise LoadError("文件没有表头行; no header row")
    return builder.records


def _check_zip(data: bytes, limits: ReadLimits) -> None:
    """Refuse zip bombs before openpyxl inflates anything (declared sizes bound zipfile's reads)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LoadError(f"不是有效的 xlsx 文件(无法作为 zip 打开): {exc}; not a valid xlsx (zip) file") from exc
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_xlsx_members:
            raise LoadError(f"xlsx 内部文件过多({len(members)}); too many zip members")
        names = {m.filename for m in members}
        if "[Content_Types].xml" not in names:
            raise LoadError("不是 xlsx 文件(缺少 [Content_Types].xml); not an xlsx file")
        total = 0
        for member in members:
            total += member.file_size
            if total > limits.max_xlsx_uncompressed:
                raise LoadError(
                    f"xlsx 解压后超过 {limits.max_xlsx_uncompressed // MiB} MB,拒绝处理; uncompressed size exceeds limit"
                )
            # Small members compress unevenly (empty styles, repeated tags); only judge real payloads.
            if member.file_size > MiB and member.file_size > limits.max_xlsx_ratio * max(member.compress_size, 1):
                raise LoadError(
                    f"xlsx 内部文件 {member.filename} 压缩比异常(超过 {limits.max_xlsx_ratio:g}:1),疑似压缩炸弹; "
                    "suspicious compression ratio"
                )


_SHEET_NAME_HINT = re.compile(r"指标|indicator", re.IGNORECASE)
_MAX_SHEET_ROW = 1_048_576  # Excel's limit; a larger row number is a forged file


def _xlsx_cell(cell: Any, *, row: int, name: str | None, limits: ReadLimits) -> str | list[str] | None:
    value = cell.value
    if value is None:
        return None
    kind = getattr(cell, "data_type", None)
    if kind in ("f", "e"):
        # A formula's cached value may disagree with what it computes (=HYPERLINK, DDE), and an
        # error value (#REF!) is no data: both are refused rather than imported as text.
        where = f"第{row}行" + (f"字段 {name} " if name else "表头")
        shown = shorten(str(getattr(value, "text", value)), 60)
        raise LoadError(
            RowError(row, name, f"{where}是公式「{shown}」,请先粘贴为数值; formula cells are not imported, paste values")
            if kind == "f"
            else RowError(row, name, f"{where}是错误值 {shown}; the cell holds an error value")
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        number_format = getattr(cell, "number_format", None) or ""
        if "%" in number_format:
            # Excel stores "95%" as 0.95 with a percent format; tables mean the text "95%".
            return f"{format_number(round(value * 100, 10))}%"
        return format_number(value)
    if isinstance(value, datetime | date | time):
        return normalize_optional(value)
    if isinstance(value, str):
        return _clean_cell(value, row=row, name=name, limits=limits)
    return _clean_scalar(value, row=row, name=name, limits=limits)


def _iter_sheet_rows(ws: Any, limits: ReadLimits) -> Iterator[tuple[int, tuple[Any, ...]]]:
    # Declared dimensions can be forged ("A1:XFD1048576"); ignore them and cap the columns.
    ws.reset_dimensions()
    for row_no, cells in enumerate(ws.iter_rows(max_col=limits.max_columns), start=1):
        if row_no > _MAX_SHEET_ROW:
            raise LoadError(f"工作表行号超过 {_MAX_SHEET_ROW}; sheet row number out of range")
        yield row_no, cells


def _all_absent(cells: tuple[Any, ...]) -> bool:
    # openpyxl pads rows with the EMPTY_CELL singleton; an identity test mapped in C keeps
    # forged sheets (a million padded rows) cheap.
    return all(map(is_, cells, repeat(EMPTY_CELL)))


def _is_empty_row(cells: tuple[Any, ...]) -> bool:
    if _all_absent(cells):
        return True
    return all(c.value is None or (isinstance(c.value, str) and not c.value.strip()) for c in cells)


class _Worksheet(ReadOnlyWorksheet):  # type: ignore[misc]
    """openpyxl's read-only sheet without two costs a forged file could inflate."""

    def _get_size(self) -> None:
        # openpyxl parses a sheet lacking <dimension> end to end here, only to learn a size that
        # _iter_sheet_rows ignores anyway: a forged sheet would be parsed twice.
        return None

    def _get_row(
        self, row: list[dict[str, Any]], min_col: int = 1, max_col: int | None = None, values_only: bool = False
    ) -> Any:
        # Cells past the column cap would be dropped without a word; data there is refused.
        if max_col is not None:
            for cell in row:
                value = cell["value"]
                if cell["column"] > max_col and value is not None and str(value).strip():
                    raise LoadError(
                        RowError(
                            cell["row"],
                            None,
                            f"第{cell['row']}行第{cell['column']}列有数据,超过 {max_col} 列上限; data beyond column {max_col}",
                        )
                    )
        return super()._get_row(row, min_col, max_col, values_only)


class _WorkbookReader(ExcelReader):  # type: ignore[misc]
    """``load_workbook(read_only=True)`` with our worksheets; chart sheets are skipped."""

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                continue
            ws = _Worksheet(self.wb, sheet.name, rel.target, self.shared_strings)
            ws.sheet_state = sheet.state
            self.wb._sheets.append(ws)


def _open_workbook(data: bytes) -> Any:
    # Formulas are read as formulas (not their cached values) so that _xlsx_cell can refuse them.
    reader = _WorkbookReader(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    reader.read()
    return reader.wb


def _read_xlsx(data: bytes, limits: ReadLimits) -> list[RawRecord]:
    _check_zip(data, limits)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about unsupported extensions, data validation, default styles …
            warnings.simplefilter("ignore")
            workbook = _open_workbook(data)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, XML and defusedxml errors …
        raise LoadError(f"无法读取 xlsx 文件: {type(exc).__name__}: {exc}; unreadable xlsx") from exc
    visible = [ws for ws in workbook.worksheets if ws.sheet_state == "visible"]
    try:
        # Hidden sheets hold lookup lists or leftovers, not the table the user sees: never read.
        # A sheet named like 指标/indicators wins; otherwise the first sheet with data.
        sheets = sorted(visible, key=lambda ws: 0 if _SHEET_NAME_HINT.search(ws.title) else 1)
        for ws in sheets:
            records = _read_sheet(workbook, ws, limits)
            if records is not None:
                return records
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"无法读取 xlsx 工作表: {type(exc).__name__}: {exc}; unreadable worksheet") from exc
    finally:
        workbook.close()
    if len(visible) < len(workbook.worksheets):
        raise LoadError("xlsx 中没有包含数据的可见工作表(隐藏的工作表不导入); no visible worksheet with data")
    raise LoadError("xlsx 中没有包含数据的工作表; no worksheet with data")


_MERGE_RE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"')
_MAX_MERGES = 100_000


def _vertical_merges(workbook: Any, ws: Any) -> dict[int, list[tuple[int, int]]]:
    """Vertical merged ranges per 0-based column: [(anchor_row, last_row)], from the sheet XML.

    Read-only openpyxl does not expose merged cells, so the ``<mergeCell ref=…>``
    elements are scanned in the raw XML (bounded: the zip was size-checked).
    """
    path = getattr(ws, "_worksheet_path", None)
    archive = getattr(workbook, "_archive", None)
    merges: dict[int, list[tuple[int, int]]] = {}
    if path is None or archive is None:
        return merges
    count = 0
    tail = b""
    with archive.open(path) as src:
        while True:
            chunk = src.read(MiB)
            buffer = tail + chunk
            keep_from = max(len(buffer) - 256, 0) if chunk else len(buffer)
            for match in _MERGE_RE.finditer(buffer):
                if chunk and match.end() > keep_from:
                    keep_from = min(keep_from, match.start())
                    break
                first_col, first_row, last_col, last_row = match.groups()
                if int(last_row) > int(first_row):
                    col = column_index_from_string(first_col.decode()) - 1
                    merges.setdefault(col, []).append((int(first_row), int(last_row)))
                    count += 1
                if count >= _MAX_MERGES:
                    return merges
            if not chunk:
                break
            tail = buffer[keep_from:]
    return merges


def _in_merge(merges: dict[int, list[tuple[int, int]]], col: int, row: int) -> bool:
    return any(anchor < row <= last for anchor, last in merges.get(col, ()))


class _LevelCarry:
    """Fill 一级/二级指标 cells that read empty because they are merged with the row above.

    Level 1 is carried whenever empty (tables merge it or leave the group's other rows
    blank). Level 2 is carried only when level 1 was carried too or the cell really is
    in a vertical merge, so "产出指标 | (empty)" after "产出指标 | 数量指标" stays empty,
    which also keeps our own exports round-tripping.

    A sheet with the labels as written (原一级指标/原二级指标, raw_level1/raw_level2: our exports have
    them) states every row's levels itself: only really merged cells are carried there, so an
    unclassified indicator below a classified one stays unclassified.
    """

    def __init__(self, header: HeaderMap, merges: dict[int, list[tuple[int, int]]]) -> None:
        by_field = {name: index for index, name in header.columns.items()}
        self.level1 = by_field.get(LEVEL_FIELDS[0])
        self.level2 = by_field.get(LEVEL_FIELDS[1])
        self.merges = merges
        self.previous: RawRecord | None = None
        self.only_merged = "raw_level1" in by_field or "raw_level2" in by_field

    def apply(self, record: RawRecord) -> None:
        previous, self.previous = self.previous, record
        if previous is None:
            return
        level1, level2 = LEVEL_FIELDS
        fields = record.fields
        carried1 = False
        if (
            self.level1 is not None
            and fields.get(level1) is None
            and previous.fields.get(level1) is not None
            and (not self.only_merged or _in_merge(self.merges, self.level1, record.row))
        ):
            fields[level1] = previous.fields[level1]
            carried1 = True
        if (
            self.level2 is not None
            and fields.get(level2) is None
            and previous.fields.get(level2) is not None
            and fields.get(level1) == previous.fields.get(level1)
            and (carried1 or _in_merge(self.merges, self.level2, record.row))
        ):
            fields[level2] = previous.fields[level2]


def _read_sheet(workbook: Any, ws: Any, limits: ReadLimits) -> list[RawRecord] | None:
    """Records of one sheet, or None when the sheet is empty."""
    builder: _TableBuilder | None = None
    carry: _LevelCarry | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        padding: tuple[Any, ...] | None = None
        blank = 0
        for row_no, cells in _iter_sheet_rows(ws, limits):
            # openpyxl yields one shared padding tuple for every missing row: skip it in O(1).
            if cells is padding:
                continue
            if _all_absent(cells):
                padding = cells
                continue
            if blank > limits.max_blank_rows:
                raise LoadError(
                    f"工作表含超过 {limits.max_blank_rows} 个空白行,请删除空白行后再导入; "
                    f"more than {limits.max_blank_rows} blank rows"
                )
            if builder is None or carry is None:
                if _is_empty_row(cells):
                    blank += 1
                    continue
                header_cells = [_xlsx_cell(c, row=row_no, name=None, limits=limits) for c in cells]
                builder = _TableBuilder(_header_or_fail(header_cells, row_no), limits=limits)
                carry = _LevelCarry(builder.header, _vertical_merges(workbook, ws))
                continue
            names = builder.header.columns
            width = builder.header.width
            ignored = builder.header.ignored
            # Only convert cells past the header when there is something there (rare).
            convert = cells if not _all_absent(cells[width:]) else cells[:width]
            texts = [
                None if i in ignored else _xlsx_cell(c, row=row_no, name=names.get(i, column_label(i)), limits=limits)
                for i, c in enumerate(convert)
            ]
            record = builder.add(row_no, texts)
            if record is None:
                blank += 1
            else:
                carry.apply(record)
    return builder.records if builder is not None else None


# --------------------------------------------------------------------------- entry point


def read_records(
    data: bytes, fmt: Format | str, *, limits: ReadLimits = ReadLimits(), strict: bool = True
) -> list[RawRecord]:
    """Read ``data`` in format ``fmt`` into records keyed by canonical field names.

    Raises :class:`LoadError` for file-level problems (size/row/cell limits,
    undecodable text, invalid JSON, unknown or duplicate headers, zip bombs).
    Row-level problems (unknown JSON key, non-object JSON row, data beyond the
    header) are collected over the whole file and, with ``strict`` (the default),
    raised together as one :class:`LoadError`; with ``strict=False`` they stay in
    each record's ``errors`` for the caller to report.
    """
    if len(data) > limits.max_bytes:
        raise LoadError(f"文件超过大小上限 {limits.max_bytes // MiB} MB; file larger than {limits.max_bytes} bytes")
    fmt = Format(fmt)
    records: list[RawRecord]
    if fmt is Format.xlsx:
        records = _read_xlsx(data, limits)
    else:
        text = _decode(data, lines_are_rows=fmt is not Format.json)
        if fmt is Format.json:
            records = _read_json(text, limits)
        elif fmt is Format.ndjson:
            records = _read_ndjson(text, limits)
        else:
            records = _read_csv(text, limits)
    if strict:
        errors = [error for record in records for error in record.errors]
        if errors:
            raise LoadError(errors[:_MAX_REPORTED_ERRORS])
    return records
