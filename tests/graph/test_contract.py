"""The GraphStore contract: every test runs on the embedded store and on Neo4j, each over SQLite
and PostgreSQL (``store`` × ``backend``), and both stores must give equal results."""

from __future__ import annotations

from collections import defaultdict

import pytest

from graph.embedded import EmbeddedGraphStore
from graph.errors import GraphNodeNotFound, InvalidGraphQuery
from graph.model import HISTORY_LABELS, NodeLabel, RelType, node_id
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import EdgeRow, NodeRow, checksum, count_edges, count_nodes, read_all
from graph.results import REASON_WEIGHTS, Impact, ImpactIndicator, ReasonKind
from graph.store import GraphStore
from tests.graph.catalogue import (
    GB3095_1996,
    GB3095_2012,
    GB3095_AMENDMENT,
    GB5749_2006,
    GB5749_2022,
    GB9137_88,
    WATER_CHAIN,
    Catalogue,
)

ROOT = "Indicator:SL-00003"


def bfs(
    nodes: list[NodeRow], edges: list[EdgeRow], root: str, *, depth: int, limit: int
) -> tuple[dict[str, int], bool]:
    """The reference neighbourhood: BFS over the full projection without the history layer,
    levels in (label, key) order."""
    adjacent: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for e in edges:
        if e.from_label in HISTORY_LABELS or e.to_label in HISTORY_LABELS:
            continue
        a, b = (e.from_label.value, e.from_key), (e.to_label.value, e.to_key)
        adjacent[a].add(b)
        adjacent[b].add(a)
    label, key = root.split(":", 1)
    dist = {(label, key): 0}
    frontier = [(label, key)]
    truncated = False
    for level in range(1, depth + 1):
        fresh = sorted({m for n in frontier for m in adjacent[n]} - set(dist))
        remaining = limit - len(dist)
        if len(fresh) > remaining:
            truncated, fresh = True, fresh[:remaining]
        dist.update(dict.fromkeys(fresh, level))
        frontier = fresh
        if truncated or not frontier:
            break
    return {f"{lbl}:{k}": d for (lbl, k), d in dist.items()}, truncated


def source_graph(catalogue: Catalogue) -> tuple[list[NodeRow], list[EdgeRow]]:
    engine = catalogue.engine()
    try:
        with engine.connect() as conn:
            return read_all(conn)
    finally:
        engine.dispose()


