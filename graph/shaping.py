"""Turn raw rows from either backend into the result models, in one canonical order.

The stores only fetch; ordering, capping, grouping and the dropping of null properties happen
here, so the embedded and the Neo4j store cannot drift apart in how results look.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graph.model import UNASSIGNED_DEPARTMENT, NodeLabel, node_id
from graph.projection import EdgeRow
from graph.results import (
    REASON_WEIGHTS,
    BasisEdition,
    BasisRef,
    DepartmentGroup,
    DepartmentProfile,
    EditionLink,
    Gap,
    GraphEdge,
    GraphNode,
    Impact,
    ImpactIndicator,
    IndicatorRef,
    MeasuredItem,
    PropValue,
    ReasonKind,
    RelatedIndicator,
    RelatedReason,
    Subgraph,
    TargetUse,
)
from graph.store import TARGETS_PER_INDICATOR

NodeRef = tuple[NodeLabel, str]


def present(props: Mapping[str, Any]) -> dict[str, PropValue]:
    """Properties without nulls (Neo4j cannot store a null property)."""
    return {k: v for k, v in props.items() if v is not None and k != "key"}


def shape_subgraph(
    *,
    root: NodeRef,
    depth: int,
    limit: int,
    distances: Mapping[NodeRef, int],
    props: Mapping[NodeRef, Mapping[str, Any]],
    edges: Iterable[EdgeRow],
    truncated: bool,
) -> Subgraph:
    """Order nodes by (distance, label, key) and keep edges with an end nearer than ``depth``."""
    nodes = [
        GraphNode(
            id=node_id(label, key),
            label=label,
            key=key,
            distance=dist,
            props=present(props.get((label, key), {})),
        )
        for (label, key), dist in sorted(distances.items(), key=lambda kv: (kv[1], kv[0][0].value, kv[0][1]))
    ]
    kept: dict[tuple[str, str, str, str], GraphEdge] = {}
    for e in edges:
        a, b = distances.get((e.from_label, e.from_key)), distances.get((e.to_label, e.to_key))
        if a is None or b is None or min(a, b) >= depth:
            continue
        edge = GraphEdge(
            type=e.type,
            source=node_id(e.from_label, e.from_key),
            target=node_id(e.to_label, e.to_key),
            props=present(e.props),
        )
        kept[(edge.type.value, edge.source, edge.target, _canonical(edge.props))] = edge
    ordered = [kept[k] for k in sorted(kept)]
    return Subgraph(
        root=node_id(*root), depth=depth, limit=limit, nodes=nodes, edges=ordered, truncated=truncated
    )


@dataclass(frozen=True)
class RevisionProps:
    """What an indicator's revision in force at some time said about it."""

    number: int
    name: str | None
    status: str | None


def apply_revisions(
    props: Mapping[NodeRef, Mapping[str, Any]], revisions: Mapping[NodeRef, RevisionProps]
) -> dict[NodeRef, Mapping[str, Any]]:
    """Indicator properties as of a time: name and status of the revision then in force, and its
    number as ``revision``; indicators created later keep today's properties."""
    out = dict(props)
    for ref, rev in revisions.items():
        out[ref] = {**props.get(ref, {}), "name": rev.name, "status": rev.status, "revision": rev.number}
    return out


