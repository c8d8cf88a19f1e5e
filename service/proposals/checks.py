"""Automated checks of a proposal, run at submission and stored with it.

Each check reads one item as it would stand after approval (an ``IndicatorDraft`` validated by the same
model the indicator API and imports use) and reports findings; ``error`` blocks approval. The rules
reuse the catalogue's own machinery rather than restating it: level labels go through the loaders'
``map_levels`` and the category tree, free-text bases through ``BasisMatcher``, units through the
suggestion engine's unit families, and near-duplicates through the suggestion engine itself.

Duplicate score of a candidate the engine retrieves for the item's name (all in [0, 1]):
``0.75·name + 0.15·unit + 0.10·dimension`` — ``name`` the normalised Indel similarity of the two
compact names (rapidfuzz ``ratio``), ``unit`` 1 when the unit families agree (``unit_fit``), 0.5 when
either is unknown, 0 when they differ, ``dimension`` 1 when both sit in the same target-table
dimension (产出-数量, 满意度 …). Candidates scoring ``DUPLICATE_SCORE`` or more (with a name
similarity of at least ``DUPLICATE_NAME``) are reported, best first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from sqlmodel import Session

from loaders.levels import map_levels
from service.change_sets import repository as change_set_repo
from service.domain import BasisStatus, Comparator, Framework, Kind
from service.indicators.schemas import IndicatorDraft
from service.legal_bases import repository as basis_repo
from service.legal_bases.service import BasisMatcher
from service.models import Indicator, LegalBasis
from service.proposals.schemas import Finding, ItemAction, Related, Severity
from service.search.text import compact
from service.suggest.dimensions import dimension_of
from service.suggest.engine import SuggestEngine
from service.suggest.ranking import SuggestQuery
from service.suggest.service import refresh_engine
from service.suggest.units import PERCENT, infer_family, parse_unit, unit_fit
from service.taxonomy.service import Refs

DUPLICATE_SCORE = 0.75
DUPLICATE_NAME = 0.6
DUPLICATE_CANDIDATES = 10
MAX_RELATED = 5
_GROWTH_WORDS = ("增长", "增幅", "提高", "提升", "超额", "同比", "比上年")
# Families a qualitative indicator would be measured in if it were quantified (a deadline is qualitative).
_QUANTIFIABLE_COUNT_END = re.compile(r"(次|人次|户数|个数|件数|数)$")
_STATUS_WORDS = {BasisStatus.repealed.value: "已废止", BasisStatus.superseded.value: "已被替代"}


@dataclass(frozen=True)
class CheckItem:
    """One item as the checks see it: the result it would have (``draft``) and what it changes."""

    id: int
    seq: int
    action: ItemAction
    code: str | None = None
    draft: IndicatorDraft | None = None  # create / revise
    changed: frozenset[str] = frozenset()  # field names the item sets
    current: Indicator | None = None  # revise / retire


@dataclass
class _Context:
    session: Session
    engine: SuggestEngine
    refs: Refs
    department_code: str
    proposer_is_finance: bool
    matcher: BasisMatcher
    bases: dict[int, LegalBasis]
    successors: dict[int, list[int]]
    findings: list[Finding] = field(default_factory=list)

    def add(
        self,
        item: CheckItem | None,
        check: str,
        severity: Severity,
        field_name: str | None,
        message: str,
        related: Iterable[Related] = (),
    ) -> None:
        self.findings.append(
            Finding(
                check=check,
                severity=severity,
                item=item.id if item else None,
                seq=item.seq if item else None,
                field=field_name,
                message=message,
                related=list(related),
            )
        )


def run_checks(
    session: Session,
    engine: SuggestEngine,
    *,
    department_code: str,
    items: Sequence[CheckItem],
    proposer_is_finance: bool,
) -> list[Finding]:
    """Every finding for the proposal's items, in item order (errors block approval)."""
    refresh_engine(session, engine)
    bases = {b.id: b for b in basis_repo.all_bases(session) if b.id is not None}
    successors: dict[int, list[int]] = {}
    for link in basis_repo.all_links(session):
        if link.relation == "supersedes":
            successors.setdefault(link.target_id, []).append(link.basis_id)
    ctx = _Context(
        session=session,
        engine=engine,
        refs=Refs(session),
        department_code=department_code,
        proposer_is_finance=proposer_is_finance,
        matcher=BasisMatcher.build(bases.values()),
        bases=bases,
        successors=successors,
    )
    for item in items:
        start = len(ctx.findings)
        if item.action == ItemAction.retire:
            _current_owner(ctx, item)  # a retirement is judged on whose indicator it is, as a revision is
            _usage(ctx, item)
            continue
        _required(ctx, item)
        _levels(ctx, item)
        _basis(ctx, item)
        _consistency(ctx, item)
        _quantifiable(ctx, item)
        _duplicates(ctx, item)
        if item.action == ItemAction.revise:
            _downgrade_untouched(ctx.findings, start, item.changed)
    _repeated_names(ctx, items)
    return ctx.findings


