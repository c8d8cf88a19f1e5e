"""Read the relational catalogue as graph rows: nodes (label, key, props) and edges.

One declarative spec per node label and per relationship (``NodeSpec``/``EdgeSpec``) says which
columns make the key, the properties and both ends; the full read, the read of changed entities
and the embedded store's queries are all built from these specs, so the graph has one definition.
Every read is a handful of SQLAlchemy Core selects (one per spec), never a query per row.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    FromClause,
    Select,
    String,
    Table,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session

from graph.model import ENTITY_LABELS, HISTORY_LABELS, INTEGER_KEYED, EntityKind, NodeLabel, RelType, stamp
from service.models import metadata

# Tables are taken from the shared metadata so the projection follows service/models.py.
T_INDICATOR: Table = metadata.tables["indicator"]
T_CATEGORY: Table = metadata.tables["category"]
T_SECTOR: Table = metadata.tables["sector"]
T_DEPARTMENT: Table = metadata.tables["department"]
T_DUTY: Table = metadata.tables["duty"]
T_GOAL: Table = metadata.tables["strategicgoal"]
T_BASIS: Table = metadata.tables["legal_basis"]
T_BASIS_LINK: Table = metadata.tables["legal_basis_link"]
T_INDICATOR_BASIS: Table = metadata.tables["indicator_basis"]
T_INDICATOR_DUTY: Table = metadata.tables["indicator_duty"]
T_INDICATOR_GOAL: Table = metadata.tables["indicator_goal"]
T_RELATION: Table = metadata.tables["indicator_relation"]
T_TARGET: Table = metadata.tables["target"]
T_TARGET_INDICATOR: Table = metadata.tables["target_indicator"]
T_REVISION: Table = metadata.tables["indicator_revision"]
T_REVISION_BASIS: Table = metadata.tables["indicator_revision_basis"]
T_BASIS_REVISION: Table = metadata.tables["legal_basis_revision"]
T_OUTBOX: Table = metadata.tables["outbox_event"]
T_SYNC_STATE: Table = metadata.tables["graph_sync_state"]

# Large key lists are sent in chunks: SQLite caps bound parameters per statement.
IN_CHUNK = 900


class NodeRow(NamedTuple):
    """A node to write: ``props`` carries every property of the label (None = absent)."""

    label: NodeLabel
    key: str
    props: dict[str, Any]


class EdgeRow(NamedTuple):
    """A directed relationship between two (label, key) nodes."""

    type: RelType
    from_label: NodeLabel
    from_key: str
    to_label: NodeLabel
    to_key: str
    props: dict[str, Any]


@dataclass(frozen=True)
class NodeSpec:
    """How one label's nodes are read: key column and property columns of one table."""

    label: NodeLabel
    key: ColumnElement[Any]
    props: tuple[tuple[str, ColumnElement[Any]], ...]
    source: tuple[FromClause, ...]
    owner: ColumnElement[Any] | None = None
    """History nodes are read by their owning entity's key (an indicator code), not their own."""

    def select(self) -> Select[Any]:
        return select(self.key, *(col for _, col in self.props)).select_from(*self.source)


@dataclass(frozen=True)
class EdgeSpec:
    """How one relationship (type, start label, end label) is read from the tables.

    ``start_key``/``end_key`` are the natural-key columns of both ends, also used to filter by a
    set of keys from either side; ``dedupe`` keeps the first row per (start, end) in ``order``.
    """

    type: RelType
    start: NodeLabel
    end: NodeLabel
    start_key: ColumnElement[Any]
    end_key: ColumnElement[Any]
    source: tuple[FromClause, ...]
    props: tuple[tuple[str, ColumnElement[Any]], ...] = ()
    where: tuple[ColumnElement[bool], ...] = ()
    order: tuple[ColumnElement[Any], ...] = ()
    distinct: bool = False
    dedupe: bool = False
    owner: ColumnElement[Any] | None = None

    def select(self) -> Select[Any]:
        stmt = select(self.start_key, self.end_key, *(col for _, col in self.props)).select_from(*self.source)
        if self.where:
            stmt = stmt.where(*self.where)
        if self.distinct:
            stmt = stmt.distinct()
        if self.order:
            stmt = stmt.order_by(*self.order)
        return stmt


