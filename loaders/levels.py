"""Map the 一级/二级指标 labels of real tables onto ``service.domain.CATEGORY_TREE``.

Real tables write the same level in many ways ("产出指标", "产出目标", "项目产出",
"产出指标(推断)", "数量目标", "产出数量指标" …), put 成本 under 产出 or 满意度
under 效益, and sometimes use an umbrella label ("预算绩效", "项目年度绩效目标")
whose second level tells what the row really is. The mapping is table-driven:

* labels are reduced to a *stem* (NFKC, annotations in brackets and leading
  enumerations removed, trailing 指标/目标 dropped) before lookup;
* ``_LEVEL1`` maps a level-1 stem to a *section* (a level-1 node of the tree plus
  the level-2 table valid under it), or to an umbrella section that resolves the
  row from its level 2 alone;
* a level-2 table entry may point to a node under another level 1 (成本 under
  产出 → 成本指标/经济成本指标; 满意度 under 效益 → 满意度指标).

Decisions: 产出 labels always map to the target framework (财预〔2021〕101号), even
in old evaluation tables, because their level 2 (产出数量/质量/时效/成本) maps
one-to-one onto it; 目标完成情况 is an 产出 section (what was delivered);
基础类指标 (a transport-ministry assessment grouping mixing funds, operation and
service outcomes) is left unclassified rather than guessed.

``map_levels`` never raises; what it could not map is reported in ``warning``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from loaders.text import normalize_text
from service.domain import CATEGORY_TREE, KIND_ALIASES, UNCLASSIFIED, Framework, Kind

__all__ = ["LevelMapping", "label_stem", "map_levels"]


@dataclass(frozen=True)
class LevelMapping:
    """Where a row's (level1, level2) lands in the category tree."""

    framework: Framework
    level1: str
    level2: str | None
    warning: str | None
    kind_hint: Kind | None


@dataclass(frozen=True)
class _Node:
    framework: Framework
    level1: str
    level2: str | None = None


@dataclass(frozen=True, eq=False)  # identity hash: sections are dict keys below
class _Section:
    """A level-1 label's meaning: its node (None for umbrella labels) and valid level-2 labels."""

    node: _Node | None
    level2: Mapping[str, _Node] = field(default_factory=dict)
    default: _Node | None = None  # used when level 2 is empty (defaults to ``node``)
    kind_hint: Kind | None = None
    # Umbrella-like sections may resolve an unknown level 2 through the global table.
    use_global: bool = False


_BRACKETS = re.compile(r"[(\[【<《{][^)\]】>》}]*[)\]】>》}]")
_ENUMERATION = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|(?:\d+\.)+\d*|\d+、)\s*")
_MARKS = re.compile(r"[\s★☆*※#:]")
_SUFFIXES = ("指标", "目标")


def label_stem(label: str | None) -> str:
    """Reduce a level label to the key used for matching ("产出指标(推断)" → "产出")."""
    if not label:
        return ""
    s = normalize_text(label)
    s = _BRACKETS.sub("", s)
    s = _ENUMERATION.sub("", s)
    s = _MARKS.sub("", s)
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if s.endswith(suffix) and len(s) > len(suffix):
                s, changed = s[: -len(suffix)], True
    return s


def _table(groups: Mapping[_Node, Iterable[str]]) -> dict[str, _Node]:
    """Build a stem → node table; an alias listed for two nodes is a bug, caught at import."""
    out: dict[str, _Node] = {}
    for node, aliases in groups.items():
        for alias in aliases:
            key = label_stem(alias)
            if key in out and out[key] != node:
                raise AssertionError(f"level alias {alias!r} maps to two nodes")
            out[key] = node
    return out


T, E, L, D = Framework.target, Framework.evaluation, Framework.legacy, Framework.department

OUTPUT = _Node(T, "产出指标")
COST = _Node(T, "成本指标")
EFFECT = _Node(T, "效益指标")
SATISFACTION = _Node(T, "满意度指标")
SATISFACTION_L2 = _Node(T, "满意度指标", "服务对象满意度指标")
ECONOMIC_COST = _Node(T, "成本指标", "经济成本指标")
SOCIAL_COST = _Node(T, "成本指标", "社会成本指标")
ECO_COST = _Node(T, "成本指标", "生态环境成本指标")