def _downgrade_untouched(findings: list[Finding], start: int, changed: frozenset[str]) -> None:
    """A revise item is judged on what it changes: flaws of fields it leaves alone do not block it."""
    for k in range(start, len(findings)):
        f = findings[k]
        untouched = f.field is not None and f.field not in changed
        if f.severity == Severity.error and untouched and f.check != "ownership":
            findings[k] = f.model_copy(
                update={"severity": Severity.warning, "message": f.message + "(本次未修改该字段)"}
            )


# --- required fields and ownership (department/kind consistency) -----------------------------------------------------------------


def _required(ctx: _Context, item: CheckItem) -> None:
    d = item.draft
    assert d is not None
    missing = [
        ("level1", d.level1 is None, "缺少一级指标"),
        ("level2", d.level2 is None, "缺少二级指标"),
        ("comparator", d.comparator is None, "缺少指标性质(≥ ≤ = > < 或 定性)"),
        ("value", d.value is None, "缺少指标值(标准值)"),
        ("basis", d.basis is None, "缺少取值依据/政策依据"),
    ]
    for name, absent, message in missing:
        if absent:
            ctx.add(item, "required", Severity.error, name, message)
    if d.comparator not in (None, Comparator.qualitative) and isinstance(d.value, float) and not d.unit:
        ctx.add(item, "required", Severity.error, "unit", "定量指标缺少计量单位")
    if d.definition is None:
        ctx.add(item, "required", Severity.warning, "definition", "缺少指标解释")
    _ownership(ctx, item, d)


def _ownership(ctx: _Context, item: CheckItem, d: IndicatorDraft) -> None:
    """The indicator belongs to the proposing department, and its kind fits who proposes it."""
    refs = ctx.refs
    if d.department is not None and (item.action == ItemAction.create or "department" in item.changed):
        dept_id = refs.department_id(d.department, create=False)
        if dept_id is None:
            ctx.add(item, "ownership", Severity.error, "department", f"部门「{d.department}」不存在")
        elif (named := refs.departments[dept_id]).code != ctx.department_code:
            ctx.add(
                item,
                "ownership",
                Severity.error,
                "department",
                f"指标归属部门「{named.name}」({named.code})不是提案部门 {ctx.department_code}",
            )
    _current_owner(ctx, item)
    if d.kind == Kind.common and not ctx.proposer_is_finance and "kind" in item.changed:
        ctx.add(
            item,
            "ownership",
            Severity.warning,
            "kind",
            "共性指标由财政部门制定,部门提出的指标一般应为个性指标",
        )
    hint = map_levels(d.level1, d.level2).kind_hint
    if hint is not None and "kind" in item.changed and hint != d.kind:
        ctx.add(
            item,
            "ownership",
            Severity.warning,
            "kind",
            f"指标类别 {d.kind.value} 与一级指标「{d.level1}」所示的 {hint.value} 不一致",
        )


def _current_owner(ctx: _Context, item: CheckItem) -> None:
    """An existing indicator is changed by its own department's proposals (finance's scope is checked
    when the proposal is written: ``service.auth.rules``)."""
    if item.current is None or item.current.department_id is None:
        return
    owner = ctx.refs.departments.get(item.current.department_id)
    if owner is not None and owner.code != ctx.department_code:
        doing = "停用" if item.action == ItemAction.retire else "修改"
        ctx.add(
            item,
            "ownership",
            Severity.error,
            "department",
            f"指标 {item.code} 属于部门「{owner.name}」({owner.code}),不能由 {ctx.department_code} 提出{doing}",
        )


# --- level mapping -----------------------------------------------------------------------------------