@dataclass(frozen=True)
class GraphSpecs:
    """All node and edge specs for one SQL dialect (only FUNDED_BY differs between dialects)."""

    nodes: Mapping[NodeLabel, NodeSpec]
    edges: tuple[EdgeSpec, ...]

    def edges_from(self, label: NodeLabel) -> list[EdgeSpec]:
        return [e for e in self.edges if e.start == label]

    def walkable(self) -> list[EdgeSpec]:
        """Today's graph: every relationship outside the history layer (see ``HISTORY_LABELS``)."""
        return [e for e in self.edges if e.start not in HISTORY_LABELS and e.end not in HISTORY_LABELS]

    def edges_to(self, label: NodeLabel) -> list[EdgeSpec]:
        return [e for e in self.edges if e.end == label]

    def edge(self, rel: RelType, start: NodeLabel, end: NodeLabel) -> EdgeSpec:
        return next(e for e in self.edges if (e.type, e.start, e.end) == (rel, start, end))


def _named(table: Table, *names: str) -> tuple[tuple[str, ColumnElement[Any]], ...]:
    return tuple((name, table.c[name]) for name in names)


def first_basis_revision(name: str) -> FromClause:
    """Revision 1 of each legal basis: a basis exists from its ``valid_from``."""
    return T_BASIS_REVISION.alias(name)


def revision_key() -> ColumnElement[Any]:
    """``code#number`` of an ``indicator_revision`` row (``graph.model.revision_key`` in SQL)."""
    return T_REVISION.c.code.concat("#").concat(cast(T_REVISION.c.number, String))


def revision_name() -> ColumnElement[Any]:
    """The indicator's name as the revision's snapshot recorded it."""
    name: ColumnElement[Any] = T_REVISION.c.snapshot["name"].as_string()
    return name


# Instants travel as text (``graph.model.stamp``); these property names are converted on read.
STAMPED = frozenset({"valid_from", "valid_to"})


def fund_values(dialect: str) -> FromClause:
    """The elements of ``indicator.budget_types`` as a correlated table-valued function."""
    # Joined "ON true": SQLite correlates a table-valued function with the tables to its left,
    # PostgreSQL treats a function in FROM as LATERAL.
    fn = func.json_array_elements_text if dialect == "postgresql" else func.json_each
    return fn(T_INDICATOR.c.budget_types).table_valued("value").alias("fund")


