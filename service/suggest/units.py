"""Units of measure in target texts and indicator tables: families, display names, conversion.

A unit belongs to a *family* (length, area, money, percent, one family per counter word …) and has a
factor to the family's base unit, so 169千米 can be proposed as 169 公里 and 10万元 as 100000 元 for an
indicator kept in 元. Magnitude words stay in the unit as the loaders keep them (万人, 万粒, 亿元): the
factor carries the magnitude. Rate units (元/亩, 元/人) are their own family per denominator.

Counter words that mean the same thing share a family (人/名, 个/只 are not merged: 只 counts animals).
``个`` is the generic counter: it fits any count family, but less well than the exact word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["UNIT_WORDS", "Unit", "convert", "infer_family", "parse_unit", "unit_fit"]


@dataclass(frozen=True)
class Unit:
    """A parsed unit: how to show it, its family and the factor to the family's base unit."""

    display: str
    family: str
    factor: float

    @property
    def is_count(self) -> bool:
        return self.family.startswith("count:")


PERCENT = "percent"
GENERIC_COUNT = "count:个"

# display, family, factor; aliases map onto a display name first.
_BASE: dict[str, tuple[str, float]] = {
    "%": (PERCENT, 1.0),
    "‰": (PERCENT, 0.1),
    "个百分点": ("percent_point", 1.0),
    "米": ("length", 1.0),
    "公里": ("length", 1000.0),
    "厘米": ("length", 0.01),
    "毫米": ("length", 0.001),
    "平方米": ("area", 1.0),
    "平方公里": ("area", 1e6),
    "公顷": ("area", 1e4),
    "亩": ("area", 10000.0 / 15.0),
    "立方米": ("volume", 1.0),
    "元": ("money", 1.0),
    "千元": ("money", 1e3),
    "万元": ("money", 1e4),
    "亿元": ("money", 1e8),
    "吨": ("mass", 1000.0),
    "公斤": ("mass", 1.0),
    "克": ("mass", 0.001),
    "斤": ("mass", 0.5),
    "天": ("duration", 1.0),
    "工作日": ("duration", 1.4),
    "小时": ("duration", 1.0 / 24.0),
    "分钟": ("duration", 1.0 / 1440.0),
    "周": ("duration", 7.0),
    "个月": ("duration", 30.0),
    "年": ("duration", 365.0),
    "季度": ("duration", 91.0),
}
_ALIASES: dict[str, str] = {
    "百分比": "%",
    "百分点": "个百分点",
    "千米": "公里",
    "km": "公里",
    "m": "米",
    "cm": "厘米",
    "mm": "毫米",
    "平方千米": "平方公里",
    "km²": "平方公里",
    "km2": "平方公里",
    "m²": "平方米",
    "m2": "平方米",
    "㎡": "平方米",
    "hm²": "公顷",
    "hm2": "公顷",
    "立方": "立方米",
    "m³": "立方米",
    "m3": "立方米",
    "千克": "公斤",
    "kg": "公斤",
    "t": "吨",
    "g": "克",
    "日": "天",
    "h": "小时",
    "分": "分钟",
    "月": "个月",
    "名": "人",
    "人数": "人",
}
# Counter words: each is its own count family (人次 is not 人).
COUNTERS: tuple[str, ...] = tuple(
    """个 人 人次 户 项 次 家 所 场 篇 件 份 座 处 条 台 套 辆 村 镇 县 批 批次 株 棵 粒 栋 间 张 本 册 部 种
    只 头 床 块 盏 期 课时 学时 校 门 支 队 例 口 艘 架 首 集 届 轮 宗 亩次 车次 架次 万人次 册次 种次 标段
    公里次 班 期次 单 笔 篇次 场次 处次 吨次 幅 份次 箱 袋 包 瓶 剂 针 台次 台套 套次""".split()
)
# What the extractor recognises after a number, longest first when matched.
UNIT_WORDS: tuple[str, ...] = tuple(
    sorted({*_BASE, *_ALIASES, *COUNTERS} - {"m", "g", "t", "h", "分"}, key=lambda u: (-len(u), u))
)
_MAGNITUDE = {"万": 1e4, "亿": 1e8, "千": 1e3, "百": 1e2}
_RATE_SPLIT = re.compile(r"^(?P<num>[^/每]+)(?:/|每)(?P<den>.+)$")


def _plain(unit: str) -> Unit | None:
    display = _ALIASES.get(unit, unit)
    base = _BASE.get(display)
    if base is not None:
        return Unit(display, base[0], base[1])
    if display in COUNTERS:
        return Unit(display, f"count:{display}", 1.0)
    return None


@lru_cache(maxsize=4096)
def parse_unit(raw: str | None) -> Unit | None:
    """Parse a unit as written ("千米", "万元", "万粒", "元/亩", "%"); None when unknown or empty."""
    if not raw:
        return None
    unit = raw.strip().lower().replace(" ", "")
    if not unit:
        return None
    found = _plain(unit)
    if found is not None:
        return found
    if len(unit) > 1 and unit[0] in _MAGNITUDE:
        inner = _plain(unit[1:])
        if inner is not None and inner.family != "money":  # 万元/亿元 are in the table
            return Unit(unit[0] + inner.display, inner.family, inner.factor * _MAGNITUDE[unit[0]])
    m = _RATE_SPLIT.match(unit)
    if m:
        num, den = parse_unit(m["num"]), parse_unit(m["den"])
        if num is not None and den is not None:
            return Unit(f"{num.display}/{den.display}", f"{num.family}/{den.family}", num.factor / den.factor)
    return None


def convert(value: float, source: Unit, target: Unit) -> float | None:
    """``value`` in ``source`` expressed in ``target``; None when the families differ."""
    if source.family == target.family:
        return value * source.factor / target.factor
    if GENERIC_COUNT in (source.family, target.family) and source.is_count and target.is_count:
        return value * source.factor / target.factor
    return None


# What an indicator measures, when its unit column is empty: read from the end of its name.
_NAME_FAMILIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("满意度", "满意率", "率", "比例", "比率", "占比", "覆盖面", "百分比", "指数"), PERCENT),
    (("里程", "长度", "公里数", "距离"), "length"),
    (("面积",), "area"),
    (
        ("资金", "金额", "成本", "费用", "投资", "收入", "产值", "经费", "预算", "补助标准", "补贴标准"),
        "money",
    ),
    (("人数", "人员数", "人口", "人口数", "参与人数"), "count:人"),
    (("人次",), "count:人次"),
    (("户数",), "count:户"),
    (("次数", "频次"), "count:次"),
    (("时间", "时限", "周期", "期限", "天数", "时长"), "duration"),
    (("数量", "个数", "数", "规模", "总量", "量"), GENERIC_COUNT),
)


@lru_cache(maxsize=65536)
def infer_family(name: str, unit: str | None) -> str | None:
    """The unit family of an indicator: its unit column, else what its name ends with."""
    parsed = parse_unit(unit)
    if parsed is not None:
        return parsed.family
    stripped = re.sub(r"[((][^))]*[))]$", "", name).strip()
    for endings, family in _NAME_FAMILIES:
        if stripped.endswith(endings):
            return family
    return None


def unit_fit(quantity: Unit | None, family: str | None) -> float:
    """How well a quantity's unit fits an indicator's family: 1 same, 0.5 generic count, 0 otherwise."""
    if quantity is None or family is None:
        return 0.0
    if quantity.family == family:
        return 1.0
    if quantity.is_count and family.startswith("count:") and GENERIC_COUNT in (quantity.family, family):
        return 0.5
    if quantity.family == "percent_point" and family == PERCENT:
        return 0.5
    return 0.0
