"""The graph's vocabulary: node labels, relationship types, entity kinds and node ids.

Every label and relationship type that reaches Cypher text comes from these enums, never from
user input. Node ids used by the API are ``"<Label>:<key>"`` (``"Indicator:WSJK-00012"``,
``"LegalBasis:3"``); keys are always strings in the graph, even when the relational key is an
integer id, so both backends compare and order them the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Final


class NodeLabel(StrEnum):
    """Node labels; the comment names the relational key that becomes ``key``."""

    Indicator = "Indicator"  # indicator.code
    Category = "Category"  # category.id
    Sector = "Sector"  # sector.code
    Department = "Department"  # department.code
    Duty = "Duty"  # duty.id
    StrategicGoal = "StrategicGoal"  # strategicgoal.id
    LegalBasis = "LegalBasis"  # legal_basis.id
    FundCategory = "FundCategory"  # a distinct value of indicator.budget_types
    Target = "Target"  # target.external_id
    IndicatorRevision = "IndicatorRevision"  # "<indicator_revision.code>#<number>"


class RelType(StrEnum):
    """Relationship types; each is owned by (written together with) its start node's entity."""

    IN_CATEGORY = "IN_CATEGORY"
    CHILD_OF = "CHILD_OF"
    IN_SECTOR = "IN_SECTOR"
    OWNED_BY = "OWNED_BY"
    MEASURES = "MEASURES"
    BASED_ON = "BASED_ON"
    SUPERSEDES = "SUPERSEDES"
    AMENDS = "AMENDS"
    FUNDED_BY = "FUNDED_BY"
    RELATED_TO = "RELATED_TO"
    USES = "USES"
    REVISION_OF = "REVISION_OF"
    # A revision's basis links get their own type: today's impact walks expand BASED_ON from a basis,
    # and sharing the type made them wade through every revision's link as well.
    WAS_BASED_ON = "WAS_BASED_ON"


class EntityKind(StrEnum):
    """What an outbox event names (``outbox_event.entity``); ``entity_key`` is the given key."""

    indicator = "indicator"  # code
    legal_basis = "legal_basis"  # id
    target = "target"  # external_id
    department = "department"  # code
    duty = "duty"  # id
    goal = "goal"  # id
    sector = "sector"  # code
    category = "category"  # id


ENTITY_LABELS: Final[dict[EntityKind, NodeLabel]] = {
    EntityKind.indicator: NodeLabel.Indicator,
    EntityKind.legal_basis: NodeLabel.LegalBasis,
    EntityKind.target: NodeLabel.Target,
    EntityKind.department: NodeLabel.Department,
    EntityKind.duty: NodeLabel.Duty,
    EntityKind.goal: NodeLabel.StrategicGoal,
    EntityKind.sector: NodeLabel.Sector,
    EntityKind.category: NodeLabel.Category,
}

# Labels whose relational key is an integer primary key (stored as its decimal string).
INTEGER_KEYED: Final[frozenset[NodeLabel]] = frozenset(
    {NodeLabel.Category, NodeLabel.Duty, NodeLabel.StrategicGoal, NodeLabel.LegalBasis}
)

# (type, start label, end label) of every relationship the projection writes. Cypher statements
# are generated once per triple, so this is also the whitelist of what may reach the server.
EDGE_SCHEMA: Final[tuple[tuple[RelType, NodeLabel, NodeLabel], ...]] = (
    (RelType.IN_CATEGORY, NodeLabel.Indicator, NodeLabel.Category),
    (RelType.CHILD_OF, NodeLabel.Category, NodeLabel.Category),
    (RelType.CHILD_OF, NodeLabel.Sector, NodeLabel.Sector),
    (RelType.CHILD_OF, NodeLabel.Department, NodeLabel.Department),
    (RelType.IN_SECTOR, NodeLabel.Indicator, NodeLabel.Sector),
    (RelType.OWNED_BY, NodeLabel.Indicator, NodeLabel.Department),
    (RelType.OWNED_BY, NodeLabel.Duty, NodeLabel.Department),
    (RelType.OWNED_BY, NodeLabel.StrategicGoal, NodeLabel.Department),
    (RelType.OWNED_BY, NodeLabel.Target, NodeLabel.Department),
    (RelType.MEASURES, NodeLabel.Indicator, NodeLabel.Duty),
    (RelType.MEASURES, NodeLabel.Indicator, NodeLabel.StrategicGoal),
    (RelType.BASED_ON, NodeLabel.Indicator, NodeLabel.LegalBasis),
    (RelType.SUPERSEDES, NodeLabel.LegalBasis, NodeLabel.LegalBasis),
    (RelType.AMENDS, NodeLabel.LegalBasis, NodeLabel.LegalBasis),
    (RelType.FUNDED_BY, NodeLabel.Indicator, NodeLabel.FundCategory),
    (RelType.RELATED_TO, NodeLabel.Indicator, NodeLabel.Indicator),
    (RelType.USES, NodeLabel.Target, NodeLabel.Indicator),
    (RelType.REVISION_OF, NodeLabel.IndicatorRevision, NodeLabel.Indicator),
    (RelType.WAS_BASED_ON, NodeLabel.IndicatorRevision, NodeLabel.LegalBasis),
)

# The history layer: immutable revisions of indicators, with the links each one carried. These
# nodes answer as-of queries only; the neighbourhood walk of today's graph never enters them.
HISTORY_LABELS: Final[frozenset[NodeLabel]] = frozenset({NodeLabel.IndicatorRevision})

# The properties each relationship type carries (the others carry none).
EDGE_PROPS: Final[dict[RelType, tuple[str, ...]]] = {
    RelType.BASED_ON: ("clause",),
    RelType.WAS_BASED_ON: ("clause",),
    RelType.SUPERSEDES: ("valid_from",),
    RelType.AMENDS: ("valid_from",),
    RelType.RELATED_TO: ("kind",),
    RelType.USES: ("value", "unit"),
}

# Relationship properties that take part in a relationship's identity (MERGE pattern): two
# indicators may be related both as synonym and as derived_from.
EDGE_IDENTITY_PROPS: Final[dict[RelType, tuple[str, ...]]] = {RelType.RELATED_TO: ("kind",)}

UNASSIGNED_DEPARTMENT: Final = "未指定部门"


def revision_key(code: str, number: int) -> str:
    """The key of an indicator revision node: ``"WSJK-00012#3"``."""
    return f"{code}#{number}"


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (SQLite hands back naive ones; they were written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stamp(moment: datetime | None) -> str | None:
    """A UTC instant as the graph stores it: fixed-width ISO text, so text order is time order.

    Text rather than a Neo4j DateTime keeps the checksum and both stores' comparisons identical
    (SQLite hands back naive datetimes; they were written in UTC).
    """
    return None if moment is None else utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_id(label: NodeLabel, key: str) -> str:
    """The API's id of a node: ``"<Label>:<key>"``."""
    return f"{label.value}:{key}"


def parse_node_id(value: str) -> tuple[NodeLabel, str] | None:
    """``"Indicator:WSJK-00012"`` → (Indicator, "WSJK-00012"); None when it names no label we know."""
    label, sep, key = value.partition(":")
    if not sep or not key or label not in NodeLabel.__members__:
        return None
    if label in INTEGER_KEYED and not _is_canonical_int(key):
        return None
    return NodeLabel(label), key


def _is_canonical_int(key: str) -> bool:
    # "03" or "+3" would never match a stored key ("3"); treat them as unknown nodes.
    return key.isdigit() and key.isascii() and (key == "0" or not key.startswith("0"))
