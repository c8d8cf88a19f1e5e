"""Projection rows, checksums, the projector's outbox handling and the factory (no Neo4j needed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import pytest
from pydantic import SecretStr
from sqlalchemy import func, insert, select, update

from graph.embedded import EmbeddedGraphStore
from graph.errors import GraphUnavailable
from graph.factory import open_graph_store
from graph.model import (
    EDGE_PROPS,
    EDGE_SCHEMA,
    ENTITY_LABELS,
    HISTORY_LABELS,
    EntityKind,
    NodeLabel,
    RelType,
    parse_node_id,
)
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import (
    T_OUTBOX,
    T_SYNC_STATE,
    EdgeRow,
    NodeRow,
    checksum,
    read_all,
    read_entities,
    specs_for,
)
from graph.sync import GraphProjector
from service.models import utcnow
from tests.graph.catalogue import Catalogue

A = NodeRow(NodeLabel.Indicator, "A-1", {"name": "甲", "status": None})
B = NodeRow(NodeLabel.Category, "2", {"name": "数量指标", "level": 2})
E = EdgeRow(RelType.IN_CATEGORY, NodeLabel.Indicator, "A-1", NodeLabel.Category, "2", {})


class TestChecksum:
    def test_order_independent_and_null_properties_ignored(self) -> None:
        same_a = NodeRow(NodeLabel.Indicator, "A-1", {"name": "甲"})

        assert checksum([A, B], [E]) == checksum([B, same_a], [E])

    def test_every_difference_counts(self) -> None:
        base = checksum([A, B], [E])

        assert checksum([A, B], []) != base
        assert checksum([A, B], [E, E]) != base  # a duplicated relationship is a difference
        assert checksum([A, B._replace(props={"name": "数量指标", "level": "2"})], [E]) != base
        assert checksum([A, B], [E._replace(props={"clause": "1"})]) != base


def test_every_relationship_spec_carries_the_declared_properties() -> None:
    for dialect in ("sqlite", "postgresql"):
        specs = specs_for(dialect)
        assert {(e.type, e.start, e.end) for e in specs.edges} == set(EDGE_SCHEMA)
        for edge in specs.edges:
            assert tuple(name for name, _ in edge.props) == EDGE_PROPS.get(edge.type, ())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Indicator:WSJK-00012", (NodeLabel.Indicator, "WSJK-00012")),
        ("FundCategory:一般公共预算", (NodeLabel.FundCategory, "一般公共预算")),
        ("Target:T:2024:1", (NodeLabel.Target, "T:2024:1")),
        ("LegalBasis:3", (NodeLabel.LegalBasis, "3")),
        ("LegalBasis:03", None),
        ("LegalBasis:x", None),
        ("indicator:WSJK-00012", None),
        ("WSJK-00012", None),
    ],
)
def test_parse_node_id(value: str, expected: tuple[NodeLabel, str] | None) -> None:
    assert parse_node_id(value) == expected


def test_reading_every_entity_gives_the_full_projection(catalogue: Catalogue) -> None:
    """The incremental read (per changed entity) and the full read define the same graph."""
    engine = catalogue.engine()
    try:
        with engine.connect() as conn:
            nodes, edges = read_all(conn)
            labels = {label: kind for kind, label in ENTITY_LABELS.items()}
            refs = [(labels[n.label].value, n.key) for n in nodes if n.label in labels]
            changed = read_entities(conn, [*refs, ("indicator", "NOPE-1"), ("duty", "x"), ("planet", "1")])
    finally:
        engine.dispose()

    assert checksum(changed.nodes, changed.edges) == checksum(nodes, edges)
    revisions = [(n.label, n.key) for n in nodes if n.label == NodeLabel.IndicatorRevision]
    assert revisions  # the seed records a first revision of every indicator
    assert len(changed.touched) == len(refs) + len(revisions)
    assert ("NOPE-1", []) in changed.revisions  # an indicator that is gone keeps no revision node
    assert changed.removed == [(NodeLabel.Indicator, "NOPE-1"), (NodeLabel.Duty, "x")]
    assert changed.unknown == [("planet", "1")]
    assert {e.type for e in edges} == set(RelType)  # the catalogue exercises every relationship
    assert {n.label for n in nodes} == set(NodeLabel)


class RecordingStore:
    """Stands in for Neo4j: records what the projector applies."""

    def __init__(self) -> None:
        self.applied: list[list[tuple[NodeLabel, str]]] = []

    def apply(
        self,
        nodes: Sequence[NodeRow],
        edges: Sequence[EdgeRow],
        *,
        removed_keys: Sequence[tuple[NodeLabel, str]],
        touched: Sequence[tuple[NodeLabel, str]],
        revisions: Sequence[tuple[str, Sequence[str]]] = (),
    ) -> None:
        # The outbox order is what is checked here; revision nodes ride along with their indicator.
        self.applied.append([ref for ref in [*touched, *removed_keys] if ref[0] not in HISTORY_LABELS])


def test_a_recent_hole_in_the_outbox_is_waited_for(fresh_catalogue: Catalogue) -> None:
    """An id missing just before young events may be a writer that has not committed yet."""
    engine = fresh_catalogue.engine()
    recorder = RecordingStore()
    try:
        with engine.begin() as conn:
            base = int(conn.execute(select(func.max(T_OUTBOX.c.id))).scalar_one())
            old = utcnow() - timedelta(minutes=5)
            conn.execute(
                insert(T_OUTBOX),
                [
                    {
                        "id": base + 1,
                        "entity": EntityKind.indicator.value,
                        "entity_key": "SL-00002",
                        "created_at": old,
                    },
                    {
                        "id": base + 2,
                        "entity": EntityKind.indicator.value,
                        "entity_key": "SL-00003",
                        "created_at": utcnow(),
                    },
                    {
                        "id": base + 4,
                        "entity": EntityKind.department.value,
                        "entity_key": "SLT",
                        "created_at": utcnow(),
                    },
                ],
            )
            conn.execute(
                insert(T_SYNC_STATE).values(backend="neo4j", last_event_id=base, updated_at=utcnow())
            )
        patient = GraphProjector(engine, cast(Neo4jGraphStore, recorder), gap_grace=60)

        assert patient.sync_once() == 2
        assert patient.sync_once() == 0  # base + 3 is missing and base + 4 is young: wait
        assert patient.lag() == 1
        assert GraphProjector(engine, cast(Neo4jGraphStore, recorder), gap_grace=0).sync_once() == 1
        assert recorder.applied == [
            [(NodeLabel.Indicator, "SL-00002"), (NodeLabel.Indicator, "SL-00003")],
            [(NodeLabel.Department, "SLT")],
        ]
        with engine.connect() as conn:
            assert conn.execute(select(T_SYNC_STATE.c.last_event_id)).scalar_one() == base + 4
    finally:
        engine.dispose()


def test_rebuild_position_stops_before_young_events(fresh_catalogue: Catalogue) -> None:
    engine = fresh_catalogue.engine()
    try:
        with engine.begin() as conn:
            newest = int(conn.execute(select(func.max(T_OUTBOX.c.id))).scalar_one())
            conn.execute(update(T_OUTBOX).values(created_at=utcnow() - timedelta(hours=1)))
            conn.execute(update(T_OUTBOX).where(T_OUTBOX.c.id > newest - 3).values(created_at=utcnow()))
            position = GraphProjector(
                engine, cast(Neo4jGraphStore, RecordingStore()), gap_grace=60
            )._rebuild_position(conn)
    finally:
        engine.dispose()

    assert position == newest - 3


class Settings:
    def __init__(self, uri: str | None, password: Any = "") -> None:
        self.neo4j_uri = uri
        self.neo4j_user = "neo4j"
        self.neo4j_password = password
        self.neo4j_database = "neo4j"


def test_factory_picks_the_backend(catalogue: Catalogue) -> None:
    engine = catalogue.engine()
    try:
        embedded = open_graph_store(Settings(None), engine)
        remote = open_graph_store(Settings("bolt://127.0.0.1:9", SecretStr("secret")), engine)
        try:
            assert isinstance(embedded, EmbeddedGraphStore)
            embedded.health()
            assert isinstance(remote, Neo4jGraphStore)
            with pytest.raises(GraphUnavailable):  # nothing listens on port 9
                remote.health()
        finally:
            remote.close()
            embedded.close()
    finally:
        engine.dispose()