def _canonical(props: Mapping[str, Any]) -> str:
    return json.dumps(props, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class ImpactRow:
    """One affected indicator as a backend fetched it (targets in any order, possibly more)."""

    code: str
    name: str
    status: str | None
    department_code: str | None
    department_name: str | None
    bases: Sequence[BasisRef]
    targets: Sequence[TargetUse]
    target_count: int


def shape_impact(
    *,
    basis_id: int,
    editions: Iterable[BasisEdition],
    links: Iterable[EditionLink],
    totals: tuple[int, int, int],
    rows: Iterable[ImpactRow],
    limit: int,
    offset: int,
) -> Impact:
    """Group a page of indicators by department (code order, 未指定部门 last)."""
    groups: dict[str | None, list[ImpactIndicator]] = {}
    names: dict[str | None, str] = {None: UNASSIGNED_DEPARTMENT}
    for row in sorted(rows, key=lambda r: r.code):
        if row.department_code is not None:
            names[row.department_code] = row.department_name or row.department_code
        groups.setdefault(row.department_code, []).append(
            ImpactIndicator(
                code=row.code,
                name=row.name,
                status=row.status,
                bases=sorted(row.bases, key=lambda b: (b.basis_id, b.clause or "")),
                targets=sorted(row.targets, key=lambda t: t.external_id)[:TARGETS_PER_INDICATOR],
                target_count=row.target_count,
            )
        )
    total_indicators, total_targets, total_departments = totals
    return Impact(
        basis_id=basis_id,
        editions=sorted(editions, key=lambda e: e.id),
        links=sorted(links, key=lambda link: (link.from_id, link.to_id, link.relation)),
        total_indicators=total_indicators,
        total_targets=total_targets,
        total_departments=total_departments,
        limit=limit,
        offset=offset,
        groups=[
            DepartmentGroup(department_code=code, department_name=names[code], indicators=groups[code])
            for code in sorted(groups, key=lambda c: (c is None, c or ""))
        ],
    )


@dataclass(frozen=True)
class ProfileItem:
    """A duty or goal of the department as a backend fetched it."""

    kind: Literal["duty", "goal"]
    id: int
    name: str
    indicators: Sequence[IndicatorRef]


def shape_profile(
    *, code: str, name: str | None, parent_code: str | None, items: Iterable[ProfileItem], owned: int
) -> DepartmentProfile:
    """Duties and goals by id, their indicators by code, and the unmeasured ones as gaps."""
    duties: list[MeasuredItem] = []
    goals: list[MeasuredItem] = []
    gaps: list[Gap] = []
    measured: set[str] = set()
    for item in sorted(items, key=lambda it: (it.kind, it.id)):
        label = NodeLabel.Duty if item.kind == "duty" else NodeLabel.StrategicGoal
        nid = node_id(label, str(item.id))
        indicators = sorted({i.code: i for i in item.indicators}.values(), key=lambda i: i.code)
        measured.update(i.code for i in indicators)
        (duties if item.kind == "duty" else goals).append(
            MeasuredItem(id=item.id, node_id=nid, name=item.name, indicators=indicators)
        )
        if not indicators:
            gaps.append(Gap(kind=item.kind, id=item.id, node_id=nid, name=item.name))
    return DepartmentProfile(
        code=code,
        name=name,
        parent_code=parent_code,
        duties=duties,
        goals=goals,
        gaps=gaps,
        duty_count=len(duties),
        goal_count=len(goals),
        gap_count=len(gaps),
        measured_indicator_count=len(measured),
        owned_indicator_count=owned,
    )


# Which label the shared node of a reason has (related_to names a relation, not a node).
REASON_LABELS: dict[ReasonKind, NodeLabel | None] = {
    ReasonKind.shared_legal_basis: NodeLabel.LegalBasis,
    ReasonKind.shared_duty: NodeLabel.Duty,
    ReasonKind.shared_goal: NodeLabel.StrategicGoal,
    ReasonKind.related_to: None,
    ReasonKind.same_sector: NodeLabel.Sector,
    ReasonKind.same_category: NodeLabel.Category,
}
_REASON_ORDER = {kind: i for i, kind in enumerate(ReasonKind)}


@dataclass(frozen=True)
class RelatedRow:
    """A candidate with its reasons as (kind, key of the shared node or None, name)."""

    code: str
    name: str
    reasons: Sequence[tuple[str, str | None, str | None]]


def shape_related(rows: Iterable[RelatedRow], *, limit: int) -> list[RelatedIndicator]:
    """Score candidates with ``REASON_WEIGHTS``; best first, ties by code."""
    out: list[RelatedIndicator] = []
    for row in rows:
        reasons: list[RelatedReason] = []
        for kind_text, via, name in row.reasons:
            kind = ReasonKind(kind_text)
            label = REASON_LABELS[kind]
            reasons.append(
                RelatedReason(
                    kind=kind,
                    weight=REASON_WEIGHTS[kind],
                    node_id=node_id(label, via) if label is not None and via is not None else None,
                    name=name,
                )
            )
        reasons.sort(key=lambda r: (_REASON_ORDER[r.kind], r.node_id or "", r.name or ""))
        out.append(
            RelatedIndicator(
                code=row.code, name=row.name, score=sum(r.weight for r in reasons), reasons=reasons
            )
        )
    out.sort(key=lambda r: (-r.score, r.code))
    return out[:limit]
