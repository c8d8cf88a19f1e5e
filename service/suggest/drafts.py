"""Draft indicators for what the library lacks.

A quantity of the text that no suggested indicator took ("新建供水管网120公里") becomes a draft: its name
is the phrase it measures plus what the unit measures (长度 for 公里, 面积 for 亩, 金额 for 万元, 人数 for 人
…), its levels come from the dimension classifier (``dimensions``), its unit, comparator and value from
the quantity. A core dimension the coverage check finds missing, with no catalogue row of the target's
field to fill it, gets a draft too, named after the target's subject (…工程, …项目, …服务) and the
dimension's usual measure (验收合格率, 按时完成率, 服务对象满意度 …: the words of 财预〔2021〕101号's tables).

Drafts are marked as drafts, say why, and carry the create item ``POST /v1/proposals`` takes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from service.domain import Comparator
from service.suggest.dimensions import Dimension, dimension_of
from service.suggest.extract import Quantity
from service.suggest.units import PERCENT, Unit

__all__ = ["Draft", "dimension_draft", "quantity_draft"]

LEVELS: dict[Dimension, tuple[str, str]] = {
    Dimension.quantity: ("产出指标", "数量指标"),
    Dimension.quality: ("产出指标", "质量指标"),
    Dimension.timeliness: ("产出指标", "时效指标"),
    Dimension.cost: ("成本指标", "经济成本指标"),
    Dimension.benefit: ("效益指标", "社会效益指标"),
    Dimension.satisfaction: ("满意度指标", "服务对象满意度指标"),
    Dimension.other: ("产出指标", "数量指标"),
}
# What a unit family measures, appended when the phrase does not already end with it.
_MEASURE = {
    "length": ("长度", ("长度", "里程", "长", "距离")),
    "area": ("面积", ("面积", "规模")),
    "volume": ("容量", ("容量", "体积", "库容", "量")),
    "money": ("金额", ("金额", "资金", "投资", "经费", "费用", "成本", "收入", "额", "费")),
    "mass": ("重量", ("重量", "产量", "量")),
    "duration": ("时长", ("时长", "时间", "周期", "时限", "期限", "天数")),
}
AGE_UNITS = ("岁", "周岁")
_RATE_ENDINGS = ("率", "度", "比例", "占比", "比重", "覆盖面", "指数")
_COUNT_ENDINGS = ("数", "数量", "量", "人次", "次数", "户数", "人数", "个数")
# Words that open a clause but name nothing (time, scope, doing).
_LEADING = re.compile(
    r"^(?:年内|当年|全年|本年度|年度|全县|全市|全省|全区|全镇|全乡|累计|共计|合计|其中|力争|确保|计划|预计|使|让|将|把|对"
    r"|通过|实现|完成|推进|推动|开展|实施|组织|加强|做好|加快|深入|持续|积极|进一步)+"
)
# Function words around the phrase (按, 各按 …), ordinal time (第一年), a leading place (在某某村).
_LEAD_FUNCTION = re.compile(r"^(?:在|按照|按|对|为|向|于|由|以|将|给)+")
_ORDINAL_TIME = re.compile(r"第[一二三四五六七八九十\d]+(?:年|季度|批|期|次)")
_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,12}?(?:省|市|县|区|镇|乡|村|街道|社区)(?=[\u4e00-\u9fff]{2,})")
_TRAIL_FUNCTION = re.compile(r"(?:均各按|各按|均按|按照|按|各|均|约|达|的|共|为)+$")
_SUBJECT = re.compile(r"([\u4e00-\u9fff]{2,10}?(?:工程|项目|服务|活动|培训|建设|改造|工作|行动|计划|补助|补贴))")
_NOT_CJK = re.compile(r"[^\u4e00-\u9fff]")


@dataclass(frozen=True)
class Draft:
    """A draft indicator (not in the catalogue), with the quantity it comes from when there is one."""

    name: str
    dimension: Dimension
    unit: str | None
    comparator: Comparator
    value: float | str | None
    reason: str
    value_max: float | None = None
    span: tuple[int, int] | None = None
    source: str | None = None  # the text of the quantity

    @property
    def levels(self) -> tuple[str, str]:
        return LEVELS[self.dimension]


def _phrase(q: Quantity) -> str:
    """The words the quantity measures, without time, place and function words around them."""
    phrase = _NOT_CJK.sub("", q.context)
    phrase = _ORDINAL_TIME.sub("", phrase)
    phrase = _LEADING.sub("", _LEAD_FUNCTION.sub("", phrase))
    phrase = phrase.removeprefix("年")  # what follows a year (2025年为…) is not its name
    phrase = _LEADING.sub("", _LEAD_FUNCTION.sub("", phrase))
    if q.context.lstrip().startswith("在"):
        phrase = phrase.lstrip("在")
        while (stripped := _PLACE.sub("", phrase, count=1)) != phrase:
            phrase = stripped
    phrase = _TRAIL_FUNCTION.sub("", phrase)
    return _LEADING.sub("", _LEAD_FUNCTION.sub("", phrase))


def _name_for(q: Quantity, unit: Unit | None) -> str | None:
    phrase = _phrase(q)
    obj = _NOT_CJK.sub("", q.object)
    family = unit.family if unit is not None else None
    if family in (PERCENT, "percent_point"):
        if not phrase:
            return None
        if q.change == "increase" and not phrase.endswith(_RATE_ENDINGS):
            return phrase + "增长率"
        if q.change == "decrease" and not phrase.endswith(_RATE_ENDINGS):
            return phrase + "下降率"
        return phrase if phrase.endswith(_RATE_ENDINGS) else phrase + "比例"
    if unit is not None and unit.is_count:
        counter = unit.display
        base = phrase + obj if obj and not phrase.endswith(obj) else phrase or obj
        if not base:
            return None
        if base.endswith(_COUNT_ENDINGS):
            return base
        counter = counter.removeprefix("万")
        if counter in ("人", "人次", "户"):
            tail = {"人": "人数", "户": "户数"}.get(counter, counter)
            if base.endswith(("人口", "人员", "群众", "对象")) and tail == "人数":
                return base + "数"
            return base + tail
        return base + "数量"
    if family is not None and family in _MEASURE:
        if not phrase:
            return None
        word, endings = _MEASURE[family]
        return phrase if phrase.endswith(endings) else phrase + word
    if family is not None and "/" in family:  # a rate unit: 元/亩 is a standard
        return phrase + "标准" if phrase and not phrase.endswith("标准") else phrase or None
    return phrase or None


def quantity_draft(q: Quantity, subject: str = "项目") -> Draft | None:
    """A draft indicator for a quantity no suggestion took.

    When the words before it name nothing (在某村3500米), the target's subject stands in for them.
    """
    unit = q.parsed_unit
    name = _name_for(q, unit)
    if q.unit in AGE_UNITS:
        return None  # 65岁以上老年人: an age says who is served, it is not a target of its own
    if (not name or len(name) < 2) and unit is not None:
        name = _name_for(replace(q, context=subject), unit)
    if not name or len(name) < 2:
        return None
    name = name[:40]
    dimension = dimension_of("", None, name)
    if unit is not None and unit.family == "money" and dimension is Dimension.quantity:
        dimension = Dimension.cost  # an amount of money in a target is what it costs
    if dimension is Dimension.other:
        dimension = Dimension.quantity
    comparator = q.comparator or Comparator.ge
    return Draft(
        name=name,
        dimension=dimension,
        unit=q.unit,
        comparator=comparator,
        value=q.value,
        value_max=q.value_max,
        reason=f"目录中没有能承接“{q.text}”的指标:按目标文字起草",
        span=q.span,
        source=q.text,
    )


_DIMENSION_MEASURES: dict[Dimension, tuple[str, str | None, Comparator]] = {
    Dimension.quantity: ("完成数量", None, Comparator.ge),
    Dimension.quality: ("验收合格率", "%", Comparator.ge),
    Dimension.timeliness: ("按时完成率", "%", Comparator.ge),
    Dimension.cost: ("成本控制数", "万元", Comparator.le),
    Dimension.benefit: ("实施效果", None, Comparator.qualitative),
    Dimension.satisfaction: ("服务对象满意度", "%", Comparator.ge),
}


def subject_of(text: str) -> str:
    """What the target is about (…工程, …项目): the first such phrase, else 项目."""
    for clause in re.split(r"[,，。;；、\n]", text):
        m = _SUBJECT.search(_NOT_CJK.sub("", _LEADING.sub("", clause)))
        if m:
            return _LEADING.sub("", m.group(1)) or "项目"
    return "项目"


def dimension_draft(dimension: Dimension, text: str, taken: Sequence[str]) -> Draft | None:
    """A draft for a missing core dimension (None when a draft of that name is already there)."""
    found = _DIMENSION_MEASURES.get(dimension)
    if found is None:
        return None
    measure, unit, comparator = found
    name = subject_of(text) + measure
    if name in taken:
        return None
    return Draft(
        name=name,
        dimension=dimension,
        unit=unit,
        comparator=comparator,
        value=None,
        reason=f"覆盖检查缺少{dimension.label},目录中没有本领域合适的指标:按目标起草,指标值待填",
    )
