"""Canonical import/export field names and the header aliases real tables use.

Imports accept the canonical English names, the Chinese headers of real
indicator tables and the column codes of the budget-integration platform
(``KPI_LV1``, ``KPI_VAL``, ``COMPUTESIGN`` …), case-insensitively. Exports
produce one of three header profiles (canonical, Chinese, platform), each of
which maps back onto the same fields on import.

Note on 取值依据/指标值确定依据/目标值制订说明 → ``value_basis``: in real tables the
column holds either one of the standard bases (计划标准, 行业标准, 历史标准, 预算支出
标准, 其他标准) or free text ("财政管理统一要求", "参照上年完成情况"). The loaders keep
the text as given; the service maps it with ``VALUE_BASIS_ALIASES`` and keeps
text it cannot map in ``notes`` rather than rejecting the row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter

from loaders.errors import RowError
from loaders.text import normalize_optional, shorten

__all__ = [
    "CANONICAL_FIELDS",
    "CHINESE_EXPORT_COLUMNS",
    "FIELD_ORDER",
    "HEADER_ALIASES",
    "IGNORED_HEADERS",
    "LEVEL_FIELDS",
    "LIST_FIELDS",
    "SENTENCE_LIST_FIELDS",
    "TYPED_LIST_FIELDS",
    "PLATFORM_EXPORT_COLUMNS",
    "HeaderMap",
    "canonical_field",
    "column_label",
    "export_headers",
    "is_ignored_header",
    "join_list_cell",
    "measure_ref",
    "parse_measure_ref",
    "split_list_cell",
    "normalize_header",
    "resolve_headers",
]

CANONICAL_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "kind",
    "level1",
    "level2",
    "raw_level1",
    "raw_level2",
    "sector",
    "department",
    "definition",
    "formula",
    "unit",
    "comparator",
    "value",
    "value_max",
    "raw_value",
    "value_basis",
    "value_basis_text",
    "scoring_rule",
    "data_source",
    "frequency",
    "budget_types",
    "keywords",
    "basis",
    "basis_clause",
    "direction",
    "is_core",
    "horizon",
    "weight",
    "source",
    "notes",
    "status",
    "superseded_by",
    "effective_from",
    "expires_on",
    "duties",
    "strategic_goals",
)
FIELD_ORDER: dict[str, int] = {name: i for i, name in enumerate(CANONICAL_FIELDS)}

# Fields holding several values; they may arrive as JSON arrays or as text (see split_list_cell).
LIST_FIELDS = frozenset({"budget_types", "keywords", "duties", "strategic_goals"})
# Short labels people type as "a、b;c" in one line of a cell.
TYPED_LIST_FIELDS = frozenset({"budget_types", "keywords"})
# Items are sentences full of 、 and ,: "负责全省学生资助工作、组织实施国家助学政策" is one duty.
SENTENCE_LIST_FIELDS = frozenset({"duties", "strategic_goals"})
_ITEM_SEPARATORS = re.compile(r"[;；,，、|]+")
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Fields whose vertically merged cells are carried down in spreadsheets.
LEVEL_FIELDS = ("level1", "level2")

_ALIASES_BY_FIELD: dict[str, tuple[str, ...]] = {
    "code": ("指标编码", "编码", "指标代码", "指标编号", "三级指标编码", "LV3_PERF_IND_CODE", "KPI_CODE"),
    "name": ("指标名称", "三级指标", "三级指标名称", "指标", "绩效指标", "KPI_LV3", "LV3_PERF_IND_NAME", "KPI_NAME"),
    "kind": ("指标类型", "指标类别", "指标种类"),
    "level1": ("一级指标", "一级指标名称", "KPI_LV1", "LV1_PERF_IND_NAME"),
    "level2": ("二级指标", "二级指标名称", "KPI_LV2", "LV2_PERF_IND_NAME"),
    # The labels as the source table wrote them, before mapping onto the category tree.
    "raw_level1": ("原一级指标", "原始一级指标"),
    "raw_level2": ("原二级指标", "原始二级指标"),
    "sector": ("行业领域", "所属行业", "所属领域", "行业", "领域", "行业分类"),
    "department": ("主管部门", "部门", "部门名称", "所属部门", "DEPT_CODE", "DEPT_NAME"),
    "definition": ("指标解释", "指标说明", "指标定义", "指标含义", "指标内容", "KPI_CONTENT"),
    "formula": ("计算公式", "计算方法", "计算方式", "公式"),
    "unit": ("计量单位", "单位", "度量单位", "METERUNIT"),
    "comparator": ("指标性质", "符号", "运算符号", "计算符号", "比较符", "COMPUTESIGN"),
    "value": ("指标数值", "数值"),
    "value_max": ("指标数值上限", "数值上限", "上限值"),
    "raw_value": (
        "指标值", "目标值", "标准值", "指标值(年度)", "年度指标值", "年度目标值", "指标标准值",
        "绩效指标值", "预期指标值", "KPI_VAL", "INDEXVAL", "TARGETVALUE",
    ),
    "value_basis": (
        "取值依据", "指标值确定依据", "目标值制订说明", "指标值设定依据", "标准值依据", "KPIVALSOURCE",
        "INDEXSTANDARDS",
    ),
    # Free text on how the value was set, kept beside the standard basis (计划标准 …) it explains.
    "value_basis_text": ("取值依据说明", "指标值确定依据说明"),
    "scoring_rule": ("评分标准", "评(扣)分标准", "评扣分标准", "扣分标准", "评分规则", "评分方法", "KPI_EVALSTD", "SCORERULE"),
    "data_source": ("数据来源", "数据出处"),
    "frequency": ("采集频率", "采集周期", "频率", "监控频率"),
    "budget_types": ("预算类型", "资金类型", "资金性质", "预算类别", "适用资金"),
    "keywords": ("关键词", "关键字", "同义词"),
    "basis": ("依据", "政策依据", "法律依据", "指标依据", "设置依据", "依据文件"),
    "basis_clause": ("条款", "依据条款", "条款内容"),
    "direction": ("方向", "指标方向", "指标方向性"),
    "is_core": ("核心指标", "是否核心", "是否核心指标", "★", "ISFIXED"),
    "horizon": ("指标期限", "期限", "目标期限", "年度/中期", "YEARFLAG"),
    "weight": ("权重", "分值", "权重(分值)", "指标分值", "指标权重", "SCORE", "FRAMEWEIGHT"),
    "source": ("来源", "指标来源", "资料来源"),
    "notes": ("备注", "说明"),
    "status": ("状态", "指标状态"),
    "superseded_by": ("替代指标编码", "替代指标", "被替代为"),
    "effective_from": ("生效日期", "生效时间", "施行日期"),
    "expires_on": ("失效日期", "废止日期", "到期日期"),
    "duties": ("部门职责", "职责", "职能"),
    "strategic_goals": ("战略目标", "部门战略目标"),
}  # fmt: skip

# Columns real files carry that are not catalogue data; skipped without an error.
IGNORED_HEADERS: frozenset[str] = frozenset(
    h.lower()
    for h in (
        "序号", "完成值", "实际完成值", "实际值", "全年实际值", "得分", "自评得分", "偏差原因", "偏差原因分析",
        "未完成原因", "改进措施", "LV1_PERF_IND_CODE", "LV2_PERF_IND_CODE", "FISCAL_YEAR", "MOF_DIV_CODE",
        "AGENCY_CODE", "PRO_CODE", "EVIDENCEFILE",
    )
)  # fmt: skip

_HEADER_MARKS = re.compile(r"^[*※\s]+|[*※:\s]+$")
_BRACKETED = re.compile(r"\([^)]*\)")


def normalize_header(header: object) -> str:
    """Header text as a lookup key: NFKC, lower case, no spaces, no "*"/":" marks."""
    text = normalize_optional(header) or ""
    text = _HEADER_MARKS.sub("", text)
    return text.replace(" ", "").lower()


def _build_aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, aliases in _ALIASES_BY_FIELD.items():
        for alias in (canonical, *aliases):
            key = normalize_header(alias)
            if out.get(key, canonical) != canonical:
                raise AssertionError(f"header alias {alias!r} maps to two fields")
            out[key] = canonical
    return out


HEADER_ALIASES: dict[str, str] = _build_aliases()

PLATFORM_EXPORT_COLUMNS: dict[str, str] = {
    # Fields the platform tables have no column for keep their canonical name,
    # which the importer accepts as well, so platform exports still round-trip.
    **{name: name for name in CANONICAL_FIELDS},
    "code": "LV3_PERF_IND_CODE",
    "name": "KPI_LV3",
    "level1": "KPI_LV1",
    "level2": "KPI_LV2",
    "department": "DEPT_CODE",
    "definition": "KPI_CONTENT",
    "unit": "METERUNIT",
    "comparator": "COMPUTESIGN",
    "raw_value": "KPI_VAL",
    "value_basis": "KPIVALSOURCE",
    "scoring_rule": "KPI_EVALSTD",
    "is_core": "ISFIXED",
    "horizon": "YEARFLAG",
    "weight": "SCORE",
}

CHINESE_EXPORT_COLUMNS: dict[str, str] = {
    "code": "指标编码",
    "name": "指标名称",
    "kind": "指标类型",
    "level1": "一级指标",
    "level2": "二级指标",
    "raw_level1": "原一级指标",
    "raw_level2": "原二级指标",
    "sector": "行业领域",
    "department": "主管部门",
    "definition": "指标解释",
    "formula": "计算公式",
    "unit": "计量单位",
    "comparator": "指标性质",
    "value": "指标数值",
    "value_max": "指标数值上限",
    "raw_value": "指标值",
    "value_basis": "取值依据",
    "value_basis_text": "取值依据说明",
    "scoring_rule": "评(扣)分标准",
    "data_source": "数据来源",
    "frequency": "采集频率",
    "budget_types": "预算类型",
    "keywords": "关键词",
    "basis": "政策依据",
    "basis_clause": "依据条款",
    "direction": "指标方向",
    "is_core": "核心指标",
    "horizon": "指标期限",
    "weight": "权重",
    "source": "来源",
    "notes": "备注",
    "status": "状态",
    "superseded_by": "替代指标编码",
    "effective_from": "生效日期",
    "expires_on": "失效日期",
    "duties": "部门职责",
    "strategic_goals": "战略目标",
}


def canonical_field(header: object) -> str | None:
    """The canonical field a header/key names, or ``None`` when it is unknown.

    Exact aliases win; otherwise a bracketed hint is dropped ("计量单位(个)" → unit).
    """
    key = normalize_header(header)
    if not key:
        return None
    found = HEADER_ALIASES.get(key)
    if found is None:
        stripped = _BRACKETED.sub("", key)
        if stripped and stripped != key:
            found = HEADER_ALIASES.get(stripped)
    return found


def is_ignored_header(header: object) -> bool:
    """True for known non-catalogue columns (序号, 完成值, 得分, platform bookkeeping codes)."""
    key = normalize_header(header)
    return key in IGNORED_HEADERS or _BRACKETED.sub("", key) in IGNORED_HEADERS


def column_label(index: int) -> str:
    """Human label of a 0-based column index: "第C列(第3列)"."""
    return f"第{get_column_letter(index + 1)}列(第{index + 1}列)"


@dataclass
class HeaderMap:
    """Result of :func:`resolve_headers`.

    ``columns`` maps 0-based column index → canonical field; ``ignored`` lists known
    non-catalogue columns that were skipped; ``unnamed`` the columns with an empty
    header (fine as long as they hold no data); ``errors`` unknown and duplicate
    headers.
    """

    columns: dict[int, str] = field(default_factory=dict)
    ignored: dict[int, str] = field(default_factory=dict)
    unnamed: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    width: int = 0

    def fields(self) -> list[str]:
        """The canonical fields in column order."""
        return [self.columns[i] for i in sorted(self.columns)]


def resolve_headers(headers: Sequence[object], *, row: int | None = 1) -> HeaderMap:
    """Map a header row onto canonical fields.

    Unknown headers and two columns naming the same field are reported in
    ``errors`` (message names the header and the column letter and number;
    ``row`` is stamped on each error). Empty header cells are not errors: they
    are listed in ``unnamed`` and trailing ones are dropped from ``width``.
    """
    result = HeaderMap()
    texts = [normalize_optional(h) for h in headers]
    while texts and texts[-1] is None:
        texts.pop()
    result.width = len(texts)
    seen: dict[str, int] = {}
    for index, text in enumerate(texts):
        if text is None:
            result.unnamed.append(index)
            continue
        canonical = canonical_field(text)
        if canonical is None:
            if is_ignored_header(text):
                result.ignored[index] = text
            else:
                shown = shorten(text)  # a clear error quotes the header, not all 10,000 characters of it
                result.errors.append(
                    RowError(row, shown, f"未知表头「{shown}」({column_label(index)}); unknown header {shown!r}")
                )
            continue
        if canonical in seen:
            first = seen[canonical]
            result.errors.append(
                RowError(
                    row,
                    canonical,
                    f"表头「{text}」({column_label(index)})与{column_label(first)}「{texts[first]}」"
                    f"重复,都对应字段 {canonical}; duplicate column for field {canonical!r}",
                )
            )
            continue
        seen[canonical] = index
        result.columns[index] = canonical
    return result


def export_headers(profile_columns: Mapping[str, str], fields: Sequence[str]) -> list[str]:
    """Headers for ``fields`` under one export profile."""
    return [profile_columns[f] for f in fields]


# --- list cells ---------------------------------------------------------------------------
# The one encoding of a list in a CSV/XLSX cell, exact inverse of join_list_cell:
# * one item per line (Alt+Enter in Excel). Stored items never hold a line break (every text is
#   normalised on the way in), so a line break always separates items;
# * a cell of one line is what a person typed: 关键词/预算类型 are split on 、,，;；| there,
#   部门职责/战略目标 are one item (a duty is a sentence and its 、 is part of it);
# * so a single keyword that itself holds 、,;| is written with a line break after it.


def split_list_cell(name: str, text: str) -> list[str]:
    """The items of a list cell (``name`` is its canonical field); see the rules above."""
    lines = _LINE_BREAKS.split(text)
    if len(lines) == 1 and name in TYPED_LIST_FIELDS:
        lines = _ITEM_SEPARATORS.split(text)
    return [item for item in (normalize_optional(line) for line in lines) if item]


def join_list_cell(name: str, items: Sequence[str]) -> str | None:
    """Items as one cell that :func:`split_list_cell` reads back to exactly these items."""
    texts = [item for item in (normalize_optional(i) for i in items) if item]
    if not texts:
        return None
    if len(texts) == 1 and name in TYPED_LIST_FIELDS and _ITEM_SEPARATORS.search(texts[0]):
        return texts[0] + "\n"
    return "\n".join(texts)


# --- duties and strategic goals of another department -----------------------------------------
# An indicator names the duties/goals it measures by name, and a name belongs to the indicator's
# own department. One of another department (or of any, for an indicator without one) is written
# "【部门】名称"; inside the brackets "\" and "】" are escaped with "\". A name of the indicator's own
# department that starts with "【" is written "【】名称", so every item reads back as it was.
_REF_OPEN, _REF_CLOSE, _REF_ESCAPE = "【", "】", "\\"


def measure_ref(department: str | None, name: str) -> str:
    """``name`` as an item of duties/strategic_goals; ``department`` None: the indicator's own."""
    if department is None:
        return _REF_OPEN + _REF_CLOSE + name if name.startswith(_REF_OPEN) else name
    escaped = department.replace(_REF_ESCAPE, _REF_ESCAPE * 2).replace(_REF_CLOSE, _REF_ESCAPE + _REF_CLOSE)
    return f"{_REF_OPEN}{escaped}{_REF_CLOSE}{name}"


def parse_measure_ref(item: str) -> tuple[str | None, str]:
    """(department or None for the indicator's own, name) of one duties/strategic_goals item.

    Text that does not follow the bracket form (no closing "】", nothing after it) is a plain name.
    """
    if not item.startswith(_REF_OPEN):
        return None, item
    department: list[str] = []
    i = len(_REF_OPEN)
    while i < len(item):
        ch = item[i]
        if ch == _REF_ESCAPE and i + 1 < len(item):
            department.append(item[i + 1])
            i += 2
            continue
        if ch == _REF_CLOSE:
            name = item[i + 1 :]
            if not name:
                break
            return ("".join(department) or None), name
        department.append(ch)
        i += 1
    return None, item
