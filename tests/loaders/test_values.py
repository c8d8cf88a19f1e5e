"""Tests for loaders.values: real value cells → comparator/value/unit."""

from __future__ import annotations

import pytest

from loaders.values import ParsedValue, format_value, parse_comparator, parse_raw_value
from service.domain import Comparator

ge, le, eq, gt, lt = Comparator.ge, Comparator.le, Comparator.eq, Comparator.gt, Comparator.lt
approx, qual = Comparator.approx, Comparator.qualitative


@pytest.mark.parametrize(
    ("raw", "comparator", "value", "unit"),
    [
        # symbols, with and without spaces, ASCII and full-width
        ("≥95%", ge, 95, "%"),
        (">=28次", ge, 28, "次"),
        ("≥ 90 %", ge, 90, "%"),
        ("= 100 %", eq, 100, "%"),
        ("=100%", eq, 100, "%"),
        ("≤5%", le, 5, "%"),
        ("≤10次", le, 10, "次"),
        ("≥１００％", ge, 100, "%"),
        ("＞＝２８次", ge, 28, "次"),
        ("≈ 3", approx, 3, None),
        ("≤0%", le, 0, "%"),
        # no comparator
        ("100%", None, 100, "%"),
        ("100.00%", None, 100.0, "%"),
        ("2089人", None, 2089, "人"),
        ("1,000人", None, 1000, "人"),
        ("0", None, 0, None),
        # Chinese comparator words, before and after the number
        ("不低于90%", ge, 90, "%"),
        ("不少于3个", ge, 3, "个"),
        ("达到95%", ge, 95, "%"),
        ("95%以上", ge, 95, "%"),
        ("90%及以上", ge, 90, "%"),
        ("95%以上(含)", ge, 95, "%"),
        ("不高于5%", le, 5, "%"),
        ("不超过10次", le, 10, "次"),
        ("控制在5%以内", le, 5, "%"),
        ("5%以下", le, 5, "%"),
        ("100公里以内", le, 100, "公里"),
        ("30日内", le, 30, "日"),
        ("低于2.2%", lt, 2.2, "%"),
        ("高于95%", gt, 95, "%"),
        ("60%左右", approx, 60, "%"),
        # deviation and the old "-0%" convention
        ("±3%以内", le, 3, "%"),
        ("-0%", le, 0, "%"),
        # units
        ("5人/10万人", None, 5, "人/10万人"),
        ("3.51万t", None, 3.51, "万t"),
        ("1000 m³/d", None, 1000, "m³/d"),
        ("= 6 万元", eq, 6, "万元"),
        ("290kg/人", None, 290, "kg/人"),
        ("0.05亩", None, 0.05, "亩"),
        ("1.2万", None, 1.2, "万"),  # magnitude stays in the unit (documented)
        # Chinese numerals
        ("二十九个", None, 29, "个"),
        ("三个", None, 3, "个"),
        ("不少于三个", ge, 3, "个"),
        ("三万人", None, 3, "万人"),
        ("百分之九十", None, 90, "%"),
    ],
)
def test_numeric_values(raw: str, comparator: Comparator | None, value: float, unit: str | None) -> None:
    parsed = parse_raw_value(raw)
    assert parsed == ParsedValue(comparator, value, unit, True)
    assert isinstance(parsed.value, float)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("及时", "及时"),
        ("是", "是"),
        ("否", "否"),
        ("规范", "规范"),
        ("合规", "合规"),
        ("一级A", "一级A"),
        ("获得目的国(地区)受众欢迎", "获得目的国(地区)受众欢迎"),
        ("获得目的国（地区）受众欢迎", "获得目的国(地区)受众欢迎"),
        ("定性 优良中低差 ", "优良中低差"),
        ("定性:优", "优"),
        ("零事故", "零事故"),
        ("一般", "一般"),
        ("②", "②"),
        # deadlines are qualitative with the full text (documented decision)
        ("6月30日前", "6月30日前"),
        ("年底前", "年底前"),
        ("2025年年底前", "2025年年底前"),
        ("2023年12月前", "2023年12月前"),
        ("12月底前", "12月底前"),
        # date spans are no ranges (ranges with bounds: tests/loaders/test_value_bounds.py)
        ("2021.1.1-12.31", "2021.1.1-12.31"),
        ("提前15至30分钟", "提前15至30分钟"),
        ("达到国家标准", "达到国家标准"),
    ],
)
def test_qualitative_values(raw: str, text: str) -> None:
    assert parse_raw_value(raw) == ParsedValue(qual, text, None, False)


def test_qualitative_marker_alone() -> None:
    assert parse_raw_value("定性") == ParsedValue(qual, None, None, False)


@pytest.mark.parametrize("raw", [None, "", "   ", "—", "-", "/", "N/A"])
def test_empty_values(raw: str | None) -> None:
    assert parse_raw_value(raw) == ParsedValue(None, None, None, False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ge", ge),
        ("GE", ge),
        ("≥", ge),
        (">=", ge),
        ("≧", ge),
        ("不低于", ge),
        ("大于等于", ge),
        ("≤", le),
        ("不超过", le),
        ("=", eq),
        ("等于", eq),
        (">", gt),
        ("<", lt),
        ("≈", approx),
        ("约等于", approx),
        ("定性", qual),
        ("qualitative", qual),
        ("＞＝", ge),
        (" ≥ ", ge),
        (None, None),
        ("", None),
        (Comparator.le, le),
    ],
)
def test_parse_comparator(raw: str | Comparator | None, expected: Comparator | None) -> None:
    assert parse_comparator(raw) is expected


@pytest.mark.parametrize("raw", ["大概", "??", "正向"])
def test_parse_comparator_unknown(raw: str) -> None:
    with pytest.raises(ValueError, match="无法识别") as info:
        parse_comparator(raw)
    assert "unknown comparator" in str(info.value)


@pytest.mark.parametrize(
    ("comparator", "value", "unit", "expected"),
    [
        (ge, 95.0, "%", "≥95%"),
        ("ge", 95, "%", "≥95%"),
        ("≤", 0.0, "%", "≤0%"),
        (None, 2089.0, "人", "2089人"),
        (eq, 6, "万元", "=6万元"),
        (approx, 3.0, None, "≈3"),
        (None, 3.51, "万t", "3.51万t"),
        (qual, "及时", None, "及时"),
        (qual, None, None, "定性"),
        (None, None, None, ""),
        (lt, 2.2, "%", "<2.2%"),
    ],
)
def test_format_value(comparator: Comparator | str | None, value: float | str | None, unit: str | None, expected: str) -> None:
    assert format_value(comparator, value, unit) == expected


@pytest.mark.parametrize(
    "raw", ["≥95%", "-0%", "≥ 90 %", "二十九个", "5人/10万人", "及时", "6月30日前", "不少于3个", "60%左右", "1.2万"]
)
def test_format_parse_round_trip(raw: str) -> None:
    parsed = parse_raw_value(raw)
    assert parse_raw_value(format_value(parsed.comparator, parsed.value, parsed.unit)) == parsed


def test_never_raises_on_odd_input() -> None:
    for raw in ["≥", "≥≥", "%", "以上", "内", "十百千", "点", "万万", "1e10", "١٢٣", "\x00", "=SUM(A1)", "9" * 400]:
        parsed = parse_raw_value(raw)
        assert isinstance(parsed, ParsedValue)