@cache
def specs_for(dialect: str) -> GraphSpecs:
    """The graph's definition over the relational schema, for ``engine.dialect.name``."""
    i, c, s, d = T_INDICATOR, T_CATEGORY, T_SECTOR, T_DEPARTMENT
    parent_sector = s.alias("parent_sector")
    parent_dept = d.alias("parent_department")
    rel_from, rel_to = i.alias("rel_from"), i.alias("rel_to")
    fund = fund_values(dialect)
    node = NodeLabel
    # Two aliases of the same table: one dates the basis node, the other its outgoing links.
    first_basis, link_basis = first_basis_revision("first_basis"), first_basis_revision("link_basis")
    r, rb = T_REVISION, T_REVISION_BASIS
    # A revision holds until the next one's valid_from (no stored valid_to).
    valid_to = func.lead(r.c.valid_from, type_=DateTime(timezone=True)).over(
        partition_by=r.c.indicator_id, order_by=r.c.number
    )
    nodes = {
        node.Indicator: NodeSpec(node.Indicator, i.c.code, _named(i, "name", "kind", "status"), (i,)),
        node.Category: NodeSpec(node.Category, c.c.id, _named(c, "name", "level", "framework"), (c,)),
        node.Sector: NodeSpec(node.Sector, s.c.code, _named(s, "name"), (s,)),
        node.Department: NodeSpec(node.Department, d.c.code, _named(d, "name"), (d,)),
        node.Duty: NodeSpec(node.Duty, T_DUTY.c.id, _named(T_DUTY, "name"), (T_DUTY,)),
        node.StrategicGoal: NodeSpec(node.StrategicGoal, T_GOAL.c.id, _named(T_GOAL, "name"), (T_GOAL,)),
        node.LegalBasis: NodeSpec(
            node.LegalBasis,
            T_BASIS.c.id,
            (*_named(T_BASIS, "doc_no", "title", "kind", "status"), ("valid_from", first_basis.c.valid_from)),
            (
                T_BASIS.outerjoin(
                    first_basis, (first_basis.c.legal_basis_id == T_BASIS.c.id) & (first_basis.c.number == 1)
                ),
            ),
        ),
        node.Target: NodeSpec(
            node.Target, T_TARGET.c.external_id, _named(T_TARGET, "fiscal_year", "project"), (T_TARGET,)
        ),
        # Keyed "CODE#n" rather than by revision id, so a key reads the same in both stores and logs.
        node.IndicatorRevision: NodeSpec(
            node.IndicatorRevision,
            revision_key(),
            (
                *_named(r, "code", "number"),
                ("name", revision_name()),
                *_named(r, "status", "valid_from"),
                ("valid_to", valid_to),
                ("change", r.c.change),
            ),
            (r,),
            owner=r.c.code,
        ),
    }
    rel = RelType
    # An edition link holds from when its newer (start) basis does.
    link_from = T_BASIS_LINK.outerjoin(
        link_basis, (link_basis.c.legal_basis_id == T_BASIS_LINK.c.basis_id) & (link_basis.c.number == 1)
    )
    link_props = (("valid_from", link_basis.c.valid_from),)
    edges = (
        EdgeSpec(rel.IN_CATEGORY, node.Indicator, node.Category, i.c.code, i.c.category_id, (i,)),
        EdgeSpec(rel.CHILD_OF, node.Category, node.Category, c.c.id, c.c.parent_id, (c,), where=(c.c.parent_id.is_not(None),)),
        EdgeSpec(
            rel.CHILD_OF, node.Sector, node.Sector, s.c.code, parent_sector.c.code,
            (s.join(parent_sector, s.c.parent_id == parent_sector.c.id),),
        ),
        EdgeSpec(
            rel.CHILD_OF, node.Department, node.Department, d.c.code, parent_dept.c.code,
            (d.join(parent_dept, d.c.parent_id == parent_dept.c.id),),
        ),
        EdgeSpec(rel.IN_SECTOR, node.Indicator, node.Sector, i.c.code, s.c.code, (i.join(s, i.c.sector_id == s.c.id),)),
        EdgeSpec(rel.OWNED_BY, node.Indicator, node.Department, i.c.code, d.c.code, (i.join(d, i.c.department_id == d.c.id),)),
        EdgeSpec(
            rel.OWNED_BY, node.Duty, node.Department, T_DUTY.c.id, d.c.code,
            (T_DUTY.join(d, T_DUTY.c.department_id == d.c.id),),
        ),
        EdgeSpec(
            rel.OWNED_BY, node.StrategicGoal, node.Department, T_GOAL.c.id, d.c.code,
            (T_GOAL.join(d, T_GOAL.c.department_id == d.c.id),),
        ),
        EdgeSpec(
            rel.OWNED_BY, node.Target, node.Department, T_TARGET.c.external_id, d.c.code,
            (T_TARGET.join(d, T_TARGET.c.department_id == d.c.id),),
        ),
        EdgeSpec(
            rel.MEASURES, node.Indicator, node.Duty, i.c.code, T_INDICATOR_DUTY.c.duty_id,
            (T_INDICATOR_DUTY.join(i, T_INDICATOR_DUTY.c.indicator_id == i.c.id),),
        ),
        EdgeSpec(
            rel.MEASURES, node.Indicator, node.StrategicGoal, i.c.code, T_INDICATOR_GOAL.c.goal_id,
            (T_INDICATOR_GOAL.join(i, T_INDICATOR_GOAL.c.indicator_id == i.c.id),),
        ),
        EdgeSpec(
            rel.BASED_ON, node.Indicator, node.LegalBasis, i.c.code, T_INDICATOR_BASIS.c.legal_basis_id,
            (T_INDICATOR_BASIS.join(i, T_INDICATOR_BASIS.c.indicator_id == i.c.id),),
            props=_named(T_INDICATOR_BASIS, "clause"),
        ),
        EdgeSpec(
            rel.SUPERSEDES, node.LegalBasis, node.LegalBasis, T_BASIS_LINK.c.basis_id, T_BASIS_LINK.c.target_id,
            (link_from,), where=(T_BASIS_LINK.c.relation == "supersedes",), props=link_props,
        ),
        EdgeSpec(
            rel.AMENDS, node.LegalBasis, node.LegalBasis, T_BASIS_LINK.c.basis_id, T_BASIS_LINK.c.target_id,
            (link_from,), where=(T_BASIS_LINK.c.relation == "amends",), props=link_props,
        ),
        EdgeSpec(
            rel.FUNDED_BY, node.Indicator, node.FundCategory, i.c.code, fund.c.value, (i.join(fund, true()),),
            where=(fund.c.value.is_not(None), fund.c.value != ""), distinct=True,
        ),
        EdgeSpec(
            rel.RELATED_TO, node.Indicator, node.Indicator, rel_from.c.code, rel_to.c.code,
            (
                T_RELATION.join(rel_from, T_RELATION.c.from_id == rel_from.c.id).join(
                    rel_to, T_RELATION.c.to_id == rel_to.c.id
                ),
            ),
            props=_named(T_RELATION, "kind"),
        ),
        # A target may list an indicator twice (two rows of its table); the graph keeps one USES
        # relationship per pair, with the first row's value.
        EdgeSpec(
            rel.USES, node.Target, node.Indicator, T_TARGET.c.external_id, i.c.code,
            (
                T_TARGET_INDICATOR.join(T_TARGET, T_TARGET_INDICATOR.c.target_id == T_TARGET.c.id).join(
                    i, T_TARGET_INDICATOR.c.indicator_id == i.c.id
                ),
            ),
            props=_named(T_TARGET_INDICATOR, "value", "unit"),
            order=(T_TARGET_INDICATOR.c.id,),
            dedupe=True,
        ),
        EdgeSpec(
            rel.REVISION_OF, node.IndicatorRevision, node.Indicator, revision_key(), i.c.code,
            (r.join(i, r.c.indicator_id == i.c.id),), owner=r.c.code,
        ),
        EdgeSpec(
            rel.WAS_BASED_ON, node.IndicatorRevision, node.LegalBasis, revision_key(), rb.c.legal_basis_id,
            (rb.join(r, rb.c.revision_id == r.c.id),), props=_named(rb, "clause"), owner=r.c.code,
        ),
    )  # fmt: skip
    return GraphSpecs(nodes=nodes, edges=edges)


