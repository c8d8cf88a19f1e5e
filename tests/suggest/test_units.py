"""Units: display names, families, conversion, and what an indicator measures."""

from __future__ import annotations

import pytest

from service.suggest.units import convert, infer_family, parse_unit, unit_fit


@pytest.mark.parametrize(
    ("raw", "display", "family"),
    [
        ("千米", "公里", "length"),
        ("km", "公里", "length"),
        ("公里", "公里", "length"),
        ("万元", "万元", "money"),
        ("百分比", "%", "percent"),
        ("万人", "万人", "count:人"),
        ("名", "人", "count:人"),
        ("元/亩", "元/亩", "money/area"),
        ("公顷", "公顷", "area"),
    ],
)
def test_parse_unit(raw: str, display: str, family: str) -> None:
    unit = parse_unit(raw)
    assert unit is not None
    assert (unit.display, unit.family) == (display, family)


def test_unknown_unit() -> None:
    assert parse_unit("等级") is None
    assert parse_unit("") is None


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (169, "千米", "公里", 169),
        (2, "公里", "米", 2000),
        (10, "万元", "元", 100000),
        (1.5, "亿元", "万元", 15000),
        (3, "万人", "人", 30000),
        (15, "亩", "公顷", 1),
        (2, "吨", "公斤", 2000),
        (48, "小时", "天", 2),
    ],
)
def test_convert(value: float, source: str, target: str, expected: float) -> None:
    a, b = parse_unit(source), parse_unit(target)
    assert a is not None
    assert b is not None
    assert convert(value, a, b) == pytest.approx(expected)


def test_no_conversion_across_families() -> None:
    a, b = parse_unit("公里"), parse_unit("万元")
    assert a is not None
    assert b is not None
    assert convert(1, a, b) is None


@pytest.mark.parametrize(
    ("name", "unit", "family"),
    [
        ("新改建农村公路里程", None, "length"),
        ("群众满意度", None, "percent"),
        ("项目总成本", None, "money"),
        ("签约康复人数", None, "count:人"),
        ("机柜数量", "台", "count:台"),
        ("绿化美化公路", None, None),
    ],
)
def test_infer_family(name: str, unit: str | None, family: str | None) -> None:
    assert infer_family(name, unit) == family


def test_unit_fit() -> None:
    assert unit_fit(parse_unit("千米"), "length") == 1.0
    assert unit_fit(parse_unit("个"), "count:台") == 0.5
    assert unit_fit(parse_unit("%"), "length") == 0.0
    assert unit_fit(None, "length") == 0.0
