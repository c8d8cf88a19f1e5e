"""Tests for loaders.readers: format detection, CSV/XLSX/JSON/NDJSON reading, limits."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Sequence
from datetime import date

import pytest
from openpyxl import Workbook

from loaders.readers import (
    Format,
    LoadError,
    ReadLimits,
    RowError,
    detect_format,
    read_records,
    unescape_formula,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def simple_xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    return xlsx_bytes(wb)


# --------------------------------------------------------------------------- detect_format


@pytest.mark.parametrize(
    ("content_type", "filename", "data", "expected"),
    [
        (None, "a.json", b"[]", Format.json),
        (None, "a.jsonl", b"{}", Format.ndjson),
        (None, "a.ndjson", b"{}", Format.ndjson),
        (None, "a.CSV", b"a,b", Format.csv),
        (None, "a.tsv", b"a\tb", Format.csv),
        (None, "a.xlsx", b"PK\x03\x04rest", Format.xlsx),
        (XLSX_TYPE, None, b"PK\x03\x04rest", Format.xlsx),
        (None, None, b"PK\x03\x04rest", Format.xlsx),
        ("application/x-ndjson", None, b'{"a":1}\n{"a":2}', Format.ndjson),
        ("application/json", None, b'[{"a":1}]', Format.json),
        ("application/json", None, b'{"a":1}\n{"a":2}\n', Format.ndjson),
        ("application/json", None, b'{\n  "a": 1\n}', Format.json),
        ("application/json; charset=utf-8", None, b" [ ]", Format.json),
        ("text/csv", None, "指标名称,指标值".encode(), Format.csv),
        ("application/vnd.ms-excel", "upload", "指标名称,指标值".encode(), Format.csv),
        ("application/octet-stream", None, b"\xef\xbb\xbf[{}]", Format.json),
        (None, None, "指标名称;指标值\n".encode(), Format.csv),
    ],
)
def test_detect_format(content_type: str | None, filename: str | None, data: bytes, expected: Format) -> None:
    assert detect_format(content_type=content_type, filename=filename, data=data) is expected


@pytest.mark.parametrize(
    ("content_type", "filename", "data"),
    [
        (None, None, b"\x89PNG\r\n\x1a\n"),
        ("image/png", "x.png", b"\x89PNG"),
        (None, "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
        (None, None, b""),
    ],
)
def test_detect_format_unknown(content_type: str | None, filename: str | None, data: bytes) -> None:
    with pytest.raises(LoadError):
        detect_format(content_type=content_type, filename=filename, data=data)


# --------------------------------------------------------------------------- CSV

CSV_TEXT = "一级指标,二级指标,指标名称,指标值,计量单位\r\n产出指标,数量指标,新改建农村公路里程,≥169,公里\r\n,,,,\r\n满意度指标,,受益群众满意度,≥90%,%\r\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk", "gb18030", "utf-16"])
def test_csv_encodings(encoding: str) -> None:
    records = read_records(CSV_TEXT.encode(encoding), Format.csv)
    assert [r.row for r in records] == [2, 4]  # row 3 is empty and skipped; numbers stay spreadsheet rows
    assert records[0].fields == {
        "level1": "产出指标",
        "level2": "数量指标",
        "name": "新改建农村公路里程",
        "raw_value": "≥169",
        "unit": "公里",
    }
    assert records[1].fields["level2"] is None  # no carry-down in CSV


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiters(delimiter: str) -> None:
    text = delimiter.join(["指标名称", "指标值", "备注"]) + "\n" + delimiter.join(["满意度", "≥90%", "a,b"]) + "\n"
    if delimiter == ",":
        text = 'name,raw_value,notes\n满意度,≥90%,"a,b"\n'
    [record] = read_records(text.encode("utf-8"), Format.csv)
    assert record.fields == {"name": "满意度", "raw_value": "≥90%", "notes": "a,b"}


def test_csv_leading_blank_lines_and_multiline_cell() -> None:
    text = '\n\n指标名称,指标解释\n受益人数,"第一行\n第二行"\n满意度,x\n'
    records = read_records(text.encode(), Format.csv)
    assert records[0].row == 4
    assert records[0].fields["definition"] == "第一行 第二行"
    assert records[1].row == 5  # a multi-line cell is still one spreadsheet row


def test_csv_normalises_and_unescapes() -> None:
    text = "指标名称,指标值,备注,计算公式\n\uff21\u200b  指标 ,\uff1e\uff1d95\uff05,'=SUM(A1),'abc\n"
    [record] = read_records(text.encode(), Format.csv)
    assert record.fields == {"name": "A 指标", "raw_value": ">=95%", "notes": "=SUM(A1)", "formula": "'abc"}


def test_csv_row_with_more_cells_than_headers() -> None:
    text = "指标名称,指标值\n满意度,≥90%,多余\n受益人数,100人,,\n"
    with pytest.raises(LoadError) as info:
        read_records(text.encode(), Format.csv)
    assert [e.row for e in info.value.errors] == [2]
    assert "第C列" in info.value.errors[0].message

    records = read_records(text.encode(), Format.csv, strict=False)
    assert [len(r.errors) for r in records] == [1, 0]  # trailing empty cells are fine
    assert records[0].fields == {"name": "满意度", "raw_value": "≥90%"}


def test_csv_data_in_unnamed_column() -> None:
    text = "指标名称,,指标值\n满意度,x,≥90%\n"
    records = read_records(text.encode(), Format.csv, strict=False)
    assert records[0].errors
    assert "第B列" in records[0].errors[0].message


def test_csv_unknown_header() -> None:
    with pytest.raises(LoadError) as info:
        read_records("指标名称,神秘列\n满意度,1\n".encode(), Format.csv)
    [error] = info.value.errors
    assert error.row == 1
    assert error.field == "神秘列"
    assert "第B列" in error.message


def test_csv_duplicate_header() -> None:
    with pytest.raises(LoadError) as info:
        read_records("指标名称,指标值,标准值\n满意度,1,2\n".encode(), Format.csv)
    [error] = info.value.errors
    assert error.field == "raw_value"
    assert "第B列" in error.message
    assert "第C列" in error.message


def test_csv_without_header() -> None:
    with pytest.raises(LoadError):
        read_records(b"\n\n  \n", Format.csv)


def test_csv_undecodable() -> None:
    with pytest.raises(LoadError, match="编码"):
        read_records(b"name\n\x80\xff\xfe\x81\x30", Format.csv)


def test_csv_ignored_columns() -> None:
    [record] = read_records("序号,指标名称,完成值\n1,满意度,95%\n".encode(), Format.csv)
    assert record.fields == {"name": "满意度"}


def test_csv_row_only_in_ignored_columns_is_skipped() -> None:
    records = read_records("序号,指标名称\n1,满意度\n2,\n".encode(), Format.csv)
    assert [r.row for r in records] == [2]


# --------------------------------------------------------------------------- XLSX


def test_xlsx_merged_levels_numbers_and_dates() -> None:
    wb = Workbook()
    notes = wb.active
    assert notes is not None
    notes.title = "说明"  # an empty first sheet is skipped
    ws = wb.create_sheet("Sheet2")
    ws.append([])
    ws.append(["一级指标", "二级指标", "指标名称", "指标值", "计量单位", "权重", "备注"])  # header on row 2
    ws.append(["产出指标", "数量指标", "新改建农村公路里程", 169, "公里", 10.0, date(2025, 6, 30)])
    ws.append([None, None, "桥梁改造数", 3, "座", 2.5, None])
    ws.append([None, "质量指标", "验收合格率", 0.95, None, 5, None])
    ws.append([])
    ws.append(["满意度指标", None, "受益群众满意度", "≥90%", "%", 5, "'=SUM(A1)"])
    ws.merge_cells("A3:A5")
    ws.merge_cells("B3:B4")
    ws["D5"].number_format = "0%"
    records = read_records(xlsx_bytes(wb), Format.xlsx)
    assert [r.row for r in records] == [3, 4, 5, 7]
    assert records[0].fields == {
        "level1": "产出指标",
        "level2": "数量指标",
        "name": "新改建农村公路里程",
        "raw_value": "169",
        "unit": "公里",
        "weight": "10",
        "notes": "2025-06-30",
    }
    assert (records[1].fields["level1"], records[1].fields["level2"]) == ("产出指标", "数量指标")
    assert records[1].fields["weight"] == "2.5"
    assert (records[2].fields["level1"], records[2].fields["level2"]) == ("产出指标", "质量指标")
    assert records[2].fields["raw_value"] == "95%"  # percent-formatted number
    assert (records[3].fields["level1"], records[3].fields["level2"]) == ("满意度指标", None)
    assert records[3].fields["notes"] == "=SUM(A1)"


def test_xlsx_level2_not_carried_without_merge() -> None:
    # Level 1 repeated, level 2 empty: the row belongs to 产出指标 itself, not to 数量指标.
    data = simple_xlsx(
        [["一级指标", "二级指标", "指标名称"], ["产出指标", "数量指标", "A"], ["产出指标", None, "B"], [None, None, "C"]]
    )
    records = read_records(data, Format.xlsx)
    assert [(r.fields["level1"], r.fields["level2"]) for r in records] == [
        ("产出指标", "数量指标"),
        ("产出指标", None),
        ("产出指标", None),  # level 1 carried (blank group rows), level 2 of the previous row was empty
    ]


def test_xlsx_level2_merged_under_repeated_level1() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in [["一级指标", "二级指标", "指标名称"], ["产出指标", "数量指标", "A"], ["产出指标", None, "B"]]:
        ws.append(row)
    ws.merge_cells("B2:B3")
    records = read_records(xlsx_bytes(wb), Format.xlsx)
    assert records[1].fields["level2"] == "数量指标"


def test_xlsx_prefers_indicator_sheet() -> None:
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.append(["指标名称"])
    first.append(["不是这个"])
    sheet = wb.create_sheet("绩效指标表")
    sheet.append(["指标名称"])
    sheet.append(["是这个"])
    [record] = read_records(xlsx_bytes(wb), Format.xlsx)
    assert record.fields["name"] == "是这个"


def test_xlsx_unknown_header_names_column() -> None:
    with pytest.raises(LoadError) as info:
        read_records(simple_xlsx([["指标名称", "指标值", "神秘列"], ["a", "1", "x"]]), Format.xlsx)
    [error] = info.value.errors
    assert error.row == 1
    assert "第C列" in error.message
    assert "神秘列" in error.message


def test_xlsx_duplicate_header() -> None:
    with pytest.raises(LoadError) as info:
        read_records(simple_xlsx([["指标名称", "KPI_LV3"], ["a", "b"]]), Format.xlsx)
    assert info.value.errors[0].field == "name"


def test_xlsx_cell_beyond_header() -> None:
    data = simple_xlsx([["指标名称", "指标值"], ["a", "1", None, "stray"]])
    with pytest.raises(LoadError) as info:
        read_records(data, Format.xlsx)
    assert info.value.errors[0].row == 2
    assert "第D列" in info.value.errors[0].message


def test_xlsx_not_a_zip() -> None:
    with pytest.raises(LoadError, match="zip"):
        read_records(b"this is not a workbook", Format.xlsx)


def test_xlsx_zip_without_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(LoadError, match="xlsx"):
        read_records(out.getvalue(), Format.xlsx)


def test_xlsx_corrupt_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<not really")
    with pytest.raises(LoadError):
        read_records(out.getvalue(), Format.xlsx)


def test_xlsx_zip_bomb_rejected_quickly() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(64):
                member.write(chunk)
    data = out.getvalue()
    assert len(data) < 1024 * 1024  # 64 MB of zeros squeezed into a tiny file
    started = time.perf_counter()
    with pytest.raises(LoadError, match="压缩"):
        read_records(data, Format.xlsx)
    assert time.perf_counter() - started < 1.0


def test_xlsx_total_uncompressed_limit() -> None:
    data = simple_xlsx([["指标名称"], ["a"]])
    with pytest.raises(LoadError, match="解压"):
        read_records(data, Format.xlsx, limits=ReadLimits(max_xlsx_uncompressed=1000))


def test_xlsx_cell_too_long() -> None:
    data = simple_xlsx([["指标名称", "指标解释"], ["a", "x" * 50]])
    with pytest.raises(LoadError) as info:
        read_records(data, Format.xlsx, limits=ReadLimits(max_cell_chars=20))
    assert info.value.errors[0].row == 2
    assert info.value.errors[0].field == "definition"


def test_xlsx_far_away_row_is_bounded() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["指标名称"])
    ws.append(["a"])
    ws.cell(row=300_000, column=1, value="b")
    data = xlsx_bytes(wb)
    started = time.perf_counter()
    records = read_records(data, Format.xlsx)
    assert [r.row for r in records] == [2, 300_000]
    assert time.perf_counter() - started < 5.0


def _rewrite_sheet(data: bytes, old: bytes, new: bytes) -> bytes:
    """Copy an xlsx, replacing bytes in the first worksheet's XML (to forge hostile files)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert old in content
                content = content.replace(old, new)
            dst.writestr(info.filename, content)
    return out.getvalue()


