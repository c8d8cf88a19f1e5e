"""Parse the value cell of an indicator table ("≥95%", "不少于3个", "6月30日前" …).

Decisions (documented because they shape what the service stores):

* **Magnitude words stay in the unit.** "1.2万" → value 1.2, unit "万"; "3.51万t" →
  3.51 "万t"; "10万元" → 10 "万元". Tables use 万元/万人/万亩 as units in their
  own 计量单位 column, so scaling the number would make value and unit disagree.
  Chinese numerals follow the same rule: "三万人" → 3 "万人".
* **Deadlines are qualitative.** "6月30日前", "年底前", "2025年年底前", "2023年12月前"
  and plain dates → (qualitative, the full text, None). A date is not a number the
  platform can compare or pro-rate, and the text already says "before". Durations
  are numeric: "30日内" → (le, 30, "日").
* **"-0%"** is how old evaluation tables wrote "no more than 0%" (结转结余率, 差错率)
  → (le, 0, "%"). Other negative numbers stay negative values.
* **"±3%以内"** is an allowed deviation → (le, 3, "%").
* **Ranges** have both bounds: "90%~95%", "18—54周岁", "15至30分钟", "三至五个" and
  "不低于90%且不高于95%" → value 90, ``value_max`` 95, one unit, no comparator (both bounds
  inclusive). A range whose two units differ, whose bounds are open ("高于90%且低于95%") or
  reversed, or that is a date span ("2021.1.1-12.31", "2021-2025年") stays qualitative text.
* **Never a wrong number.** Exponents are numbers ("1e3个" → 1000 "个"); a number no float
  holds ("1e999", four hundred 9s), inf and nan are text; a unit never holds a second number,
  a comparator or a connective ("%~95%", "%且不高于95%" are refused as units, so the cell is
  read as a range or kept as text).
* Anything that is not clearly a number with a unit ("及时", "一级A", "获得目的国
  (地区)受众欢迎") is qualitative with the normalised text as value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

import cn2an

from loaders.text import format_number, normalize_text
from service.domain import COMPARATOR_ALIASES, COMPARATOR_SYMBOLS, Comparator

__all__ = ["ParsedValue", "format_value", "parse_comparator", "parse_raw_value"]


@dataclass(frozen=True)
class ParsedValue:
    """A value cell split into comparator, value and unit.

    ``value`` is a float when the cell is numeric (``is_numeric``), the
    normalised text for qualitative cells, ``None`` when the cell is empty.
    """

    comparator: Comparator | None
    value: float | str | None
    unit: str | None
    is_numeric: bool
    value_max: float | None = None  # upper bound of a range; ``value`` is then the lower one


EMPTY = ParsedValue(None, None, None, False)

# Comparator words seen in real value cells, on top of service.domain.COMPARATOR_ALIASES.
_EXTRA_PREFIXES: dict[str, Comparator] = {
    "达到": Comparator.ge,
    "至少": Comparator.ge,
    "不小于": Comparator.ge,
    "大于或等于": Comparator.ge,
    "不多于": Comparator.le,
    "不大于": Comparator.le,
    "小于或等于": Comparator.le,
    "控制在": Comparator.le,
    "±": Comparator.le,  # allowed deviation: "±3%以内"
    "+/-": Comparator.le,
    "低于": Comparator.lt,
    "少于": Comparator.lt,
    "高于": Comparator.gt,
    "超过": Comparator.gt,
    "多于": Comparator.gt,
    "约为": Comparator.approx,
    "大约": Comparator.approx,
    "约": Comparator.approx,
}
_PREFIXES: dict[str, Comparator] = {
    **{k: v for k, v in COMPARATOR_ALIASES.items() if v is not Comparator.qualitative},
    **_EXTRA_PREFIXES,
}
# Longest first so that "不超过" wins over "超过" and ">=" over ">".
_PREFIX_ORDER = sorted(_PREFIXES, key=len, reverse=True)

_SUFFIXES: dict[str, Comparator] = {
    "以上(含)": Comparator.ge,
    "(含)以上": Comparator.ge,
    "以下(含)": Comparator.le,
    "(含)以下": Comparator.le,
    "及以上": Comparator.ge,
    "以上": Comparator.ge,
    "及以下": Comparator.le,
    "以下": Comparator.le,
    "以内": Comparator.le,
    "之内": Comparator.le,
    "内": Comparator.le,
    "左右": Comparator.approx,
    "上下": Comparator.approx,
}
_SUFFIX_ORDER = sorted(_SUFFIXES, key=len, reverse=True)

# Words accepted by parse_comparator besides the enum values and the prefixes.
_COMPARATOR_WORDS: dict[str, Comparator] = {
    **{k.lower(): v for k, v in _PREFIXES.items()},
    **COMPARATOR_ALIASES,
    **{c.value: c for c in Comparator},
    **_SUFFIXES,
    "=>": Comparator.ge,
    "=<": Comparator.le,
}

_NUM = r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"^(?P<num>{_NUM})\s*(?P<unit>.*)$")
_CN_NUMERAL_RE = re.compile(r"^(?P<cn>[零〇一二两三四五六七八九十百千万亿点壹贰叁肆伍陆柒捌玖拾佰仟廿]+)\s*(?P<unit>.*)$")
# A unit that continues with another number is a range or a date ("—54周岁", ".1-12.31"), wherever
# the second number starts ("%~95%").
_RANGE_RE = re.compile(r"^[.\d/:]|[-—–~～至到]\s*[\d零〇一二两三四五六七八九十]")
_SENTENCE_PUNCT = re.compile(r"[,;:!?。、\"']")
# Comparators and connectives never belong to a unit ("%且不高于95%", "%或95%").
_NOT_IN_UNIT = re.compile(r"[~～≥≤<>=≈±且或并]|不[高低少多大小超]于|不超过|以[上下内]")
_MAX_UNIT_CHARS = 16

# Units a Chinese numeral may be followed by. Anything else ("一级A", "一般", "一致")
# is qualitative text that merely starts with a numeral character.
_COUNTER_UNITS = frozenset(
    """个 次 人 人次 项 家 所 场 篇 件 份 名 天 日 月 年 周 期 批 批次 座 处 条 台 套 辆 户 村 镇 县
    公里 千米 米 亩 公顷 吨 元 万元 亿元 册 栋 间 张 本 部 门 种 支 队 棵 株 头 只 课时 学时 小时
    分钟 轮 例 床 块 盏 口 艘 架 首 集 届 季度 个月 个百分点 百分点 倍 %""".split()
)

_DATE_PART = r"(?:\d{4}\s*年\s*)?(?:\d{1,2}\s*月\s*)?(?:\d{1,2}\s*[日号]\s*)?"
_DEADLINE_RE = re.compile(
    rf"^(?:于|在|不晚于|截至|截止|截止到|截止至)?\s*{_DATE_PART}"
    r"(?:年底|年末|年中|年初|月底|月末|月中|上半年|下半年|季度末|[一二三四1-4]季度末?|上旬|中旬|下旬)?"
    r"\s*(?:前|之前|以前|底前|内|之内|以内|止|完成|底)?$"
)
_YEAR_OR_MONTH_RE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|年底|年末|年中|年初|上半年|下半年|季度")
_DEADLINE_WORDS = frozenset({"年内", "当年", "当年内", "年度内", "本年度内", "年底前", "年末前", "按期", "按时"})

_QUALITATIVE_PREFIX = "定性"
_NULL_TOKENS = frozenset({"-", "—", "--", "——", "/", "\\", "n/a", "na", "null", "none"})


def _is_deadline(s: str) -> bool:
    if s in _DEADLINE_WORDS:
        return True
    return bool(_DEADLINE_RE.match(s)) and bool(_YEAR_OR_MONTH_RE.search(s))


def _split_prefix(s: str) -> tuple[Comparator | None, str]:
    for p in _PREFIX_ORDER:
        if s.startswith(p):
            return _PREFIXES[p], s[len(p) :].lstrip()
    return None, s


def _split_suffix(s: str) -> tuple[Comparator | None, str]:
    for p in _SUFFIX_ORDER:
        if s.endswith(p) and len(s) > len(p):
            return _SUFFIXES[p], s[: -len(p)].rstrip()
    return None, s


def _valid_unit(unit: str) -> bool:
    if not unit:
        return True
    if len(unit) > _MAX_UNIT_CHARS or _RANGE_RE.search(unit) or _SENTENCE_PUNCT.search(unit):
        return False
    return not _NOT_IN_UNIT.search(unit)


def _cn_number(cn: str) -> float | None:
    try:
        result = cn2an.cn2an(cn, "smart")
    except Exception:  # cn2an raises ValueError and, on odd input, KeyError/IndexError
        return None
    return float(result) if isinstance(result, int | float) else None


def _parse_number(s: str) -> tuple[float, str, bool] | None:
    """Return (value, unit, negative_zero) for "95%", "3.51万t", "二十九个"; None if not numeric."""
    if s.startswith("百分之"):
        cn_value = _cn_number(s[3:]) if s[3:] else None
        if cn_value is None:
            m = _NUMBER_RE.match(s[3:])
            if m is None or m["unit"]:
                return None
            cn_value = float(m["num"].replace(",", ""))
        return cn_value, "%", False
    m = _NUMBER_RE.match(s)
    if m:
        unit = m["unit"].strip()
        if not _valid_unit(unit):
            return None
        num = m["num"].replace(",", "")
        value = float(num)
        if not math.isfinite(value):
            return None  # "1e999": no float holds it, and a wrong number is worse than none
        negative_zero = value == 0 and num.startswith("-")
        return abs(value) if value == 0 else value, unit, negative_zero
    m = _CN_NUMERAL_RE.match(s)
    if m:
        cn, unit = m["cn"], m["unit"].strip()
        # Keep magnitude words in the unit, as for Arabic numbers ("三万人" → 3 "万人").
        while len(cn) > 1 and cn[-1] in "万亿" and not unit.startswith(("万", "亿")):
            unit, cn = cn[-1] + unit, cn[:-1]
        base_unit = unit[1:] if unit[:1] in ("万", "亿") and len(unit) > 1 else unit
        if unit and unit not in _COUNTER_UNITS and base_unit not in _COUNTER_UNITS:
            return None
        cn_value = _cn_number(cn)
        if cn_value is None:
            return None
        return cn_value, unit, False
    return None


def parse_raw_value(raw: str | None) -> ParsedValue:
    """Split a raw value cell into comparator, value and unit.

    Examples: "≥95%" → (ge, 95.0, "%"); "不少于3个" → (ge, 3.0, "个"); "5%以下" → (le, 5.0,
    "%"); "2089人" → (None, 2089.0, "人"); "二十九个" → (None, 29.0, "个"); "及时" →
    (qualitative, "及时", None); "6月30日前" → (qualitative, "6月30日前", None); "" →
    all None. Full-width input is normalised first. Never raises.
    """
    if raw is None:
        return EMPTY
    s = normalize_text(str(raw))
    if not s or s.lower() in _NULL_TOKENS:
        return EMPTY

    if s.startswith(_QUALITATIVE_PREFIX):
        rest = s[len(_QUALITATIVE_PREFIX) :].lstrip(" :：-—")
        return ParsedValue(Comparator.qualitative, rest or None, None, False)

    if _is_deadline(s):
        return ParsedValue(Comparator.qualitative, s, None, False)

    ranged = _parse_range(s)
    if ranged is not None:
        return ranged
    return _parse_single(s)


def _parse_single(s: str) -> ParsedValue:
    """One (comparator, number, unit), or the text as a qualitative value."""
    prefix_cmp, rest = _split_prefix(s)
    suffix_cmp, core = _split_suffix(rest)
    parsed = _parse_number(core)
    if parsed is None and suffix_cmp is not None:
        # The "suffix" may belong to the unit after all (rare: a unit ending in 内).
        suffix_cmp, core = None, rest
        parsed = _parse_number(core)
    if parsed is None:
        return ParsedValue(Comparator.qualitative, s, None, False)

    value, unit, negative_zero = parsed
    # An explicit leading comparator wins over a trailing word ("≥90%以上" is still ge).
    comparator = prefix_cmp or suffix_cmp
    if comparator is None and negative_zero:
        comparator = Comparator.le
    return ParsedValue(comparator, value, unit or None, True)


_RANGE_DASH = r"\s*(?:~|～|-|—|–|至|到)\s*"
_CN_NUM = r"[零〇一二两三四五六七八九十百千万点]+"
_DASH_RANGE_RE = re.compile(
    rf"^(?P<low>{_NUM}|{_CN_NUM})\s*(?P<low_unit>(?![eE][+-]?\d)[^\d~～\-—–至到]*?){_RANGE_DASH}(?P<high>{_NUM}|{_CN_NUM})\s*(?P<unit>.*)$"
)
# Two bounds in words: "不低于90%且不高于95%", "≥90%,≤95%".
_TWO_BOUNDS_RE = re.compile(r"^(?P<first>.+?)\s*(?:并且|而且|且|,|;|、)\s*(?P<second>.+)$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")


def _parse_range(s: str) -> ParsedValue | None:
    """A range as (None, low, unit, value_max=high); text for a range that cannot be stored as one
    (units differ, open or reversed bounds, a date span); None when ``s`` is no range at all."""
    text = ParsedValue(Comparator.qualitative, s, None, False)
    m = _TWO_BOUNDS_RE.match(s)
    if m is not None:
        first, second = _parse_single(m["first"]), _parse_single(m["second"])
        if first.is_numeric and second.is_numeric and first.comparator and second.comparator:
            bounds = {first.comparator: first, second.comparator: second}
            low, high = bounds.get(Comparator.ge), bounds.get(Comparator.le)
            if low is None or high is None or low.unit != high.unit:
                return text
            return _range(low.value, high.value, low.unit) or text
    m = _DASH_RANGE_RE.match(s)
    if m is None:
        return None
    low_value, high_value = _bound(m["low"]), _bound(m["high"])
    unit, low_unit = m["unit"].strip(), m["low_unit"].strip()
    if low_value is None or high_value is None:
        return text
    if low_unit and low_unit != unit:
        return text
    years = _YEAR.match(m["low"].split(".")[0]) and _YEAR.match(m["high"].split(".")[0])
    if (not unit or unit == "年") and years:
        return text  # 2021-2025年, 2023.07-2024.01: a span of time, not a quantity
    if unit and (unit not in _COUNTER_UNITS and not _valid_unit(unit)):
        return text
    return _range(low_value, high_value, unit or None) or text


def _bound(token: str) -> float | None:
    if _CN_NUMERAL_RE.match(token) and not token[0].isdigit():
        return _cn_number(token)
    try:
        value = float(token.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _range(low: object, high: object, unit: str | None) -> ParsedValue | None:
    if not isinstance(low, float | int) or not isinstance(high, float | int) or low > high:
        return None
    return ParsedValue(None, float(low), unit, True, value_max=float(high))


def parse_comparator(s: str | Comparator | None) -> Comparator | None:
    """Map a comparator cell ("ge", "≥", ">=", "不低于", "定性" …) to :class:`Comparator`.

    Empty → ``None``. Unknown text raises ``ValueError`` with a bilingual message.
    """
    if s is None:
        return None
    if isinstance(s, Comparator):
        return s
    if isinstance(s, Enum):
        s = str(s.value)
    text = normalize_text(str(s))
    if not text:
        return None
    key = text.lower().replace(" ", "")
    found = _COMPARATOR_WORDS.get(key)
    if found is None:
        raise ValueError(
            f"无法识别的指标性质/比较符「{text}」,可用: ≥ ≤ = > < ≈ 定性 (或 ge/le/eq/gt/lt/approx/qualitative); "
            f"unknown comparator {text!r}"
        )
    return found


def format_value(
    comparator: Comparator | str | None,
    value: float | int | str | None,
    unit: str | None = None,
    *,
    value_max: float | None = None,
) -> str:
    """Render comparator, value and unit back into a raw value such as "≥95%".

    Qualitative values render as their text ("及时"), or "定性" when there is no
    text; numbers lose a trailing ".0". ``comparator`` may be a :class:`Comparator`,
    its value or any alias :func:`parse_comparator` accepts.
    """
    cmp = parse_comparator(comparator) if comparator is not None else None
    if isinstance(value, str):
        text = normalize_text(value)
    elif value is None:
        text = ""
    else:
        text = format_number(value)
    if cmp is Comparator.qualitative:
        return text or COMPARATOR_SYMBOLS[Comparator.qualitative]
    symbol = COMPARATOR_SYMBOLS[cmp] if cmp is not None else ""
    if not text:
        return symbol
    if value_max is not None:  # a range: both bounds, one unit ("90~95%")
        text = f"{text}~{format_number(value_max)}"
    return f"{symbol}{text}{normalize_text(unit) if unit else ''}"
