"""Result models of the graph queries; FastAPI routes may return them as they are.

Both stores build these through the same shaping helpers (``graph.shaping``), so equal graphs give
equal (``==``) results whichever backend answered. Lists are always in a documented, total order.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from graph.model import NodeLabel, RelType

PropValue = str | int | float | bool
"""A property value as stored in the graph (null properties are absent, as in Neo4j)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- neighbourhood -------------------------------------------------------------------------------


class GraphNode(_Frozen):
    """A node of a subgraph; ``distance`` is its hop count from the root (0 for the root)."""

    id: str = Field(examples=["Indicator:WSJK-00012"])
    label: NodeLabel
    key: str
    distance: int
    props: dict[str, PropValue]


class GraphEdge(_Frozen):
    """A directed relationship between two node ids."""

    type: RelType
    source: str
    target: str
    props: dict[str, PropValue]


class Subgraph(_Frozen):
    """Nodes within ``depth`` hops of ``root`` (ordered by distance, label, key), capped at ``limit``.

    ``edges`` are the relationships between returned nodes that lie on a walk of at most ``depth``
    hops from the root (at least one end is nearer than ``depth``); ``truncated`` tells that more
    nodes were within reach than ``limit`` allowed.
    """

    root: str
    depth: int
    limit: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool


# --- impact of a legal basis ----------------------------------------------------------------------


class BasisEdition(_Frozen):
    """One edition (or amendment) in a legal basis's chain."""

    id: int
    doc_no: str
    title: str
    kind: str
    status: str


class EditionLink(_Frozen):
    """``from_id`` supersedes or amends ``to_id``."""

    from_id: int
    to_id: int
    relation: Literal["supersedes", "amends"]


class BasisRef(_Frozen):
    """Which edition an indicator rests on, and the clause."""

    basis_id: int
    doc_no: str
    clause: str | None


class TargetUse(_Frozen):
    """A performance target that uses an indicator, with the value it sets."""

    external_id: str
    fiscal_year: int | None
    project: str | None
    department_code: str | None
    value: str | None
    unit: str | None


class ImpactIndicator(_Frozen):
    """An indicator resting on the chain; ``targets`` holds the first ``TARGETS_PER_INDICATOR``
    targets by external id, ``target_count`` all of them."""

    code: str
    name: str
    status: str | None
    bases: list[BasisRef]
    targets: list[TargetUse]
    target_count: int


class DepartmentGroup(_Frozen):
    """The page's indicators owned by one department (``department_code`` None: 未指定部门)."""

    department_code: str | None
    department_name: str
    indicators: list[ImpactIndicator]


class Impact(_Frozen):
    """What a change of a legal basis touches, across its whole edition chain.

    Totals count the whole result; ``groups`` hold one page of indicators (ordered by code, then
    grouped by department code with 未指定部门 last). ``total_departments`` counts departments
    that own at least one affected indicator (未指定部门 is not a department).
    """

    basis_id: int
    editions: list[BasisEdition]
    links: list[EditionLink]
    total_indicators: int
    total_targets: int
    total_departments: int
    limit: int
    offset: int
    groups: list[DepartmentGroup]


# --- department profile ---------------------------------------------------------------------------


class IndicatorRef(_Frozen):
    code: str
    name: str
    status: str | None


class MeasuredItem(_Frozen):
    """A duty or strategic goal with the indicators that measure it (ordered by code)."""

    id: int
    node_id: str
    name: str
    indicators: list[IndicatorRef]


class Gap(_Frozen):
    """A duty or goal that no indicator measures yet."""

    kind: Literal["duty", "goal"]
    id: int
    node_id: str
    name: str


class DepartmentProfile(_Frozen):
    """A department's duties and goals (ordered by id), their indicators and the gaps."""

    code: str
    name: str | None
    parent_code: str | None
    duties: list[MeasuredItem]
    goals: list[MeasuredItem]
    gaps: list[Gap]
    duty_count: int
    goal_count: int
    gap_count: int
    measured_indicator_count: int
    owned_indicator_count: int


# --- related indicators ---------------------------------------------------------------------------


class ReasonKind(StrEnum):
    shared_legal_basis = "shared_legal_basis"
    shared_duty = "shared_duty"
    shared_goal = "shared_goal"
    related_to = "related_to"
    same_sector = "same_sector"
    same_category = "same_category"


REASON_WEIGHTS: Final[dict[ReasonKind, int]] = {
    ReasonKind.shared_legal_basis: 3,
    ReasonKind.shared_duty: 3,
    ReasonKind.shared_goal: 3,
    ReasonKind.related_to: 4,
    ReasonKind.same_sector: 1,
    ReasonKind.same_category: 1,
}


class RelatedReason(_Frozen):
    """One contribution to a score: the shared node (``node_id``, ``name``) or, for
    ``related_to``, the relation kind in ``name`` (one reason per RELATED_TO relationship,
    either direction)."""

    kind: ReasonKind
    weight: int
    node_id: str | None
    name: str | None


class RelatedIndicator(_Frozen):
    code: str
    name: str
    score: int
    reasons: list[RelatedReason]


# --- statistics -----------------------------------------------------------------------------------


class GraphStats(_Frozen):
    """Node counts per label and relationship counts per type (every label/type listed), and the
    order-independent checksum of the whole graph (``graph.projection.checksum``)."""

    nodes: dict[NodeLabel, int]
    edges: dict[RelType, int]
    total_nodes: int
    total_edges: int
    checksum: str


class ProjectionStats(GraphStats):
    """What a full projection wrote, and the outbox position it corresponds to."""

    last_event_id: int
    seconds: float