def test_xlsx_forged_dimension_is_ignored() -> None:
    data = simple_xlsx([["指标名称"], ["a"]])
    forged = _rewrite_sheet(data, b'<dimension ref="A1:A2" />', b'<dimension ref="A1:XFD1048576" />')
    started = time.perf_counter()
    assert [r.fields for r in read_records(forged, Format.xlsx)] == [{"name": "a"}]
    assert time.perf_counter() - started < 2.0


def test_xlsx_forged_row_number_rejected() -> None:
    data = simple_xlsx([["指标名称"], ["a"], ["b"]])
    forged = _rewrite_sheet(data, b'<row r="3"', b'<row r="999999999"')
    forged = _rewrite_sheet(forged, b'r="A3"', b'r="A999999999"')
    started = time.perf_counter()
    with pytest.raises(LoadError, match="行号"):
        read_records(forged, Format.xlsx)
    assert time.perf_counter() - started < 5.0


# --------------------------------------------------------------------------- JSON / NDJSON


def test_json_array() -> None:
    doc = [
        {"指标名称": "满意度", "指标值": "≥９０％", "keywords": ["满意度 ", "群众"], "weight": 5.0, "is_core": True},
        {"name": "受益人数", "KPI_VAL": 100, "notes": None},
    ]
    records = read_records(json.dumps(doc, ensure_ascii=False).encode(), Format.json)
    assert [r.row for r in records] == [1, 2]
    assert records[0].fields == {
        "name": "满意度",
        "raw_value": "≥90%",
        "keywords": ["满意度", "群众"],
        "weight": "5",
        "is_core": "true",
    }
    assert records[1].fields == {"name": "受益人数", "raw_value": "100", "notes": None}