def _levels(ctx: _Context, item: CheckItem) -> None:
    d = item.draft
    assert d is not None
    if d.level1 is None:
        return  # reported as missing
    mapping = map_levels(d.level1, d.level2)
    if mapping.framework == Framework.unclassified:
        ctx.add(item, "levels", Severity.error, "level1", f"一级指标「{d.level1}」不在指标体系中")
        return
    if mapping.warning is not None:
        ctx.add(
            item, "levels", Severity.error, "level2", f"二级指标「{d.level2}」不属于一级指标「{d.level1}」"
        )
        return
    if not ctx.refs.category_by_labels(mapping.level1, mapping.level2):
        ctx.add(
            item, "levels", Severity.error, "level2", f"指标体系中没有「{mapping.level1}/{mapping.level2}」"
        )
        return
    written = (d.level1, d.level2 or None)
    if written != (mapping.level1, mapping.level2):
        where = "/".join(x for x in (mapping.level1, mapping.level2) if x)
        ctx.add(
            item,
            "levels",
            Severity.info,
            "level1",
            f"「{'/'.join(x for x in written if x)}」将归入指标体系的「{where}」",
        )


# --- legal basis -------------------------------------------------------------------------------------


def _basis_ref(b: LegalBasis) -> Related:
    return Related(kind="legal_basis", code=b.doc_no, name=b.title, href=f"/v1/legal-bases/{b.id}")


def _in_force_successors(ctx: _Context, basis_id: int) -> list[LegalBasis]:
    """The editions in force that replace ``basis_id``, following the supersession chain forward."""
    found: list[LegalBasis] = []
    seen = {basis_id}
    todo = list(ctx.successors.get(basis_id, []))
    while todo:
        bid = todo.pop(0)
        if bid in seen or bid not in ctx.bases:
            continue
        seen.add(bid)
        if ctx.bases[bid].status == BasisStatus.in_force:
            found.append(ctx.bases[bid])
        else:
            todo.extend(ctx.successors.get(bid, []))
    return found


def _basis(ctx: _Context, item: CheckItem) -> None:
    d = item.draft
    assert d is not None
    if d.basis is None:
        return  # reported as missing
    ids = ctx.matcher.match(d.basis)
    if not ids:
        ctx.add(
            item, "basis", Severity.warning, "basis", "取值依据未对应到法规库中的文件,请写明文号或文件名称"
        )
        return
    for bid in ids:
        b = ctx.bases[bid]
        if b.status == BasisStatus.in_force:
            continue
        successors = _in_force_successors(ctx, bid)
        message = f"依据 {b.doc_no}《{b.title}》{_STATUS_WORDS.get(b.status, b.status)}"
        if successors:
            message += ",现行版本:" + "、".join(f"{s.doc_no}《{s.title}》" for s in successors)
        ctx.add(
            item, "basis", Severity.error, "basis", message, [_basis_ref(b), *map(_basis_ref, successors)]
        )


# --- comparator, value and unit ----------------------------------------------------------------------


def _consistency(ctx: _Context, item: CheckItem) -> None:
    d = item.draft
    assert d is not None
    unit = parse_unit(d.unit)
    numeric = isinstance(d.value, float)
    if d.comparator == Comparator.qualitative:
        if d.unit is not None:
            severity = Severity.error if unit is not None else Severity.warning
            ctx.add(item, "consistency", severity, "unit", f"定性指标不应有计量单位「{d.unit}」")
        if numeric:
            ctx.add(item, "consistency", Severity.error, "value", "定性指标却给出数值,请改用 ≥ ≤ = 等比较符")
        return
    if d.comparator is not None and d.value is not None and not numeric:
        ctx.add(item, "consistency", Severity.error, "value", f"指标值「{d.value}」不是数值,与比较符不符")
        return
    if not numeric or not isinstance(d.value, float):
        return
    if unit is not None and unit.family == PERCENT:
        if d.value > 100:
            growth = any(w in d.name for w in _GROWTH_WORDS)
            ctx.add(
                item,
                "consistency",
                Severity.warning if growth else Severity.error,
                "value",
                f"百分比指标的值 {d.value:g}% 超过 100%",
            )
        elif d.value < 0:
            ctx.add(item, "consistency", Severity.warning, "value", f"百分比指标的值为负数({d.value:g}%)")
    named = infer_family(d.name, None)
    if unit is not None and named is not None and not unit_fit(unit, named):
        ctx.add(
            item,
            "consistency",
            Severity.warning,
            "unit",
            f"计量单位「{d.unit}」与指标名称「{d.name}」所示的计量口径不符",
        )


