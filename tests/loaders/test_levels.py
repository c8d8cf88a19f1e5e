"""Tests for loaders.levels: real level labels → CATEGORY_TREE."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from loaders.levels import LevelMapping, label_stem, map_levels
from service.domain import CATEGORY_TREE, UNCLASSIFIED, Framework, Kind

SEED = Path(__file__).resolve().parents[2] / "loaders" / "seed" / "seed_indicators.jsonl"

T, E, L, D, U = Framework.target, Framework.evaluation, Framework.legacy, Framework.department, Framework.unclassified


@pytest.mark.parametrize(
    ("level1", "level2", "framework", "out1", "out2"),
    [
        # 产出 variants and their level 2
        ("产出指标", "数量指标", T, "产出指标", "数量指标"),
        ("产出目标", "数量目标", T, "产出指标", "数量指标"),
        ("项目产出", "产出数量", T, "产出指标", "数量指标"),
        ("预期产出指标", "产出数量指标", T, "产出指标", "数量指标"),
        ("预期产出", "数量", T, "产出指标", "数量指标"),
        ("产出", "产出质量", T, "产出指标", "质量指标"),
        ("产出指标", "质量目标", T, "产出指标", "质量指标"),
        ("项目产出", "产出时效", T, "产出指标", "时效指标"),
        ("产出指标(推断)", None, T, "产出指标", None),
        ("产出指标（推断）", "", T, "产出指标", None),
        ("一、产出指标", "1.1数量指标(或建筑规模指标)", T, "产出指标", "数量指标"),
        ("产出指标", "数量指标(或建筑规模指标)", T, "产出指标", "数量指标"),
        # 成本 under 产出 moves to 成本指标
        ("产出指标", "成本指标", T, "成本指标", "经济成本指标"),
        ("项目产出", "产出成本", T, "成本指标", "经济成本指标"),
        ("产出目标", "成本目标", T, "成本指标", "经济成本指标"),
        # 成本指标 itself
        ("成本指标", "经济成本指标", T, "成本指标", "经济成本指标"),
        ("成本", "社会成本", T, "成本指标", "社会成本指标"),
        ("成本指标", "生态环境成本指标", T, "成本指标", "生态环境成本指标"),
        ("成本指标", None, T, "成本指标", None),
        # 效益/效果 variants
        ("效益指标", "经济效益指标", T, "效益指标", "经济效益指标"),
        ("效果指标", "经济效益", T, "效益指标", "经济效益指标"),
        ("项目效果", "社会效益", T, "效益指标", "社会效益指标"),
        ("预期效果", "环境效益", T, "效益指标", "生态效益指标"),
        ("效果目标", "生态效益", T, "效益指标", "生态效益指标"),
        ("效益", "可持续影响", T, "效益指标", "可持续影响指标"),
        ("效益指标", "效益指标", T, "效益指标", None),
        ("效益指标", None, T, "效益指标", None),
        # 满意度 under 效益 moves to 满意度指标
        ("项目效果", "服务对象满意度", T, "满意度指标", "服务对象满意度指标"),
        ("效果指标", "满意度指标", T, "满意度指标", "服务对象满意度指标"),
        ("效益指标", "学生满意度", T, "满意度指标", "服务对象满意度指标"),
        # 满意度指标
        ("满意度指标", None, T, "满意度指标", "服务对象满意度指标"),
        ("满意度", "满意度", T, "满意度指标", "服务对象满意度指标"),
        ("满意度指标", "服务对象满意度", T, "满意度指标", "服务对象满意度指标"),
        ("满意度指标", "群众满意度", T, "满意度指标", "服务对象满意度指标"),
        # evaluation framework
        ("决策", "项目立项", E, "决策", "项目立项"),
        ("决策", "绩效目标", E, "决策", "绩效目标"),
        ("过程", "预算管理", E, "过程", "资金管理"),
        ("过程指标", "财务管理", E, "过程", "资金管理"),
        ("管理目标", None, E, "过程", None),
        ("项目预算管理", "资金下达", E, "过程", "资金管理"),
        ("项目预算执行情况", "资金投入水平", E, "过程", "资金管理"),
        ("过程", "运行机制", E, "过程", "组织实施"),
        ("过程", "组织管理", E, "过程", "组织实施"),
        # legacy 投入
        ("投入", "资金落实", L, "投入", "资金落实"),
        ("投入目标", None, L, "投入", None),
        ("投入指标", "资金到位", L, "投入", "资金落实"),
        ("投入", "资金保障", L, "投入", "资金落实"),
        ("投入", "项目立项", L, "投入", "项目立项"),
        # umbrella labels resolved through level 2
        ("预算绩效", "预算管理", E, "过程", "资金管理"),
        ("预算绩效", "项目产出", T, "产出指标", None),
        ("预算绩效", "项目效果", T, "效益指标", None),
        ("项目年度绩效目标(定量指标)", "产出数量指标", T, "产出指标", "数量指标"),
        ("项目年度绩效目标(定量指标)", "制度指标", E, "过程", "组织实施"),
        ("项目年度绩效目标(定量指标)", "成本指标", T, "成本指标", "经济成本指标"),
        (None, "数量指标", T, "产出指标", "数量指标"),
        # department
        ("部门战略", "战略目标", D, "部门战略", "战略目标"),
        ("职能指标", None, D, "部门职责", None),
        ("共性指标", "预算执行", D, "共性", "预算执行"),
    ],
)
def test_map_levels(
    level1: str | None, level2: str | None, framework: Framework, out1: str, out2: str | None
) -> None:
    mapping = map_levels(level1, level2)
    assert (mapping.framework, mapping.level1, mapping.level2) == (framework, out1, out2)
    assert mapping.warning is None


@pytest.mark.parametrize(
    ("level1", "kind"),
    [
        ("职能指标", Kind.department_duty),
        ("部门职责", Kind.department_duty),
        ("部门战略", Kind.department_strategic),
        ("共性指标", Kind.common),
        ("个性指标", Kind.sector),
        ("产出指标", None),
    ],
)
def test_kind_hint(level1: str, kind: Kind | None) -> None:
    assert map_levels(level1, None).kind_hint is kind


@pytest.mark.parametrize(
    ("level1", "level2"),
    [("基础类指标", "路况水平"), ("预算绩效", "莫名其妙"), ("随便写的", None), ("项目年度绩效目标(定量指标)", "xyz")],
)
def test_unmappable_level1(level1: str, level2: str | None) -> None:
    mapping = map_levels(level1, level2)
    assert mapping == LevelMapping(U, UNCLASSIFIED, None, f"一级指标「{level1}」无法映射,已归入未归类", mapping.kind_hint)


def test_empty_levels() -> None:
    mapping = map_levels(None, None)
    assert (mapping.framework, mapping.level1, mapping.level2) == (U, UNCLASSIFIED, None)
    assert mapping.warning is not None


@pytest.mark.parametrize(
    ("level1", "level2", "out1"),
    [
        ("目标完成情况", "生产空间优化", "产出指标"),
        ("项目效果", "总分", "效益指标"),
        ("职能指标", "旅游行业监管", "部门职责"),
        ("产出指标", "奇怪的二级", "产出指标"),
    ],
)
def test_unmappable_level2_keeps_level1(level1: str, level2: str, out1: str) -> None:
    mapping = map_levels(level1, level2)
    assert mapping.level1 == out1
    assert mapping.level2 is None
    assert mapping.warning is not None
    assert f"「{level2}」" in mapping.warning


@pytest.mark.parametrize(
    ("label", "stem"),
    [("产出指标(推断)", "产出"), ("项目年度绩效目标(定量指标)", "项目年度绩效"), ("数量目标", "数量"), ("一、效益指标", "效益"), ("2019年度", "2019年度")],
)
def test_label_stem(label: str, stem: str) -> None:
    assert label_stem(label) == stem


def _in_tree(mapping: LevelMapping) -> bool:
    level2s = CATEGORY_TREE[mapping.framework].get(mapping.level1)
    return level2s is not None and (mapping.level2 is None or mapping.level2 in level2s)


def test_every_seed_row_maps_into_the_tree() -> None:
    rows = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 637
    warned: Counter[tuple[str, str]] = Counter()
    for row in rows:
        mapping = map_levels(row.get("level1"), row.get("level2"))
        assert _in_tree(mapping), (row["level1"], row["level2"], mapping)
        if mapping.warning:
            warned[(row["level1"], row["level2"])] += 1
    # Keep the warnings few and honest; these are the rows no rule should guess.
    assert dict(warned) == {
        ("基础类指标", "路况水平"): 6,
        ("基础类指标", "运行机制"): 5,
        ("基础类指标", "资金保障"): 3,
        ("基础类指标", "服务效益"): 3,
        ("目标完成情况", "生产空间优化"): 6,
        ("目标完成情况", "生活空间"): 1,
        ("项目效果", "5"): 3,
        ("项目效果", "总分"): 1,
        ("项目效果", "是否增加国际合作交流机会"): 1,
        ("职能指标", "旅游行业监管"): 5,
    }
    assert sum(warned.values()) == 34


def test_never_raises() -> None:
    for level1 in [None, "", "  ", "()", "指标", "★", "(推断)", "1.", "产出指标" * 50, "\x00"]:
        for level2 in [None, "", "指标", "()", "满意度", "5"]:
            assert _in_tree(map_levels(level1, level2))