def test_json_single_object() -> None:
    [record] = read_records(b'{"name": "a"}', Format.json)
    assert record.row == 1
    assert record.fields == {"name": "a"}


def test_json_non_object_and_unknown_key() -> None:
    data = json.dumps([{"name": "a"}, 3, {"name": "b", "mystery": 1}]).encode()
    with pytest.raises(LoadError) as info:
        read_records(data, Format.json)
    assert info.value.errors == [
        RowError(2, None, info.value.errors[0].message),
        RowError(3, "mystery", info.value.errors[1].message),
    ]
    records = read_records(data, Format.json, strict=False)
    assert records[2].fields == {"name": "b"}


def test_json_duplicate_field() -> None:
    data = json.dumps([{"name": "a", "指标名称": "b"}], ensure_ascii=False).encode()
    with pytest.raises(LoadError) as info:
        read_records(data, Format.json)
    assert info.value.errors[0].field == "name"


def test_json_invalid_names_position() -> None:
    with pytest.raises(LoadError) as info:
        read_records(b'[\n{"name": "a"},\n{"name": }\n]', Format.json)
    assert "第3行" in info.value.errors[0].message


def test_json_too_deep() -> None:
    with pytest.raises(LoadError):
        read_records(b"[" * 100_000, Format.json)


def test_json_nested_object_value() -> None:
    with pytest.raises(LoadError) as info:
        read_records(b'[{"name": {"a": 1}}]', Format.json)
    assert info.value.errors[0].field == "name"


