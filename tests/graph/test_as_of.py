"""As-of graph queries: both stores answer the graph of a past day equally, from the revisions.

The history is written through the service layer, as the API writes it: a standard of 2020 that
two indicators rest on from 2022, and its 2027 edition (superseding it) that one of them moves to
on 2027-01-01, renamed. Queries before and after that day must show the old and the new links and
names; the Neo4j store is checked after a full projection and after incremental outbox sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from graph.embedded import EmbeddedGraphStore
from graph.errors import GraphNodeNotFound
from graph.model import NodeLabel, RelType
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import T_REVISION, checksum, count_edges, count_nodes, read_all
from graph.results import Impact, ImpactIndicator, Subgraph
from graph.store import GraphStore
from graph.sync import GraphProjector
from service.bootstrap import prepare_database
from service.db import make_engine
from service.indicators import repository as indicator_repo
from service.indicators import service as indicators
from service.legal_bases.schemas import LegalBasisIn
from service.legal_bases.service import create_basis
from service.versions.service import Provenance, end_of, start_of
from tests.conftest import client_for

# Seed revisions hold from 2021-01-01, the 2020 standard carries both indicators from 2022-01-01 and
# its edition takes over on 2027-01-01: one day on each side of every change, and one before all.
BEFORE, AFTER, EARLY, ANCIENT = date(2026, 6, 30), date(2027, 6, 30), date(2021, 6, 30), date(2020, 6, 30)


@dataclass(frozen=True)
class History:
    """A seeded catalogue with a dated edit history, and the names the assertions need."""

    engine: Engine
    old: int  # basis id of the 2020 standard
    new: int  # basis id of its 2027 edition
    moved: str  # indicator moved to the new edition (and renamed) on 2027-01-01
    stays: str  # indicator that stays on the old one
    old_name: str
    new_name: str


def at(day: date) -> datetime:
    return end_of(day)


def write_history(engine: Engine) -> History:
    with Session(engine) as session:
        old = create_basis(
            session, LegalBasisIn(doc_no="ZJ/T 901-2020", title="测试供水规范", effective_on=date(2020, 1, 1))
        )
        moved, stays = (i.code for i in indicator_repo.get_many_by_ids(session, [1, 2]))
        old_name = indicators.require(session, moved).name
        on_2022 = Provenance(reason="rests on the 2020 standard", valid_from=start_of(date(2022, 1, 1)))
        for code in (moved, stays):
            indicators.revise(session, indicators.require(session, code), {"basis": old.doc_no}, on_2022)
        new = create_basis(
            session,
            LegalBasisIn(
                doc_no="ZJ/T 901-2027",
                title="测试供水规范",
                effective_on=date(2027, 1, 1),
                supersedes=[old.id],
            ),
        )
        new_name = f"{old_name}新版"
        indicators.revise(
            session,
            indicators.require(session, moved),
            {"basis": new.doc_no, "name": new_name},
            Provenance(reason="new edition", valid_from=start_of(date(2027, 1, 1))),
        )
        session.commit()
    return History(engine, old.id, new.id, moved, stays, old_name, new_name)


@pytest.fixture
def history(empty_url: str) -> Iterator[History]:
    engine = make_engine(empty_url)
    prepare_database(engine, seed=True)
    try:
        yield write_history(engine)
    finally:
        engine.dispose()


def stores(history: History, request: pytest.FixtureRequest) -> list[GraphStore]:
    neo: Neo4jGraphStore = request.getfixturevalue("neo4j_store")
    with history.engine.connect() as conn:
        neo.rebuild(*read_all(conn))
    return [EmbeddedGraphStore(history.engine), neo]


def rows(impact: Impact) -> dict[str, ImpactIndicator]:
    return {i.code: i for g in impact.groups for i in g.indicators}


def hood(store: GraphStore, history: History, day: date | None) -> Subgraph:
    return store.neighbourhood(f"Indicator:{history.moved}", depth=1, as_of=None if day is None else at(day))


def queries(store: GraphStore, h: History) -> list[object]:
    """Everything the comparison runs, on one store."""
    out: list[object] = []
    for day in (None, ANCIENT, EARLY, BEFORE, AFTER):
        moment = None if day is None else at(day)
        out.append(store.impact(h.old, limit=10, as_of=moment))
        out.append(store.impact(h.old, limit=1, offset=1, as_of=moment))
        for root in (f"LegalBasis:{h.old}", "Category:1"):
            out.append(store.neighbourhood(root, depth=2, limit=300, as_of=moment))
        if day != ANCIENT:  # indicators did not exist yet
            out.append(store.neighbourhood(f"Indicator:{h.stays}", depth=2, limit=300, as_of=moment))
            out.append(hood(store, h, day))
    out.append(store.stats())
    return out


@pytest.mark.neo4j
class TestAsOf:
    def test_impact_before_and_after_the_new_edition(
        self, history: History, request: pytest.FixtureRequest
    ) -> None:
        h = history
        for store in stores(h, request):
            before = store.impact(h.old, as_of=at(BEFORE))
            assert [e.id for e in before.editions] == [h.old]
            assert before.links == []
            assert set(rows(before)) == {h.moved, h.stays}
            assert rows(before)[h.moved].name == h.old_name
            assert [b.basis_id for b in rows(before)[h.moved].bases] == [h.old]

            after = store.impact(h.old, as_of=at(AFTER))
            assert [e.id for e in after.editions] == sorted([h.old, h.new])
            assert [(link.from_id, link.to_id, link.relation) for link in after.links] == [
                (h.new, h.old, "supersedes")
            ]
            assert rows(after)[h.moved].name == h.new_name
            assert [b.basis_id for b in rows(after)[h.moved].bases] == [h.new]
            assert [b.basis_id for b in rows(after)[h.stays].bases] == [h.old]
            assert after.total_indicators == 2

            assert store.impact(h.old, as_of=at(EARLY)).total_indicators == 0  # seed links then
            with pytest.raises(GraphNodeNotFound):
                store.impact(h.new, as_of=at(BEFORE))  # the 2027 edition did not exist yet
            today = store.impact(h.old)
            assert rows(today)[h.moved].name == h.new_name  # the newest revision is the current row

    def test_neighbourhood_shows_the_links_and_name_of_then(
        self, history: History, request: pytest.FixtureRequest
    ) -> None:
        h = history
        old, new = f"LegalBasis:{h.old}", f"LegalBasis:{h.new}"
        for store in stores(h, request):
            before, after = hood(store, h, BEFORE), hood(store, h, AFTER)
            ids_before, ids_after = {n.id for n in before.nodes}, {n.id for n in after.nodes}
            assert (old in ids_before, new in ids_before) == (True, False)
            assert (old in ids_after, new in ids_after) == (False, True)
            based_on = [e.target for e in before.edges if e.type == RelType.BASED_ON]
            assert based_on == [old]
            assert before.nodes[0].props["name"] == h.old_name
            assert before.nodes[0].props["revision"] == 2
            assert after.nodes[0].props["name"] == h.new_name
            assert all(n.label != NodeLabel.IndicatorRevision for n in after.nodes)
            with pytest.raises(GraphNodeNotFound):  # seed rows hold from 2021-01-01
                hood(store, h, ANCIENT)
            with pytest.raises(GraphNodeNotFound):  # the history layer is not walked
                store.neighbourhood(f"IndicatorRevision:{h.moved}#1")

    def test_both_stores_equal_after_rebuild_and_after_sync(
        self, empty_url: str, neo4j_store: Neo4jGraphStore
    ) -> None:
        engine = make_engine(empty_url)
        try:
            prepare_database(engine, seed=True)
            projector = GraphProjector(engine, neo4j_store, gap_grace=0)
            # Projected before the history is written, so every revision arrives through the outbox.
            projector.rebuild()
            h = write_history(engine)
            while projector.sync_once():
                pass
            embedded = EmbeddedGraphStore(engine)
            synced = queries(neo4j_store, h)
            assert queries(embedded, h) == synced
            # A full projection must give exactly what the incremental path built.
            projector.rebuild()
            assert queries(neo4j_store, h) == synced
        finally:
            engine.dispose()

    def test_counts_and_checksum_include_revisions(
        self, history: History, request: pytest.FixtureRequest
    ) -> None:
        with history.engine.connect() as conn:
            nodes, edges = read_all(conn)
            revisions = conn.execute(select(func.count()).select_from(T_REVISION)).scalar_one()
        for store in stores(history, request):
            stats = store.stats()
            assert stats.checksum == checksum(nodes, edges)
            assert stats.nodes == count_nodes(nodes)
            assert stats.edges == count_edges(edges)
            assert stats.nodes[NodeLabel.IndicatorRevision] == revisions
            assert stats.edges[RelType.REVISION_OF] == revisions


def test_routes_take_as_of_and_release(empty_url: str) -> None:
    """``?as_of=`` reaches both graph routes (embedded backend here); errors are problems."""
    engine = make_engine(empty_url)
    try:
        prepare_database(engine, seed=True)
        h = write_history(engine)
    finally:
        engine.dispose()
    with client_for(empty_url, seed=True) as client:
        impact = f"/v1/legal-bases/{h.old}/impact"
        names = {}
        for day in ("2026-06-30", "2027-06-30"):
            r = client.get(impact, params={"as_of": day})
            assert r.status_code == 200, r.text
            names[day] = {i["code"]: i["name"] for g in r.json()["groups"] for i in g["indicators"]}
        assert names == {
            "2026-06-30": {h.moved: h.old_name, h.stays: names["2026-06-30"][h.stays]},
            "2027-06-30": {h.moved: h.new_name, h.stays: names["2026-06-30"][h.stays]},
        }
        r = client.get(
            "/v1/graph/neighbourhood", params={"node": f"Indicator:{h.moved}", "as_of": "2026-06-30"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["nodes"][0]["props"]["name"] == h.old_name
        assert client.get(impact, params={"as_of": "2026-13-01"}).status_code == 422
        assert client.get(impact, params={"as_of": "2026-06-30", "release": "2026.1"}).status_code == 422
        assert client.get(impact, params={"release": "no-such-release"}).status_code == 404
        assert (
            client.get(f"/v1/legal-bases/{h.new}/impact", params={"as_of": "2026-06-30"}).status_code == 404
        )
