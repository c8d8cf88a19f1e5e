"""Every Cypher statement the Neo4j store sends, as named module constants.

Values always travel as parameters (``$rows``, ``$key`` …). Labels and relationship types cannot
be parameters in an indexed MATCH/MERGE, so the statements that need them are generated here once,
at import time, from the ``NodeLabel``/``RelType`` enums and ``EDGE_SCHEMA`` — never from input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from graph.model import EDGE_IDENTITY_PROPS, EDGE_PROPS, EDGE_SCHEMA, NodeLabel, RelType

EdgeKey = tuple[RelType, NodeLabel, NodeLabel]

# --- schema ---------------------------------------------------------------------------------------

CREATE_KEY_CONSTRAINTS: Final[Mapping[NodeLabel, str]] = {
    label: f"CREATE CONSTRAINT graph_{label.value.lower()}_key IF NOT EXISTS "
    f"FOR (n:{label.value}) REQUIRE n.key IS UNIQUE"
    for label in NodeLabel
}
"""One uniqueness constraint per label on ``key`` (also the index every MERGE/MATCH uses)."""

CREATE_INDICATOR_NAME_FULLTEXT: Final = (
    "CREATE FULLTEXT INDEX graph_indicator_name IF NOT EXISTS "
    "FOR (n:Indicator) ON EACH [n.name] "
    "OPTIONS {indexConfig: {`fulltext.analyzer`: 'cjk'}}"
)
"""Full-text index over indicator names; the cjk analyzer indexes character bigrams."""

CREATE_VERSION_CONSTRAINT: Final = (
    "CREATE CONSTRAINT graph_meta_key IF NOT EXISTS FOR (m:GraphMeta) REQUIRE m.key IS UNIQUE"
)
"""The single ``GraphMeta`` node (not part of the catalogue graph) holds the projection version."""

AWAIT_INDEXES: Final = "CALL db.awaitIndexes($seconds)"
"""Block until every index (constraints included) is online."""

# --- bulk writes ----------------------------------------------------------------------------------

CLEAR_GRAPH: Final = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
"""Delete every node and relationship in batches (auto-commit transaction only)."""

MERGE_NODES: Final[Mapping[NodeLabel, str]] = {
    label: f"UNWIND $rows AS r MERGE (n:{label.value} {{key: r.key}}) SET n += r.props" for label in NodeLabel
}
"""Upsert nodes of one label: ``$rows`` = [{key, props}]; a null prop removes the property."""


def _merge_rel(rel: RelType) -> str:
    identity = EDGE_IDENTITY_PROPS.get(rel, ())
    pattern = ", ".join(f"{p}: r.props.{p}" for p in identity)
    merge = f"MERGE (a)-[x:{rel.value}{' {' + pattern + '}' if pattern else ''}]->(b)"
    # Most types carry no properties: skipping the SET saves a step per row of a full load.
    return f"{merge} SET x += r.props" if rel in EDGE_PROPS else merge


MERGE_EDGES: Final[Mapping[EdgeKey, str]] = {
    (rel, start, end): f"UNWIND $rows AS r MATCH (a:{start.value} {{key: r.from}}) "
    f"MATCH (b:{end.value} {{key: r.to}}) {_merge_rel(rel)}"
    for rel, start, end in EDGE_SCHEMA
}
"""Full projection: relationships of one (type, start, end); both ends exist already.
``$rows`` = [{from, to, props}]."""

UPSERT_EDGES: Final[Mapping[EdgeKey, str]] = {
    (rel, start, end): f"UNWIND $rows AS r MATCH (a:{start.value} {{key: r.from}}) "
    f"MERGE (b:{end.value} {{key: r.to}}) {_merge_rel(rel)}"
    for rel, start, end in EDGE_SCHEMA
}
"""Incremental apply: the end node may belong to an entity whose outbox event comes later, so it
is merged as a key-only stub (its own event fills the properties) instead of dropping the edge."""

DELETE_NODES: Final[Mapping[NodeLabel, str]] = {
    label: f"UNWIND $keys AS k MATCH (n:{label.value} {{key: k}}) DETACH DELETE n" for label in NodeLabel
}
"""Remove nodes whose entity no longer exists, with all their relationships."""

DELETE_OUTGOING: Final[Mapping[NodeLabel, str]] = {
    label: f"UNWIND $keys AS k MATCH (n:{label.value} {{key: k}})-[r]->() DELETE r" for label in NodeLabel
}
"""Drop a touched node's outgoing relationships before its current ones are merged again (every
relationship belongs to its start node's entity, so this is exactly the set being replaced)."""