def test_ndjson_line_numbers() -> None:
    data = '{"name": "a"}\n\n{"指标名称": "b", "一级指标": "产出指标"}\r\n'.encode()
    records = read_records(data, Format.ndjson)
    assert [(r.row, r.fields) for r in records] == [
        (1, {"name": "a"}),
        (3, {"name": "b", "level1": "产出指标"}),
    ]


def test_ndjson_bad_line() -> None:
    data = b'{"name": "a"}\n{"name": "b"}\n{"name": "c",}\n'
    with pytest.raises(LoadError) as info:
        read_records(data, Format.ndjson)
    [error] = info.value.errors
    assert error.row == 3
    assert "第3行" in error.message


def test_ndjson_non_object_line() -> None:
    with pytest.raises(LoadError) as info:
        read_records(b'{"name": "a"}\n[1, 2]\n', Format.ndjson)
    assert info.value.errors[0].row == 2


def test_seed_file_reads_cleanly() -> None:
    from pathlib import Path

    seed = Path(__file__).resolve().parents[2] / "loaders" / "seed" / "seed_indicators.jsonl"
    records = read_records(seed.read_bytes(), Format.ndjson)
    assert len(records) == 637
    assert all(r.fields.get("name") for r in records)


# --------------------------------------------------------------------------- limits


