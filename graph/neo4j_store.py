"""``GraphStore`` over a Neo4j 5 server, plus the writes the projector needs.

Reads go through ``driver.execute_query(..., routing_=READ)``; the full projection is written in
batched auto-commit transactions per label and per relationship type, an incremental ``apply`` in
one transaction (readers never see an entity with its old relationships removed and the new ones
not yet written). Every write also sets a new projection version (``GraphMeta``), which keys the
cache of impact totals. Driver errors become ``GraphUnavailable`` (server down, restarting,
connection lost) or ``GraphError`` (anything else), always chained with ``from``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, TypeVar

from neo4j import READ_ACCESS, Driver, ManagedTransaction, Record, RoutingControl
from neo4j.exceptions import (
    AuthError,
    ConnectionPoolError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graph import cypher
from graph.errors import GraphError, GraphNodeNotFound, GraphUnavailable
from graph.model import HISTORY_LABELS, NodeLabel, RelType, node_id, parse_node_id, stamp
from graph.projection import EdgeRow, NodeRow, checksum, count_edges, count_nodes
from graph.results import (
    REASON_WEIGHTS,
    BasisEdition,
    BasisRef,
    DepartmentProfile,
    EditionLink,
    GraphStats,
    Impact,
    IndicatorRef,
    RelatedIndicator,
    Subgraph,
    TargetUse,
)
from graph.shaping import (
    ImpactRow,
    NodeRef,
    ProfileItem,
    RelatedRow,
    RevisionProps,
    apply_revisions,
    shape_impact,
    shape_profile,
    shape_related,
    shape_subgraph,
)
from graph.store import MAX_RELATED, TARGETS_PER_INDICATOR, check_neighbourhood_args, check_page_args

log = logging.getLogger("graph.neo4j")
T = TypeVar("T")

DEFAULT_BATCH = 10_000
EDITION_RELATIONS: dict[str, Literal["supersedes", "amends"]] = {
    "SUPERSEDES": "supersedes",
    "AMENDS": "amends",
}
UNAVAILABLE = (ServiceUnavailable, SessionExpired, ConnectionPoolError, TransientError, AuthError, OSError)


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Re-raise driver errors as graph errors (503 for outages, 500 otherwise)."""
    try:
        yield
    except UNAVAILABLE as e:
        raise GraphUnavailable(f"Neo4j unavailable while {action}: {e}") from e
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"Neo4j failed while {action}: {e}") from e


