"""Tests for loaders.writers and the export → import round trip."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping

import pytest
from openpyxl import load_workbook

from loaders.fields import CHINESE_EXPORT_COLUMNS, PLATFORM_EXPORT_COLUMNS
from loaders.readers import Format, read_records
from loaders.writers import ExportProfile, escape_formula, write_csv, write_jsonl, write_xlsx
from service.domain import Comparator, Direction, Horizon, IndicatorStatus, Kind, ValueBasis

# Stored text is already normalised (the readers normalise on the way in), so it must come back unchanged.
ROWS: list[dict[str, object]] = [
    {
        "code": "0012",
        "name": "=SUM(A1)",
        "level1": "预算绩效",
        "level2": "预算管理",
        "unit": "%",
        "raw_value": "-0%",
        "notes": "+1 @home",
        "definition": "@mention and more",
        "formula": "-3 + x",
        "sector": "卫生健康",
        "keywords": ["结转", "结余"],  # a list cell reads back as the list (one item per line)
    },
    {
        "code": "A-1",
        "name": "适龄儿童疫苗接种率",
        "level1": "产出指标",
        "level2": "数量指标",
        "unit": "%",
        "raw_value": "≥95%",
        "department": "卫生健康委",
        "scoring_rule": "完成得满分,每降低1%扣1分",
    },
    {"name": "受益群众满意度", "level1": "满意度指标", "raw_value": "≥90%", "notes": "全角(括号) ≤5% m³"},
]


def _as_read(row: Mapping[str, object], columns: list[str]) -> dict[str, object]:
    """What a reader gives back for a written row: every column, None where the row had nothing."""
    return {c: row.get(c) for c in columns}


def _columns(rows: list[dict[str, object]]) -> list[str]:
    present = {k for row in rows for k in row}
    return [c for c in CHINESE_EXPORT_COLUMNS if c in present]


@pytest.mark.parametrize("profile", list(ExportProfile))
@pytest.mark.parametrize("fmt", [Format.csv, Format.xlsx])
def test_round_trip_text_fields(profile: ExportProfile, fmt: Format) -> None:
    data = write_csv(ROWS, profile=profile) if fmt is Format.csv else write_xlsx(ROWS, profile=profile)
    records = read_records(data, fmt)
    columns = _columns(ROWS)
    assert [r.fields for r in records] == [_as_read(row, columns) for row in ROWS]
    assert [r.row for r in records] == [2, 3, 4]


TYPED_ROW: dict[str, object] = {
    "name": "预算执行率",
    "kind": Kind.common,
    "comparator": Comparator.ge,
    "value": 95.0,
    "value_basis": ValueBasis.plan,
    "direction": Direction.positive,
    "is_core": True,
    "horizon": Horizon.mid_term,
    "weight": 2.5,
    "status": IndicatorStatus.standard,
    "keywords": ["执行率", "预算"],
    "budget_types": ("一般公共预算",),
}

EXPECTED_TYPED: dict[ExportProfile, dict[str, object]] = {
    ExportProfile.canonical: {
        "name": "预算执行率",
        "kind": "common",
        "comparator": "ge",
        "value": "95",
        "value_basis": "plan",
        "direction": "positive",
        "is_core": "true",
        "horizon": "mid_term",
        "weight": "2.5",
        "status": "standard",
        "keywords": ["执行率", "预算"],
        "budget_types": ["一般公共预算"],
    },
    ExportProfile.chinese: {
        "name": "预算执行率",
        "kind": "共性",
        "comparator": "≥",
        "value": "95",
        "value_basis": "计划标准",
        "direction": "正向",
        "is_core": "是",
        "horizon": "中期",
        "weight": "2.5",
        "status": "标准",
        "keywords": ["执行率", "预算"],
        "budget_types": ["一般公共预算"],
    },
    ExportProfile.platform: {
        "name": "预算执行率",
        "kind": "共性",
        "comparator": "≥",
        "value": "95",
        "value_basis": "计划标准",
        "direction": "正向",
        "is_core": "1",
        "horizon": "1",
        "weight": "2.5",
        "status": "标准",
        "keywords": ["执行率", "预算"],
        "budget_types": ["一般公共预算"],
    },
}


@pytest.mark.parametrize("profile", list(ExportProfile))
@pytest.mark.parametrize("fmt", [Format.csv, Format.xlsx])
def test_round_trip_typed_values(profile: ExportProfile, fmt: Format) -> None:
    data = write_csv([TYPED_ROW], profile=profile) if fmt is Format.csv else write_xlsx([TYPED_ROW], profile=profile)
    [record] = read_records(data, fmt)
    assert record.fields == EXPECTED_TYPED[profile]


@pytest.mark.parametrize(
    ("value", "canonical", "chinese", "platform"),
    [(True, "true", "是", "1"), (False, "false", "否", "0")],
)
def test_booleans_per_profile(value: bool, canonical: str, chinese: str, platform: str) -> None:
    for profile, expected in zip(ExportProfile, (canonical, chinese, platform), strict=True):
        text = write_csv([{"name": "x", "is_core": value}], profile=profile).decode("utf-8-sig")
        assert text.splitlines()[1] == f"x,{expected}"


def test_horizon_platform_yearflag() -> None:
    text = write_csv([{"horizon": Horizon.annual}, {"horizon": "mid_term"}], profile="platform").decode("utf-8-sig")
    assert text.splitlines() == ["YEARFLAG", "0", "1"]


def test_comparator_symbols_from_text() -> None:
    text = write_csv([{"comparator": "le"}, {"comparator": "≥"}, {"comparator": "定性"}], profile="chinese")
    assert text.decode("utf-8-sig").splitlines() == ["指标性质", "≤", "≥", "定性"]
    text = write_csv([{"comparator": "≥"}], profile="canonical")
    assert text.decode("utf-8-sig").splitlines() == ["comparator", "ge"]


def test_csv_has_bom_crlf_and_headers() -> None:
    data = write_csv(ROWS, profile=ExportProfile.chinese)
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header == [CHINESE_EXPORT_COLUMNS[c] for c in _columns(ROWS)]


def test_platform_headers() -> None:
    data = write_csv(ROWS[1:2], profile=ExportProfile.platform)
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header == [PLATFORM_EXPORT_COLUMNS[c] for c in _columns(ROWS[1:2])]
    assert header[:4] == ["LV3_PERF_IND_CODE", "KPI_LV3", "KPI_LV1", "KPI_LV2"]


def test_csv_escapes_formulas() -> None:
    rows = list(csv.reader(io.StringIO(write_csv(ROWS[:1]).decode("utf-8-sig"))))
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["name"] == "'=SUM(A1)"
    assert cells["raw_value"] == "'-0%"
    assert cells["notes"] == "'+1 @home"
    assert cells["definition"] == "'@mention and more"
    assert cells["code"] == "0012"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-0%", "'-0%"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), ("", "")],
)
def test_escape_formula(text: str, expected: str) -> None:
    assert escape_formula(text) == expected


def test_xlsx_layout() -> None:
    data = write_xlsx(ROWS, profile=ExportProfile.chinese, sheet_title="指标/库[1]")
    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    assert ws is not None
    assert ws.title == "指标_库_1_"
    assert ws["A1"].value == "指标编码"
    assert ws["A1"].font.b is True
    assert ws.freeze_panes == "A2"
    assert ws["B2"].value == "'=SUM(A1)"
    assert ws["B2"].data_type == "s"  # text, not a formula
    widths = {ws.column_dimensions[c].width for c in "ABCDEF"}
    assert all(8 <= w <= 60 for w in widths)


def test_xlsx_numbers_stay_numeric() -> None:
    data = write_xlsx([{"name": "x", "weight": 2.5, "value": 95}])
    ws = load_workbook(io.BytesIO(data)).active
    assert ws is not None
    assert (ws["B2"].value, ws["C2"].value) == (95, 2.5)


def test_column_order_and_presence() -> None:
    text = write_csv([{"notes": "n", "name": "x"}, {"code": "c"}]).decode("utf-8-sig")
    assert text.splitlines() == ["code,name,notes", ",x,n", "c,,"]


def test_unknown_field_rejected() -> None:
    with pytest.raises(ValueError, match="unknown export fields"):
        write_csv([{"name": "x", "mystery": 1}])


def test_control_characters_do_not_break_xlsx() -> None:
    data = write_xlsx([{"name": "a\x00b\x07c"}])
    [record] = read_records(data, Format.xlsx)
    assert record.fields == {"name": "abc"}


def test_jsonl_keeps_native_types() -> None:
    rows = [TYPED_ROW, {"name": "nan", "value": float("nan")}]
    lines = list(write_jsonl(rows))
    assert all(line.endswith(b"\n") for line in lines)
    first = json.loads(lines[0])
    assert first["value"] == 95.0
    assert first["is_core"] is True
    assert first["keywords"] == ["执行率", "预算"]
    assert first["comparator"] == "ge"
    assert first["horizon"] == "mid_term"
    assert first["budget_types"] == ["一般公共预算"]
    assert json.loads(lines[1])["value"] is None
    assert "预算执行率" in lines[0].decode("utf-8")  # not \\u-escaped


def test_unnormalised_text_comes_back_normalised() -> None:
    data = write_csv([{"name": "\t全角（括号）\u200b ＞＝９０％"}])
    [record] = read_records(data, Format.csv)
    assert record.fields == {"name": "全角(括号) >=90%"}


def test_jsonl_round_trip_through_reader() -> None:
    data = b"".join(write_jsonl(ROWS))
    records = read_records(data, Format.ndjson)
    assert [r.fields for r in records] == ROWS
