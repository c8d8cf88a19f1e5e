"""Tests for loaders.text."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from loaders.text import format_number, normalize_optional, normalize_text
from service.domain import Comparator


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１００％", "100%"),
        ("（推断）", "(推断)"),
        ("不低于，９０", "不低于,90"),
        ("ＡＢＣ　ｄｅｆ", "ABC def"),
        ("  a \t b\n\nc  ", "a b c"),
        ("a\x00b", "ab"),
        ("零\u200b宽\u200c字\u200d符\ufeff", "零宽字符"),
        ("bi\u202edi\u200f", "bidi"),
        ("soft\u00adhyphen", "softhyphen"),
        ("ctl\x07\x1b", "ctl"),
        ("line\u2028break", "line break"),
        ("1000 m³/d", "1000 m³/d"),
        ("5㎡", "5m²"),
        ("①②⑳⑴", "①②⑳⑴"),
        ("①ＡＢ", "①AB"),
        ("≥95%", "≥95%"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("  \u3000 ", None),
        (" 指标 ", "指标"),
        (12, "12"),
        (12.0, "12"),
        (0.05, "0.05"),
        (-3.5, "-3.5"),
        (1e20, "100000000000000000000"),
        (float("nan"), None),
        (Decimal("2.50"), "2.5"),
        (True, "true"),
        (False, "false"),
        (date(2025, 6, 30), "2025-06-30"),
        (datetime(2025, 6, 30), "2025-06-30"),
        (datetime(2025, 6, 30, 8, 15), "2025-06-30T08:15:00"),
        (Comparator.ge, "ge"),
    ],
)
def test_normalize_optional(raw: object, expected: str | None) -> None:
    assert normalize_optional(raw) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(100, "100"), (100.0, "100"), (3.51, "3.51"), (1e-7, "0.0000001"), (-0.0, "0"), (Decimal("1.10"), "1.1")],
)
def test_format_number(value: int | float | Decimal, expected: str) -> None:
    assert format_number(value) == expected