_COST_ALIASES: dict[_Node, list[str]] = {
    ECONOMIC_COST: ["经济成本", "成本", "产出成本", "项目成本", "经济成本指标"],
    SOCIAL_COST: ["社会成本"],
    ECO_COST: ["生态环境成本", "环境成本", "生态成本"],
}
_SATISFACTION_ALIASES: dict[_Node, list[str]] = {
    SATISFACTION_L2: ["服务对象满意度", "满意度", "社会公众或服务对象满意度", "群众满意度", "受益对象满意度"],
}
_OUTPUT_L2 = _table(
    {
        _Node(T, "产出指标", "数量指标"): ["数量", "产出数量", "数量指标", "数量目标", "产出数量指标"],
        _Node(T, "产出指标", "质量指标"): ["质量", "产出质量", "质量目标"],
        _Node(T, "产出指标", "时效指标"): ["时效", "产出时效", "时效目标", "时效性", "进度", "产出进度"],
        **_COST_ALIASES,
    }
)
_COST_L2 = _table(_COST_ALIASES)
_EFFECT_L2 = _table(
    {
        _Node(T, "效益指标", "经济效益指标"): ["经济效益", "经济效益指标"],
        _Node(T, "效益指标", "社会效益指标"): ["社会效益", "社会效益指标", "社会效果"],
        _Node(T, "效益指标", "生态效益指标"): ["生态效益", "环境效益", "生态环境效益", "生态效果"],
        _Node(T, "效益指标", "可持续影响指标"): ["可持续影响", "可持续发展", "可持续影响指标", "长效"],
        **_SATISFACTION_ALIASES,
    }
)
_SATISFACTION_TABLE = _table(_SATISFACTION_ALIASES)
_DECISION_L2 = _table(
    {
        _Node(E, "决策", "项目立项"): ["项目立项", "立项", "立项依据", "立项程序"],
        _Node(E, "决策", "绩效目标"): ["绩效目标", "目标设定", "绩效目标设定"],
        _Node(E, "决策", "资金投入"): ["资金投入", "预算编制", "资金分配"],
    }
)
_PROCESS_L2 = _table(
    {
        _Node(E, "过程", "资金管理"): [
            "资金管理", "预算管理", "财务管理", "资金使用", "资金下达", "资金拨付", "资金投入",
            "资金投入水平", "资金到位", "预算执行", "资金执行",
        ],
        _Node(E, "过程", "组织实施"): [
            "组织实施", "运行机制", "制度指标", "制度", "制度建设", "管理制度", "制度执行",
            "组织管理", "项目管理", "业务管理",
        ],
    }
)  # fmt: skip
_INPUT_L2 = _table(
    {
        _Node(L, "投入", "项目立项"): ["项目立项", "立项"],
        _Node(L, "投入", "资金落实"): ["资金落实", "资金投入", "资金保障", "资金到位", "资金到位情况", "资金"],
    }
)
_DUTY_L2 = _table({_Node(D, "部门职责", "履职效能"): ["履职效能", "履职", "履职效果", "职责履行"]})
_STRATEGY_L2 = _table({_Node(D, "部门战略", "战略目标"): ["战略目标", "战略", "规划目标"]})
_COMMON_L2 = _table(
    {
        _Node(D, "共性", "预算执行"): ["预算执行", "预算执行率"],
        _Node(D, "共性", "预算管理"): ["预算管理", "财务管理"],
        _Node(D, "共性", "资产管理"): ["资产管理"],
    }
)


def _merge_first_wins(*tables: Mapping[str, _Node]) -> dict[str, _Node]:
    out: dict[str, _Node] = {}
    for table in tables:
        for key, node in table.items():
            out.setdefault(key, node)
    return out


# Umbrella labels ("预算绩效", "项目年度绩效目标") resolve through level 2 alone; order decides
# ambiguous stems: target framework first, then 过程 (预算管理/财务管理), then 决策.
_GLOBAL_L2 = _merge_first_wins(_OUTPUT_L2, _COST_L2, _EFFECT_L2, _PROCESS_L2, _DECISION_L2)

_S_OUTPUT = _Section(OUTPUT, _OUTPUT_L2)
_S_EFFECT = _Section(EFFECT, _EFFECT_L2)
_S_SATISFACTION = _Section(SATISFACTION, _SATISFACTION_TABLE, default=SATISFACTION_L2)
_S_COST = _Section(COST, _COST_L2)
_S_DECISION = _Section(_Node(E, "决策"), _DECISION_L2)
_S_PROCESS = _Section(_Node(E, "过程"), _PROCESS_L2)
_S_INPUT = _Section(_Node(L, "投入"), _INPUT_L2)
_S_DUTY = _Section(_Node(D, "部门职责"), _DUTY_L2, kind_hint=KIND_ALIASES["部门职责"])
_S_STRATEGY = _Section(_Node(D, "部门战略"), _STRATEGY_L2, kind_hint=KIND_ALIASES["部门战略"])
_S_COMMON = _Section(_Node(D, "共性"), _COMMON_L2, kind_hint=KIND_ALIASES["共性"], use_global=True)
_S_UMBRELLA = _Section(None, use_global=True)
_S_SECTOR_UMBRELLA = _Section(None, use_global=True, kind_hint=KIND_ALIASES["分行业分领域"])

