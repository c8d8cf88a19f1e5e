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

CREATE_REVISION_INDEXES: Final = (
    "CREATE INDEX graph_indicatorrevision_valid_from IF NOT EXISTS FOR (n:IndicatorRevision) ON (n.valid_from)",
    "CREATE INDEX graph_legalbasis_valid_from IF NOT EXISTS FOR (n:LegalBasis) ON (n.valid_from)",
)
"""Range indexes for as-of filters (validity instants are fixed-width UTC text, so ranges work)."""

SECONDARY_INDEXES: Final = (CREATE_INDICATOR_NAME_FULLTEXT, *CREATE_REVISION_INDEXES)
"""Indexes no write looks up by; a full rebuild drops them and builds them once after the load,
which is cheaper than updating them row by row (the key constraints stay: every MATCH uses them)."""

DROP_SECONDARY_INDEXES: Final = tuple(
    f"DROP INDEX {name} IF EXISTS"
    for name in ("graph_indicator_name", "graph_indicatorrevision_valid_from", "graph_legalbasis_valid_from")
)
"""Drop the ``SECONDARY_INDEXES`` (by the names they are created with)."""

CREATE_VERSION_CONSTRAINT: Final = (
    "CREATE CONSTRAINT graph_meta_key IF NOT EXISTS FOR (m:GraphMeta) REQUIRE m.key IS UNIQUE"
)
"""The single ``GraphMeta`` node (not part of the catalogue graph) holds the projection version."""

AWAIT_INDEXES: Final = "CALL db.awaitIndexes($seconds)"
"""Block until every index (constraints included) is online."""

# --- bulk writes ----------------------------------------------------------------------------------

CLEAR_GRAPH: Final = (
    "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
    "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS",
)
"""Delete every relationship, then every node, in batches (auto-commit transactions only).
Relationships go first so that no batch holds a hub's whole fan-out (DETACH DELETE of a category
with 20k relationships in one transaction exhausted a 1 GB heap's transaction memory pool)."""

MERGE_NODES: Final[Mapping[NodeLabel, str]] = {
    label: f"UNWIND $rows AS r MERGE (n:{label.value} {{key: r.key}}) SET n += r.props" for label in NodeLabel
}
"""Upsert nodes of one label: ``$rows`` = [{key, props}]; a null prop removes the property."""


CREATE_NODES: Final[Mapping[NodeLabel, str]] = {
    label: f"UNWIND $rows AS r CREATE (n:{label.value} {{key: r.key}}) SET n += r.props"
    for label in NodeLabel
}
"""Full projection into the cleared graph: plain CREATE skips MERGE's lookup-then-lock per row
(the key constraint still rejects a duplicate). ``$rows`` = [{key, props}]."""


def _create_rel(rel: RelType) -> str:
    create = f"CREATE (a)-[x:{rel.value}]->(b)"
    return f"{create} SET x += r.props" if rel in EDGE_PROPS or rel in EDGE_IDENTITY_PROPS else create


def _merge_rel(rel: RelType) -> str:
    identity = EDGE_IDENTITY_PROPS.get(rel, ())
    pattern = ", ".join(f"{p}: r.props.{p}" for p in identity)
    merge = f"MERGE (a)-[x:{rel.value}{' {' + pattern + '}' if pattern else ''}]->(b)"
    # Most types carry no properties: skipping the SET saves a step per row of a full load.
    return f"{merge} SET x += r.props" if rel in EDGE_PROPS else merge


CREATE_EDGES: Final[Mapping[EdgeKey, str]] = {
    (rel, start, end): f"UNWIND $rows AS r MATCH (a:{start.value} {{key: r.from}}) "
    f"MATCH (b:{end.value} {{key: r.to}}) {_create_rel(rel)}"
    for rel, start, end in EDGE_SCHEMA
}
"""Full projection into the cleared graph: the projection's rows are already one per relationship
(the specs dedupe), so CREATE writes what MERGE would, without matching existing relationships."""

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

