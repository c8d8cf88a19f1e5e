"""Value cells that used to parse into a wrong number (issue 14, finding 8): exponents, ranges, two
bounds in words, numbers past what a float holds. A cell is a right number, a range, or its text."""

from __future__ import annotations

import pytest

from loaders.values import ParsedValue, format_value, parse_raw_value
from service.domain import Comparator

ge, le, eq, lt, approx, qual = (
    Comparator.ge,
    Comparator.le,
    Comparator.eq,
    Comparator.lt,
    Comparator.approx,
    Comparator.qualitative,
)


@pytest.mark.parametrize(
    ("raw", "comparator", "value", "unit"),
    [
        ("≥1e3个", ge, 1000, "个"),
        ("2.5E-1", None, 0.25, None),
        ("１，０００人", None, 1000, "人"),  # full-width digits and comma
        ("1.5万", None, 1.5, "万"),
        ("-5%", None, -5, "%"),
        ("5‰", None, 5, "‰"),
        ("≤3‰", le, 3, "‰"),
        ("<=2天", le, 2, "天"),
        ("＜3次", lt, 3, "次"),
        ("90%以上", ge, 90, "%"),
        ("20人以下", le, 20, "人"),
        ("百分之九十五", None, 95, "%"),
        ("二十九个", None, 29, "个"),
    ],
)
def test_numbers(raw: str, comparator: Comparator | None, value: float, unit: str | None) -> None:
    assert parse_raw_value(raw) == ParsedValue(comparator, value, unit, True)


@pytest.mark.parametrize(
    ("raw", "low", "high", "unit"),
    [
        ("90%~95%", 90, 95, "%"),
        ("90~95%", 90, 95, "%"),
        ("90%-95%", 90, 95, "%"),
        ("18—54周岁", 18, 54, "周岁"),
        ("15至30分钟", 15, 30, "分钟"),
        ("15分钟到30分钟", 15, 30, "分钟"),
        ("不低于90%且不高于95%", 90, 95, "%"),
        ("≥90%,≤95%", 90, 95, "%"),
        ("三至五个", 3, 5, "个"),
    ],
)
def test_ranges_have_both_bounds(raw: str, low: float, high: float, unit: str) -> None:
    assert parse_raw_value(raw) == ParsedValue(None, low, unit, True, value_max=high)


@pytest.mark.parametrize(
    "raw",
    [
        "≥1e999",  # past what a float holds
        "9" * 400,
        "inf",
        "nan",
        "≥Infinity",
        "95%~90%",  # upper bound below the lower one
        "90%~95个",  # two units
        "高于90%且低于95%",  # open bounds: no closed range to store
        "不低于90%且不高于95个",
        "2021.1.1-12.31",  # a date span
        "90%或95%",
        "1,00",
    ],
)
def test_what_is_no_number_stays_text(raw: str) -> None:
    parsed = parse_raw_value(raw)
    assert parsed.is_numeric is False
    assert parsed.comparator is qual
    assert parsed.value_max is None


def test_a_range_renders_back() -> None:
    parsed = parse_raw_value("90%~95%")
    text = format_value(parsed.comparator, parsed.value, parsed.unit, value_max=parsed.value_max)
    assert text == "90~95%"
    assert parse_raw_value(text) == parsed


@pytest.mark.parametrize("raw", ["≥95%", "-0%", "≤3‰", "1.5万", "二十九个"])
def test_units_never_hold_a_second_number_or_a_comparator(raw: str) -> None:
    unit = parse_raw_value(raw).unit or ""
    assert not any(word in unit for word in ("且", "~", "不高于", "以下", "≤", "e"))
