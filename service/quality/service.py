"""The catalogue quality lint: what a finance department checks before it publishes a release.

The catalogue (today's, or a release's, or a day's from revision snapshots) is read once as flat rows
and every check is a pass over them in memory: missing or out-of-force legal bases, the share of
qualitative indicators per department (定量为主、定性为辅), near-duplicate names across departments,
one name with several units, and values that do not fit their unit or comparator.

Near-duplicates are found without comparing all pairs: distinct normalised names are blocked by their
first two and by their last two characters (a pair that differs by a few edits keeps one end intact)
and, within a block, only names whose lengths could reach the similarity threshold are compared, in
bulk with ``rapidfuzz.process.cdist``. Pairs that change both ends are missed by design.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from rapidfuzz import fuzz, process
from sqlmodel import Session

from loaders.text import normalize_text
from service.codes import code_key
from service.domain import BasisStatus, Comparator, IndicatorStatus
from service.models import utcnow
from service.quality import repository as repo
from service.quality.repository import Link, Row
from service.quality.schemas import (
    BasisRef,
    ClusterMember,
    CodeCollision,
    CodeCollisions,
    DepartmentShare,
    DuplicateCluster,
    DuplicateClusters,
    InconsistentUnits,
    IndicatorRef,
    MismatchRule,
    QualitativeShare,
    QualityReport,
    RepealedBasis,
    RepealedBasisFinding,
    Severity,
    Totals,
    UnitInconsistency,
    UnitValueFinding,
    UnitValueMismatch,
    UnitVariant,
    WithoutBasis,
)
from service.search.text import compact
from service.suggest.units import PERCENT, infer_family, parse_unit

DEFAULT_STATUSES: tuple[IndicatorStatus, ...] = (
    IndicatorStatus.draft,
    IndicatorStatus.proposed,
    IndicatorStatus.standard,
)
OUT_OF_FORCE = frozenset({BasisStatus.repealed.value, BasisStatus.superseded.value})
NUMERIC_COMPARATORS = frozenset(
    c.value
    for c in (Comparator.ge, Comparator.le, Comparator.eq, Comparator.gt, Comparator.lt, Comparator.approx)
)
BLOCK_CHARS = 2
SMALL_BLOCK = 48  # below this many pairs' worth, plain ratio calls beat a cdist call
CDIST_CELLS = 4_000_000  # bound on one similarity matrix (float32: 16 MB)


@dataclass(frozen=True)
class QualityParams:
    statuses: tuple[IndicatorStatus, ...] = DEFAULT_STATUSES
    qualitative_threshold: float = 0.3
    min_similarity: float = 0.9
    limit: int = 50


def catalogue_quality(
    session: Session, params: QualityParams, *, as_of: date | None = None, release: str | None = None
) -> QualityReport:
    """The quality report of today's catalogue, of a release, or of the catalogue at the end of a day."""
    from service.versions.service import check_one_of

    check_one_of(release, as_of)
    statuses = [s.value for s in params.statuses]
    if release is None and as_of is None:
        rows = repo.current_rows(session, statuses)
        links = repo.current_links(session, statuses)
        by_status = repo.status_counts(session)
    else:
        rows, links, by_status = _past(session, statuses, release=release, as_of=as_of)
    return build_report(rows, links, by_status, params, as_of=as_of, release=release)


def _past(
    session: Session, statuses: Sequence[str], *, release: str | None, as_of: date | None
) -> tuple[list[Row], dict[str, list[Link]], dict[str, int]]:
    """Rows and links from the revision snapshots of then; basis statuses as their revisions had them."""
    from service.releases.service import past_rows
    from service.versions.service import end_of, require_release

    day = require_release(session, release).effective_on if release is not None else as_of
    assert day is not None
    basis_status = repo.basis_statuses_at(session, end_of(day))
    wanted = set(statuses)
    rows: list[Row] = []
    links: dict[str, list[Link]] = {}
    by_status: Counter[str] = Counter()
    for _, code, snap in past_rows(session, release=release, as_of=as_of):
        status = str(snap.get("status") or IndicatorStatus.standard.value)
        by_status[status] += 1
        if status not in wanted:
            continue
        rows.append(
            Row(
                code=code,
                name=str(snap.get("name") or ""),
                status=status,
                department_code=snap.get("department_code"),
                department_name=snap.get("department"),
                unit=snap.get("unit"),
                comparator=snap.get("comparator"),
                value=snap.get("value"),
            )
        )
        bases = snap.get("legal_bases") or []
        if bases:
            # A basis repealed after the revision was written: its own revision of then knows.
            links[code] = [
                Link(
                    basis_id=int(b["id"]),
                    doc_no=str(b.get("doc_no") or ""),
                    title=str(b.get("title") or ""),
                    status=basis_status.get(int(b["id"]), str(b.get("status") or BasisStatus.in_force.value)),
                )
                for b in bases
            ]
    return rows, links, dict(by_status)