DELETE_ORPHAN_FUND_CATEGORIES: Final = "MATCH (f:FundCategory) WHERE NOT (f)<-[:FUNDED_BY]-() DETACH DELETE f"
"""FundCategory nodes are derived from indicators; drop those no indicator uses any more."""

BUMP_VERSION: Final = "MERGE (m:GraphMeta {key: 'version'}) SET m.version = randomUUID()"
"""A new projection version, written in the same transaction as every change to the graph (and
after a rebuild), so a cached aggregate keyed by the version can never outlive its data."""

# --- reads ----------------------------------------------------------------------------------------

PING: Final = "RETURN 1 AS ok"
"""Health check."""

DUMP_NODES: Final = (
    "MATCH (n) WHERE NOT n:GraphMeta RETURN labels(n)[0] AS label, n.key AS key, properties(n) AS props"
)
"""Every node, for the consistency checksum."""

DUMP_EDGES: Final = (
    "MATCH (a)-[r]->(b) RETURN type(r) AS type, labels(a)[0] AS from_label, a.key AS from_key, "
    "labels(b)[0] AS to_label, b.key AS to_key, properties(r) AS props"
)
"""Every relationship, for the consistency checksum."""

FIND_NODE: Final[Mapping[NodeLabel, str]] = {
    label: f"MATCH (n:{label.value} {{key: $key}}) RETURN elementId(n) AS eid" for label in NodeLabel
}
"""The element id of a node, by label and key."""

NEIGHBOURS: Final = """
MATCH (n) WHERE elementId(n) IN $frontier
MATCH (n)--(m)
WITH DISTINCT m
ORDER BY labels(m)[0], m.key
LIMIT $take
RETURN elementId(m) AS eid, labels(m)[0] AS label, m.key AS key
"""
"""One BFS level: the first ``$take`` distinct neighbours of ``$frontier`` by (label, key)."""

SUBGRAPH_NODES: Final = (
    "MATCH (n) WHERE elementId(n) IN $ids RETURN elementId(n) AS eid, properties(n) AS props"
)
"""Properties of a subgraph's nodes."""

SUBGRAPH_EDGES: Final = """
MATCH (a)-[r]->(b) WHERE elementId(a) IN $ids AND elementId(b) IN $ids
RETURN elementId(a) AS a, elementId(b) AS b, type(r) AS type, properties(r) AS props
"""
"""Relationships between a subgraph's nodes."""

IMPACT_PAGE: Final = """
MATCH (b:LegalBasis {key: $key})
MATCH (b)-[:SUPERSEDES|AMENDS*0..]-(e:LegalBasis)
WITH collect(DISTINCT e) AS editions
CALL (editions) {
  UNWIND editions AS e
  MATCH (e)<-[:BASED_ON]-(i)
  WITH DISTINCT i ORDER BY i.key
  RETURN collect(i) AS ordered
}
WITH editions, size(ordered) AS total, ordered[$offset..$offset + $limit] AS page
CALL (editions, page) {
  UNWIND page AS i
  OPTIONAL MATCH (i)-[:OWNED_BY]->(d:Department)
  CALL (i, editions) {
    MATCH (i)-[r:BASED_ON]->(e) WHERE e IN editions
    RETURN collect({basis: e.key, doc_no: e.doc_no, clause: r.clause}) AS bases
  }
  CALL (i) {
    MATCH (t:Target)-[u:USES]->(i)
    OPTIONAL MATCH (t)-[:OWNED_BY]->(td:Department)
    WITH t, u, td ORDER BY t.key
    RETURN collect({external_id: t.key, fiscal_year: t.fiscal_year, project: t.project,
                    department_code: td.key, value: u.value, unit: u.unit})[..$per_indicator] AS targets,
           count(t) AS target_count
  }
  RETURN collect({code: i.key, name: i.name, status: i.status, department_code: d.key,
                  department_name: d.name, bases: bases, targets: targets,
                  target_count: target_count}) AS rows
}
OPTIONAL MATCH (m:GraphMeta {key: 'version'})
RETURN [e IN editions | {key: e.key, props: properties(e),
        links: [(e)-[l:SUPERSEDES|AMENDS]->(t:LegalBasis) | {to: t.key, type: type(l)}]}] AS editions,
       total, rows, m.version AS version
"""
"""A legal basis's edition chain (SUPERSEDES and AMENDS, transitively, both directions), how many
indicators rest on any edition, and one page of them by code with owner, bases and targets.
``editions`` is empty when the basis does not exist."""