def test_max_bytes() -> None:
    with pytest.raises(LoadError, match="大小"):
        read_records(b"name\n" + b"a\n" * 100, Format.csv, limits=ReadLimits(max_bytes=50))


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        (Format.csv, b"name\n" + b"a\n" * 11),
        (Format.ndjson, b'{"name": "a"}\n' * 11),
        (Format.json, json.dumps([{"name": "a"}] * 11).encode()),
        (Format.xlsx, simple_xlsx([["name"]] + [["a"]] * 11)),
    ],
)
def test_max_rows(fmt: Format, data: bytes) -> None:
    with pytest.raises(LoadError, match="行数"):
        read_records(data, fmt, limits=ReadLimits(max_rows=10))
    assert len(read_records(data, fmt, limits=ReadLimits(max_rows=11))) == 11


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        (Format.csv, b"name,definition\na," + b"x" * 101 + b"\n"),
        (Format.ndjson, b'{"definition": "' + b"x" * 101 + b'"}\n'),
        (Format.json, b'[{"keywords": ["' + b"x" * 60 + b'", "' + b"y" * 60 + b'"]}]'),
    ],
)
def test_max_cell_chars(fmt: Format, data: bytes) -> None:
    with pytest.raises(LoadError) as info:
        read_records(data, fmt, limits=ReadLimits(max_cell_chars=100))
    assert info.value.errors[0].row is not None


def test_csv_cell_larger_than_csv_module_limit() -> None:
    data = b'name,definition\na,"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(LoadError) as info:
        read_records(data, Format.csv)
    assert (info.value.errors[0].row, info.value.errors[0].field) == (2, "definition")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("'=SUM(A1)", "=SUM(A1)"), ("'+1", "+1"), ("'-0%", "-0%"), ("'@x", "@x"), ("'abc", "'abc"), ("'", "'"), ("=x", "=x")],
)
def test_unescape_formula(raw: str, expected: str) -> None:
    assert unescape_formula(raw) == expected


# --------------------------------------------------------------------------- hostile files (issue #8)
# The whole corpus runs end to end in tests/imports/test_hostile_files.py; these pin the reader rules.


def test_xlsx_formula_cell_is_refused_with_its_row_and_field() -> None:
    data = simple_xlsx([["指标名称", "权重"], ["a", 5], ["b", "=SUM(1,2)"]])
    with pytest.raises(LoadError, match="公式") as info:
        read_records(data, Format.xlsx)
    assert (info.value.errors[0].row, info.value.errors[0].field) == (3, "weight")


def test_xlsx_formula_in_an_ignored_column_is_fine() -> None:
    data = simple_xlsx([["序号", "指标名称"], ["=ROW()-1", "a"]])
    assert [r.fields for r in read_records(data, Format.xlsx)] == [{"name": "a"}]