def _batches(rows: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class Neo4jGraphStore:
    """``GraphStore`` backed by Neo4j; also the projector's write side (``rebuild``/``apply``).

    ``batch_size`` rows go into one UNWIND statement; ``owns_driver`` makes ``close()`` close the
    driver; ``cache_size`` bounds the impact-totals cache (0 disables it).
    """

    def __init__(
        self,
        driver: Driver,
        *,
        database: str = "neo4j",
        batch_size: int = DEFAULT_BATCH,
        owns_driver: bool = False,
        cache_size: int = 256,
    ) -> None:
        self._driver = driver
        self._database = database
        self._batch_size = batch_size
        self._owns_driver = owns_driver
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="graph-neo4j")
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._seen_version: str | None = None

    # --- plumbing ---------------------------------------------------------------------------------

    def _read(self, query: str, action: str, **params: Any) -> list[Record]:
        with translated_errors(action):
            result = self._driver.execute_query(
                query, params, routing_=RoutingControl.READ, database_=self._database
            )
        records: list[Record] = result.records
        return records

    def _write(self, query: str, action: str, **params: Any) -> None:
        with translated_errors(action):
            self._driver.execute_query(query, params, routing_=RoutingControl.WRITE, database_=self._database)

    def _tx_run(self, tx: ManagedTransaction, query: str, params: Mapping[str, Any]) -> None:
        """Run one statement of a write transaction (a seam the outage tests hook into)."""
        tx.run(query, dict(params)).consume()

    # --- schema and writes ------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the key constraints, the name full-text index and the validity indexes if
        missing (idempotent)."""
        self._ensure_constraints()
        for statement in cypher.SECONDARY_INDEXES:
            self._write(statement, "creating indexes")
        self._write(cypher.AWAIT_INDEXES, "waiting for indexes", seconds=300)

    def _ensure_constraints(self) -> None:
        for label in NodeLabel:
            self._write(cypher.CREATE_KEY_CONSTRAINTS[label], "creating constraints")
        self._write(cypher.CREATE_VERSION_CONSTRAINT, "creating constraints")

    def clear(self) -> None:
        """Delete every node and relationship (batched, in auto-commit transactions)."""
        with (
            translated_errors("clearing the graph"),
            self._driver.session(database=self._database) as session,
        ):
            for statement in cypher.CLEAR_GRAPH:
                session.run(statement).consume()

    def rebuild(self, nodes: Sequence[NodeRow], edges: Sequence[EdgeRow]) -> None:
        """Replace the graph with a full projection: clear, then batched CREATE per label and type."""
        self._ensure_constraints()  # relationship loads MATCH their ends by key
        self._write(cypher.AWAIT_INDEXES, "waiting for indexes", seconds=300)
        for statement in cypher.DROP_SECONDARY_INDEXES:
            self._write(statement, "dropping indexes")
        self.clear()

        def load(label: NodeLabel, rows: Sequence[dict[str, Any]]) -> None:
            for batch in _batches(rows, self._batch_size):
                self._write(cypher.CREATE_NODES[label], f"writing {label} nodes", rows=batch)

        # Labels touch disjoint nodes, so they load in parallel without lock waits; relationship
        # types share end nodes (a category holds 20k IN_CATEGORY), so those go one at a time.
        for done in [self._pool.submit(load, label, rows) for label, rows in _group_nodes(nodes).items()]:
            done.result()
        for key, edge_rows in _group_edges(edges).items():
            for batch in _batches(edge_rows, self._batch_size):
                self._write(cypher.CREATE_EDGES[key], f"writing {key[0]} relationships", rows=batch)
        self.ensure_schema()  # the secondary indexes, populated once from the loaded graph
        self._write(cypher.BUMP_VERSION, "recording the projection version")

    def apply(
        self,
        nodes: Sequence[NodeRow],
        edges: Sequence[EdgeRow],
        *,
        removed_keys: Sequence[tuple[NodeLabel, str]],
        touched: Sequence[tuple[NodeLabel, str]],
        revisions: Sequence[tuple[str, Sequence[str]]] = (),
    ) -> None:
        """Upsert changed entities in one transaction; idempotent (applying twice changes nothing).

        ``removed_keys`` nodes are detach-deleted; ``touched`` nodes lose every outgoing
        relationship before ``edges`` (their current outgoing ones) are merged again, so a link
        removed in the source disappears from the graph. ``revisions`` = (indicator code, keys of
        its revisions now): other revision nodes of that indicator are deleted.
        """
        statements: list[tuple[str, dict[str, Any]]] = []
        # Pruning goes first: it finds revisions through REVISION_OF, which deleting the indicator removes.
        prune = [{"code": code, "keep": list(keep)} for code, keep in revisions]
        statements += [(cypher.PRUNE_REVISIONS, {"rows": b}) for b in _batches(prune, self._batch_size)]
        for label, keys in _group_keys(removed_keys).items():
            statements += [
                (cypher.DELETE_NODES[label], {"keys": b}) for b in _batches(keys, self._batch_size)
            ]
        for label, rows in _group_nodes(nodes).items():
            statements += [(cypher.MERGE_NODES[label], {"rows": b}) for b in _batches(rows, self._batch_size)]
        for label, keys in _group_keys(touched).items():
            statements += [
                (cypher.DELETE_OUTGOING[label], {"keys": b}) for b in _batches(keys, self._batch_size)
            ]
        for key, edge_rows in _group_edges(edges).items():
            statements += [
                (cypher.UPSERT_EDGES[key], {"rows": b}) for b in _batches(edge_rows, self._batch_size)
            ]
        statements.append((cypher.DELETE_ORPHAN_FUND_CATEGORIES, {}))
        statements.append((cypher.BUMP_VERSION, {}))

        def work(tx: ManagedTransaction) -> None:
            for query, params in statements:
                self._tx_run(tx, query, params)

        with translated_errors("applying changes"), self._driver.session(database=self._database) as session:
            session.execute_write(work)

    def dump(self) -> tuple[list[NodeRow], list[EdgeRow]]:
        """Every node and relationship as projection rows (for checksums and consistency checks)."""
        nodes: list[NodeRow] = []
        edges: list[EdgeRow] = []
        with (
            translated_errors("reading the graph"),
            self._driver.session(database=self._database, default_access_mode=READ_ACCESS) as session,
        ):
            for rec in session.run(cypher.DUMP_NODES):
                if rec["label"] not in NodeLabel.__members__:
                    log.warning("ignoring a node with a foreign label %r", rec["label"])
                    continue
                props = dict(rec["props"])
                props.pop("key", None)
                nodes.append(NodeRow(NodeLabel(rec["label"]), rec["key"], props))
            for rec in session.run(cypher.DUMP_EDGES):
                if rec["type"] not in RelType.__members__:
                    log.warning("ignoring a relationship with a foreign type %r", rec["type"])
                    continue
                edges.append(
                    EdgeRow(
                        RelType(rec["type"]),
                        NodeLabel(rec["from_label"]),
                        rec["from_key"],
                        NodeLabel(rec["to_label"]),
                        rec["to_key"],
                        dict(rec["props"]),
                    )
                )
        return nodes, edges

    def close(self) -> None:
        """Stop the helper threads; close the driver when this store created it (the factory)."""
        self._pool.shutdown(wait=False)
        if self._owns_driver:
            self._driver.close()

    # --- GraphStore -------------------------------------------------------------------------------

    def neighbourhood(
        self, node_id: str, *, depth: int = 1, limit: int = 200, as_of: datetime | None = None
    ) -> Subgraph:
        """See ``GraphStore.neighbourhood``."""
        check_neighbourhood_args(depth, limit)
        root = parse_node_id(node_id)
        if root is None or root[0] in HISTORY_LABELS:
            raise GraphNodeNotFound(node_id)
        found = self._read(cypher.FIND_NODE[root[0]], "finding a node", key=root[1])
        if not found:
            raise GraphNodeNotFound(node_id)
        at = stamp(as_of)  # compared as text in Cypher: the same fixed-width form as stored
        if at is not None and root[0] == NodeLabel.Indicator:
            if not self._revisions_as_of({root: found[0]["eid"]}, at):  # it did not exist yet
                raise GraphNodeNotFound(node_id)
        eids: dict[NodeRef, str] = {root: found[0]["eid"]}
        distances: dict[NodeRef, int] = {root: 0}
        frontier = [found[0]["eid"]]
        truncated = False
        for level in range(1, depth + 1):
            remaining = limit - len(distances)
            # Over-fetch by the nodes already seen (see EmbeddedGraphStore.neighbourhood).
            records = self._read(
                cypher.NEIGHBOURS if at is None else cypher.NEIGHBOURS_AS_OF,
                "expanding a neighbourhood",
                frontier=frontier,
                take=remaining + len(distances) + 1,
                as_of=at,
            )
            fresh: list[tuple[NodeRef, str]] = []
            for rec in records:
                ref = (NodeLabel(rec["label"]), rec["key"])
                if ref not in distances:
                    fresh.append((ref, rec["eid"]))
            if len(fresh) > remaining:
                truncated, fresh = True, fresh[:remaining]
            for ref, eid in fresh:
                distances[ref] = level
                eids[ref] = eid
            frontier = [eid for _, eid in fresh]
            if truncated or not frontier:
                break
        by_eid = {eid: ref for ref, eid in eids.items()}
        ids = list(by_eid)
        props: Mapping[NodeRef, Mapping[str, Any]] = {
            by_eid[rec["eid"]]: dict(rec["props"])
            for rec in self._read(cypher.SUBGRAPH_NODES, "reading a neighbourhood", ids=ids)
        }
        edges = []
        query = cypher.SUBGRAPH_EDGES if at is None else cypher.SUBGRAPH_EDGES_AS_OF
        for rec in self._read(query, "reading a neighbourhood", ids=ids, as_of=at):
            (a_label, a_key), (b_label, b_key) = by_eid[rec["a"]], by_eid[rec["b"]]
            edges.append(EdgeRow(RelType(rec["type"]), a_label, a_key, b_label, b_key, dict(rec["props"])))
        if at is not None:
            indicators = {ref: eid for ref, eid in eids.items() if ref[0] == NodeLabel.Indicator}
            props = apply_revisions(props, self._revisions_as_of(indicators, at))
        return shape_subgraph(
            root=root,
            depth=depth,
            limit=limit,
            distances=distances,
            props=props,
            edges=edges,
            truncated=truncated,
        )

    def _revisions_as_of(self, indicators: Mapping[NodeRef, str], at: str) -> dict[NodeRef, RevisionProps]:
        """The revision in force at ``at`` of each indicator (by element id) that had one."""
        by_eid = {eid: ref for ref, eid in indicators.items()}
        records = self._read(cypher.REVISIONS_AS_OF, "reading revisions", ids=list(by_eid), as_of=at)
        return {
            by_eid[rec["eid"]]: RevisionProps(number=rec["number"], name=rec["name"], status=rec["status"])
            for rec in records
        }

    def impact(
        self, basis_id: int, *, limit: int = 50, offset: int = 0, as_of: datetime | None = None
    ) -> Impact:
        """See ``GraphStore.impact``.

        The department and target totals expand every affected indicator (10k for a national
        standard) while the page needs 50, so they are cached per (basis, projection version):
        exact, because every write to the graph sets a new version in its own transaction.
        On a miss they are counted on a second connection while the page is read.
        """
        check_page_args(limit, offset)
        key, at = str(basis_id), stamp(as_of)
        guessed_version = self._seen_version
        cached = self._cache_get(key, guessed_version, at)
        pending = self._pool.submit(self._impact_totals, key, at) if cached is None else None
        try:
            found = self._read(
                cypher.IMPACT_PAGE if at is None else cypher.IMPACT_PAGE_AS_OF,
                "reading an impact",
                key=key,
                offset=offset,
                limit=limit,
                per_indicator=TARGETS_PER_INDICATOR,
                as_of=at,
            )
        finally:
            counted = pending.result() if pending is not None else None
        if not found or not found[0]["editions"]:  # collect() yields a row even for no basis
            raise GraphNodeNotFound(node_id(NodeLabel.LegalBasis, key))
        result = found[0]
        version: str | None = result["version"]
        self._seen_version = version
        if counted is not None:
            totals = counted[1]
        elif version == guessed_version and cached is not None:
            totals = cached
        else:  # a write landed since the guess: count at the new version
            totals = self._cache_get(key, version, at) or self._impact_totals(key, at)[1]
        editions = [
            BasisEdition(
                id=int(e["key"]),
                doc_no=e["props"]["doc_no"],
                title=e["props"]["title"],
                kind=e["props"]["kind"],
                status=e["props"]["status"],
            )
            for e in result["editions"]
        ]
        links = [
            EditionLink(
                from_id=int(e["key"]), to_id=int(link["to"]), relation=EDITION_RELATIONS[link["type"]]
            )
            for e in result["editions"]
            for link in e["links"]
        ]
        rows = [
            ImpactRow(
                code=row["code"],
                name=row["name"],
                status=row["status"],
                department_code=row["department_code"],
                department_name=row["department_name"],
                bases=[
                    BasisRef(basis_id=int(b["basis"]), doc_no=b["doc_no"], clause=b["clause"])
                    for b in row["bases"]
                ],
                targets=[TargetUse(**t) for t in row["targets"]],
                target_count=row["target_count"],
            )
            for row in result["rows"]
        ]
        return shape_impact(
            basis_id=basis_id,
            editions=editions,
            links=links,
            totals=(result["total"], *totals),
            rows=rows,
            limit=limit,
            offset=offset,
        )

    def _impact_totals(self, key: str, at: str | None = None) -> tuple[str | None, tuple[int, int]]:
        """(version, (targets, departments)) of the chain of basis ``key`` (as of ``at``); cached
        when versioned."""
        query = cypher.IMPACT_TOTALS if at is None else cypher.IMPACT_TOTALS_AS_OF
        records = self._read(query, "counting an impact", key=key, as_of=at)
        counts = {rec["type"]: rec["n"] for rec in records}
        version: str | None = records[0]["version"] if records else None
        totals = (counts.get(RelType.USES.value, 0), counts.get(RelType.OWNED_BY.value, 0))
        if version is not None and self._cache_size > 0:
            entry = (_cache_key(key, at), version)
            with self._cache_lock:
                self._cache[entry] = totals
                self._cache.move_to_end(entry)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return version, totals

    def _cache_get(self, key: str, version: str | None, at: str | None) -> tuple[int, int] | None:
        if version is None:
            return None
        with self._cache_lock:
            return self._cache.get((_cache_key(key, at), version))

    def department_profile(self, code: str) -> DepartmentProfile:
        """See ``GraphStore.department_profile``."""
        found = self._read(cypher.DEPARTMENT, "reading a department", code=code)
        if not found:
            raise GraphNodeNotFound(node_id(NodeLabel.Department, code))
        items = [
            ProfileItem(
                kind="duty" if rec["label"] == NodeLabel.Duty.value else "goal",
                id=int(rec["key"]),
                name=rec["name"],
                indicators=[IndicatorRef(**i) for i in rec["indicators"]],
            )
            for rec in self._read(cypher.DEPARTMENT_ITEMS, "reading a department profile", code=code)
        ]
        dept = found[0]
        return shape_profile(
            code=code, name=dept["name"], parent_code=dept["parent_code"], items=items, owned=dept["owned"]
        )

    def related(self, code: str, *, limit: int = 20) -> list[RelatedIndicator]:
        """See ``GraphStore.related``."""
        check_page_args(limit, 0, maximum=MAX_RELATED)
        if not self._read(cypher.INDICATOR_EXISTS, "finding an indicator", code=code)[0]["n"]:
            raise GraphNodeNotFound(node_id(NodeLabel.Indicator, code))
        weights = {kind.value: weight for kind, weight in REASON_WEIGHTS.items()}
        records = self._read(
            cypher.RELATED, "ranking related indicators", code=code, limit=limit, weights=weights
        )
        rows = [
            RelatedRow(
                code=rec["code"],
                name=rec["name"],
                reasons=[(r["kind"], r["via"], r["name"]) for r in rec["reasons"]],
            )
            for rec in records
        ]
        return shape_related(rows, limit=limit)

    def stats(self) -> GraphStats:
        """See ``GraphStore.stats`` (reads the whole graph back to checksum it)."""
        nodes, edges = self.dump()
        node_counts, edge_counts = count_nodes(nodes), count_edges(edges)
        return GraphStats(
            nodes=node_counts,
            edges=edge_counts,
            total_nodes=sum(node_counts.values()),
            total_edges=sum(edge_counts.values()),
            checksum=checksum(nodes, edges),
        )

    def health(self) -> None:
        """See ``GraphStore.health``; one auto-commit query, so no retry loop delays the answer."""
        with (
            translated_errors("checking health"),
            self._driver.session(database=self._database, default_access_mode=READ_ACCESS) as session,
        ):
            session.run(cypher.PING).consume()


def _cache_key(key: str, at: str | None) -> str:
    # As-of totals are cached per instant: a date asked once a day repeats the same instant.
    return key if at is None else f"{key}@{at}"


def _group_nodes(nodes: Iterable[NodeRow]) -> dict[NodeLabel, list[dict[str, Any]]]:
    grouped: dict[NodeLabel, list[dict[str, Any]]] = defaultdict(list)
    for n in nodes:
        grouped[n.label].append({"key": n.key, "props": n.props})
    return grouped


def _group_edges(edges: Iterable[EdgeRow]) -> dict[cypher.EdgeKey, list[dict[str, Any]]]:
    grouped: dict[cypher.EdgeKey, list[dict[str, Any]]] = defaultdict(list)
    for e in edges:
        grouped[(e.type, e.from_label, e.to_label)].append(
            {"from": e.from_key, "to": e.to_key, "props": e.props}
        )
    return grouped


def _group_keys(refs: Iterable[tuple[NodeLabel, str]]) -> dict[NodeLabel, list[str]]:
    grouped: dict[NodeLabel, list[str]] = defaultdict(list)
    for label, key in refs:
        grouped[label].append(key)
    return grouped