def build_report(
    rows: Sequence[Row],
    links: Mapping[str, Sequence[Link]],
    by_status: Mapping[str, int],
    params: QualityParams,
    *,
    as_of: date | None = None,
    release: str | None = None,
) -> QualityReport:
    """Every check over rows already read (no database): the report the route returns."""
    return QualityReport(
        generated_at=utcnow(),
        as_of=as_of,
        release=release,
        limit=params.limit,
        totals=Totals(
            indicators=len(rows),
            statuses=list(params.statuses),
            by_status={s: by_status[s] for s in sorted(by_status)},
        ),
        without_basis=without_basis(rows, links, limit=params.limit),
        repealed_basis=repealed_basis(rows, links, limit=params.limit),
        qualitative_share=qualitative_share(rows, threshold=params.qualitative_threshold, limit=params.limit),
        duplicate_clusters=duplicate_clusters(rows, min_similarity=params.min_similarity, limit=params.limit),
        inconsistent_units=inconsistent_units(rows, limit=params.limit),
        unit_value_mismatch=unit_value_mismatch(rows, limit=params.limit),
    )


# --- legal bases -----------------------------------------------------------------------------------


def without_basis(rows: Iterable[Row], links: Mapping[str, Sequence[Link]], *, limit: int) -> WithoutBasis:
    """Indicators linked to no legal basis at all (出处明确、依据充分 is not met)."""
    found = sorted((r for r in rows if not links.get(r.code)), key=lambda r: r.code)
    return WithoutBasis(
        count=len(found),
        items=[
            IndicatorRef(code=r.code, name=r.name, department_code=r.department_code) for r in found[:limit]
        ],
    )


def repealed_basis(rows: Iterable[Row], links: Mapping[str, Sequence[Link]], *, limit: int) -> RepealedBasis:
    """Indicators resting on a repealed or superseded basis: an error when none of their bases is in force."""
    found: list[RepealedBasisFinding] = []
    for r in rows:
        bases = links.get(r.code) or ()
        gone = [b for b in bases if b.status in OUT_OF_FORCE]
        if not gone:
            continue
        found.append(
            RepealedBasisFinding(
                code=r.code,
                name=r.name,
                department_code=r.department_code,
                severity=Severity.error if len(gone) == len(bases) else Severity.warning,
                in_force=len(bases) - len(gone),
                out_of_force=[
                    BasisRef(id=b.basis_id, doc_no=b.doc_no, title=b.title, status=BasisStatus(b.status))
                    for b in gone
                ],
            )
        )
    found.sort(key=lambda f: (f.severity != Severity.error, f.code))
    errors = sum(1 for f in found if f.severity == Severity.error)
    return RepealedBasis(count=len(found), errors=errors, warnings=len(found) - errors, items=found[:limit])


# --- qualitative share -----------------------------------------------------------------------------


def _share(code: str | None, name: str | None, n: int, q: int, threshold: float) -> DepartmentShare:
    share = q / n if n else 0.0
    return DepartmentShare(
        department_code=code,
        department_name=name,
        indicators=n,
        qualitative=q,
        share=round(share, 4),
        flagged=share > threshold,
    )


def qualitative_share(rows: Iterable[Row], *, threshold: float, limit: int) -> QualitativeShare:
    """Per department: indicators, how many are qualitative (定性), and whether that share is too high."""
    counts: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    names: dict[str | None, str | None] = {}
    for r in rows:
        c = counts[r.department_code]
        c[0] += 1
        c[1] += r.comparator == Comparator.qualitative.value
        names.setdefault(r.department_code, r.department_name)
    items = [_share(code, names[code], n, q, threshold) for code, (n, q) in counts.items()]
    items.sort(key=lambda d: (-d.share, d.department_code is None, d.department_code or ""))
    total = sum(n for n, _ in counts.values())
    qualitative = sum(q for _, q in counts.values())
    return QualitativeShare(
        threshold=threshold,
        overall=_share(None, None, total, qualitative, threshold),
        count=len(items),
        flagged=sum(1 for d in items if d.flagged),
        items=items[:limit],
    )


# --- near-duplicate names across departments -------------------------------------------------------


def name_key(name: str) -> str:
    """A name for comparison: NFKC (full-width → half-width), lower case, no punctuation or spaces."""
    return compact(name) or normalize_text(name).lower()


def _max_length(length: int, min_similarity: float) -> int:
    # Indel similarity 1 - d/(a+b) with d ≥ b - a caps how much longer the other name may be.
    return math.floor(length * (2 - min_similarity) / min_similarity + 1e-9)


