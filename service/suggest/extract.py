"""Quantities and deadlines in a target sentence, with character spans in the ORIGINAL text.

"新建或改造道路,共二十九个项目,规划里程169千米,群众出行满意度不低于90%,年底前完成" gives
29 个 (object 项目), 169 公里 (context 规划里程), ≥ 90 % (context 群众出行满意度) and the deadline 年底前.

The text is NFKC-folded one character at a time so that every folded character remembers where it came
from (full-width "１６９" and "％" are matched as "169" and "%", and spans still point into what the user
typed). Numbers are Arabic (with thousands separators and decimals), Chinese numerals (cn2an, only when a
unit follows: 二十九个, 三万人) or 百分之X. A number needs a unit or a comparator to count as a quantity,
which leaves out identifiers (12350热线), document numbers (〔2022〕929号) and years (2025年).

Comparators are read around the number: before it (不低于, 不少于, 达到, ≥, 控制在, 不超过, 提高到, 降至 …) and
after its unit (以上, 以下, 以内, 左右). 提高/降低 without 到/至 are *changes* ("降低5%": at least 5 % less).
Ranges (15-30分钟, 3至5个) keep both bounds. Magnitude words stay in the unit as the loaders keep them
(425万粒 → 425 "万粒"); units are shown under one name (千米/km → 公里) — conversion to an indicator's own
unit happens when a quantity is attached to it (see ``service.suggest.units``).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date

import cn2an

from service.domain import Comparator
from service.suggest.units import UNIT_WORDS, Unit, parse_unit

__all__ = ["Deadline", "Extraction", "Quantity", "extract"]


@dataclass(frozen=True)
class Quantity:
    """A number with its unit and comparator, as found in the text."""

    text: str  # the original characters of the number and unit
    span: tuple[int, int]  # [start, end) in the original text
    value: float
    unit: str | None  # display name (千米 → 公里, 万粒 stays)
    comparator: Comparator | None
    value_max: float | None = None  # upper bound of a range
    change: str | None = None  # "increase" / "decrease" for 提高5% / 降低5%
    context: str = ""  # the words before the number in its clause (规划里程)
    object: str = ""  # the noun after a counter (29个项目 → 项目)
    baseline: bool = False  # "由80%提高到90%": 80 % is where it starts, not a target

    @property
    def parsed_unit(self) -> Unit | None:
        return parse_unit(self.unit)


@dataclass(frozen=True)
class Deadline:
    """A deadline (年底前, 6月30日前, 当年 …); ``date`` when the year is known (text or fiscal year)."""

    text: str
    span: tuple[int, int]
    date: date | None = None


@dataclass(frozen=True)
class Extraction:
    quantities: tuple[Quantity, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    normalized: str = ""


@dataclass
class _Folded:
    """The NFKC-folded text and, per folded character, the index of the original character."""

    text: str
    origin: list[int] = field(default_factory=list)

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


def _fold(text: str) -> _Folded:
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = ch if ch.isascii() else unicodedata.normalize("NFKC", ch)
        for c in folded:
            out.append(c)
            origin.append(i)
    return _Folded("".join(out), origin)


# --- comparators ------------------------------------------------------------------------------
_PREFIX_WORDS: dict[str, tuple[Comparator, str | None]] = {
    **dict.fromkeys("不低于 不少于 不小于 大于等于 大于或等于 达到 至少 不会低于 确保达到 达 ≥ >= 提高到 提高至 提升到 提升至 增加到 增加至 增长到 增长至 增至 升至 扩大到 扩大至 保持在 稳定在".split(), (Comparator.ge, None)),
    **dict.fromkeys("高于 大于 超过 多于 > 超".split(), (Comparator.gt, None)),
    **dict.fromkeys("不超过 不高于 不大于 不多于 小于等于 小于或等于 控制在 降低到 降低至 降到 降至 下降到 下降至 减少到 减少至 压缩到 压减到 压减至 缩短到 缩短至 ≤ <=".split(), (Comparator.le, None)),
    **dict.fromkeys("低于 少于 小于 <".split(), (Comparator.lt, None)),
    **dict.fromkeys("= 等于".split(), (Comparator.eq, None)),
    **dict.fromkeys("约 约为 大约 ≈".split(), (Comparator.approx, None)),
    **dict.fromkeys("提高 提升 增加 增长 上升 扩大".split(), (Comparator.ge, "increase")),
    **dict.fromkeys("降低 下降 减少 压减 缩减 缩短".split(), (Comparator.ge, "decrease")),
}  # fmt: skip
_PREFIX_ORDER = sorted(_PREFIX_WORDS, key=len, reverse=True)
_SUFFIX_WORDS: dict[str, Comparator] = {
    "(含)以上": Comparator.ge,
    "及以上": Comparator.ge,
    "以上": Comparator.ge,
    "(含)以下": Comparator.le,
    "及以下": Comparator.le,
    "以下": Comparator.le,
    "以内": Comparator.le,
    "之内": Comparator.le,
    "内": Comparator.le,
    "左右": Comparator.approx,
}
_SUFFIX_ORDER = sorted(_SUFFIX_WORDS, key=len, reverse=True)
# Words between the context and the number that say nothing about the indicator.
_OBJECT_STOPS = set("的为在中和与及是对等已将把被由从")
_FILLERS = (
    "共计",
    "合计",
    "累计",
    "总计",
    "其中",
    "分别",
    "共",
    "为",
    "是",
    "在",
    "达",
    "完成",
    "新增",
    "约",
)

# --- numbers and units ------------------------------------------------------------------------
_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_CHARS = _CN_DIGITS + "十百千万亿"
_START = re.compile(rf"百分之|\d+(?:,\d{{3}})*(?:\.\d+)?|[{_CN_CHARS}]+")
_ARABIC = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_CN_RUN = re.compile(rf"[{_CN_CHARS}]+(?:点[{_CN_DIGITS}]+)?")
_RANGE_SEPARATORS = ("-", "~", "—", "–", "至", "到")
_BOUNDARY = set(",;:!?。、;()[]{}<>《》【】\n\t\"'“”‘’")
# Units recognised in running text (single Latin letters are too ambiguous there: 5G, 80M).
_EXTRA_TEXT_UNITS = ("周岁", "岁")
_UNIT_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _u in sorted({*UNIT_WORDS, *_EXTRA_TEXT_UNITS} - {"月"}, key=len, reverse=True):
    _UNIT_BY_FIRST[_u[0]] = (*_UNIT_BY_FIRST.get(_u[0], ()), _u)
_MAGNITUDES = "万亿"

# --- deadlines --------------------------------------------------------------------------------
_DEADLINE = re.compile(
    r"(?:(?P<year>\d{4})\s*年\s*(?:度\s*)?)?"
    r"(?:(?P<month>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*月\s*(?:份\s*)?"
    r"(?:(?P<day>[12]\d|3[01]|0?[1-9])\s*[日号])?\s*(?P<mpart>底|末|初|上旬|中旬|下旬)?"
    r"|(?P<ypart>年底|年末|年中|年初|上半年|下半年)"
    r"|(?P<quarter>[一二三四1-4])\s*季度\s*末?)"
    r"\s*(?P<suffix>之前|以前|前|止|之内|以内|内)?(?P<done>(?=完成|结束))?"
)
# 当年 / 本年度内 / 年内 — but not 2023年度 or 年度目标 (a year named, no deadline), nor 三年内 (a duration).
_YEAR_WORDS = re.compile(r"当年内?|本年度内?|(?<![\d年零〇一二两三四五六七八九十])(?:年度内|年内)")
_LAST_DAY_PARTS = {"底", "末", "下旬", None}


def _cn_value(cn: str) -> float | None:
    try:
        result = cn2an.cn2an(cn, "smart")
    except Exception:  # cn2an raises ValueError, and KeyError/IndexError on odd input
        return None
    return float(result) if isinstance(result, int | float) else None


def _unit_at(s: str, j: int, *, allow_bare_magnitude: bool) -> tuple[str, int] | None:
    """The unit written at ``s[j:]`` (longest word; magnitude + word; rate u1/u2 or u1每u2)."""
    while j < len(s) and s[j] == " ":
        j += 1
    if j >= len(s):
        return None
    found: tuple[str, int] | None = None
    for word in _UNIT_BY_FIRST.get(s[j].lower(), ()):
        if s.startswith(word, j) or s[j : j + len(word)].lower() == word:
            found = (word, j + len(word))
            break
    if found is None and s[j] in _MAGNITUDES:
        inner = _unit_at(s, j + 1, allow_bare_magnitude=False)
        if inner is not None and not inner[0].startswith(tuple(_MAGNITUDES)):
            found = (s[j] + inner[0], inner[1])
        elif allow_bare_magnitude:
            found = (s[j], j + 1)
    if found is None:
        return None
    unit, end = found
    if unit in _MAGNITUDES:
        return found
    # A Latin unit must not run on into more letters (kmh, mmol).
    if unit[-1].isascii() and end < len(s) and s[end].isascii() and s[end].isalpha():
        return None
    if end < len(s) and s[end] in "/每":
        den = _unit_at(s, end + 1, allow_bare_magnitude=False)
        if den is not None:
            return f"{unit}/{den[0]}", den[1]
    return found


@dataclass
class _Number:
    value: float
    start: int
    end: int
    chinese: bool


def _number_at(s: str, i: int) -> _Number | None:
    """An Arabic number, or a Chinese numeral run (value NaN until a unit settles where it ends)."""
    m = _ARABIC.match(s, i)
    if m:
        return _Number(float(m.group().replace(",", "")), i, m.end(), False)
    m = _CN_RUN.match(s, i)
    if m and any(c in _CN_DIGITS for c in m.group()):
        return _Number(_cn_value(m.group()) or float("nan"), i, m.end(), True)
    return None


def _chinese_with_unit(s: str, num: _Number) -> tuple[_Number, tuple[str, int]] | None:
    """A Chinese numeral run needs a unit; try shorter runs so 三万人 → 三 + 万人, 二十千米 → 二十 + 千米.

    A trailing 万/亿 goes into the unit first, as the loaders keep it (三万人 → 3 "万人").
    """
    run = s[num.start : num.end]
    lengths = list(range(len(run), 0, -1))
    if len(run) > 1 and run[-1] in _MAGNITUDES:
        lengths.insert(0, lengths.pop(1))
    for k in lengths:
        unit = _unit_at(s, num.start + k, allow_bare_magnitude=False)
        if unit is None or not any(c in _CN_DIGITS for c in run[:k]):
            continue
        value = _cn_value(run[:k])
        if value is not None:
            return _Number(value, num.start, num.start + k, True), unit
    return None


def _prefix(s: str, start: int) -> tuple[Comparator | None, str | None, int]:
    """Comparator word right before ``start`` (spaces allowed): (comparator, change, where it begins)."""
    j = start
    while j > 0 and s[j - 1] == " ":
        j -= 1
    head = s[:j]
    for word in _PREFIX_ORDER:
        if head.endswith(word):
            cmp, change = _PREFIX_WORDS[word]
            return cmp, change, j - len(word)
    return None, None, start


def _suffix(s: str, end: int) -> tuple[Comparator | None, int]:
    j = end
    while j < len(s) and s[j] == " ":
        j += 1
    for word in _SUFFIX_ORDER:
        if s.startswith(word, j):
            return _SUFFIX_WORDS[word], j + len(word)
    return None, end


def _clause_start(s: str, i: int, floor: int) -> int:
    j = i
    while j > floor and s[j - 1] not in _BOUNDARY and not s[j - 1].isdigit():
        j -= 1
    return j


def _context_before(s: str, start: int, floor: int) -> str:
    ctx = s[_clause_start(s, start, floor) : start].strip()
    changed = True
    while changed and ctx:
        changed = False
        for word in _FILLERS:
            if ctx.endswith(word) and len(ctx) >= len(word):
                ctx = ctx[: -len(word)].rstrip()
                changed = True
    return ctx[-16:]


def _object_after(s: str, end: int) -> str:
    """The noun a counter counts (29个项目 → 项目): up to 6 characters, stopping at function words."""
    j = end
    while j < len(s) and j - end < 6 and s[j] not in _BOUNDARY and s[j] not in _OBJECT_STOPS:
        if s[j].isdigit():
            break
        j += 1
    return s[end:j].strip()


def _is_year(s: str, num: _Number) -> bool:
    """2025年 / 二〇二五年 (digit by digit, no 十百千) is a year, not a duration."""
    if not (1900 <= num.value <= 2100 and num.value.is_integer() and s.startswith("年", num.end)):
        return False
    return not num.chinese or not any(c in "十百千万" for c in s[num.start : num.end])


def _is_date_part(s: str, num: _Number) -> bool:
    """6月 / 30日 after a month / 2023.07: parts of a date, not quantities."""
    nxt = s[num.end : num.end + 1]
    if nxt == "月":
        return True
    if nxt in ("日", "号"):
        j = num.start
        while j > 0 and s[j - 1] == " ":
            j -= 1
        return j > 0 and s[j - 1] == "月"
    return False


def _quantities(f: _Folded, taken: list[tuple[int, int]]) -> list[Quantity]:
    s = f.text
    out: list[Quantity] = []
    out_ends: list[int] = []
    pos = 0
    while True:
        m = _START.search(s, pos)
        if m is None:
            return out
        pos = m.end()
        if any(a <= m.start() < b for a, b in taken):
            continue
        floor = out_ends[-1] if out_ends else 0
        q = _quantity_at(f, m.start(), percent_words=m.group() == "百分之", floor=floor)
        if q is not None:
            quantity, end = q
            if out and not quantity.context and out_ends[-1] == floor and _same_clause(s, floor, m.start()):
                # "由80%提高到90%": the target inherits what the baseline was about.
                quantity = replace(quantity, context=out[-1].context)
            out.append(quantity)
            out_ends.append(end)
            pos = max(pos, end)


def _same_clause(s: str, a: int, b: int) -> bool:
    return not any(c in _BOUNDARY for c in s[a:b])


def _quantity_at(f: _Folded, i: int, *, percent_words: bool, floor: int) -> tuple[Quantity, int] | None:
    s = f.text
    start = i
    if percent_words:
        num = _number_at(s, i + 3)
        if num is None or num.value != num.value:  # NaN: not a numeral after all
            return None
        unit: tuple[str, int] | None = ("%", num.end)
    else:
        prev = s[i - 1] if i > 0 else ""
        if prev and (prev.isascii() and (prev.isalnum() or prev == ".")):
            return None  # part of an identifier or a dotted date: H7N9, PM2.5, 2023.07
        if prev == "第":
            return None  # ordinal: 第一年
        num = _number_at(s, i)
        if num is None:
            return None
        if _is_year(s, num) or _is_date_part(s, num):
            return None
        if num.chinese:
            found = _chinese_with_unit(s, num)
            unit = None
            if found is not None:
                num, unit = found
            elif num.value != num.value or not _range_follows(s, num.end):
                return None
        else:
            unit = _unit_at(s, num.end, allow_bare_magnitude=True)
    value_max: float | None = None
    end = unit[1] if unit else num.end
    # A range: 15-30分钟, 15分钟至30分钟, 三至五个.
    rng = _range_at(s, end)
    if rng is not None:
        second, second_unit = rng
        if second_unit is not None and (unit is None or _same_unit(unit[0], second_unit[0])):
            value_max, unit, end = second.value, second_unit, second_unit[1]
        elif second_unit is None and unit is not None:
            value_max, end = second.value, second.end
        elif second_unit is None and unit is None and not num.chinese:
            return None  # two bare numbers: a date span (2023.07-2024.01) or an id
    cmp, change, cmp_start = _prefix(s, start)
    if unit is None and cmp is None:
        return None
    suffix_cmp, after = _suffix(s, end)
    if suffix_cmp is not None and (cmp is None or change is not None):
        cmp = suffix_cmp if change is None else cmp
    if num.chinese and num.value == 1 and cmp is None and value_max is None:
        return None  # 一个/一批/一次性: rarely a target value, often a figure of speech
    unit_text = unit[0] if unit else None
    parsed = parse_unit(unit_text)
    display = parsed.display if parsed is not None else unit_text
    ctx_end = cmp_start
    baseline = s[max(0, ctx_end - 1) : ctx_end] in ("由", "从")
    context = _context_before(s, ctx_end - 1 if baseline else ctx_end, floor)
    obj = _object_after(s, after) if parsed is not None and parsed.is_count else ""
    span = f.span(start, end)
    return (
        Quantity(
            text="",  # filled by extract() from the original text
            span=span,
            value=num.value,
            unit=display,
            comparator=cmp,
            value_max=value_max,
            change=change,
            context=context,
            object=obj,
            baseline=baseline,
        ),
        after,
    )


def _same_unit(a: str, b: str) -> bool:
    pa, pb = parse_unit(a), parse_unit(b)
    return pa is not None and pb is not None and pa.family == pb.family


def _range_follows(s: str, j: int) -> bool:
    return _range_at(s, j) is not None


def _range_at(s: str, j: int) -> tuple[_Number, tuple[str, int] | None] | None:
    k = j
    while k < len(s) and s[k] == " ":
        k += 1
    for sep in _RANGE_SEPARATORS:
        if s.startswith(sep, k):
            k += len(sep)
            break
    else:
        return None
    while k < len(s) and s[k] == " ":
        k += 1
    second = _number_at(s, k)
    if second is None:
        return None
    if second.chinese:
        found = _chinese_with_unit(s, second)
        if found is None:
            return None
        second, unit = found
        return second, unit
    return second, _unit_at(s, second.end, allow_bare_magnitude=True)


def _deadline_date(m: re.Match[str], year: int | None) -> date | None:
    if m["year"]:
        year = int(m["year"])
    if year is None:
        return None
    try:
        if m["ypart"] == "年初":
            return None
        if m["ypart"]:
            return date(year, 6, 30) if m["ypart"] in ("年中", "上半年") else date(year, 12, 31)
        if m["quarter"]:
            q = "一二三四".find(m["quarter"]) + 1 or int(m["quarter"])
            month = 3 * q
            return date(year, month, calendar.monthrange(year, month)[1])
        month_text = m["month"]
        month = int(month_text) if month_text.isdigit() else int(_cn_value(month_text) or 0)
        if m["day"]:
            return date(year, month, int(m["day"]))
        part = m["mpart"]
        day = {"初": 5, "上旬": 10, "中旬": 20}.get(part or "", 0)
        if part in _LAST_DAY_PARTS:
            day = calendar.monthrange(year, month)[1]
        return date(year, month, day)
    except ValueError:
        return None


def _deadlines(f: _Folded, fiscal_year: int | None) -> list[Deadline]:
    s = f.text
    out: list[Deadline] = []
    for m in _DEADLINE.finditer(s):
        done = m["done"] is not None
        meaningful = m["suffix"] or m["mpart"] or m["ypart"] or m["quarter"] or m["day"] or done
        if not meaningful or m.start() == m.end():
            continue
        if m["month"] and not (m["suffix"] or m["mpart"] or m["day"] or done):
            continue
        end = m.end()
        text_end = end
        while text_end > m.start() and s[text_end - 1] == " ":
            text_end -= 1
        out.append(Deadline(text="", span=f.span(m.start(), text_end), date=_deadline_date(m, fiscal_year)))
    covered = [d.span for d in out]
    for m in _YEAR_WORDS.finditer(s):
        span = f.span(m.start(), m.end())
        if any(a < span[1] and span[0] < b for a, b in covered):
            continue
        when = date(fiscal_year, 12, 31) if fiscal_year else None
        out.append(Deadline(text="", span=span, date=when))
    return sorted(out, key=lambda d: d.span)


def extract(text: str, *, fiscal_year: int | None = None) -> Extraction:
    """Every quantity and deadline of ``text``; spans index the original (unfolded) string."""
    folded = _fold(text)
    deadlines = [
        Deadline(text=text[a:b], span=(a, b), date=d.date)
        for d in _deadlines(folded, fiscal_year)
        for a, b in [d.span]
    ]
    # Deadline characters are not quantities (2025年年底前, 6月30日前); map spans back to folded indexes.
    taken = [_folded_range(folded, d.span) for d in deadlines]
    quantities = [replace(q, text=text[q.span[0] : q.span[1]]) for q in _quantities(folded, taken)]
    return Extraction(tuple(quantities), tuple(deadlines), folded.text)


def _folded_range(f: _Folded, span: tuple[int, int]) -> tuple[int, int]:
    start = next((i for i, o in enumerate(f.origin) if o >= span[0]), len(f.origin))
    end = next((i for i, o in enumerate(f.origin) if o >= span[1]), len(f.origin))
    return start, end