_SECTION_ALIASES: dict[_Section, list[str]] = {
    _S_OUTPUT: ["产出", "产出指标", "产出目标", "项目产出", "预期产出", "预期产出指标", "产出情况", "目标完成情况"],
    _S_EFFECT: ["效益", "效果", "效益指标", "效果指标", "效果目标", "项目效果", "项目效益", "预期效果", "预期效益"],
    _S_SATISFACTION: ["满意度", "满意度指标", "服务对象满意度", "满意度目标"],
    _S_COST: ["成本", "成本指标", "成本目标", "项目成本"],
    _S_DECISION: ["决策", "项目决策"],
    _S_PROCESS: ["过程", "过程指标", "项目过程", "过程管理", "管理", "管理目标", "项目预算管理", "项目预算执行情况", "预算执行情况"],
    _S_INPUT: ["投入", "投入目标", "投入指标", "项目投入"],
    _S_DUTY: ["部门职责", "职能指标", "职能", "职责", "部门职能", "职责指标", "部门职责指标"],
    _S_STRATEGY: ["部门战略", "战略指标", "部门战略指标"],
    _S_COMMON: ["共性", "共性指标"],
    _S_UMBRELLA: ["预算绩效", "项目年度绩效目标", "年度绩效目标", "绩效目标", "项目绩效", "绩效指标", "整体绩效"],
    _S_SECTOR_UMBRELLA: ["个性指标", "行业指标", "分行业分领域指标", "分行业分领域"],
}


def _level1_table() -> dict[str, _Section]:
    out: dict[str, _Section] = {}
    for section, aliases in _SECTION_ALIASES.items():
        for alias in aliases:
            key = label_stem(alias)
            if key in out and out[key] is not section:
                raise AssertionError(f"level-1 alias {alias!r} maps to two sections")
            out[key] = section
    return out


_LEVEL1 = _level1_table()


def _unclassified(label: str | None, kind_hint: Kind | None) -> LevelMapping:
    message = f"一级指标「{label}」无法映射,已归入未归类" if label else "一级指标为空,已归入未归类"
    return LevelMapping(Framework.unclassified, UNCLASSIFIED, None, message, kind_hint)


def _result(node: _Node, kind_hint: Kind | None, warning: str | None = None) -> LevelMapping:
    return LevelMapping(node.framework, node.level1, node.level2, warning, kind_hint)


def _section_of(stem: str) -> _Section | None:
    return _LEVEL1.get(stem)


def _resolve_level2(section: _Section, stem2: str) -> _Node | None:
    """Find the node a level-2 stem names under ``section``; None when unknown."""
    if stem2 in section.level2:
        return section.level2[stem2]
    named = _section_of(stem2)
    if named is not None and named is section and section.node is not None:
        return section.node  # "效益指标 / 效益指标": level 2 repeats level 1
    # Every 满意度 variant ("学生满意度", "受益群众满意度") is the satisfaction node.
    if stem2.endswith("满意度") and section.node is not None and section.node.framework is Framework.target:
        return SATISFACTION_L2
    if section.use_global:
        if stem2 in _GLOBAL_L2:
            return _GLOBAL_L2[stem2]
        if named is not None and named.node is not None:
            return named.default or named.node
        if stem2.endswith("满意度"):
            return SATISFACTION_L2
    return None


def map_levels(level1: str | None, level2: str | None) -> LevelMapping:
    """Map a row's 一级/二级指标 labels onto the category tree.

    Returned labels are always labels of ``CATEGORY_TREE``. An empty level 2
    attaches the row to its level-1 node (``level2`` None, no warning). A level 1
    no rule knows goes to framework ``unclassified`` / "未归类" with a warning; an
    unknown level 2 under a known level 1 keeps the level 1, sets ``level2`` None
    and names the original label in the warning. Never raises.
    """
    label1 = normalize_text(level1) if level1 else ""
    label2 = normalize_text(level2) if level2 else ""
    stem1, stem2 = label_stem(label1), label_stem(label2)

    section = _section_of(stem1) if stem1 else _S_UMBRELLA
    kind_hint = KIND_ALIASES.get(label1) or KIND_ALIASES.get(stem1)
    if section is None:
        return _unclassified(label1, kind_hint)
    kind_hint = kind_hint or section.kind_hint

    if not stem2:
        node = section.default or section.node
        if node is None:
            return _unclassified(label1, kind_hint)
        return _result(node, kind_hint)

    node = _resolve_level2(section, stem2)
    if node is not None:
        return _result(node, kind_hint)
    if section.node is None:
        return _unclassified(label1, kind_hint)
    warning = f"二级指标「{label2}」无法映射,已挂在一级指标「{section.node.level1}」下"
    return _result(section.node, kind_hint, warning)


def _check_tree() -> None:
    """Every node the tables can produce must exist in CATEGORY_TREE (fails at import otherwise)."""
    nodes: set[_Node] = set()
    for section in _SECTION_ALIASES:
        nodes.update(section.level2.values())
        nodes.update(n for n in (section.node, section.default) if n is not None)
    nodes.update(_GLOBAL_L2.values())
    for node in nodes:
        level2s = CATEGORY_TREE[node.framework].get(node.level1)
        if level2s is None or (node.level2 is not None and node.level2 not in level2s):
            raise AssertionError(f"{node} is not in CATEGORY_TREE")


_check_tree()