def test_xlsx_hidden_sheets_are_not_read() -> None:
    wb = Workbook()
    shown = wb.active
    assert shown is not None
    shown.append(["指标名称"])
    shown.append(["a"])
    hidden = wb.create_sheet("指标字典")
    hidden.append(["颜色"])
    hidden.sheet_state = "hidden"
    assert [r.fields for r in read_records(xlsx_bytes(wb), Format.xlsx)] == [{"name": "a"}]
    shown.delete_rows(1, 2)
    with pytest.raises(LoadError, match="可见"):
        read_records(xlsx_bytes(wb), Format.xlsx)


def test_xlsx_data_past_the_column_cap_is_refused() -> None:
    data = simple_xlsx([["指标名称"], ["a", None, None, None, "藏起来"]])
    with pytest.raises(LoadError) as info:
        read_records(data, Format.xlsx, limits=ReadLimits(max_columns=3))
    assert info.value.errors[0].row == 2


def test_xlsx_blank_rows_are_bounded() -> None:
    data = simple_xlsx([["指标名称"], *[[" "]] * 20])
    with pytest.raises(LoadError, match="空白行"):
        read_records(data, Format.xlsx, limits=ReadLimits(max_blank_rows=10))


def test_json_key_given_twice_is_an_error() -> None:
    with pytest.raises(LoadError) as info:
        read_records(b'[{"name": "a", "name": "b"}]', Format.json)
    assert (info.value.errors[0].row, info.value.errors[0].field) == (1, "name")


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"1" + b"0" * 5000])
@pytest.mark.parametrize("fmt", [Format.json, Format.ndjson])
def test_json_number_that_is_no_finite_number_names_its_field(fmt: Format, number: bytes) -> None:
    data = b'{"name": "a"}\n{"name": "b", "weight": ' + number + b"}\n"
    if fmt is Format.json:
        data = b"[" + data.replace(b"}\n{", b"}, {").rstrip() + b"]"
    with pytest.raises(LoadError) as info:
        read_records(data, fmt)
    assert (info.value.errors[0].row, info.value.errors[0].field) == (2, "weight")


@pytest.mark.parametrize(
    ("data", "row"),
    [
        (b'[{"name": "a"}, {"name": "b"},]', 3),
        (b'[{"name": "a"} {"name": "b"}]', 1),
        (b'[{"name": "a"}, {"name": "b"', 2),
    ],
)
def test_json_syntax_error_names_its_element(data: bytes, row: int) -> None:
    with pytest.raises(LoadError) as info:
        read_records(data, Format.json)
    assert info.value.errors[0].row == row


def test_unknown_json_key_is_quoted_short() -> None:
    with pytest.raises(LoadError) as info:
        read_records(b'[{"name": "a", "' + b"k" * 5000 + b'\\udc00": 1}]', Format.json)
    error = info.value.errors[0]
    assert error.field is not None
    assert len(error.field) < 100
    error.message.encode("utf-8")  # no lone surrogate left to break the response


def test_csv_quote_left_open_is_refused() -> None:
    data = '指标名称,指标解释\na,"没有结束的引号\nb,c\nd,e\n'.encode()
    with pytest.raises(LoadError, match="CSV"):
        read_records(data, Format.csv)


def test_csv_row_with_another_delimiter_is_refused() -> None:
    with pytest.raises(LoadError) as info:
        read_records("指标名称,一级指标,二级指标\na;产出指标;数量指标\n".encode(), Format.csv)
    assert info.value.errors[0].row == 2
    # A name holding semicolons in a row that has its other cells (empty) is fine.
    [record] = read_records("指标名称,一级指标,二级指标\na;b;c,,\n".encode(), Format.csv)
    assert record.fields["name"] == "a;b;c"


def test_undecodable_text_names_its_line() -> None:
    data = "指标名称,备注\n甲,乙\n".encode() + "Café,crème\n".encode("latin-1")
    with pytest.raises(LoadError) as info:
        read_records(data, Format.csv)
    assert info.value.errors[0].row == 3
