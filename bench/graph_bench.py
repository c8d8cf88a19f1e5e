"""Benchmark of the knowledge graph: projection read, full Neo4j rebuild, query latency per backend.

Builds a synthetic catalogue in a fresh SQLite database (``prepare_database(seed=False)`` plus
Core inserts): N indicators over generated sectors and departments, their duties and goals,
legal bases with one edition chain (old → new, plus an amendment) whose oldest edition carries
``--linked`` indicators, fund types, explicit relations and targets using indicators. Then:
reads the projection, rebuilds Neo4j from it, and times impact (first page, limit 50, on the
newest edition, so the chain is walked), neighbourhood and related queries on both stores.

``python -m bench.graph_bench [--n 100000] [--linked 10000] [--targets 20000] [--queries 200]``
``[--neo4j-uri bolt://…]`` (default: start a throwaway server from .cache/neo4j/lib)

Every indicator also gets one revision (valid from 2021-01-01, with its snapshot and the links it
carried) and every legal basis a first revision, so the rebuild carries the history layer and the
impact query is timed as of a past day too.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import neo4j
from sqlalchemy import Engine, insert, select

from bench.generate import generate_indicators
from graph.embedded import EmbeddedGraphStore
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import (
    T_BASIS,
    T_BASIS_LINK,
    T_BASIS_REVISION,
    T_CATEGORY,
    T_DEPARTMENT,
    T_DUTY,
    T_GOAL,
    T_INDICATOR,
    T_INDICATOR_BASIS,
    T_INDICATOR_DUTY,
    T_INDICATOR_GOAL,
    T_RELATION,
    T_REVISION,
    T_REVISION_BASIS,
    T_SECTOR,
    T_TARGET,
    T_TARGET_INDICATOR,
    count_edges,
    count_nodes,
    read_all,
)
from graph.store import GraphStore
from service.bootstrap import prepare_database
from service.db import make_engine
from service.models import utcnow
from service.versions.service import end_of, start_of

FUNDS = ("一般公共预算", "政府性基金预算", "国有资本经营预算")
SEEDED = start_of(date(2021, 1, 1))
AS_OF = end_of(date(2025, 6, 30))
BATCH = 20_000


def _insert(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(table), rows[start : start + BATCH])


def build(engine: Engine, *, n: int, linked: int, targets: int, seed: int) -> dict[str, int]:
    """Write the synthetic catalogue; returns the ids the queries need."""
    rng = random.Random(seed)
    prepare_database(engine, seed=False)
    with engine.connect() as conn:
        categories = {r.path: r.id for r in conn.execute(select(T_CATEGORY.c.path, T_CATEGORY.c.id))}
    unclassified = categories["unclassified/未归类"]
    generated = list(generate_indicators(n, seed=seed))
    now = utcnow()

    sectors = sorted({g["sector"] for g in generated})
    tops = sorted({s.split("(")[0] for s in sectors})
    _insert(
        engine, T_SECTOR, [{"id": i + 1, "code": f"S{i:03d}", "name": name} for i, name in enumerate(tops)]
    )
    top_id = {name: i + 1 for i, name in enumerate(tops)}
    children = [s for s in sectors if s not in top_id]
    _insert(
        engine,
        T_SECTOR,
        [
            {
                "id": len(tops) + i + 1,
                "code": f"S{len(tops) + i:03d}",
                "name": s,
                "parent_id": top_id[s.split("(")[0]],
            }
            for i, s in enumerate(children)
        ],
    )
    sector_id = {**top_id, **{s: len(tops) + i + 1 for i, s in enumerate(children)}}

    departments = sorted({g["department"] for g in generated})
    _insert(
        engine,
        T_DEPARTMENT,
        [{"id": i + 1, "code": f"D{i:04d}", "name": d} for i, d in enumerate(departments)],
    )
    department_id = {d: i + 1 for i, d in enumerate(departments)}
    duties = [(d, k) for d in range(1, len(departments) + 1) for k in range(5)]
    goals = [(d, k) for d in range(1, len(departments) + 1) for k in range(3)]
    _insert(
        engine,
        T_DUTY,
        [{"id": i + 1, "department_id": d, "name": f"职责{k}"} for i, (d, k) in enumerate(duties)],
    )
    _insert(
        engine,
        T_GOAL,
        [{"id": i + 1, "department_id": d, "name": f"目标{k}"} for i, (d, k) in enumerate(goals)],
    )

    bases = 500
    _insert(
        engine,
        T_BASIS,
        [
            {"id": b, "doc_no": f"BENCH-{b:04d}", "title": f"依据{b}", "kind": "policy", "status": "in_force",
             "sectors": [], "version": 1, "created_at": now, "updated_at": now}
            for b in range(1, bases + 1)
        ],
    )  # fmt: skip
    # The chain: 3 supersedes 1 (which carries the linked indicators), 2 amends 3.
    _insert(
        engine,
        T_BASIS_LINK,
        [
            {"basis_id": 3, "target_id": 1, "relation": "supersedes"},
            {"basis_id": 2, "target_id": 3, "relation": "amends"},
        ],
    )

    rows = []
    for i, g in enumerate(generated, start=1):
        funds = rng.sample(FUNDS, rng.choice((0, 1, 1, 2)))
        rows.append(
            {
                "id": i, "code": f"BX-{i:07d}", "name": g["name"], "kind": g["kind"],
                "category_id": categories.get(f"target/{g['level1']}/{g['level2']}", unclassified),
                "sector_id": sector_id[g["sector"]], "department_id": department_id[g["department"]],
                "budget_types": funds, "keywords": [], "is_core": False, "horizon": "annual", "status": "standard",
                "natural_key": f"bx{i}", "version": 1, "change_seq": 0, "created_at": now, "updated_at": now,
            }
        )  # fmt: skip
    _insert(engine, T_INDICATOR, rows)

    heavy = set(rng.sample(range(1, n + 1), min(linked, n)))
    basis_rows = [{"indicator_id": i, "legal_basis_id": 1, "clause": "第3条"} for i in sorted(heavy)]
    basis_rows += [
        {"indicator_id": i, "legal_basis_id": rng.randrange(4, bases + 1), "clause": None}
        for i in rng.sample(range(1, n + 1), n // 3)
    ]
    _insert(engine, T_INDICATOR_BASIS, basis_rows)
    _insert_history(engine, rows, basis_rows, bases=bases, now=now)
    dept_of = {r["id"]: r["department_id"] for r in rows}
    duty_rows = {
        (i, (dept_of[i] - 1) * 5 + rng.randrange(5) + 1) for i in rng.sample(range(1, n + 1), n // 4)
    }
    _insert(engine, T_INDICATOR_DUTY, [{"indicator_id": i, "duty_id": d} for i, d in sorted(duty_rows)])
    goal_rows = {
        (i, (dept_of[i] - 1) * 3 + rng.randrange(3) + 1) for i in rng.sample(range(1, n + 1), n // 10)
    }
    _insert(engine, T_INDICATOR_GOAL, [{"indicator_id": i, "goal_id": g} for i, g in sorted(goal_rows)])
    relations = {
        (a, b)
        for a, b in ((rng.randrange(1, n + 1), rng.randrange(1, n + 1)) for _ in range(n // 50))
        if a != b
    }
    _insert(engine, T_RELATION, [{"from_id": a, "to_id": b, "kind": "synonym"} for a, b in sorted(relations)])
    _insert(
        engine,
        T_TARGET,
        [
            {"id": t, "external_id": f"T-{t:07d}", "department_id": rng.randrange(1, len(departments) + 1),
             "fiscal_year": 2024, "project": f"项目{t}", "version": 1, "created_at": now, "updated_at": now}
            for t in range(1, targets + 1)
        ],
    )  # fmt: skip
    # Targets favour the heavily linked indicators a little, as real tables reuse common ones.
    pool = sorted(heavy) + list(range(1, n + 1))
    _insert(
        engine,
        T_TARGET_INDICATOR,
        [
            {"target_id": t, "indicator_id": i, "value": "95", "unit": "%"}
            for t in range(1, targets + 1)
            for i in {rng.choice(pool) for _ in range(5)}
        ],
    )
    return {"departments": len(departments), "duties": len(duties)}


def _insert_history(
    engine: Engine, rows: list[dict[str, Any]], basis_rows: list[dict[str, Any]], *, bases: int, now: Any
) -> None:
    """Revision 1 of every indicator (with its links) and of every basis, as the seed records them."""
    links: dict[int, list[dict[str, Any]]] = {}
    for b in basis_rows:
        links.setdefault(b["indicator_id"], []).append({"id": b["legal_basis_id"], "clause": b["clause"]})
    _insert(
        engine,
        T_REVISION,
        [
            {"id": r["id"], "indicator_id": r["id"], "code": r["code"], "number": 1, "change": "INITIAL",
             "status": r["status"], "fields": [], "reason": "bench", "valid_from": SEEDED, "recorded_at": now,
             "change_seq": 0,
             "snapshot": {"code": r["code"], "name": r["name"], "kind": r["kind"], "status": r["status"],
                          "budget_types": r["budget_types"], "legal_bases": links.get(r["id"], [])}}
            for r in rows
        ],
    )  # fmt: skip
    _insert(
        engine,
        T_REVISION_BASIS,
        [{"revision_id": b["indicator_id"], "legal_basis_id": b["legal_basis_id"], "clause": b["clause"]}
         for b in basis_rows],
    )  # fmt: skip
    _insert(
        engine,
        T_BASIS_REVISION,
        [
            {"legal_basis_id": b, "number": 1, "status": "in_force", "fields": [], "snapshot": {},
             "valid_from": start_of(date(2020, 1, 1)), "recorded_at": now}
            for b in range(1, bases + 1)
        ],
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(T_INDICATOR.update().values(revision=1))


def timed(fn: Callable[[], Any]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def latencies(fn: Callable[[int], Any], count: int, *, warmup: int = 5) -> list[float]:
    """Milliseconds per call of ``fn(i)`` for i in range(count), after a few warm-up calls."""
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(count):
        began = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - began) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def queries(store: GraphStore, roots: list[str], count: int) -> list[tuple[str, Callable[[int], Any], int]]:
    """(label, query(i), repetitions) of every timed query kind."""

    def impact_first(_i: int) -> Any:
        return store.impact(3, limit=50)

    def impact_deep(_i: int) -> Any:
        return store.impact(3, limit=50, offset=4950)

    def impact_as_of(_i: int) -> Any:
        return store.impact(3, limit=50, as_of=AS_OF)

    def impact_as_of_deep(_i: int) -> Any:
        return store.impact(3, limit=50, offset=4950, as_of=AS_OF)

    def hood_1(i: int) -> Any:
        return store.neighbourhood(roots[i], depth=1)

    def hood_2(i: int) -> Any:
        return store.neighbourhood(roots[i], depth=2)

    def related(i: int) -> Any:
        return store.related(roots[i].split(":", 1)[1])

    return [
        ("impact: chain of 3, 10k indicators, page 1", impact_first, count),
        ("impact: same, page 100 (offset 4950)", impact_deep, count),
        ("impact as of 2025-06-30, page 1", impact_as_of, count),
        ("impact as of 2025-06-30, page 100", impact_as_of_deep, count),
        ("neighbourhood depth 1, limit 200", hood_1, count),
        ("neighbourhood depth 2, limit 200", hood_2, count),
        ("related, limit 20", related, max(1, count // 4)),
    ]


@contextmanager
def neo4j_server(uri: str | None, workdir: Path, heap: str) -> Iterator[str]:
    if uri:
        yield uri
        return
    from tests.support.neo4j import start_neo4j  # the test helper knows how to run the jars

    server = start_neo4j(workdir / "neo4j", heap=heap)
    try:
        yield server.uri
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: build, project, time, print a table."""
    parser = argparse.ArgumentParser(description="knowledge graph benchmark")
    parser.add_argument("--n", type=int, default=100_000, help="indicators")
    parser.add_argument(
        "--linked", type=int, default=10_000, help="indicators on the benchmarked legal basis"
    )
    parser.add_argument("--targets", type=int, default=None, help="targets (default n/5), ~5 indicators each")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per kind and backend")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--neo4j-uri", default=None, help="use this server (default: start one)")
    parser.add_argument("--heap", default="1g", help="heap of the started Neo4j server")
    args = parser.parse_args(argv)
    targets = args.targets if args.targets is not None else args.n // 5

    with tempfile.TemporaryDirectory(prefix="graph-bench-") as tmp:
        work = Path(tmp)
        engine = make_engine(f"sqlite:///{work / 'bench.db'}")
        build_s = timed(lambda: build(engine, n=args.n, linked=args.linked, targets=targets, seed=args.seed))
        read_s = time.perf_counter()
        with engine.connect() as conn:
            nodes, edges = read_all(conn)
        read_s = time.perf_counter() - read_s
        print(f"catalogue: {len(nodes):,} nodes, {len(edges):,} relationships (built in {build_s:.1f} s)")
        print("  nodes:", {k.value: v for k, v in count_nodes(nodes).items()})
        print("  edges:", {k.value: v for k, v in count_edges(edges).items()})

        with (
            neo4j_server(args.neo4j_uri, work, args.heap) as uri,
            neo4j.GraphDatabase.driver(
                uri, auth=None, notifications_disabled_classifications=["UNRECOGNIZED"]
            ) as driver,
        ):
            remote = Neo4jGraphStore(driver)
            began = time.perf_counter()
            remote.rebuild(nodes, edges)
            rebuild_s = time.perf_counter() - began
            began = time.perf_counter()
            remote.rebuild(nodes, edges)  # over the loaded graph, so its clear is timed too
            again_s = time.perf_counter() - began
            # An API process does not hold 700k projection rows; left alive, they make every
            # full garbage collection during the timed queries scan them.
            del nodes, edges
            gc.collect()
            uncached = Neo4jGraphStore(driver, cache_size=0)
            embedded = EmbeddedGraphStore(engine)
            rng = random.Random(args.seed)
            roots = [f"Indicator:BX-{rng.randrange(1, args.n + 1):07d}" for _ in range(args.queries + 10)]
            rows: list[tuple[str, str, list[float]]] = []
            runs: list[tuple[str, GraphStore, bool]] = [
                ("embedded", embedded, True),
                ("neo4j", remote, True),
                ("neo4j, totals not cached", uncached, False),
            ]
            for name, store, everything in runs:
                for label, query, count in queries(store, roots, args.queries):
                    if everything or label.startswith("impact"):
                        rows.append((name, label, latencies(query, count)))
            first = embedded.impact(3, limit=50)
            assert first == remote.impact(3, limit=50) == uncached.impact(3, limit=50), "backends disagree"
            assert first.total_indicators >= args.linked
            past = embedded.impact(3, limit=50, as_of=AS_OF)
            assert past == remote.impact(3, limit=50, as_of=AS_OF), "backends disagree as of a day"
            assert past.total_indicators == first.total_indicators
            uncached.close()
            remote.close()
        engine.dispose()

    print()
    print(
        f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work skews p99)"
    )
    print(f"{'step':<58}{'seconds':>10}")
    print(f"{'read projection from SQLite (read_all)':<58}{read_s:>10.2f}")
    print(f"{'Neo4j full rebuild into an empty database':<58}{rebuild_s:>10.2f}")
    print(f"{'Neo4j full rebuild over the loaded graph (clear included)':<58}{again_s:>10.2f}")
    print()
    print(f"{'backend':<30}{'query':<50}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'n':>6}")
    for name, label, values in rows:
        print(
            f"{name:<30}{label:<50}{statistics.median(values):>9.1f}{pct(values, 0.99):>9.1f}"
            f"{max(values):>9.1f}{len(values):>6}"
        )


if __name__ == "__main__":
    main()
