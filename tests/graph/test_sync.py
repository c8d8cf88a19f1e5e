"""The projector against a real Neo4j: full rebuild, outbox sync, idempotent replay, outages.

Consistency is checked by reading every node and relationship back from Neo4j and checksumming
them exactly as the relational projection is checksummed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from neo4j import Driver, ManagedTransaction
from sqlalchemy import Engine, delete, func, insert, select, update

from graph.embedded import EmbeddedGraphStore
from graph.errors import GraphUnavailable
from graph.model import NodeLabel
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import (
    T_BASIS,
    T_BASIS_LINK,
    T_CATEGORY,
    T_DEPARTMENT,
    T_DUTY,
    T_GOAL,
    T_INDICATOR,
    T_INDICATOR_BASIS,
    T_INDICATOR_DUTY,
    T_OUTBOX,
    T_RELATION,
    T_REVISION,
    T_REVISION_BASIS,
    T_SECTOR,
    T_SYNC_STATE,
    T_TARGET,
    T_TARGET_INDICATOR,
    canonical_rows,
    checksum,
    count_edges,
    count_nodes,
    read_all,
    read_entities,
)
from graph.sync import GraphProjector
from service.models import utcnow
from tests.graph.catalogue import GB5749_2006, GB5749_2022, Catalogue, emit, indicator_row
from tests.support.neo4j import Neo4jServer

pytestmark = pytest.mark.neo4j


@pytest.fixture
def engine(fresh_catalogue: Catalogue) -> Iterator[Engine]:
    engine = fresh_catalogue.engine()
    yield engine
    engine.dispose()


@pytest.fixture
def projector(engine: Engine, neo4j_store: Neo4jGraphStore) -> GraphProjector:
    # No grace for outbox holes: these tests assert exact positions (the seed's own events are
    # seconds old when the projection is rebuilt).
    return GraphProjector(engine, neo4j_store, gap_grace=0)


def assert_in_sync(engine: Engine, store: Neo4jGraphStore) -> None:
    with engine.connect() as conn:
        src_nodes, src_edges = read_all(conn)
    graph_nodes, graph_edges = store.dump()
    assert count_nodes(graph_nodes) == count_nodes(src_nodes)
    assert count_edges(graph_edges) == count_edges(src_edges)
    if checksum(graph_nodes, graph_edges) != checksum(src_nodes, src_edges):
        source, graph = (
            set(canonical_rows(src_nodes, src_edges)),
            set(canonical_rows(graph_nodes, graph_edges)),
        )
        pytest.fail(
            f"graph differs\nonly in source: {sorted(source - graph)[:10]}\nonly in graph: {sorted(graph - source)[:10]}"
        )


def drain(projector: GraphProjector, *, max_events: int = 5000) -> int:
    total = 0
    while applied := projector.sync_once(max_events):
        total += applied
    return total


def max_event_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(T_OUTBOX.c.id))).scalar_one() or 0)


def last_event_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(T_SYNC_STATE.c.last_event_id).where(T_SYNC_STATE.c.backend == "neo4j")
            ).scalar_one()
        )


def ids(conn: Any, table: Any, column: Any, *values: Any) -> list[int]:
    rows = dict(conn.execute(select(column, table.c.id).where(column.in_(values))).all())
    return [int(rows[v]) for v in values]


def change_everything(engine: Engine, cat: Catalogue) -> None:
    """A series of catalogue changes of every entity kind, each with its outbox events."""
    now = utcnow()
    with engine.begin() as conn:  # indicator content, a removed link, an added link, fund types
        sl2, sl3, wsjk2, sth1 = ids(
            conn, T_INDICATOR, T_INDICATOR.c.code, "SL-00002", "SL-00003", "WSJK-00002", "STHJSWRF-00001"
        )
        conn.execute(
            update(T_INDICATOR)
            .where(T_INDICATOR.c.id == sl2)
            .values(name="灌区节水改造面积(新)", status="superseded")
        )
        conn.execute(
            delete(T_INDICATOR_BASIS).where(
                T_INDICATOR_BASIS.c.indicator_id == sl3, T_INDICATOR_BASIS.c.legal_basis_id == GB5749_2006
            )
        )
        conn.execute(insert(T_INDICATOR_DUTY).values(indicator_id=wsjk2, duty_id=cat.duties["resources"]))
        conn.execute(
            update(T_INDICATOR).where(T_INDICATOR.c.id == sth1).values(budget_types=[])
        )  # 国有资本经营预算 goes away
        emit(
            conn,
            ("indicator", "SL-00002"),
            ("indicator", "SL-00003"),
            ("indicator", "WSJK-00002"),
            ("indicator", "STHJSWRF-00001"),
        )
    with engine.begin() as conn:  # a new edition superseding GB 5749-2022, and a new indicator on it
        new_basis = conn.execute(
            insert(T_BASIS)
            .values(doc_no="GB 5749-2030", title="生活饮用水卫生标准", kind="national_standard", status="in_force",
                    sectors=[], version=1, created_at=now, updated_at=now)
            .returning(T_BASIS.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(T_BASIS_LINK).values(basis_id=new_basis, target_id=GB5749_2022, relation="supersedes")
        )
        conn.execute(update(T_BASIS).where(T_BASIS.c.id == GB5749_2022).values(status="superseded"))
        (hbt,) = ids(conn, T_DEPARTMENT, T_DEPARTMENT.c.code, "HBT")
        new_id = conn.execute(
            insert(T_INDICATOR)
            .values(
                **indicator_row(
                    "GRAPH-00001",
                    "饮用水水质达标率",
                    category_id=3,
                    department_id=hbt,
                    budget_types=["专项转移支付"],
                )
            )
            .returning(T_INDICATOR.c.id)
        ).scalar_one()
        conn.execute(
            insert(T_INDICATOR_BASIS).values(indicator_id=new_id, legal_basis_id=new_basis, clause="表1")
        )
        conn.execute(insert(T_RELATION).values(from_id=new_id, to_id=sl3, kind="aggregates"))
        emit(conn, ("legal_basis", new_basis), ("legal_basis", GB5749_2022), ("indicator", "GRAPH-00001"))
    with engine.begin() as conn:  # deletions: a target, an indicator, a duty (with the links that used it)
        (target,) = ids(conn, T_TARGET, T_TARGET.c.external_id, "T-2023-XX-003")
        conn.execute(delete(T_TARGET_INDICATOR).where(T_TARGET_INDICATOR.c.target_id == target))
        conn.execute(delete(T_TARGET).where(T_TARGET.c.id == target))
        (gone,) = ids(conn, T_INDICATOR, T_INDICATOR.c.code, "WSJK-00010")
        conn.execute(delete(T_INDICATOR_BASIS).where(T_INDICATOR_BASIS.c.indicator_id == gone))
        # Its history goes too (an erased row, unlike a retired one): the graph drops its revisions.
        revisions = select(T_REVISION.c.id).where(T_REVISION.c.indicator_id == gone)
        conn.execute(delete(T_REVISION_BASIS).where(T_REVISION_BASIS.c.revision_id.in_(revisions)))
        conn.execute(delete(T_REVISION).where(T_REVISION.c.indicator_id == gone))
        conn.execute(delete(T_INDICATOR).where(T_INDICATOR.c.id == gone))
        conn.execute(delete(T_INDICATOR_DUTY).where(T_INDICATOR_DUTY.c.duty_id == cat.duties["resources"]))
        conn.execute(delete(T_DUTY).where(T_DUTY.c.id == cat.duties["resources"]))
        emit(conn, ("target", "T-2023-XX-003"), ("indicator", "WSJK-00010"), ("duty", cat.duties["resources"]),
             ("indicator", "WSJK-00002"))  # fmt: skip
    with engine.begin() as conn:  # reference data: renames and re-parenting; noise events
        (wjw,) = ids(conn, T_DEPARTMENT, T_DEPARTMENT.c.code, "WJW")
        conn.execute(update(T_DEPARTMENT).where(T_DEPARTMENT.c.id == wjw).values(name="卫生健康委"))
        conn.execute(insert(T_DEPARTMENT).values(code="JKJ", name="疾病预防控制局", parent_id=wjw))
        sl, ty = ids(conn, T_SECTOR, T_SECTOR.c.code, "SL", "TY")
        conn.execute(update(T_SECTOR).where(T_SECTOR.c.id == sl).values(parent_id=ty))
        conn.execute(
            update(T_GOAL).where(T_GOAL.c.id == cat.goals["soil"]).values(name="土壤污染风险有效管控")
        )
        conn.execute(update(T_CATEGORY).where(T_CATEGORY.c.id == 2).values(name="数量指标(产出)"))
        emit(conn, ("department", "WJW"), ("department", "JKJ"), ("sector", "SL"), ("goal", cat.goals["soil"]),
             ("category", 2), ("indicator", "NOPE-0001"), ("planet", "X"))  # fmt: skip


class TestProjection:
    def test_rebuild_equals_the_source(
        self, engine: Engine, projector: GraphProjector, neo4j_store: Neo4jGraphStore
    ) -> None:
        assert projector.needs_rebuild()

        stats = projector.rebuild()

        assert_in_sync(engine, neo4j_store)
        assert stats.checksum == neo4j_store.stats().checksum
        assert stats.nodes[NodeLabel.Indicator] == 637
        assert stats.last_event_id == max_event_id(engine) > 0
        assert projector.lag() == 0
        assert projector.sync_once() == 0
        assert not projector.needs_rebuild()

    def test_outbox_changes_arrive_and_replaying_them_changes_nothing(
        self,
        engine: Engine,
        fresh_catalogue: Catalogue,
        projector: GraphProjector,
        neo4j_store: Neo4jGraphStore,
    ) -> None:
        base = projector.rebuild().last_event_id
        change_everything(engine, fresh_catalogue)
        assert projector.lag() == 18

        assert drain(projector, max_events=7) == 18  # several batches

        assert_in_sync(engine, neo4j_store)
        assert projector.lag() == 0
        assert last_event_id(engine) == base + 18
        nodes, _ = neo4j_store.dump()
        assert "FundCategory" in {n.label for n in nodes}
        assert "国有资本经营预算" not in {n.key for n in nodes if n.label == "FundCategory"}
        with engine.begin() as conn:  # at-least-once: the whole history again
            conn.execute(update(T_SYNC_STATE).values(last_event_id=0))
        assert drain(projector) == base + 18
        assert_in_sync(engine, neo4j_store)

    def test_edge_to_an_entity_whose_event_comes_later(
        self, engine: Engine, projector: GraphProjector, neo4j_store: Neo4jGraphStore
    ) -> None:
        projector.rebuild()
        with engine.begin() as conn:
            dept = conn.execute(
                insert(T_DEPARTMENT).values(code="NEW", name="新部门").returning(T_DEPARTMENT.c.id)
            ).scalar_one()
            duty = conn.execute(
                insert(T_DUTY).values(department_id=dept, name="新职责").returning(T_DUTY.c.id)
            ).scalar_one()
            emit(conn, ("duty", duty))  # the department's own event is written later
        projector.sync_once()
        nodes, edges = neo4j_store.dump()
        assert ("Department", "NEW", {}) in [(n.label, n.key, n.props) for n in nodes]  # a key-only stub
        assert any(e.from_key == str(duty) and e.to_key == "NEW" for e in edges)

        with engine.begin() as conn:
            emit(conn, ("department", "NEW"))
        projector.sync_once()
        assert_in_sync(engine, neo4j_store)

    def test_applying_the_same_batch_twice(
        self, engine: Engine, neo4j_store: Neo4jGraphStore, fresh_catalogue: Catalogue
    ) -> None:
        with engine.connect() as conn:
            neo4j_store.rebuild(*read_all(conn))
        change_everything(engine, fresh_catalogue)
        with engine.connect() as conn:
            new_basis = conn.execute(
                select(T_BASIS.c.id).where(T_BASIS.c.doc_no == "GB 5749-2030")
            ).scalar_one()
        refs = [("indicator", "SL-00002"), ("indicator", "SL-00003"), ("indicator", "WSJK-00010"), ("legal_basis", str(new_basis)),
                ("legal_basis", str(GB5749_2022)), ("indicator", "GRAPH-00001"), ("target", "T-2023-XX-003"),
                ("duty", str(fresh_catalogue.duties["resources"])), ("indicator", "WSJK-00002"),
                ("indicator", "STHJSWRF-00001"), ("department", "WJW"), ("department", "JKJ"), ("sector", "SL"),
                ("goal", str(fresh_catalogue.goals["soil"])), ("category", "2")]  # fmt: skip
        with engine.connect() as conn:
            batch = read_entities(conn, refs)
        for _ in range(2):
            neo4j_store.apply(
                batch.nodes,
                batch.edges,
                removed_keys=batch.removed,
                touched=batch.touched,
                revisions=batch.revisions,
            )
            assert_in_sync(engine, neo4j_store)

    def test_cached_impact_totals_follow_the_projection(
        self, engine: Engine, projector: GraphProjector, neo4j_store: Neo4jGraphStore
    ) -> None:
        projector.rebuild()
        before = neo4j_store.impact(GB5749_2022)
        assert (before.total_targets, before.total_departments) == (3, 3)
        assert neo4j_store.impact(GB5749_2022, offset=5).total_targets == 3  # from the cache
        with engine.begin() as conn:
            (target,) = ids(conn, T_TARGET, T_TARGET.c.external_id, "T-2023-XX-003")
            conn.execute(delete(T_TARGET_INDICATOR).where(T_TARGET_INDICATOR.c.target_id == target))
            conn.execute(delete(T_TARGET).where(T_TARGET.c.id == target))
            conn.execute(
                update(T_INDICATOR)
                .where(T_INDICATOR.c.code.in_(["SL-00002", "SL-00003"]))
                .values(department_id=None)
            )
            emit(conn, ("target", "T-2023-XX-003"), ("indicator", "SL-00002"), ("indicator", "SL-00003"))

        projector.sync_once()

        after = neo4j_store.impact(GB5749_2022)
        assert (after.total_targets, after.total_departments) == (2, 2)
        assert after == EmbeddedGraphStore(engine).impact(GB5749_2022)


class TestOutage:
    def test_sync_fails_without_advancing_then_catches_up(
        self, engine: Engine, fresh_catalogue: Catalogue, projector: GraphProjector,
        neo4j_server: Neo4jServer, neo4j_store: Neo4jGraphStore,
    ) -> None:  # fmt: skip
        if not neo4j_server.managed:
            pytest.skip("needs a Neo4j server this session started (CATALOG_TEST_NEO4J_URI is set)")
        base = projector.rebuild().last_event_id
        change_everything(engine, fresh_catalogue)
        stop = threading.Event()
        loop = threading.Thread(target=projector.run_forever, args=(stop, 0.2), daemon=True)

        neo4j_server.stop()
        try:
            with pytest.raises(GraphUnavailable):
                projector.sync_once()
            with pytest.raises(GraphUnavailable):
                neo4j_store.health()
            assert last_event_id(engine) == base
            assert projector.lag() == 18
            loop.start()  # the loop keeps retrying through the outage
            time.sleep(2)
            assert loop.is_alive()
            assert projector.lag() == 18
        finally:
            neo4j_server.start()
        deadline = time.monotonic() + 60
        while projector.lag() and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        loop.join(15)

        assert not loop.is_alive()
        assert projector.lag() == 0
        assert_in_sync(engine, neo4j_store)

    def test_server_killed_in_the_middle_of_a_batch(
        self, engine: Engine, neo4j_server: Neo4jServer, neo4j_driver: Driver, neo4j_store: Neo4jGraphStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        if not neo4j_server.managed:
            pytest.skip("needs a Neo4j server this session started (CATALOG_TEST_NEO4J_URI is set)")
        store = Neo4jGraphStore(neo4j_driver, batch_size=500)  # many statements per transaction
        projector = GraphProjector(engine, store, gap_grace=0)
        base = projector.rebuild().last_event_id
        before = store.stats().checksum
        add_indicators(engine, 6000)
        calls = 0
        run = store._tx_run

        def kill_on_third_statement(tx: ManagedTransaction, query: str, params: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                neo4j_server.kill()
            run(tx, query, params)

        monkeypatch.setattr(store, "_tx_run", kill_on_third_statement)
        try:
            with pytest.raises(GraphUnavailable):
                projector.sync_once(max_events=10_000)
        finally:
            neo4j_server.start()
        monkeypatch.undo()

        assert calls >= 3
        assert last_event_id(engine) == base
        assert store.stats().checksum == before  # the batch was one transaction: nothing half-applied
        assert projector.sync_once(max_events=10_000) == 6000
        assert_in_sync(engine, store)

    def test_server_killed_during_a_rebuild(
        self, engine: Engine, neo4j_server: Neo4jServer, neo4j_driver: Driver, neo4j_store: Neo4jGraphStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        if not neo4j_server.managed:
            pytest.skip("needs a Neo4j server this session started (CATALOG_TEST_NEO4J_URI is set)")
        add_indicators(engine, 3000)
        store = Neo4jGraphStore(neo4j_driver, batch_size=500)
        projector = GraphProjector(engine, store, gap_grace=0)
        writes = 0
        write = store._write

        def kill_after_some_batches(query: str, action: str, **params: Any) -> None:
            nonlocal writes
            writes += 1
            if writes == 20:  # after the schema statements and a few node batches
                neo4j_server.kill()
            write(query, action, **params)

        monkeypatch.setattr(store, "_write", kill_after_some_batches)
        try:
            with pytest.raises(GraphUnavailable):
                projector.rebuild()
        finally:
            neo4j_server.start()
        monkeypatch.undo()

        assert projector.needs_rebuild()  # a failed rebuild records no position
        # A JVM recovering its store after SIGKILL on a loaded machine can refuse connections for a moment
        # after its first answer; the projector's loop retries, and so does this (bounded).
        for attempt in range(40):
            try:
                projector.rebuild()
                break
            except GraphUnavailable:
                if attempt == 39:
                    raise
                time.sleep(0.5)
        assert_in_sync(engine, store)
        assert last_event_id(engine) == max_event_id(engine)


def add_indicators(engine: Engine, count: int) -> None:
    """``count`` new indicators with a basis link and fund type each, and their outbox events."""
    with engine.begin() as conn:
        rows = [
            indicator_row(
                f"BULK-{n:06d}", f"批量指标{n}", category_id=2 + n % 10, budget_types=["一般公共预算"]
            )
            for n in range(count)
        ]
        conn.execute(insert(T_INDICATOR), rows)
        new = dict(
            conn.execute(
                select(T_INDICATOR.c.code, T_INDICATOR.c.id).where(T_INDICATOR.c.code.like("BULK-%"))
            ).all()
        )
        conn.execute(
            insert(T_INDICATOR_BASIS),
            [
                {"indicator_id": i, "legal_basis_id": GB5749_2022, "clause": None, "note": None}
                for i in new.values()
            ],
        )
        emit(conn, *(("indicator", code) for code in sorted(new)))
