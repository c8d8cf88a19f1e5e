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
from graph.model import NodeLabel, RelType, node_id, parse_node_id
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
        """Create the key constraints and the name full-text index if missing (idempotent)."""
        for label in NodeLabel:
            self._write(cypher.CREATE_KEY_CONSTRAINTS[label], "creating constraints")
        self._write(cypher.CREATE_VERSION_CONSTRAINT, "creating constraints")
        self._write(cypher.CREATE_INDICATOR_NAME_FULLTEXT, "creating the full-text index")
        self._write(cypher.AWAIT_INDEXES, "waiting for indexes", seconds=300)

    def clear(self) -> None:
        """Delete every node and relationship (batched, in auto-commit transactions)."""
        with (
            translated_errors("clearing the graph"),
            self._driver.session(database=self._database) as session,
        ):
            session.run(cypher.CLEAR_GRAPH).consume()

    def rebuild(self, nodes: Sequence[NodeRow], edges: Sequence[EdgeRow]) -> None:
        """Replace the graph with a full projection: clear, then batched MERGE per label and type."""
        self.ensure_schema()  # MERGE without the key constraints would scan every label
        self.clear()
        for label, rows in _group_nodes(nodes).items():
            for batch in _batches(rows, self._batch_size):
                self._write(cypher.MERGE_NODES[label], f"writing {label} nodes", rows=batch)
        for key, edge_rows in _group_edges(edges).items():
            for batch in _batches(edge_rows, self._batch_size):
                self._write(cypher.MERGE_EDGES[key], f"writing {key[0]} relationships", rows=batch)
        self._write(cypher.BUMP_VERSION, "recording the projection version")

    def apply(
        self,
        nodes: Sequence[NodeRow],
        edges: Sequence[EdgeRow],
        *,
        removed_keys: Sequence[tuple[NodeLabel, str]],
        touched: Sequence[tuple[NodeLabel, str]],
    ) -> None:
        """Upsert changed entities in one transaction; idempotent (applying twice changes nothing).

        ``removed_keys`` nodes are detach-deleted; ``touched`` nodes lose every outgoing
        relationship before ``edges`` (their current outgoing ones) are merged again, so a link
        removed in the source disappears from the graph.
        """
        statements: list[tuple[str, dict[str, Any]]] = []
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

    def neighbourhood(self, node_id: str, *, depth: int = 1, limit: int = 200) -> Subgraph:
        """See ``GraphStore.neighbourhood``."""
        check_neighbourhood_args(depth, limit)
        root = parse_node_id(node_id)
        if root is None:
            raise GraphNodeNotFound(node_id)
        found = self._read(cypher.FIND_NODE[root[0]], "finding a node", key=root[1])
        if not found:
            raise GraphNodeNotFound(node_id)
        eids: dict[NodeRef, str] = {root: found[0]["eid"]}
        distances: dict[NodeRef, int] = {root: 0}
        frontier = [found[0]["eid"]]
        truncated = False
        for level in range(1, depth + 1):
            remaining = limit - len(distances)
            # Over-fetch by the nodes already seen (see EmbeddedGraphStore.neighbourhood).
            records = self._read(
                cypher.NEIGHBOURS,
                "expanding a neighbourhood",
                frontier=frontier,
                take=remaining + len(distances) + 1,
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
        props = {
            by_eid[rec["eid"]]: dict(rec["props"])
            for rec in self._read(cypher.SUBGRAPH_NODES, "reading a neighbourhood", ids=ids)
        }
        edges = []
        for rec in self._read(cypher.SUBGRAPH_EDGES, "reading a neighbourhood", ids=ids):
            (a_label, a_key), (b_label, b_key) = by_eid[rec["a"]], by_eid[rec["b"]]
            edges.append(EdgeRow(RelType(rec["type"]), a_label, a_key, b_label, b_key, dict(rec["props"])))
        return shape_subgraph(
            root=root,
            depth=depth,
            limit=limit,
            distances=distances,
            props=props,
            edges=edges,
            truncated=truncated,
        )

    def impact(self, basis_id: int, *, limit: int = 50, offset: int = 0) -> Impact:
        """See ``GraphStore.impact``.

        The department and target totals expand every affected indicator (10k for a national
        standard) while the page needs 50, so they are cached per (basis, projection version):
        exact, because every write to the graph sets a new version in its own transaction.
        On a miss they are counted on a second connection while the page is read.
        """
        check_page_args(limit, offset)
        key = str(basis_id)
        guessed_version = self._seen_version
        cached = self._cache_get(key, guessed_version)
        pending = self._pool.submit(self._impact_totals, key) if cached is None else None
        try:
            found = self._read(
                cypher.IMPACT_PAGE,
                "reading an impact",
                key=key,
                offset=offset,
                limit=limit,
                per_indicator=TARGETS_PER_INDICATOR,
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
            totals = self._cache_get(key, version) or self._impact_totals(key)[1]
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

    def _impact_totals(self, key: str) -> tuple[str | None, tuple[int, int]]:
        """(version, (targets, departments)) of the chain of basis ``key``; cached when versioned."""
        records = self._read(cypher.IMPACT_TOTALS, "counting an impact", key=key)
        counts = {rec["type"]: rec["n"] for rec in records}
        version: str | None = records[0]["version"] if records else None
        totals = (counts.get(RelType.USES.value, 0), counts.get(RelType.OWNED_BY.value, 0))
        if version is not None and self._cache_size > 0:
            with self._cache_lock:
                self._cache[(key, version)] = totals
                self._cache.move_to_end((key, version))
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return version, totals

    def _cache_get(self, key: str, version: str | None) -> tuple[int, int] | None:
        if version is None:
            return None
        with self._cache_lock:
            return self._cache.get((key, version))

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