PRUNE_REVISIONS: Final = """
UNWIND $rows AS r
MATCH (:Indicator {key: r.code})<-[:REVISION_OF]-(x:IndicatorRevision)
WHERE NOT x.key IN r.keep
DETACH DELETE x
"""
"""Drop revision nodes of an indicator that the source no longer has (all of them when the
indicator is gone); runs before the indicator itself may be deleted. ``$rows`` = [{code, keep}]."""

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
MATCH (n)--(m) WHERE NOT m:IndicatorRevision
WITH DISTINCT m
ORDER BY labels(m)[0], m.key
LIMIT $take
RETURN elementId(m) AS eid, labels(m)[0] AS label, m.key AS key
"""
"""One BFS level: the first ``$take`` distinct neighbours of ``$frontier`` by (label, key); the
history layer (IndicatorRevision) is not part of today's graph."""

IN_FORCE: Final = "r.valid_from < $as_of AND (r.valid_to IS NULL OR $as_of <= r.valid_to)"
"""A revision ``r`` was in force at ``$as_of`` (from its valid_from, exclusive, to the next one's)."""

NEIGHBOURS_AS_OF: Final = f"""
MATCH (n) WHERE elementId(n) IN $frontier
CALL (n) {{
  // today's relationships except BASED_ON, then BASED_ON of the revisions in force, both ways
  MATCH (n)-[x]-(m) WHERE NOT m:IndicatorRevision AND type(x) <> 'BASED_ON'
  RETURN m
  UNION
  MATCH (n:Indicator)<-[:REVISION_OF]-(r:IndicatorRevision)-[:WAS_BASED_ON]->(m:LegalBasis) WHERE {IN_FORCE}
  RETURN m
  UNION
  MATCH (n:LegalBasis)<-[:WAS_BASED_ON]-(r:IndicatorRevision)-[:REVISION_OF]->(m:Indicator) WHERE {IN_FORCE}
  RETURN m
}}
WITH DISTINCT m
ORDER BY labels(m)[0], m.key
LIMIT $take
RETURN elementId(m) AS eid, labels(m)[0] AS label, m.key AS key
"""
"""``NEIGHBOURS`` as of ``$as_of``: BASED_ON is taken from the revisions in force then, every
other relationship type as it is today."""

SUBGRAPH_NODES: Final = (
    "MATCH (n) WHERE elementId(n) IN $ids RETURN elementId(n) AS eid, properties(n) AS props"
)
"""Properties of a subgraph's nodes."""

SUBGRAPH_EDGES: Final = """
MATCH (a)-[r]->(b) WHERE elementId(a) IN $ids AND elementId(b) IN $ids
RETURN elementId(a) AS a, elementId(b) AS b, type(r) AS type, properties(r) AS props
"""
"""Relationships between a subgraph's nodes."""

SUBGRAPH_EDGES_AS_OF: Final = f"""
MATCH (a)-[r]->(b) WHERE elementId(a) IN $ids AND elementId(b) IN $ids AND type(r) <> 'BASED_ON'
RETURN elementId(a) AS a, elementId(b) AS b, type(r) AS type, properties(r) AS props
UNION ALL
MATCH (a:Indicator)<-[:REVISION_OF]-(r:IndicatorRevision)-[x:WAS_BASED_ON]->(b:LegalBasis)
WHERE elementId(a) IN $ids AND elementId(b) IN $ids AND {IN_FORCE}
RETURN elementId(a) AS a, elementId(b) AS b, 'BASED_ON' AS type, properties(x) AS props
"""
"""``SUBGRAPH_EDGES`` as of ``$as_of`` (BASED_ON of the revisions in force then)."""

REVISIONS_AS_OF: Final = f"""
MATCH (i:Indicator)<-[:REVISION_OF]-(r:IndicatorRevision)
WHERE elementId(i) IN $ids AND {IN_FORCE}
RETURN elementId(i) AS eid, r.number AS number, r.name AS name, r.status AS status
"""
"""The revision in force at ``$as_of`` of each indicator among ``$ids`` (none: not yet created)."""

