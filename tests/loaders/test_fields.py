"""Tests for loaders.fields: header aliases and export column profiles."""

from __future__ import annotations

import pytest

from loaders.fields import (
    CANONICAL_FIELDS,
    CHINESE_EXPORT_COLUMNS,
    HEADER_ALIASES,
    PLATFORM_EXPORT_COLUMNS,
    canonical_field,
    resolve_headers,
)


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("指标名称", "name"),
        ("三级指标", "name"),
        ("指标", "name"),
        ("一级指标", "level1"),
        ("二级指标", "level2"),
        ("指标值", "raw_value"),
        ("目标值", "raw_value"),
        ("标准值", "raw_value"),
        ("指标值(年度)", "raw_value"),
        ("指标值（年度）", "raw_value"),
        ("计量单位", "unit"),
        ("单位", "unit"),
        ("计量单位(个)", "unit"),
        ("指标性质", "comparator"),
        ("符号", "comparator"),
        ("运算符号", "comparator"),
        ("取值依据", "value_basis"),
        ("指标值确定依据", "value_basis"),
        ("目标值制订说明", "value_basis"),
        ("数据来源", "data_source"),
        ("评分标准", "scoring_rule"),
        ("评(扣)分标准", "scoring_rule"),
        ("评（扣）分标准", "scoring_rule"),
        ("行业领域", "sector"),
        ("所属行业", "sector"),
        ("政策依据", "basis"),
        ("法律依据", "basis"),
        ("指标解释", "definition"),
        ("指标说明", "definition"),
        ("指标定义", "definition"),
        ("计算公式", "formula"),
        ("指标类型", "kind"),
        ("主管部门", "department"),
        ("关键词", "keywords"),
        ("指标方向", "direction"),
        ("是否核心", "is_core"),
        ("★", "is_core"),
        ("权重", "weight"),
        ("分值", "weight"),
        ("备注", "notes"),
        ("来源", "source"),
        ("指标编码", "code"),
        ("状态", "status"),
        ("采集频率", "frequency"),
        ("预算类型", "budget_types"),
        ("资金类型", "budget_types"),
        ("条款", "basis_clause"),
        ("部门职责", "duties"),
        ("战略目标", "strategic_goals"),
        ("*指标名称", "name"),
        (" 指标名称： ", "name"),
        # platform column codes, any case
        ("KPI_LV1", "level1"),
        ("kpi_lv2", "level2"),
        ("KPI_LV3", "name"),
        ("LV1_PERF_IND_NAME", "level1"),
        ("LV2_PERF_IND_NAME", "level2"),
        ("LV3_PERF_IND_NAME", "name"),
        ("LV3_PERF_IND_CODE", "code"),
        ("KPI_CONTENT", "definition"),
        ("KPI_EVALSTD", "scoring_rule"),
        ("KPI_VAL", "raw_value"),
        ("IndexVal", "raw_value"),
        ("TARGETVALUE", "raw_value"),
        ("COMPUTESIGN", "comparator"),
        ("METERUNIT", "unit"),
        ("YEARFLAG", "horizon"),
        ("KPIVALSOURCE", "value_basis"),
        ("INDEXSTANDARDS", "value_basis"),
        ("SCORE", "weight"),
        ("FRAMEWEIGHT", "weight"),
        ("ISFIXED", "is_core"),
        ("DEPT_CODE", "department"),
        # canonical names map to themselves
        *((name, name) for name in CANONICAL_FIELDS),
        ("NAME", "name"),
        ("不存在的列", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_field(header: object, canonical: str | None) -> None:
    assert canonical_field(header) == canonical


def test_aliases_point_at_canonical_fields() -> None:
    assert set(HEADER_ALIASES.values()) == set(CANONICAL_FIELDS)


@pytest.mark.parametrize("profile", [CHINESE_EXPORT_COLUMNS, PLATFORM_EXPORT_COLUMNS])
def test_export_profiles_resolve_back(profile: dict[str, str]) -> None:
    assert set(profile) == set(CANONICAL_FIELDS)
    assert len(set(profile.values())) == len(profile), "two fields share an export header"
    for canonical, header in profile.items():
        assert canonical_field(header) == canonical


def test_platform_codes() -> None:
    expected = {
        "level1": "KPI_LV1",
        "level2": "KPI_LV2",
        "name": "KPI_LV3",
        "code": "LV3_PERF_IND_CODE",
        "definition": "KPI_CONTENT",
        "scoring_rule": "KPI_EVALSTD",
        "raw_value": "KPI_VAL",
        "comparator": "COMPUTESIGN",
        "unit": "METERUNIT",
        "horizon": "YEARFLAG",
        "value_basis": "KPIVALSOURCE",
        "weight": "SCORE",
        "is_core": "ISFIXED",
        "department": "DEPT_CODE",
    }
    assert {k: PLATFORM_EXPORT_COLUMNS[k] for k in expected} == expected


def test_resolve_headers_maps_columns() -> None:
    header = resolve_headers(["序号", "一级指标", "二级指标", "指标名称", "指标值", None, "", None])
    assert header.columns == {1: "level1", 2: "level2", 3: "name", 4: "raw_value"}
    assert header.ignored == {0: "序号"}
    assert header.width == 5  # trailing empty header cells are dropped
    assert header.errors == []
    assert header.fields() == ["level1", "level2", "name", "raw_value"]


def test_resolve_headers_unnamed_middle_column() -> None:
    header = resolve_headers(["指标名称", None, "指标值"])
    assert header.unnamed == [1]
    assert header.errors == []


def test_resolve_headers_unknown_header_names_column() -> None:
    header = resolve_headers(["指标名称", "指标值", "神秘列"], row=3)
    assert len(header.errors) == 1
    error = header.errors[0]
    assert error.row == 3
    assert error.field == "神秘列"
    assert "神秘列" in error.message
    assert "第C列" in error.message
    assert "第3列" in error.message


def test_resolve_headers_duplicate_target() -> None:
    header = resolve_headers(["指标名称", "指标值", "目标值"])
    assert len(header.errors) == 1
    error = header.errors[0]
    assert error.field == "raw_value"
    assert "第B列" in error.message
    assert "第C列" in error.message
    assert "目标值" in error.message
    assert header.columns == {0: "name", 1: "raw_value"}
