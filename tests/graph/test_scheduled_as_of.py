"""As-of graph reads while a revision is scheduled: an edit made meanwhile takes effect with it.

The history of ``test_as_of`` plus a rename scheduled for a future day and an undated rename made
today on top of it. Both stores must date the two revisions alike (the scheduled one superseded on
its first day, an empty interval), and read the graph of the day before and of that day alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from graph.embedded import EmbeddedGraphStore
from graph.model import NodeLabel
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import checksum, read_all
from graph.sync import GraphProjector
from service.bootstrap import prepare_database
from service.db import make_engine
from service.indicators import service as indicators
from service.versions.service import Provenance, start_of
from tests.graph.test_as_of import at, hood, queries, rows, write_history


@pytest.mark.neo4j
def test_edit_while_a_revision_is_scheduled_reads_alike_in_both_stores(
    empty_url: str, neo4j_store: Neo4jGraphStore
) -> None:
    engine = make_engine(empty_url)
    try:
        prepare_database(engine, seed=True)
        projector = GraphProjector(engine, neo4j_store, gap_grace=0)
        projector.rebuild()
        h = write_history(engine)
        later = date(datetime.now(UTC).year + 2, 1, 1)
        scheduled, edited = f"{h.new_name}拟", f"{h.new_name}今日修订"
        with Session(engine) as session:
            moved = indicators.require(session, h.moved)
            indicators.revise(session, moved, {"name": scheduled}, Provenance(valid_from=start_of(later)))
            indicators.revise(session, indicators.require(session, h.moved), {"name": edited}, Provenance())
            session.commit()
        while projector.sync_once():
            pass

        with engine.connect() as conn:
            nodes, edges = read_all(conn)
        revisions = {
            n.key: n.props for n in nodes if n.label == NodeLabel.IndicatorRevision and n.key.startswith(h.moved)
        }
        four, five = revisions[f"{h.moved}#4"], revisions[f"{h.moved}#5"]
        assert four["valid_from"] == five["valid_from"] == four["valid_to"]  # superseded on its first day
        assert five["valid_to"] is None
        assert revisions[f"{h.moved}#3"]["valid_to"] == four["valid_from"]

        embedded = EmbeddedGraphStore(engine)
        for store in (embedded, neo4j_store):
            assert store.stats().checksum == checksum(nodes, edges)
            assert hood(store, h, later - timedelta(days=1)).nodes[0].props["name"] == h.new_name
            assert hood(store, h, later).nodes[0].props["name"] == edited
            assert rows(store.impact(h.new, as_of=at(later)))[h.moved].name == edited
        synced = queries(neo4j_store, h)
        assert queries(embedded, h) == synced
        projector.rebuild()
        assert queries(neo4j_store, h) == synced
        assert hood(neo4j_store, h, later).nodes[0].props["name"] == edited
    finally:
        engine.dispose()