class TestNeighbourhood:
    def test_depth_one_lists_every_direct_neighbour(self, store: GraphStore, catalogue: Catalogue) -> None:
        sub = store.neighbourhood(ROOT, depth=1)

        ids = {n.id: n.distance for n in sub.nodes}
        assert ids[ROOT] == 0
        water, tap = catalogue.duties["water"], catalogue.goals["tap_water"]
        for expected in [
            "Department:SLT", f"Duty:{water}", f"StrategicGoal:{tap}", f"LegalBasis:{GB5749_2006}",
            "Sector:SL", "FundCategory:一般公共预算", "FundCategory:政府性基金预算",
            "Indicator:WSJK-00001", "Indicator:STHJSWRF-00001", "Target:T-2024-SL-001",
        ]:  # fmt: skip
            assert ids.get(expected) == 1, expected
        assert not sub.truncated
        assert all(ROOT in (e.source, e.target) for e in sub.edges)
        related = {
            (e.type, e.source, e.target, e.props.get("kind"))
            for e in sub.edges
            if e.type == RelType.RELATED_TO
        }
        assert related == {
            (RelType.RELATED_TO, ROOT, "Indicator:WSJK-00001", "synonym"),
            (RelType.RELATED_TO, "Indicator:STHJSWRF-00001", ROOT, "derived_from"),
        }
        uses = next(e for e in sub.edges if e.type == RelType.USES)
        assert uses.source == "Target:T-2024-SL-001"
        assert uses.props == {"value": "95", "unit": "%"}
        basis = next(n for n in sub.nodes if n.id == f"LegalBasis:{GB5749_2006}")
        assert basis.props["doc_no"] == "GB 5749-2006"

    @pytest.mark.parametrize(("depth", "limit"), [(1, 200), (2, 1000), (3, 300), (2, 7), (1, 1)])
    def test_matches_a_bfs_over_the_projection(
        self, store: GraphStore, catalogue: Catalogue, depth: int, limit: int
    ) -> None:
        nodes, edges = source_graph(catalogue)
        expected, truncated = bfs(nodes, edges, ROOT, depth=depth, limit=limit)

        sub = store.neighbourhood(ROOT, depth=depth, limit=limit)

        assert {n.id: n.distance for n in sub.nodes} == expected
        assert sub.truncated is truncated
        assert len(sub.nodes) <= limit
        ordered = [(n.distance, n.label.value, n.key) for n in sub.nodes]
        assert ordered == sorted(ordered)
        expected_edges = {
            (e.type, node_id(e.from_label, e.from_key), node_id(e.to_label, e.to_key))
            for e in edges
            if node_id(e.from_label, e.from_key) in expected
            and node_id(e.to_label, e.to_key) in expected
            and min(expected[node_id(e.from_label, e.from_key)], expected[node_id(e.to_label, e.to_key)])
            < depth
        }
        assert {(e.type, e.source, e.target) for e in sub.edges} == expected_edges

    def test_depth_two_reaches_the_newer_edition_and_other_owners(self, store: GraphStore) -> None:
        ids = {n.id: n.distance for n in store.neighbourhood(ROOT, depth=2, limit=1000).nodes}

        assert ids[f"LegalBasis:{GB5749_2022}"] == 2  # SL-00003 → GB 5749-2006 ← SUPERSEDES GB 5749-2022
        assert ids["Department:WJW"] == 2  # via the synonym WSJK-00001
        assert ids["Indicator:SL-00002"] == 2

    def test_limit_truncates_in_distance_label_key_order(self, store: GraphStore) -> None:
        full = store.neighbourhood(ROOT, depth=2, limit=1000)
        capped = store.neighbourhood(ROOT, depth=2, limit=5)

        assert capped.truncated
        assert not full.truncated
        assert [n.id for n in capped.nodes] == [n.id for n in full.nodes][:5]
        kept = {n.id for n in capped.nodes}
        assert all(e.source in kept and e.target in kept for e in capped.edges)

    def test_other_labels_as_root(self, store: GraphStore, catalogue: Catalogue) -> None:
        fund = store.neighbourhood("FundCategory:一般公共预算")
        dept = store.neighbourhood("Department:HBT")
        basis = store.neighbourhood(f"LegalBasis:{GB3095_2012}")

        assert {n.id for n in fund.nodes} == {
            "FundCategory:一般公共预算", "Indicator:SL-00002", "Indicator:SL-00003", "Indicator:WSJK-00001",
        }  # fmt: skip
        assert "Department:HBT-DQC" in {n.id for n in dept.nodes}
        assert {f"Duty:{catalogue.duties['air']}", f"StrategicGoal:{catalogue.goals['soil']}"} <= {
            n.id for n in dept.nodes
        }
        assert {(e.type, e.source, e.target) for e in basis.edges if e.type != RelType.BASED_ON} == {
            (RelType.SUPERSEDES, f"LegalBasis:{GB3095_2012}", f"LegalBasis:{GB3095_1996}"),
            (RelType.SUPERSEDES, f"LegalBasis:{GB3095_2012}", f"LegalBasis:{GB9137_88}"),
            (RelType.AMENDS, f"LegalBasis:{GB3095_AMENDMENT}", f"LegalBasis:{GB3095_2012}"),
        }

    @pytest.mark.parametrize(
        "missing",
        ["Indicator:NOPE-0001", "Department:NOPE", "LegalBasis:999999", "LegalBasis:03", "LegalBasis:abc",
         "FundCategory:不存在", "Planet:1", "no-colon", "Indicator:"],
    )  # fmt: skip
    def test_unknown_node_is_not_found(self, store: GraphStore, missing: str) -> None:
        with pytest.raises(GraphNodeNotFound) as info:
            store.neighbourhood(missing)
        assert info.value.status == 404

    @pytest.mark.parametrize(("depth", "limit"), [(0, 10), (4, 10), (1, 0), (1, 100_000)])
    def test_bounds_are_checked(self, store: GraphStore, depth: int, limit: int) -> None:
        with pytest.raises(InvalidGraphQuery):
            store.neighbourhood(ROOT, depth=depth, limit=limit)


