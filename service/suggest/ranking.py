"""Ranking suggestions for one target text against a snapshot of the catalogue.

1. **Retrieval.** Disjunctive BM25 over name/keywords/sector/department/level 2/definition for the words
   of the text (one jieba pass through the search analyzer: bigrams + words; the digits of quantities and
   deadlines blanked, since values are not names), synonyms of its words at a lower weight, and — lower
   still — the words of the sector and department when the user names known ones (project tables reuse
   them). Rare terms find the candidates; common terms (in more than 2 % of a large catalogue) are scored
   for the best candidates only (``index.plan``), unless the rare ones find too few. Text relevance is scaled to [0, 1] by the best candidate.
2. **Context.** Structured signals are strong evidence: the indicator belongs to the user's department (a
   project's table is written by its department), to the sector, to the sector's family (教育 for
   教育(学生资助)), has the requested kind, or a ``SignalProvider`` links it to the department (duties,
   goals, past targets; the graph later). Without a given department/sector, the groups of the best
   text matches are inferred (relevance feedback): their members get a share of the weight, because a
   project's rows share its department and sector while its text names only some of them.
3. **Re-rank.** rapidfuzz ``partial_ratio`` of the name inside the text (names the text almost spells out)
   and the *fit* of a quantity of the text (unit family and the words around it: 规划里程169公里 fits a
   …里程 indicator in 公里).
4. **Diversify.** Greedy selection: a bonus for a core dimension the list does not cover yet, a cost per
   row already in the same dimension, a penalty for near-duplicate names (the same 群众满意度 of ten
   departments), so the list reads as a target table.
5. **Values and coverage.** Quantities and deadlines are attached one-to-one to the items whose unit and
   meaning fit, with their span in the original text; dimensions the list misses get fillers: the most
   relevant, most commonly used catalogue indicator of that dimension (context first).

Weights are in ``Weights``; ``bench/suggest_eval.py`` reports what they give on the development set
(``--set name=value`` to try others).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from service.domain import Comparator
from service.search.text import STOP_WORDS, SYNONYM_WEIGHT, Analyzer, compact
from service.suggest.calibration import Calibration
from service.suggest.calibration import load as load_calibration
from service.suggest.catalogue import Snapshot, SuggestDoc, sector_root_of
from service.suggest.dimensions import CORE_DIMENSIONS, Dimension
from service.suggest.drafts import Draft, dimension_draft, quantity_draft, subject_of
from service.suggest.extract import Deadline, Extraction, Quantity, extract
from service.suggest.fields import NONE as NO_FIELD
from service.suggest.fields import FieldGuess, generic_mask, infer_field
from service.suggest.index import FloatArray, Int32Array, plan, score_all, score_some
from service.suggest.units import PERCENT, Unit, convert, parse_unit, unit_fit

NUMERIC_COMPARATORS = frozenset({"ge", "le", "eq", "gt", "lt", "approx"})
_TIME_NAME_WORDS = ("时间", "时限", "期限", "完成", "日期", "进度", "时效")


@dataclass(frozen=True)
class Weights:
    """Scoring weights (text relevance is scaled to [0, 1]; the signals are 0/1 or in [0, 1])."""

    text: float = 1.0
    department: float = 1.2
    sector: float = 0.6
    sector_family: float = 0.15
    kind: float = 0.2
    external: float = 1.0  # a link the department made itself (duty, goal, target): like ownership
    fuzzy: float = 0.4
    quantity_fit: float = 0.3
    context_terms: float = 0.35
    inferred_department: float = 0.4
    inferred_sector: float = 0.2
    feedback_docs: int = 10
    new_dimension: float = 0.08
    same_dimension: float = 0.08
    duplicate: float = 0.8
    duplicate_ratio: float = 85.0
    filler_common: float = 0.3
    candidates: int = 200
    rerank: int = 60
    pool: int = 30
    group_docs: int = 300  # members taken from a context group that the text does not match
    text_pool: int = 2000  # best rare-term matches that compete for the candidates
    common_df_share: float = 0.02  # a term in more than this share of docs is "common" (see index.plan)
    common_df_min: int = 1000
    inferred_field: float = 0.3  # members of the inferred field, times its confidence
    strong_match: float = 0.9  # fuzzy share of the name found in the text that lets another field in


@dataclass(frozen=True)
class SuggestQuery:
    text: str
    department: str | None = None
    sector: str | None = None
    kind: str | None = None
    fiscal_year: int | None = None
    limit: int = 10
    apply_floor: bool = True  # False: every row, with its features (calibration data)


@dataclass(frozen=True)
class Signal:
    """Evidence from outside the text for one indicator (duties, goals, past targets, the graph)."""

    weight: float  # in [0, 1]
    reason: str


@dataclass(frozen=True)
class Proposal:
    comparator: Comparator
    value: float | str
    unit: str | None
    span: tuple[int, int]
    source: str
    value_max: float | None = None


@dataclass(frozen=True)
class Suggestion:
    doc: SuggestDoc
    score: float
    dimension: Dimension
    reasons: tuple[str, ...]
    matched_terms: tuple[str, ...]
    proposed: Proposal | None = None
    probability: float = 0.0
    confidence: str = "低"
    features: tuple[float, ...] = ()
    generic_sectors: int = 0  # for a generic name: how many sector families use it (0: not generic)


@dataclass(frozen=True)
class Filler:
    dimension: Dimension
    doc: SuggestDoc
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    present: tuple[Dimension, ...]
    missing: tuple[Dimension, ...]
    fillers: tuple[Filler, ...]


@dataclass(frozen=True)
class SuggestResult:
    items: tuple[Suggestion, ...]
    coverage: Coverage
    extraction: Extraction
    field: FieldGuess = NO_FIELD
    drafts: tuple[Draft, ...] = ()


@dataclass(frozen=True)
class _Context:
    department: int
    department_name: str | None
    sector: int
    sector_name: str | None
    root: int
    root_name: str | None
    kind: int


def _context(snap: Snapshot, q: SuggestQuery) -> _Context:
    vocab = snap.vocab
    dept_name = vocab.department_codes.get(q.department, q.department) if q.department else None
    sector_name = vocab.sector_codes.get(q.sector, q.sector) if q.sector else None
    root_name = sector_root_of(sector_name)
    return _Context(
        department=vocab.departments.get(dept_name),
        department_name=dept_name,
        sector=vocab.sectors.get(sector_name),
        sector_name=sector_name,
        root=vocab.sectors.get(root_name),
        root_name=root_name,
        kind=vocab.kinds.get(q.kind),
    )


_DIGITS = re.compile(r"[0-9０-９.,．，]+")


def _words_only(text: str, extraction: Extraction) -> str:
    """The text with the digits of its quantities and deadlines blanked: values are not names.

    Units stay (万人, 万元, 公里): names often carry them ("接待游客数量(≥**万人)").
    """
    spans = sorted([*(x.span for x in extraction.quantities), *(d.span for d in extraction.deadlines)])
    if not spans:
        return text
    parts, at = [], 0
    for a, b in spans:
        if a >= at:
            parts.append(text[at:a])
            parts.append(_DIGITS.sub(" ", text[a:b]))
            at = b
    parts.append(text[at:])
    return "".join(parts)


def _bigrams(s: str) -> frozenset[str]:
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


@dataclass(frozen=True)
class _Probe:
    """A quantity prepared for matching: its unit and the bigrams of the words around it."""

    quantity: Quantity
    unit: Unit | None
    grams: frozenset[str]
    head: frozenset[str]  # the phrase's head: the object counted, else the context's last word


def _head(q: Quantity) -> frozenset[str]:
    obj = compact(q.object)
    if len(obj) >= 2:
        return _bigrams(obj)
    return _bigrams(compact(q.context)[-3:])


def _probes(quantities: Sequence[Quantity]) -> list[_Probe]:
    return [
        _Probe(q, q.parsed_unit, _bigrams(compact(q.context)) | _bigrams(compact(q.object)), _head(q))
        for q in quantities
        if not q.baseline
    ]


HEAD_FREE_MEANING = 0.5  # without its head word a name must share this much of the phrase


def _meaning_of(probe: _Probe, name: str) -> float:
    """Share of the quantity's words (context before it, object after a counter) found in the name.

    Chinese phrases are head-final: 新建供水管网120公里 is about 管网, so a name that shares only 新建
    (新建堤防长度) does not take it; without the head word the name must share half of the phrase. A
    percentage must always share half: rates share their ending (达标率), not what they measure.
    """
    grams = probe.grams
    if not grams or len(name) < 2:
        return 0.0
    hits = sum(1 for g in grams if g in name)
    meaning = hits / min(len(grams), len(name) - 1)
    if meaning < HEAD_FREE_MEANING and probe.head and not any(g in name for g in probe.head):
        return 0.0
    if meaning < HEAD_FREE_MEANING and probe.unit is not None and probe.unit.family == PERCENT:
        return 0.0  # every rate ends in 率: a share of 体质健康达标率 is not 资助标准达标率
    return meaning


def _fit(probe: _Probe, name: str, family: str | None) -> float:
    """How well a quantity belongs to an indicator: unit family fit times meaning (0 when either fails)."""
    fit = unit_fit(probe.unit, family)
    if not fit:
        return 0.0
    meaning = _meaning_of(probe, name)
    if meaning <= 0.0:
        return 0.0
    return fit * (0.3 + 0.7 * meaning)


def _fits(snap: Snapshot, cand: np.ndarray, names: Sequence[str], probes: Sequence[_Probe]) -> FloatArray:
    """Best quantity fit of every candidate; the meaning test runs only where a unit family fits."""
    fits = np.zeros(len(cand))
    if not probes:
        return fits
    families = snap.vocab.families.names
    fam_ids = snap.family[cand]
    present = set(fam_ids.tolist())
    for probe in probes:
        fit_of = {f: unit_fit(probe.unit, families[f] if f >= 0 else None) for f in present}
        for k in np.flatnonzero([fit_of[int(f)] > 0 for f in fam_ids]).tolist():
            meaning = _meaning_of(probe, names[k])
            if meaning > 0:
                fits[k] = max(fits[k], fit_of[int(fam_ids[k])] * (0.3 + 0.7 * meaning))
    return fits


def _common_substrings(name: str, text: str) -> list[str]:
    """Maximal substrings (2+ characters) of the name that the text contains, left to right."""
    out: list[str] = []
    i = 0
    while i < len(name) - 1:
        for j in range(len(name), i + 1, -1):
            if name[i:j] in text:
                out.append(name[i:j])
                i = j
                break
        else:
            i += 1
    return out


class Ranker:
    """Ranks suggestions; stateless apart from the synonym table (shared with the search analyzer)."""

    def __init__(
        self,
        analyzer: Analyzer,
        synonyms: Mapping[str, Sequence[str]],
        weights: Weights,
        calibration: Calibration | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.weights = weights
        self.calibration = calibration or load_calibration()
        table: dict[str, list[str]] = {}
        for key, alts in synonyms.items():
            k = compact(key)
            if k:
                table.setdefault(k, []).extend(a for a in (compact(x) for x in alts) if a and a != k)
        self._synonyms = table
        # Terms of short texts that recur in every query (synonyms, sector and department names).
        self._short_terms = functools.lru_cache(maxsize=8192)(self._analyse)

    # -- query terms ------------------------------------------------------------------------------

    def _analyse(self, text: str) -> tuple[str, ...]:
        terms = self.analyzer.index_terms(text, unigrams=False)
        return tuple(dict.fromkeys(t for t in terms if t not in STOP_WORDS))

    def _terms_of(self, text: str, weight: float, out: dict[str, float], *, cached: bool = True) -> None:
        for term in self._short_terms(text) if cached else self._analyse(text):
            if out.get(term, 0.0) < weight:
                out[term] = weight

    def _terms(self, q: SuggestQuery, extraction: Extraction, ctx: _Context) -> dict[str, float]:
        """Terms of the text (one jieba pass: bigrams + words), synonyms of its words at a lower weight,
        and the words of the sector and department when they are known."""
        w = self.weights
        words = _words_only(q.text, extraction)
        terms: dict[str, float] = {}
        self._terms_of(words, 1.0, terms, cached=False)
        folded = compact(words)
        for key, alts in self._synonyms.items():
            if key in folded:
                for alt in alts:
                    self._terms_of(alt, SYNONYM_WEIGHT, terms)
        if ctx.sector >= 0 or ctx.root >= 0:
            self._terms_of(ctx.sector_name or "", w.context_terms, terms)
        if ctx.department >= 0:
            self._terms_of(ctx.department_name or "", w.context_terms, terms)
        return terms

    # -- ranking ----------------------------------------------------------------------------------

    def suggest(
        self, snap: Snapshot, q: SuggestQuery, *, signals: Mapping[str, Signal] | None = None
    ) -> SuggestResult:
        w = self.weights
        extraction = extract(q.text, fiscal_year=q.fiscal_year)
        if snap.n_alive == 0:
            drafts = _quantity_drafts(extraction.quantities, set(), q.text)
            return SuggestResult((), Coverage((), CORE_DIMENSIONS, ()), extraction, NO_FIELD, drafts)
        ctx = _context(snap, q)
        text_c = compact(q.text)
        n_docs = max(snap.stats_docs, snap.n_alive)
        qp = plan(
            snap.segments,
            self._terms(q, extraction, ctx),
            n_docs=n_docs,
            common_df=max(int(w.common_df_share * n_docs), w.common_df_min),
        )
        # Phase 1: the best rare-term matches, the user's context groups, inferred groups and
        # externally linked docs form a bounded universe; context and feedback are scored there.
        dense = score_all(snap.segments, qp.rare, snap.n)
        matched = np.flatnonzero(dense)
        common = list(qp.common)
        while len(matched) < w.candidates and common:
            # A text of common words only (群众满意度 in a large catalogue): let the rarest of them
            # gather candidates too, one at a time, until there are enough.
            dense += score_all(snap.segments, common[:1], snap.n)
            common = common[1:]
            matched = np.flatnonzero(dense)
        if snap.n_alive < snap.n:
            matched = matched[snap.alive[matched]]
        if len(matched) > w.text_pool:
            matched = matched[np.argpartition(-dense[matched], w.text_pool - 1)[: w.text_pool]]
        evidence = _evidence(snap, dense, matched, ctx, w)
        guess = infer_field(
            snap,
            dense,
            matched,
            text_c,
            qp.rare,
            sector=q.sector if ctx.sector >= 0 or ctx.root >= 0 or q.sector else None,
            department=ctx.department,
            department_name=ctx.department_name,
        )
        external = {i: sig for code, sig in (signals or {}).items() if (i := snap.live_id(code)) is not None}
        extra: list[np.ndarray] = [np.fromiter(external, np.int64, len(external))]
        for column, label in (("department", ctx.department), ("sector", ctx.sector)):
            if label >= 0:
                extra.append(snap.members(column, label)[: w.group_docs])
        for column, boosts in evidence:
            # Members of strongly inferred groups join even when the text misses them.
            for label in np.flatnonzero(boosts[:-1] >= 0.5 * boosts.max()).tolist():
                extra.append(snap.members(column, label)[: w.group_docs])
        universe = _union(matched, extra, snap)
        if not len(universe):
            coverage = self._coverage(snap, (), universe, np.zeros(0), ctx, guess)
            drafts = _quantity_drafts(extraction.quantities, set(), q.text)
            return SuggestResult((), coverage, extraction, guess, drafts + _dimension_drafts(coverage, q.text, drafts))
        context = _context_part(snap, universe, ctx, w, evidence, external)
        if guess.field >= 0 and guess.source != "given":
            context += w.inferred_field * guess.confidence * (snap.sector_field[universe] == guess.field)
        rare = dense[universe]
        rare_top = float(rare.max()) or 1.0
        pre = w.text * rare / rare_top + context
        keep = _top_positions(pre, w.candidates)
        cand, context, pre = universe[keep], context[keep], pre[keep]
        # Phase 2, for the best candidates: the common terms (text relevance rescaled), the name
        # inside the text (fuzzy), and the quantities of the text that fit.
        sub = np.argsort(-pre, kind="stable")[: max(w.rerank, q.limit)]
        raw = rare[keep][sub] + score_some(snap.segments, common, cand[sub])
        text = raw / max(float(raw.max()), rare_top)
        names = [snap.names[i] for i in cand[sub].tolist()]
        fuzzy = process.cdist([text_c], names, scorer=fuzz.partial_ratio, workers=1)[0] / 100.0
        fuzzy[[len(nm) < 4 for nm in names]] *= 0.5  # a short name (水费) is inside many texts by chance
        probes = _probes(extraction.quantities)
        final = w.text * text + context[sub] + w.fuzzy * fuzzy**2
        qfit = _fits(snap, cand[sub], names, probes)
        final += w.quantity_fit * qfit

        ids = cand[sub]
        generic = generic_mask(snap, ids)
        on_field = (snap.sector_field[ids] == guess.field) if guess.field >= 0 else np.zeros(len(ids), np.bool_)
        eligible = _eligible(snap, ids, guess, generic, fuzzy, ctx, external, w)
        features = np.column_stack(
            (text, fuzzy**2, np.minimum(context[sub], 2.0), on_field, generic, qfit, np.zeros(len(ids)))
        )
        chosen = self._diversify(snap, ids, final, names, q.limit, eligible)
        items = self._items(snap, ctx, ids, chosen, text, names, text_c, external, features, generic, q)
        items = _attach(snap, items, extraction, probes)
        taken = {p.span for it in items if (p := it.proposed) is not None}
        drafts = _quantity_drafts(extraction.quantities, taken, q.text)
        coverage = self._coverage(snap, items, ids, final, ctx, guess, eligible, drafts)
        drafts += _dimension_drafts(coverage, q.text, drafts)
        return SuggestResult(tuple(items), coverage, extraction, guess, drafts)

    # -- selection --------------------------------------------------------------------------------

    def _diversify(
        self,
        snap: Snapshot,
        ids: np.ndarray,
        final: FloatArray,
        names: list[str],
        limit: int,
        eligible: np.ndarray | None = None,
    ) -> list[tuple[int, float, bool]]:
        """Greedy pick of ``limit`` positions of ``ids``: (position, gain, filled a new dimension).

        Only ``eligible`` positions take part, and a name is shown once (the same 群众满意度 of ten
        departments is one row).
        """
        w = self.weights
        order = np.argsort(-final, kind="stable")
        if eligible is not None:
            order = order[eligible[order]]
        seen: set[str] = set()
        pool: list[int] = []
        for k in order.tolist():
            if names[k] not in seen:
                seen.add(names[k])
                pool.append(k)
                if len(pool) >= max(w.pool, limit):
                    break
        if not pool:
            return []
        sim = process.cdist([names[k] for k in pool], [names[k] for k in pool], scorer=fuzz.ratio, workers=1)
        dims = snap.dimension[ids[pool]].tolist()
        core = {int(d) for d in CORE_DIMENSIONS}
        # Adjusted score of each pool entry; updated as picks change its dimension count / duplicates.
        gain = final[pool].tolist()
        for j, d in enumerate(dims):
            gain[j] += w.new_dimension * (d in core)
        per_dim: Counter[int] = Counter()
        penalised = [False] * len(pool)
        out: list[tuple[int, float, bool]] = []
        left = set(range(len(pool)))
        for _ in range(min(limit, len(pool))):
            best = max(left, key=lambda j: (gain[j], -j))
            left.discard(best)
            d = dims[best]
            out.append((pool[best], gain[best], d in core and per_dim[d] == 0))
            per_dim[d] += 1
            row = sim[best]
            for j in left:
                if dims[j] == d:
                    # The first pick of a core dimension ends its bonus; each further one costs.
                    gain[j] -= (w.new_dimension if d in core and per_dim[d] == 1 else 0.0) + w.same_dimension
                if not penalised[j] and row[j] >= w.duplicate_ratio:
                    penalised[j] = True
                    gain[j] -= w.duplicate * row[j] / 100.0
        return out

    def _items(
        self,
        snap: Snapshot,
        ctx: _Context,
        ids: np.ndarray,
        chosen: list[tuple[int, float, bool]],
        text_score: FloatArray,
        names: list[str],
        text_c: str,
        external: Mapping[int, Signal],
        features: np.ndarray,
        generic: np.ndarray,
        q: SuggestQuery,
    ) -> list[Suggestion]:
        synonyms_in_text = [alt for key, alts in self._synonyms.items() if key in text_c for alt in alts]
        items = []
        top_gain = max((g for _, g, _ in chosen), default=0.0) or 1.0
        for k, gain, filled in chosen:
            i = int(ids[k])
            x = features[k].copy()
            x[-1] = gain / top_gain
            p = self.calibration.probability(x.tolist())
            if q.apply_floor and p < self.calibration.floor and i not in external:
                continue  # a row the department linked itself (duty, goal, past target) is evidence enough
            spread = 0
            if generic[k]:
                spread = snap.vocab.name_spread(snap.names[i])
                i = _representative(snap, i)
            doc = snap.docs[i]
            name = names[k]
            matched = _common_substrings(name, text_c)
            matched += [alt for alt in synonyms_in_text if alt in name and alt not in matched]
            reasons: list[str] = []
            if matched:
                reasons.append("文本匹配:" + "、".join(matched[:5]))
            elif text_score[k] >= 0.2:
                reasons.append("与目标文本用词相近(名称/定义/关键词)")
            if ctx.department >= 0 and snap.department[i] == ctx.department:
                reasons.append(f"本部门指标:{doc.department}")
            if ctx.sector >= 0 and snap.sector[i] == ctx.sector:
                reasons.append(f"同行业:{doc.sector}")
            elif ctx.root >= 0 and snap.sector_root[i] == ctx.root:
                reasons.append(f"同行业大类:{ctx.root_name}")
            if ctx.kind >= 0 and snap.kind[i] == ctx.kind:
                reasons.append(f"指标类别:{doc.kind}")
            if i in external:
                reasons.append(external[i].reason)
            if generic[k]:
                reasons.append(f"通用指标:{max(spread, 1)}个行业领域使用同名指标")
            dimension = Dimension(int(snap.dimension[i]))
            if filled:
                reasons.append(f"补足维度:{dimension.label}")
            items.append(
                Suggestion(
                    doc=doc,
                    score=round(gain, 4),
                    dimension=dimension,
                    reasons=tuple(reasons),
                    matched_terms=tuple(matched),
                    probability=round(p, 4),
                    confidence=self.calibration.label(p),
                    features=tuple(np.round(x, 4).tolist()),
                    generic_sectors=spread,
                )
            )
        return items

    def _coverage(
        self,
        snap: Snapshot,
        items: Sequence[Suggestion],
        cand: np.ndarray,
        pre: FloatArray,
        ctx: _Context,
        guess: FieldGuess = NO_FIELD,
        eligible: np.ndarray | None = None,
        drafts: Sequence[Draft] = (),
    ) -> Coverage:
        """Present/missing core dimensions; for each missing one the best-fitting common indicator.

        Candidates of the dimension (relevance = their score) come first; the catalogue's most
        repeated names of the dimension (common indicators) compete with relevance 0, plus a
        bonus for how common their name is.
        """
        present = tuple(
            d
            for d in CORE_DIMENSIONS
            if any(it.dimension == d for it in items) or any(x.dimension == d for x in drafts)
        )
        missing = tuple(d for d in CORE_DIMENSIONS if d not in present)
        used = {it.doc.code for it in items}
        if eligible is not None and len(eligible) == len(cand):
            cand, pre = cand[eligible], pre[eligible]
        counts = snap.vocab.name_counts
        relevance = dict(zip(cand.tolist(), pre.tolist(), strict=True))
        cand_dims = snap.dimension[cand]
        fillers: list[Filler] = []
        for dim in missing:
            pool = cand[cand_dims == int(dim)].tolist()
            pool += [i for i in snap.common.get(int(dim), ()) if i < snap.n and snap.alive[i]]
            pool = list(dict.fromkeys(pool))
            if guess.allowed and pool:
                # Another field's row does not fill this target's table (unless generic or the department's).
                ids = np.fromiter(pool, np.int64, len(pool))
                fields = snap.sector_field[ids]
                ok = (fields < 0) | generic_mask(snap, ids)
                for allowed in guess.allowed:
                    ok |= fields == allowed
                if ctx.department >= 0:
                    ok |= snap.department[ids] == ctx.department
                pool = ids[ok].tolist()
            # Commonness relative to the pool: how many catalogue rows share the name.
            scale = math.log1p(max((counts[snap.names[i]] for i in pool), default=1)) or 1.0
            best: tuple[float, int] | None = None
            for i in pool:
                if snap.docs[i].code in used:
                    continue
                common = math.log1p(counts[snap.names[i]]) / scale
                score = relevance.get(i, 0.0) + self.weights.filler_common * common
                if (
                    best is None
                    or score > best[0]
                    or (score == best[0] and snap.docs[i].code < snap.docs[best[1]].code)
                ):
                    best = (score, i)
            if best is None:
                continue
            score, i = best
            doc = snap.docs[i]
            reasons = [f"补足维度:{dim.label}"]
            if ctx.department >= 0 and snap.department[i] == ctx.department:
                reasons.append(f"本部门指标:{doc.department}")
            elif ctx.sector >= 0 and snap.sector[i] == ctx.sector:
                reasons.append(f"同行业:{doc.sector}")
            if counts[snap.names[i]] > 1:
                reasons.append(f"常用指标:目录中{counts[snap.names[i]]}条同名")
            used.add(doc.code)
            fillers.append(Filler(dimension=dim, doc=doc, score=round(score, 4), reasons=tuple(reasons)))
        return Coverage(present=present, missing=missing, fillers=tuple(fillers))


def _evidence(
    snap: Snapshot, dense: FloatArray, matched: np.ndarray, ctx: _Context, w: Weights
) -> list[tuple[str, FloatArray]]:
    """Relevance feedback at the level of departments and sectors: (column, boost per label).

    A project's rows share its department and sector, and its text names only some of them. The
    groups of the best text matches are probably the project's own: each group gets the summed text
    score of its members among the top ``feedback_docs``, scaled to [0, 1] and by the weight; every
    member of the group gets that boost. Skipped for a context the user gave (it is known then).
    The boost arrays have one extra zero cell, so that label -1 (no group) reads 0.
    """
    out: list[tuple[str, FloatArray]] = []
    if not len(matched) or w.feedback_docs < 1:
        return out
    k = min(w.feedback_docs, len(matched))
    top = matched[np.argpartition(-dense[matched], k - 1)[:k]]
    for column, labels, weight, given in (
        ("department", snap.vocab.departments, w.inferred_department, ctx.department >= 0),
        ("sector", snap.vocab.sectors, w.inferred_sector, ctx.sector >= 0),
    ):
        if given or weight <= 0:
            continue
        groups: Int32Array = getattr(snap, column)[top]
        has = groups >= 0
        if not has.any():
            continue
        boosts = np.zeros(len(labels.names) + 1)
        np.add.at(boosts, groups[has], dense[top][has])
        boosts *= weight / boosts.max()
        out.append((column, boosts))
    return out


def _context_part(
    snap: Snapshot,
    ids: np.ndarray,
    ctx: _Context,
    w: Weights,
    evidence: Sequence[tuple[str, FloatArray]],
    external: Mapping[int, Signal],
) -> FloatArray:
    """Everything but the text: given context, inferred groups, external signals."""
    part = np.zeros(len(ids))
    if ctx.department >= 0:
        part += w.department * (snap.department[ids] == ctx.department)
    sector = snap.sector[ids]
    if ctx.sector >= 0:
        part += w.sector * (sector == ctx.sector)
    if ctx.root >= 0:
        part += w.sector_family * ((snap.sector_root[ids] == ctx.root) & (sector != ctx.sector))
    if ctx.kind >= 0:
        part += w.kind * (snap.kind[ids] == ctx.kind)
    for column, boosts in evidence:
        part += boosts[getattr(snap, column)[ids]]
    if external:
        weights = np.array(
            [max(0.0, min(1.0, external[i].weight)) if i in external else 0.0 for i in ids.tolist()]
        )
        part += w.external * weights
    return part


def _union(matched: np.ndarray, extra: Sequence[np.ndarray], snap: Snapshot) -> np.ndarray:
    """Sorted distinct live ids of ``matched`` (live already) and the ``extra`` groups."""
    more = np.concatenate([e.astype(np.int64) for e in extra]) if extra else np.zeros(0, np.int64)
    ids = np.sort(np.concatenate((matched.astype(np.int64), more[snap.alive[more]])))
    if len(ids) > 1:
        ids = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]
    return ids


def _top_positions(score: FloatArray, k: int) -> np.ndarray:
    """Positions of the ``k`` best scores (unordered), O(n)."""
    if len(score) <= k:
        return np.arange(len(score))
    return np.argpartition(-score, k - 1)[:k]


def _eligible(
    snap: Snapshot,
    ids: np.ndarray,
    guess: FieldGuess,
    generic: np.ndarray,
    fuzzy: FloatArray,
    ctx: _Context,
    external: Mapping[int, Signal],
    w: Weights,
) -> np.ndarray:
    """Rows that may be shown: of the target's field(s), generic, strongly matched, or the department's own."""
    if not guess.allowed:
        return np.ones(len(ids), np.bool_)
    fields = snap.sector_field[ids]
    # A row without a sector is of no other field: only rows of another field are held back.
    ok = fields < 0
    for allowed in guess.allowed:
        ok |= fields == allowed
    ok |= generic
    ok |= fuzzy >= w.strong_match
    if ctx.department >= 0:
        ok |= snap.department[ids] == ctx.department
    if external:
        ok |= np.fromiter((i in external for i in ids.tolist()), np.bool_, len(ids))
    return np.asarray(ok, np.bool_)


def _representative(snap: Snapshot, i: int) -> int:
    """For a generic name, the 共性 row of that name where the catalogue has one."""
    if snap.docs[i].kind == "common":
        return i
    name = snap.names[i]
    j = snap.vocab.common_ids.get(name, -1)
    if 0 <= j < snap.n and snap.alive[j] and snap.names[j] == name and snap.docs[j].kind == "common":
        return j
    for j in snap.vocab.name_ids.get(name, ()):
        if j < snap.n and snap.alive[j] and snap.names[j] == name and snap.docs[j].kind == "common":
            return j
    return i


def _quantity_drafts(
    quantities: Sequence[Quantity], taken: set[tuple[int, int]], text: str
) -> tuple[Draft, ...]:
    out: list[Draft] = []
    names: set[str] = set()
    subject = subject_of(text)
    for q in quantities:
        if q.baseline or q.span in taken:
            continue
        d = quantity_draft(q, subject)
        if d is not None and d.name not in names:
            names.add(d.name)
            out.append(d)
    return tuple(out)


def _dimension_drafts(coverage: Coverage, text: str, drafts: Sequence[Draft]) -> tuple[Draft, ...]:
    filled = {f.dimension for f in coverage.fillers}
    out: list[Draft] = []
    taken = [d.name for d in drafts]
    for dim in coverage.missing:
        if dim in filled:
            continue
        d = dimension_draft(dim, text, taken)
        if d is not None:
            taken.append(d.name)
            out.append(d)
    return tuple(out)


# --- values -----------------------------------------------------------------------------------------


def _proposal(q: Quantity, doc: SuggestDoc) -> Proposal:
    if q.comparator is not None:
        cmp = q.comparator
    elif doc.comparator in NUMERIC_COMPARATORS:
        cmp = Comparator(doc.comparator)
    else:
        cmp = Comparator.ge  # a planned amount is a floor unless the text says otherwise
    value: float | str = q.value
    value_max = q.value_max
    unit = q.unit
    source, target = q.parsed_unit, parse_unit(doc.unit)
    if source is not None and target is not None and source.display != target.display:
        converted = convert(q.value, source, target)
        if converted is not None:
            value = round(converted, 6)
            value_max = None if q.value_max is None else round(convert(q.value_max, source, target) or 0, 6)
            unit = doc.unit
    return Proposal(comparator=cmp, value=value, unit=unit, span=q.span, source=q.text, value_max=value_max)


def _deadline_proposal(d: Deadline) -> Proposal:
    return Proposal(comparator=Comparator.qualitative, value=d.text, unit=None, span=d.span, source=d.text)


def _attach(
    snap: Snapshot, items: list[Suggestion], extraction: Extraction, probes: Sequence[_Probe]
) -> list[Suggestion]:
    """Give each quantity (and deadline) to at most one item whose unit and meaning fit, best pairs first."""
    families = snap.vocab.families.names
    pairs: list[tuple[float, int, int]] = []
    item_family: list[str | None] = []
    for it in items:
        i = snap.code_to_id[it.doc.code]
        item_family.append(families[snap.family[i]] if snap.family[i] >= 0 else None)
    names = [compact(it.doc.name) for it in items]
    for qi, probe in enumerate(probes):
        for k in range(len(items)):
            score = _fit(probe, names[k], item_family[k])
            if score > 0:
                pairs.append((score, -k, qi))
    pairs.sort(reverse=True)
    proposals: dict[int, Proposal] = {}
    used_q: set[int] = set()
    for _score, neg_k, qi in pairs:
        k = -neg_k
        if k in proposals or qi in used_q:
            continue
        proposals[k] = _proposal(probes[qi].quantity, items[k].doc)
        used_q.add(qi)
    for d in extraction.deadlines:
        for k, it in enumerate(items):
            if k in proposals or it.dimension != Dimension.timeliness:
                continue
            if item_family[k] not in (None, "duration") or not any(
                x in it.doc.name for x in _TIME_NAME_WORDS
            ):
                continue
            proposals[k] = _deadline_proposal(d)
            break
    out = []
    for k, it in enumerate(items):
        p = proposals.get(k)
        if p is None:
            out.append(it)
            continue
        out.append(
            Suggestion(
                doc=it.doc,
                score=it.score,
                dimension=it.dimension,
                reasons=(*it.reasons, f"可填数值:{p.source}"),
                matched_terms=it.matched_terms,
                proposed=p,
                probability=it.probability,
                confidence=it.confidence,
                features=it.features,
                generic_sectors=it.generic_sectors,
            )
        )
    return out


__all__ = [
    "Coverage",
    "Draft",
    "FieldGuess",
    "Filler",
    "Proposal",
    "Ranker",
    "Signal",
    "SuggestQuery",
    "SuggestResult",
    "Suggestion",
    "Weights",
]