def key_values(label: NodeLabel, keys: Iterable[str]) -> list[Any]:
    """Graph keys (strings) as the relational key column's values; malformed ints are dropped."""
    if label in INTEGER_KEYED:
        return [int(k) for k in keys if k.isascii() and k.isdigit()]
    return list(keys)


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _props(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    props = dict(zip(names, values, strict=True))
    for name in STAMPED.intersection(props):
        props[name] = stamp(props[name])
    return props


def node_rows(
    conn: Connection | Session,
    spec: NodeSpec,
    *,
    keys: Sequence[str] | None = None,
    owners: Sequence[str] | None = None,
) -> list[NodeRow]:
    """The nodes of one label: all, those with the given keys, or those of the given owners."""
    names = [name for name, _ in spec.props]
    out: list[NodeRow] = []
    if owners is not None:
        assert spec.owner is not None, f"{spec.label} nodes have no owner"
        stmts = [spec.select().where(spec.owner.in_(chunk)) for chunk in chunks(list(owners))]
    else:
        stmts = list(_filtered(spec.select(), spec.key, spec.label, keys))
    for stmt in stmts:
        for row in conn.execute(stmt):
            out.append(NodeRow(spec.label, _str(row[0]), _props(names, row[1:])))
    return out


def edge_rows(
    conn: Connection | Session,
    spec: EdgeSpec,
    *,
    start_keys: Sequence[str] | None = None,
    end_keys: Sequence[str] | None = None,
    owners: Sequence[str] | None = None,
) -> list[EdgeRow]:
    """One relationship's rows, optionally only those starting (and/or ending) at given keys, or
    those whose start node belongs to the given owners (history edges)."""
    names = [name for name, _ in spec.props]
    out: list[EdgeRow] = []
    seen: set[tuple[str, str]] = set()
    stmts: Iterable[Select[Any]] = [spec.select()]
    if owners is not None:
        assert spec.owner is not None, f"{spec.type} relationships have no owner"
        owner = spec.owner
        stmts = [s.where(owner.in_(chunk)) for s in stmts for chunk in chunks(list(owners))]
    if start_keys is not None:
        stmts = (s for base in stmts for s in _filtered(base, spec.start_key, spec.start, start_keys))
    if end_keys is not None:
        # The end filter is small (a subgraph's nodes); it is applied within each start chunk.
        ends = key_values(spec.end, end_keys)
        stmts = (s.where(spec.end_key.in_(ends)) for s in stmts)
    for stmt in stmts:
        for row in conn.execute(stmt):
            start, end = _str(row[0]), _str(row[1])
            if spec.dedupe:
                if (start, end) in seen:
                    continue
                seen.add((start, end))
            out.append(EdgeRow(spec.type, spec.start, start, spec.end, end, _props(names, row[2:])))
    return out


def _filtered(
    stmt: Select[Any], column: ColumnElement[Any], label: NodeLabel, keys: Sequence[str] | None
) -> Iterator[Select[Any]]:
    if keys is None:
        yield stmt
        return
    values = key_values(label, keys)
    for chunk in chunks(values):
        yield stmt.where(column.in_(chunk))


def fund_nodes(edges: Iterable[EdgeRow]) -> list[NodeRow]:
    """FundCategory nodes are derived: one per distinct FUNDED_BY end."""
    names = sorted({e.to_key for e in edges if e.type == RelType.FUNDED_BY})
    return [NodeRow(NodeLabel.FundCategory, name, {"name": name}) for name in names]


def _dialect(conn: Connection | Session) -> str:
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    return bind.dialect.name


def read_all(conn: Connection | Session) -> tuple[list[NodeRow], list[EdgeRow]]:
    """The whole graph: every node and relationship the relational source implies."""
    specs = specs_for(_dialect(conn))
    nodes: list[NodeRow] = []
    for spec in specs.nodes.values():
        nodes.extend(node_rows(conn, spec))
    edges: list[EdgeRow] = []
    for edge_spec in specs.edges:
        edges.extend(edge_rows(conn, edge_spec))
    nodes.extend(fund_nodes(edges))
    return nodes, edges


@dataclass
class EntityProjection:
    """The current graph rows of a set of changed entities.

    ``touched`` nodes exist and own exactly ``edges`` (their outgoing relationships) now;
    ``removed`` names nodes whose entity no longer exists; ``unknown`` lists refs whose entity
    kind the graph does not know (logged and skipped by the projector).
    """

    nodes: list[NodeRow] = field(default_factory=list)
    edges: list[EdgeRow] = field(default_factory=list)
    touched: list[tuple[NodeLabel, str]] = field(default_factory=list)
    removed: list[tuple[NodeLabel, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    revisions: list[tuple[str, list[str]]] = field(default_factory=list)
    """(indicator code, keys of its revisions now) for every indicator event: revision nodes of
    that code not listed are pruned (none, normally: revisions are append-only)."""


def read_entities(conn: Connection | Session, refs: Sequence[tuple[str, str]]) -> EntityProjection:
    """Nodes and outgoing edges of the given (entity kind, key) refs, as the source has them now."""
    specs = specs_for(_dialect(conn))
    wanted: dict[NodeLabel, set[str]] = defaultdict(set)
    result = EntityProjection()
    for kind, key in refs:
        if kind not in EntityKind.__members__:
            result.unknown.append((kind, key))
            continue
        wanted[ENTITY_LABELS[EntityKind(kind)]].add(key)
    for label in NodeLabel:  # a fixed order keeps the output deterministic
        keys = sorted(wanted.get(label, ()))
        if not keys:
            continue
        found = node_rows(conn, specs.nodes[label], keys=keys)
        found_keys = {n.key for n in found}
        result.nodes.extend(found)
        result.touched.extend((label, k) for k in keys if k in found_keys)
        result.removed.extend((label, k) for k in keys if k not in found_keys)
        present = sorted(found_keys)
        if present:
            for spec in specs.edges_from(label):
                result.edges.extend(edge_rows(conn, spec, start_keys=present))
        if label == NodeLabel.Indicator:
            _read_revisions(conn, specs, keys, result)
    result.nodes.extend(fund_nodes(result.edges))
    return result


def _read_revisions(
    conn: Connection | Session, specs: GraphSpecs, codes: Sequence[str], result: EntityProjection
) -> None:
    """Every revision of the indicators ``codes`` (a new one changes its predecessor's
    ``valid_to``) with their outgoing relationships; revisions are few per indicator."""
    label = NodeLabel.IndicatorRevision
    found = node_rows(conn, specs.nodes[label], owners=codes)
    result.nodes.extend(found)
    result.touched.extend((label, n.key) for n in found)
    by_code: dict[str, list[str]] = {code: [] for code in codes}
    for n in found:
        by_code.setdefault(n.props["code"], []).append(n.key)
    # Codes without revisions still get an entry: the projector then prunes every revision node.
    result.revisions.extend((code, sorted(keys)) for code, keys in by_code.items())
    for spec in specs.edges_from(label):
        result.edges.extend(edge_rows(conn, spec, owners=codes))


# --- checksum and counts -------------------------------------------------------------------------


def _canonical(values: Iterable[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _present(props: Mapping[str, Any]) -> dict[str, Any]:
    # Neo4j has no null properties: a None in the source is an absent property in the graph.
    return {k: v for k, v in props.items() if v is not None}


def canonical_rows(nodes: Iterable[NodeRow], edges: Iterable[EdgeRow]) -> list[str]:
    """One canonical JSON line per row (null properties dropped), sorted."""
    lines = [_canonical(("N", n.label.value, n.key, _present(n.props))) for n in nodes]
    lines += [
        _canonical(
            ("E", e.type.value, e.from_label.value, e.from_key, e.to_label.value, e.to_key, _present(e.props))
        )
        for e in edges
    ]
    lines.sort()
    return lines


def checksum(nodes: Iterable[NodeRow], edges: Iterable[EdgeRow]) -> str:
    """Order-independent sha256 over canonical rows (null properties ignored, duplicates counted)."""
    digest = hashlib.sha256()
    for line in canonical_rows(nodes, edges):
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def count_nodes(nodes: Iterable[NodeRow]) -> dict[NodeLabel, int]:
    """Nodes per label, every label present (0 when none)."""
    counts = dict.fromkeys(NodeLabel, 0)
    for n in nodes:
        counts[n.label] += 1
    return counts


def count_edges(edges: Iterable[EdgeRow]) -> dict[RelType, int]:
    """Relationships per type, every type present (0 when none)."""
    counts = dict.fromkeys(RelType, 0)
    for e in edges:
        counts[e.type] += 1
    return counts


__all__ = [
    "EdgeRow",
    "canonical_rows",
    "EdgeSpec",
    "EntityProjection",
    "GraphSpecs",
    "NodeRow",
    "NodeSpec",
    "checksum",
    "count_edges",
    "count_nodes",
    "edge_rows",
    "node_rows",
    "read_all",
    "read_entities",
    "specs_for",
]