class TestImpact:
    def test_newer_edition_reaches_indicators_on_the_superseded_one(self, store: GraphStore) -> None:
        impact = store.impact(GB5749_2022, limit=50)

        assert [e.id for e in impact.editions] == [GB5749_2022, GB5749_2006]
        assert [(link.from_id, link.to_id, link.relation) for link in impact.links] == [
            (GB5749_2022, GB5749_2006, "supersedes")
        ]
        codes = [i.code for g in impact.groups for i in g.indicators]
        assert sorted(codes) == WATER_CHAIN
        assert (impact.total_indicators, impact.total_targets, impact.total_departments) == (14, 3, 3)
        only_2006 = _indicator(impact, "WSJK-00001")
        assert [(b.basis_id, b.doc_no, b.clause) for b in only_2006.bases] == [
            (GB5749_2006, "GB 5749-2006", "表1 第1项")
        ]
        assert [t.external_id for t in only_2006.targets] == ["T-2023-XX-003", "T-2024-WJ-002"]
        assert only_2006.target_count == 2

    def test_either_edition_gives_the_same_chain(self, store: GraphStore) -> None:
        newer, older = store.impact(GB5749_2022), store.impact(GB5749_2006)

        assert newer.model_dump(exclude={"basis_id"}) == older.model_dump(exclude={"basis_id"})

    def test_amendment_and_every_superseded_edition_are_in_the_chain(self, store: GraphStore) -> None:
        impact = store.impact(GB3095_AMENDMENT)

        assert [e.id for e in impact.editions] == [GB3095_2012, GB3095_1996, GB9137_88, GB3095_AMENDMENT]
        assert {(link.from_id, link.to_id, link.relation) for link in impact.links} == {
            (GB3095_2012, GB3095_1996, "supersedes"),
            (GB3095_2012, GB9137_88, "supersedes"),
            (GB3095_AMENDMENT, GB3095_2012, "amends"),
        }
        assert [
            (g.department_code, g.department_name, [i.code for i in g.indicators]) for g in impact.groups
        ] == [
            ("HBT-DQC", "生态环境厅大气环境处", ["KJYXKY-00118", "KJYXKY-00130"]),
            (None, "未指定部门", ["KJYXKY-00124"]),
        ]
        assert (impact.total_indicators, impact.total_targets, impact.total_departments) == (3, 2, 1)
        assert _indicator(impact, "KJYXKY-00118").bases[0].basis_id == GB3095_1996

    def test_targets_carry_the_first_row_of_a_duplicated_indicator(self, store: GraphStore) -> None:
        indicator = _indicator(store.impact(GB5749_2006), "STHJSWRF-00003")

        assert [(b.basis_id, b.clause) for b in indicator.bases] == [
            (GB5749_2022, None),
            (GB5749_2006, "表1 第9项"),
        ]
        assert [t.model_dump() for t in indicator.targets] == [
            {
                "external_id": "T-2024-SL-001",
                "fiscal_year": 2024,
                "project": "农村饮水安全巩固提升工程",
                "department_code": "SLT",
                "value": "100",
                "unit": "%",
            }
        ]
        assert indicator.target_count == 1

    def test_pages_are_by_code_and_grouped_by_department(self, store: GraphStore) -> None:
        pages = [store.impact(GB5749_2022, limit=5, offset=offset) for offset in (0, 5, 10, 15)]

        assert [(g.department_code, [i.code for i in g.indicators]) for g in pages[0].groups] == [
            ("HBT", ["STHJSWRF-00001", "STHJSWRF-00003"]),
            ("SLT", ["SL-00002", "SL-00003"]),
            ("WJW", ["WSJK-00001"]),
        ]
        assert [[g.department_code for g in p.groups] for p in pages] == [
            ["HBT", "SLT", "WJW"], ["WJW", None], [None], [],
        ]  # fmt: skip
        paged = sorted(i.code for p in pages for g in p.groups for i in g.indicators)
        assert paged == WATER_CHAIN
        assert all(p.total_indicators == 14 and p.limit == 5 for p in pages)
        assert pages[1].groups[-1].department_name == "未指定部门"

    def test_unknown_basis_and_bad_pages(self, store: GraphStore) -> None:
        with pytest.raises(GraphNodeNotFound):
            store.impact(999_999)
        with pytest.raises(InvalidGraphQuery):
            store.impact(GB5749_2022, limit=0)
        with pytest.raises(InvalidGraphQuery):
            store.impact(GB5749_2022, offset=-1)


class TestDepartmentProfile:
    def test_duties_goals_and_gaps(self, store: GraphStore, catalogue: Catalogue) -> None:
        profile = store.department_profile("SLT")

        assert profile.name == "水利厅"
        assert profile.parent_code is None
        assert [(d.id, [i.code for i in d.indicators]) for d in profile.duties] == [
            (catalogue.duties["water"], ["SL-00003", "STHJSWRF-00003"]),
            (catalogue.duties["resources"], []),
        ]
        assert [(g.id, [i.code for i in g.indicators]) for g in profile.goals] == [
            (catalogue.goals["tap_water"], ["SL-00003"])
        ]
        assert [(g.kind, g.id, g.name, g.node_id) for g in profile.gaps] == [
            (
                "duty",
                catalogue.duties["resources"],
                "水资源统一监督管理",
                f"Duty:{catalogue.duties['resources']}",
            )
        ]
        assert (profile.duty_count, profile.goal_count, profile.gap_count) == (2, 1, 1)
        assert (profile.measured_indicator_count, profile.owned_indicator_count) == (2, 2)

    def test_goal_gap_and_child_department(self, store: GraphStore, catalogue: Catalogue) -> None:
        hbt, child = store.department_profile("HBT"), store.department_profile("HBT-DQC")

        assert [(g.kind, g.id) for g in hbt.gaps] == [("goal", catalogue.goals["soil"])]
        assert [i.code for i in hbt.duties[0].indicators] == ["KJYXKY-00118", "KJYXKY-00130"]
        assert child.parent_code == "HBT"
        assert (child.duty_count, child.goal_count, child.gap_count, child.owned_indicator_count) == (
            0,
            0,
            0,
            2,
        )

    def test_unknown_department(self, store: GraphStore) -> None:
        with pytest.raises(GraphNodeNotFound):
            store.department_profile("NOPE")