def _quantifiable(ctx: _Context, item: CheckItem) -> None:
    d = item.draft
    assert d is not None
    if d.comparator != Comparator.qualitative:
        return
    family = infer_family(d.name, None)
    if (family is not None and family != "duration") or _QUANTIFIABLE_COUNT_END.search(d.name):
        ctx.add(
            item,
            "quantifiable",
            Severity.warning,
            "comparator",
            f"「{d.name}」读起来是可计量的比率或数量,宜设为定量指标(定量为主、定性为辅)",
        )


# --- near-duplicates across the catalogue ------------------------------------------------------------


def duplicate_score(name: str, unit: str | None, dimension: int, doc_name: str, doc_unit: str | None,
                    doc_dimension: int) -> tuple[float, float]:  # fmt: skip
    """(score, name similarity) of a catalogue indicator against a proposed one; see the module doc."""
    name_sim = fuzz.ratio(compact(name), compact(doc_name)) / 100.0
    mine, theirs = infer_family(name, unit), infer_family(doc_name, doc_unit)
    if mine is None or theirs is None:
        unit_part = 0.5
    else:
        parsed = parse_unit(unit)
        unit_part = 1.0 if mine == theirs or (parsed is not None and unit_fit(parsed, theirs) > 0) else 0.0
    dim_part = 1.0 if dimension == doc_dimension else 0.0
    return round(0.75 * name_sim + 0.15 * unit_part + 0.10 * dim_part, 3), name_sim


def _duplicates(ctx: _Context, item: CheckItem) -> None:
    d = item.draft
    assert d is not None
    if item.action == ItemAction.revise and "name" not in item.changed:
        return
    mapping = map_levels(d.level1, d.level2)
    dimension = int(dimension_of(mapping.level1, mapping.level2, d.name, raw_level2=d.level2))
    result = ctx.engine.suggest(SuggestQuery(text=d.name, limit=DUPLICATE_CANDIDATES))
    hits: list[tuple[float, Related]] = []
    same_department_exact = False
    for s in result.items:
        doc = s.doc
        if doc.code == item.code:
            continue
        score, name_sim = duplicate_score(d.name, d.unit, dimension, doc.name, doc.unit, int(s.dimension))
        if score < DUPLICATE_SCORE or name_sim < DUPLICATE_NAME:
            continue
        if doc.department_code == ctx.department_code and compact(doc.name) == compact(d.name):
            same_department_exact = True
        hits.append(
            (
                score,
                Related(
                    kind="indicator",
                    code=doc.code,
                    name=doc.name,
                    department_code=doc.department_code,
                    unit=doc.unit,
                    score=score,
                    href=f"/v1/indicators/{doc.code}",
                ),
            )
        )
    if not hits:
        return
    hits.sort(key=lambda h: (-h[0], h[1].code))
    related = [r for _, r in hits[:MAX_RELATED]]
    listed = "、".join(
        f"{r.code}「{r.name}」({r.department_code or '未指定部门'},相似度 {r.score:.2f})" for r in related
    )
    if same_department_exact and item.action == ItemAction.create:
        ctx.add(
            item,
            "duplicate",
            Severity.error,
            "name",
            f"本部门已有同名指标,请提出修改而非新增:{listed}",
            related,
        )
    elif any(r.department_code != ctx.department_code for r in related):
        ctx.add(
            item,
            "duplicate",
            Severity.warning,
            "name",
            f"全省目录中其他部门已有含义相近的指标:{listed}",
            related,
        )
    else:
        ctx.add(item, "duplicate", Severity.warning, "name", f"目录中已有相近指标:{listed}", related)


def _repeated_names(ctx: _Context, items: Sequence[CheckItem]) -> None:
    seen: dict[str, CheckItem] = {}
    for item in items:
        if item.action != ItemAction.create or item.draft is None:
            continue
        key = compact(item.draft.name)
        if key in seen:
            ctx.add(item, "duplicate", Severity.error, "name", f"与本提案第 {seen[key].seq} 项同名")
        else:
            seen[key] = item


# --- retirement ----------------------------------------------------------------------------------------


def _usage(ctx: _Context, item: CheckItem) -> None:
    """Retiring an indicator that targets still use is allowed, but the reviewer should know."""
    if item.current is None or item.current.id is None:
        return
    targets = sorted(
        {row.external_id for row in change_set_repo.targets_using(ctx.session, [item.current.id])}
    )
    if targets:
        shown = "、".join(targets[:10]) + (" 等" if len(targets) > 10 else "")
        ctx.add(item, "usage", Severity.info, None, f"{len(targets)} 个绩效目标仍在使用该指标:{shown}")