IMPACT_TOTALS: Final = """
OPTIONAL MATCH (m:GraphMeta {key: 'version'})
WITH m.version AS version
MATCH (b:LegalBasis {key: $key})
MATCH (b)-[:SUPERSEDES|AMENDS*0..]-(e:LegalBasis)
WITH DISTINCT version, e
MATCH (e)<-[:BASED_ON]-(i)
WITH DISTINCT version, i
MATCH (i)-[r:OWNED_BY|USES]-(x)
RETURN version, type(r) AS type, count(DISTINCT x) AS n
"""
"""Departments (OWNED_BY) and targets (USES) of the indicators on the chain, in one expansion,
with the projection version they were counted at."""

DEPARTMENT: Final = """
MATCH (d:Department {key: $code})
OPTIONAL MATCH (d)-[:CHILD_OF]->(p:Department)
OPTIONAL MATCH (d)<-[:OWNED_BY]-(i:Indicator)
RETURN d.name AS name, p.key AS parent_code, count(DISTINCT i) AS owned
"""
"""A department, its parent and how many indicators it owns."""

DEPARTMENT_ITEMS: Final = """
MATCH (:Department {key: $code})<-[:OWNED_BY]-(x)
WHERE x:Duty OR x:StrategicGoal
OPTIONAL MATCH (i:Indicator)-[:MEASURES]->(x)
RETURN labels(x)[0] AS label, x.key AS key, x.name AS name,
       collect(CASE WHEN i IS NULL THEN null ELSE {code: i.key, name: i.name, status: i.status} END) AS indicators
"""
"""A department's duties and strategic goals with the indicators that measure each."""

RELATED: Final = """
MATCH (i:Indicator {key: $code})
CALL (i) {
  MATCH (i)-[:BASED_ON]->(x:LegalBasis)<-[:BASED_ON]-(o:Indicator) WHERE o <> i
  RETURN o, 'shared_legal_basis' AS kind, x.key AS via, x.doc_no AS name
  UNION ALL
  MATCH (i)-[:MEASURES]->(x:Duty)<-[:MEASURES]-(o:Indicator) WHERE o <> i
  RETURN o, 'shared_duty' AS kind, x.key AS via, x.name AS name
  UNION ALL
  MATCH (i)-[:MEASURES]->(x:StrategicGoal)<-[:MEASURES]-(o:Indicator) WHERE o <> i
  RETURN o, 'shared_goal' AS kind, x.key AS via, x.name AS name
  UNION ALL
  MATCH (i)-[x:RELATED_TO]-(o:Indicator) WHERE o <> i
  RETURN o, 'related_to' AS kind, null AS via, x.kind AS name
  UNION ALL
  MATCH (i)-[:IN_SECTOR]->(x:Sector)<-[:IN_SECTOR]-(o:Indicator) WHERE o <> i
  RETURN o, 'same_sector' AS kind, x.key AS via, x.name AS name
  UNION ALL
  MATCH (i)-[:IN_CATEGORY]->(x:Category)<-[:IN_CATEGORY]-(o:Indicator) WHERE o <> i
  RETURN o, 'same_category' AS kind, x.key AS via, x.name AS name
}
WITH o, sum($weights[kind]) AS score, collect({kind: kind, via: via, name: name}) AS reasons
ORDER BY score DESC, o.key
LIMIT $limit
RETURN o.key AS code, o.name AS name, score, reasons
"""
"""Indicators sharing bases, duties, goals, explicit relations, sector or category with ``$code``,
scored with ``$weights`` (per reason kind), best first, ties by code."""

INDICATOR_EXISTS: Final = "MATCH (i:Indicator {key: $code}) RETURN count(i) AS n"
"""Whether an indicator node exists (``related`` on an unknown code is a 404)."""