class TestRelated:
    def test_ranked_by_weighted_reasons_ties_by_code(self, store: GraphStore, catalogue: Catalogue) -> None:
        related = store.related("SL-00003", limit=50)

        assert "SL-00003" not in {r.code for r in related}
        assert [(r.score, r.code) for r in related] == sorted(
            ((r.score, r.code) for r in related), key=lambda x: (-x[0], x[1])
        )
        for r in related:
            assert r.score == sum(reason.weight for reason in r.reasons)
            assert all(reason.weight == REASON_WEIGHTS[reason.kind] for reason in r.reasons)
        by_code = {r.code: {(x.kind, x.node_id, x.name) for x in r.reasons} for r in related}
        assert {
            (ReasonKind.related_to, None, "synonym"),
            (ReasonKind.shared_legal_basis, f"LegalBasis:{GB5749_2006}", "GB 5749-2006"),
        } <= by_code["WSJK-00001"]
        assert (ReasonKind.related_to, None, "derived_from") in by_code["STHJSWRF-00001"]
        water = catalogue.duties["water"]
        assert (ReasonKind.shared_duty, f"Duty:{water}", "保障农村饮水安全") in by_code["STHJSWRF-00003"]
        assert (ReasonKind.same_sector, "Sector:SL", "水利") in by_code["SL-00002"]
        assert related[0].score >= 7

    def test_limit_keeps_the_best(self, store: GraphStore) -> None:
        assert store.related("SL-00003", limit=3) == store.related("SL-00003", limit=50)[:3]

    def test_unknown_indicator(self, store: GraphStore) -> None:
        with pytest.raises(GraphNodeNotFound):
            store.related("NOPE-0001")


class TestStats:
    def test_counts_and_checksum_equal_the_projection(self, store: GraphStore, catalogue: Catalogue) -> None:
        nodes, edges = source_graph(catalogue)

        stats = store.stats()

        assert stats.checksum == checksum(nodes, edges)
        assert stats.nodes == count_nodes(nodes)
        assert stats.edges == count_edges(edges)
        assert stats.nodes[NodeLabel.Department] == 4
        assert stats.nodes[NodeLabel.FundCategory] == 3
        assert stats.nodes[NodeLabel.Indicator] == 637
        assert stats.nodes[NodeLabel.Target] == 4
        assert stats.edges[RelType.USES] == 9  # ten rows, one pair listed twice
        assert stats.edges[RelType.FUNDED_BY] == 5
        assert stats.edges[RelType.RELATED_TO] == 2
        assert stats.edges[RelType.OWNED_BY] == 11 + 3 + 3 + 3
        assert stats.total_nodes == len(nodes)
        assert stats.total_edges == len(edges)

    def test_health(self, store: GraphStore) -> None:
        store.health()


@pytest.mark.neo4j
def test_both_backends_return_equal_results(catalogue: Catalogue, neo4j_store: Neo4jGraphStore) -> None:
    engine = catalogue.engine()
    try:
        with engine.connect() as conn:
            neo4j_store.rebuild(*read_all(conn))
        embedded = EmbeddedGraphStore(engine)
        for index, (ours, theirs) in enumerate(
            zip(all_queries(embedded), all_queries(neo4j_store), strict=True)
        ):
            assert ours == theirs, f"query {index} differs"
    finally:
        engine.dispose()


def all_queries(store: GraphStore) -> list[object]:
    """The same queries on any store, for comparing backends result by result."""
    results: list[object] = []
    roots = [ROOT, "Department:HBT", f"LegalBasis:{GB5749_2006}", "Target:T-2023-XX-003", "Category:1",
             "FundCategory:一般公共预算", "Sector:SL"]  # fmt: skip
    results += [store.neighbourhood(root, depth=depth, limit=150) for root in roots for depth in (1, 2, 3)]
    results += [store.impact(b, limit=4, offset=o) for b in (GB5749_2022, GB3095_1996, 13) for o in (0, 4)]
    results += [store.department_profile(code) for code in ("SLT", "HBT", "HBT-DQC", "WJW")]
    results += [
        store.related(code, limit=25)
        for code in ("SL-00003", "WSJK-00001", "KJYXKY-00130", "CRJJYJKAWS-00010")
    ]
    results.append(store.stats())
    return results


def _indicator(impact: Impact, code: str) -> ImpactIndicator:
    return next(i for g in impact.groups for i in g.indicators if i.code == code)