IMPACT_PAGE: Final = """
MATCH (b:LegalBasis {key: $key})
MATCH (b)-[:SUPERSEDES|AMENDS*0..]-(e:LegalBasis)
WITH collect(DISTINCT e) AS editions
CALL (editions) {
  UNWIND editions AS e
  MATCH (e)<-[:BASED_ON]-(i:Indicator)
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
MATCH (e)<-[:BASED_ON]-(i:Indicator)
WITH DISTINCT version, i
MATCH (i)-[r:OWNED_BY|USES]-(x)
RETURN version, type(r) AS type, count(DISTINCT x) AS n
"""
"""Departments (OWNED_BY) and targets (USES) of the indicators on the chain, in one expansion,
with the projection version they were counted at."""

_CHAIN_AS_OF: Final = """
MATCH (b:LegalBasis {key: $key}) WHERE b.valid_from IS NULL OR b.valid_from < $as_of
MATCH p = (b)-[:SUPERSEDES|AMENDS*0..]-(e:LegalBasis)
WHERE all(x IN nodes(p) WHERE x.valid_from IS NULL OR x.valid_from < $as_of)
  AND all(l IN relationships(p) WHERE l.valid_from IS NULL OR l.valid_from < $as_of)
"""
# A basis or link without a first revision (rows older than versioning) counts as always there.

IMPACT_PAGE_AS_OF: Final = (
    _CHAIN_AS_OF
    + f"""
WITH collect(DISTINCT e) AS editions
CALL (editions) {{
  UNWIND editions AS e
  // one revision per indicator is in force, so distinct revisions are distinct indicators
  MATCH (e)<-[:WAS_BASED_ON]-(r:IndicatorRevision) WHERE {IN_FORCE}
  WITH DISTINCT r ORDER BY r.code
  RETURN collect(r) AS ordered
}}
WITH editions, size(ordered) AS total, ordered[$offset..$offset + $limit] AS page
CALL (editions, page) {{
  UNWIND page AS r
  MATCH (r)-[:REVISION_OF]->(i:Indicator)
  OPTIONAL MATCH (i)-[:OWNED_BY]->(d:Department)
  CALL (r, editions) {{
    MATCH (r)-[x:WAS_BASED_ON]->(e) WHERE e IN editions
    RETURN collect({{basis: e.key, doc_no: e.doc_no, clause: x.clause}}) AS bases
  }}
  CALL (i) {{
    MATCH (t:Target)-[u:USES]->(i)
    OPTIONAL MATCH (t)-[:OWNED_BY]->(td:Department)
    WITH t, u, td ORDER BY t.key
    RETURN collect({{external_id: t.key, fiscal_year: t.fiscal_year, project: t.project,
                    department_code: td.key, value: u.value, unit: u.unit}})[..$per_indicator] AS targets,
           count(t) AS target_count
  }}
  RETURN collect({{code: i.key, name: r.name, status: r.status, department_code: d.key,
                  department_name: d.name, bases: bases, targets: targets,
                  target_count: target_count}}) AS rows
}}
OPTIONAL MATCH (m:GraphMeta {{key: 'version'}})
RETURN [e IN editions | {{key: e.key, props: properties(e),
        links: [(e)-[l:SUPERSEDES|AMENDS]->(t:LegalBasis)
                WHERE t IN editions AND (l.valid_from IS NULL OR l.valid_from < $as_of)
                | {{to: t.key, type: type(l)}}]}}] AS editions,
       total, rows, m.version AS version
"""
)
"""``IMPACT_PAGE`` as of ``$as_of``: the chain of bases and links that existed then, and the
indicators whose revision in force then rested on it, with that revision's name, status and
clauses (owner and targets as today). ``editions`` is empty when the basis did not exist yet."""

IMPACT_TOTALS_AS_OF: Final = (
    """
OPTIONAL MATCH (m:GraphMeta {key: 'version'})
WITH m.version AS version
"""
    + _CHAIN_AS_OF
    + f"""
WITH DISTINCT version, e
MATCH (e)<-[:WAS_BASED_ON]-(r:IndicatorRevision) WHERE {IN_FORCE}
MATCH (r)-[:REVISION_OF]->(i:Indicator)
WITH DISTINCT version, i
MATCH (i)-[x:OWNED_BY|USES]-(y)
RETURN version, type(x) AS type, count(DISTINCT y) AS n
"""
)
"""``IMPACT_TOTALS`` over the indicators of ``IMPACT_PAGE_AS_OF``."""

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
