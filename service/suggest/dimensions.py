"""The dimensions a target table must cover, and which dimension an indicator belongs to.

A project's table (财预〔2021〕101号) needs 产出 (数量, 质量, 时效), 成本, 效益 and 满意度 rows. An indicator's
dimension comes from its place in the category tree (the loaders already map 项目产出/产出数量 and the
older labels onto it); where the tree says only 产出 or nothing usable, the name decides (…及时率 is 时效,
…合格率 is 质量, …满意度 is 满意度).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CORE_DIMENSIONS", "Dimension", "dimension_of"]


class Dimension(IntEnum):
    other = 0
    quantity = 1
    quality = 2
    timeliness = 3
    cost = 4
    benefit = 5
    satisfaction = 6

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Dimension.other: "其他",
    Dimension.quantity: "产出-数量",
    Dimension.quality: "产出-质量",
    Dimension.timeliness: "产出-时效",
    Dimension.cost: "成本",
    Dimension.benefit: "效益",
    Dimension.satisfaction: "满意度",
}
CORE_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension.quantity,
    Dimension.quality,
    Dimension.timeliness,
    Dimension.cost,
    Dimension.benefit,
    Dimension.satisfaction,
)

_SATISFACTION_WORDS = ("满意", "获得感", "认可度")
_TIMELY_WORDS = (
    "及时",
    "按期",
    "按时",
    "时效",
    "时间",
    "时限",
    "期限",
    "进度",
    "当年",
    "周期",
    "如期",
    "天数",
)
_QUALITY_WORDS = (
    "合格",
    "达标",
    "质量",
    "准确",
    "完好",
    "验收",
    "规范",
    "合规",
    "优良",
    "正常运行",
    "成活率",
)
_COST_WORDS = ("成本", "费用", "单价", "造价", "补助标准", "补贴标准", "控制数")
_BENEFIT_WORDS = ("效益", "效果", "影响", "带动", "增收", "收入", "提升", "改善", "促进", "可持续")


def _from_label(label: str) -> Dimension | None:
    if not label:
        return None
    if "满意" in label:
        return Dimension.satisfaction
    if "成本" in label:
        return Dimension.cost
    if "数量" in label or "规模" in label:
        return Dimension.quantity
    if "质量" in label:
        return Dimension.quality
    if "时效" in label or "进度" in label:
        return Dimension.timeliness
    if "效益" in label or "效果" in label or "可持续" in label or "影响" in label:
        return Dimension.benefit
    return None


def _from_name(name: str) -> Dimension:
    if any(w in name for w in _SATISFACTION_WORDS):
        return Dimension.satisfaction
    if any(w in name for w in _COST_WORDS):
        return Dimension.cost
    if any(w in name for w in _TIMELY_WORDS):
        return Dimension.timeliness
    if any(w in name for w in _QUALITY_WORDS):
        return Dimension.quality
    return Dimension.quantity


def dimension_of(level1: str, level2: str | None, name: str, *, raw_level2: str | None = None) -> Dimension:
    """Dimension of an indicator from its mapped levels, its level 2 as written and its name."""
    if "满意" in name or "满意" in level1:
        return Dimension.satisfaction
    for label in (level2 or "", raw_level2 or ""):
        found = _from_label(label)
        if found is not None:
            return found
    if level1.startswith("成本"):
        return Dimension.cost
    if level1.startswith(("效益", "效果")):
        return Dimension.benefit
    if level1.startswith("产出"):
        return _from_name(name)
    if level1 in ("部门战略", "部门职责"):
        return Dimension.benefit if any(w in name for w in _BENEFIT_WORDS) else _from_name(name)
    if level1 in ("未归类", ""):
        dim = _from_name(name)
        if dim is Dimension.quantity and any(w in name for w in _BENEFIT_WORDS):
            return Dimension.benefit
        return dim
    return Dimension.other