def similar_pairs(keys: Sequence[str], min_similarity: float) -> Iterator[tuple[int, int]]:
    """Index pairs of distinct ``keys`` with rapidfuzz ratio ≥ ``min_similarity`` that share a block."""
    cutoff = min_similarity * 100
    blocks: dict[tuple[bool, str], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, key in enumerate(keys):
        blocks[(True, key[:BLOCK_CHARS])][len(key)].append(i)
        blocks[(False, key[-BLOCK_CHARS:])][len(key)].append(i)
    for by_length in blocks.values():
        lengths = sorted(by_length)
        size = sum(len(v) for v in by_length.values())
        if size < 2:
            continue
        for length in lengths:
            queries = by_length[length]
            top = _max_length(length, min_similarity)
            choices = [j for other in lengths if length <= other <= top for j in by_length[other]]
            if len(choices) < 2:
                continue
            yield from _compare(keys, queries, choices, cutoff)


def _compare(
    keys: Sequence[str], queries: list[int], choices: list[int], cutoff: float
) -> Iterator[tuple[int, int]]:
    if len(queries) * len(choices) <= SMALL_BLOCK:
        for i in queries:
            for j in choices:
                # Same-length pairs come up twice; longer choices only once (queries never look down).
                if (i < j or len(keys[j]) > len(keys[i])) and fuzz.ratio(
                    keys[i], keys[j], score_cutoff=cutoff
                ):
                    yield i, j
        return
    choice_keys = [keys[j] for j in choices]
    step = max(1, CDIST_CELLS // len(choices))
    for start in range(0, len(queries), step):
        chunk = queries[start : start + step]
        matrix = process.cdist(
            [keys[i] for i in chunk],
            choice_keys,
            scorer=fuzz.ratio,
            score_cutoff=cutoff,
            dtype=np.uint8,  # only "above the cutoff or not" is read: a quarter of the memory to scan
            workers=-1 if len(chunk) * len(choices) > 200_000 else 1,
        )
        for r, c in zip(*np.nonzero(matrix), strict=True):
            i, j = chunk[int(r)], choices[int(c)]
            if i != j:
                yield min(i, j), max(i, j)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _unit_text(unit: str | None) -> str:
    return normalize_text(unit).lower() if unit else ""


def unit_family(row: Row) -> str | None:
    """What the indicator measures (length, money, count:人次 …): its unit, else its name's ending."""
    parsed = parse_unit(row.unit)
    if parsed is not None:
        return parsed.family
    text = _unit_text(row.unit)
    return f"unit:{text}" if text else infer_family(row.name, None)


def _partition_by_family(members: list[Row]) -> list[list[Row]]:
    """Split a group of similar names by unit family; members of unknown family join a lone family."""
    by_family: dict[str | None, list[Row]] = defaultdict(list)
    for r in members:
        by_family[unit_family(r)].append(r)
    unknown = by_family.pop(None, [])
    if len(by_family) == 1:
        next(iter(by_family.values())).extend(unknown)
    elif unknown:
        by_family[None] = unknown
    return list(by_family.values())


def _similarity_to(name: str, keys: list[str]) -> float:
    """The lowest similarity of ``keys`` to ``name``: linear, where all pairs could be 10⁸ in a chained cluster."""
    if len(keys) < 2:
        return 1.0
    scores = process.cdist([name_key(name)], keys, scorer=fuzz.ratio, dtype=np.float32)
    return round(float(scores.min()) / 100, 4)


def duplicate_clusters(rows: Sequence[Row], *, min_similarity: float, limit: int) -> DuplicateClusters:
    """Groups of indicators of two or more departments whose names are (nearly) the same, in one unit family.

    Indicators without a department (共性) join a cluster, but do not count as a department.
    """
    key_of = [name_key(r.name) for r in rows]
    distinct = sorted(set(key_of))
    index = {k: i for i, k in enumerate(distinct)}
    uf = _UnionFind(len(distinct))
    if min_similarity < 1.0:
        for a, b in similar_pairs(distinct, min_similarity):
            uf.union(a, b)
    components: dict[int, list[Row]] = defaultdict(list)
    for r, key in zip(rows, key_of, strict=True):
        components[uf.find(index[key])].append(r)

    clusters: list[DuplicateCluster] = []
    for members in components.values():
        if len({r.department_code for r in members if r.department_code}) < 2:
            continue
        for part in _partition_by_family(members):
            departments = {r.department_code for r in part if r.department_code}
            if len(departments) < 2:
                continue
            part.sort(key=lambda r: (r.department_code or "", r.code))
            names = Counter(r.name for r in part)
            main = min(names, key=lambda n: (-names[n], n))
            clusters.append(
                DuplicateCluster(
                    name=main,
                    similarity=_similarity_to(main, sorted({name_key(r.name) for r in part})),
                    departments=len(departments),
                    member_count=len(part),
                    members=[
                        ClusterMember(
                            code=r.code, name=r.name, department_code=r.department_code, unit=r.unit
                        )
                        for r in part[:limit]
                    ],
                )
            )
    clusters.sort(key=lambda c: (-c.member_count, c.name, c.members[0].code))
    return DuplicateClusters(min_similarity=min_similarity, count=len(clusters), items=clusters[:limit])


# --- codes -----------------------------------------------------------------------------------------


def catalogue_code_collisions(session: Session, *, limit: int) -> CodeCollisions:
    """Code collisions over every indicator, whatever its status (a retired one still answers lookups)."""
    return code_collisions(repo.current_rows(session, [s.value for s in IndicatorStatus]), limit=limit)


def code_collisions(rows: Iterable[Row], *, limit: int) -> CodeCollisions:
    """Indicators whose codes are one code once case and width are folded (service/codes.py).

    The code_key migration kept such pairs from older databases rather than rename cited codes: each
    still answers to its exact code, and other spellings find the oldest.
    """
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[code_key(r.code)].append(r)
    found = [
        CodeCollision(
            key=key,
            indicators=[
                IndicatorRef(code=r.code, name=r.name, department_code=r.department_code)
                for r in sorted(members, key=lambda r: r.code)
            ],
        )
        for key, members in sorted(groups.items())
        if len(members) > 1
    ]
    return CodeCollisions(count=len(found), items=found[:limit])


# --- units -----------------------------------------------------------------------------------------


def unit_key(unit: str) -> str:
    """A unit for comparison: the unit parser's display name (百分比 → %, 千米 → 公里), else the text."""
    parsed = parse_unit(unit)
    return parsed.display if parsed is not None else _unit_text(unit)


def inconsistent_units(rows: Iterable[Row], *, limit: int) -> InconsistentUnits:
    """Names (normalised) used with two or more different units; indicators without a unit are left out."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        if r.unit and _unit_text(r.unit):
            groups[name_key(r.name)].append(r)
    found: list[UnitInconsistency] = []
    for members in groups.values():
        counts: Counter[str] = Counter()
        spellings: dict[str, set[str]] = defaultdict(set)
        for r in members:
            assert r.unit is not None
            key = unit_key(r.unit)
            counts[key] += 1
            spellings[key].add(r.unit)
        if len(counts) < 2:
            continue
        names = Counter(r.name for r in members)
        found.append(
            UnitInconsistency(
                name=min(names, key=lambda n: (-names[n], n)),
                indicators=len(members),
                variants=[
                    UnitVariant(unit=u, count=n, spellings=sorted(spellings[u]))
                    for u, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                ],
            )
        )
    found.sort(key=lambda f: (-len(f.variants), -f.indicators, f.name))
    return InconsistentUnits(count=len(found), items=found[:limit])


def mismatch_rules(row: Row) -> list[MismatchRule]:
    """The unit/value/comparator rules one indicator breaks."""
    rules: list[MismatchRule] = []
    number = row.value if isinstance(row.value, int | float) and not isinstance(row.value, bool) else None
    if row.comparator in NUMERIC_COMPARATORS and isinstance(row.value, str) and row.value.strip():
        rules.append(MismatchRule.non_numeric_value)
    parsed = parse_unit(row.unit)
    # Only % itself: ‰ and 个百分点 are other scales.
    if (
        number is not None
        and parsed is not None
        and parsed.family == PERCENT
        and parsed.factor == 1.0
        and number > 100
    ):
        rules.append(MismatchRule.percent_over_100)
    if row.comparator == Comparator.qualitative.value and parsed is not None:
        rules.append(MismatchRule.qualitative_with_unit)
    return rules


def unit_value_mismatch(rows: Iterable[Row], *, limit: int) -> UnitValueMismatch:
    """Quantitative comparators with a text value, % above 100, qualitative indicators with a unit."""
    found = [
        UnitValueFinding(
            code=r.code,
            name=r.name,
            department_code=r.department_code,
            rule=rule,
            comparator=r.comparator,
            value=r.value,
            unit=r.unit,
        )
        for r in rows
        for rule in mismatch_rules(r)
    ]
    found.sort(key=lambda f: (f.code, f.rule.value))
    by_rule = Counter(f.rule for f in found)
    return UnitValueMismatch(
        count=len(found), by_rule={rule: by_rule[rule] for rule in MismatchRule}, items=found[:limit]
    )
