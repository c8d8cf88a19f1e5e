"""The suggestion engine: ranking, values, coverage, freshness and atomic rebuilds."""

from __future__ import annotations

import threading

import pytest

from service.domain import Comparator
from service.search.text import Analyzer
from service.suggest import catalogue
from service.suggest.catalogue import SuggestDoc
from service.suggest.dimensions import Dimension
from service.suggest.engine import SuggestEngine
from service.suggest.ranking import Signal, SuggestQuery, Weights
from tests.suggest.factories import doc, road_catalogue

EXAMPLE = "新建或改造道路,共29个项目,规划里程169千米,群众出行满意度不低于90%"


@pytest.fixture
def engine(analyzer: Analyzer) -> SuggestEngine:
    e = SuggestEngine(analyzer)
    e.replace_all(road_catalogue(), version=1)
    return e


def codes(engine: SuggestEngine, text: str, **kw: object) -> list[str]:
    return [s.doc.code for s in engine.suggest(SuggestQuery(text=text, **kw)).items]  # type: ignore[arg-type]


class TestRanking:
    def test_example_gets_mileage_and_satisfaction_with_values(self, engine: SuggestEngine) -> None:
        res = engine.suggest(SuggestQuery(text=EXAMPLE, limit=5))
        by_code = {s.doc.code: s for s in res.items}
        mileage, satisfaction = by_code["R1"].proposed, by_code["R4"].proposed
        assert mileage is not None
        assert satisfaction is not None
        assert (mileage.comparator, mileage.value, mileage.unit) == (Comparator.ge, 169, "公里")
        assert EXAMPLE[mileage.span[0] : mileage.span[1]] == "169千米"
        assert (satisfaction.comparator, satisfaction.value, satisfaction.unit) == (Comparator.ge, 90, "%")
        assert "里程" in by_code["R1"].matched_terms

    def test_department_is_a_strong_signal(self, engine: SuggestEngine) -> None:
        top = codes(engine, "提高办学条件和教育质量", department="教育局", limit=2)
        assert set(top) == {"E1", "E2"}

    def test_unknown_context_is_ignored(self, engine: SuggestEngine) -> None:
        assert codes(engine, EXAMPLE, department="不存在的部门", sector="不存在") == codes(engine, EXAMPLE)

    def test_sector_code_and_family(self, engine: SuggestEngine) -> None:
        res = engine.suggest(SuggestQuery(text="改善条件", sector="交通运输", limit=3))
        assert all(s.doc.sector == "交通运输(农村公路)" for s in res.items)
        assert any(r.startswith("同行业大类") for r in res.items[0].reasons)

    def test_near_duplicate_names_are_not_repeated(self, engine: SuggestEngine) -> None:
        names = [s.doc.name for s in engine.suggest(SuggestQuery(text="服务对象满意度", limit=4)).items]
        assert names.count("服务对象满意度") == 1

    def test_external_signals_add_evidence_and_a_reason(self, engine: SuggestEngine) -> None:
        res = engine.suggest(
            SuggestQuery(text="保障工作顺利开展", limit=3),
            signals={"W2": Signal(1.0, "部门职责:水利工程管理")},
        )
        assert res.items[0].doc.code == "W2"
        assert "部门职责:水利工程管理" in res.items[0].reasons

    def test_common_words_alone_still_find_candidates(self, analyzer: Analyzer) -> None:
        # Every term counts as "common" (as 满意度 does in a large catalogue): the rarest of them must
        # still gather candidates, and the ranking must match the exact one.
        everything_common = SuggestEngine(analyzer, weights=Weights(common_df_share=0.0, common_df_min=0))
        everything_common.replace_all(road_catalogue(), version=1)
        exact = SuggestEngine(analyzer)
        exact.replace_all(road_catalogue(), version=1)
        for text in ("群众出行满意度", EXAMPLE):
            assert codes(everything_common, text, limit=3) == codes(exact, text, limit=3)

    def test_limit(self, engine: SuggestEngine) -> None:
        assert len(codes(engine, EXAMPLE, limit=3)) == 3

    def test_empty_engine(self, analyzer: Analyzer) -> None:
        res = SuggestEngine(analyzer).suggest(SuggestQuery(text=EXAMPLE))
        assert res.items == ()
        assert res.coverage.missing


class TestCoverage:
    def test_missing_dimensions_get_catalogue_fillers(self, engine: SuggestEngine) -> None:
        res = engine.suggest(SuggestQuery(text="新改建农村公路里程169公里", limit=1))
        assert res.items[0].doc.code == "R1"
        cov = res.coverage
        assert cov.present == (Dimension.quantity,)
        assert set(cov.missing) == {
            Dimension.quality,
            Dimension.timeliness,
            Dimension.cost,
            Dimension.benefit,
            Dimension.satisfaction,
        }
        fillers = {f.dimension: f.doc for f in cov.fillers}
        assert set(fillers) <= set(cov.missing)
        assert all(f.dimension in cov.missing for f in cov.fillers)
        # Context first: the project's own sector has a satisfaction row.
        assert fillers[Dimension.satisfaction].code == "R4"

    def test_without_context_the_common_indicator_fills(self, engine: SuggestEngine) -> None:
        res = engine.suggest(SuggestQuery(text="开展某项工作", limit=1))
        fillers = {f.dimension: f.doc.name for f in res.coverage.fillers}
        assert fillers.get(Dimension.satisfaction) == "服务对象满意度"


class TestFreshness:
    def test_upsert_makes_a_new_indicator_suggestible(self, engine: SuggestEngine) -> None:
        engine.upsert([doc("N1", "农村客运班线通达率", sector="交通运输(农村公路)")], version=2)
        assert engine.version == 2
        assert codes(engine, "提高农村客运班线通达率", limit=1) == ["N1"]

    def test_upsert_replaces_by_code(self, engine: SuggestEngine) -> None:
        engine.upsert([doc("R1", "农村公路桥梁改造座数", unit="座")], version=2)
        assert "R1" in codes(engine, "桥梁改造", limit=1)
        res = engine.suggest(SuggestQuery(text="新改建农村公路里程", limit=14))
        assert [s.doc.name for s in res.items].count("新改建农村公路里程") == 0

    def test_retired_and_deleted_are_not_suggested(self, engine: SuggestEngine) -> None:
        engine.upsert([doc("R1", "新改建农村公路里程", status="retired")], version=2)
        engine.delete(["R4"], version=3)
        found = codes(engine, EXAMPLE, limit=14)
        assert "R1" not in found
        assert "R4" not in found
        assert len(engine) == len(road_catalogue()) - 2

    def test_many_small_upserts_compact_and_rank_like_a_fresh_build(
        self, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(catalogue, "MIN_COMPACT_POSTINGS", 0)
        docs = [doc(f"D{i:04d}", f"第{i}号站点监测设备完好率", "质量", unit="%") for i in range(400)]
        incremental = SuggestEngine(analyzer)
        incremental.replace_all(road_catalogue(), version=1)
        for i in range(0, 400, 10):
            incremental.upsert(docs[i : i + 10], version=2 + i)
        incremental.upsert([doc("D0005", "第5号站点监测设备完好率", "质量", status="retired")], version=999)
        assert incremental.info()["epoch"] > 2  # compacted (a new statistics epoch)
        assert incremental.info()["segments"] <= catalogue.MAX_DELTAS + 1
        assert incremental.info()["doc_ids"] <= len(road_catalogue()) + 400  # tombstones were dropped
        fresh = SuggestEngine(analyzer)
        fresh.replace_all([*road_catalogue(), *docs[:5], *docs[6:]], version=999)
        assert codes(incremental, EXAMPLE)[:3] == codes(fresh, EXAMPLE)[:3]
        for text, expected in (("第17号站点监测设备", "D0017"), ("第233号站点", "D0233")):
            assert codes(incremental, text)[0] == codes(fresh, text)[0] == expected
        assert "D0005" not in codes(incremental, "第5号站点监测设备完好率", limit=50)

    def test_readers_keep_answering_during_a_rebuild(self, analyzer: Analyzer) -> None:
        engine = SuggestEngine(analyzer)
        big: list[SuggestDoc] = [
            doc(f"B{i:05d}", f"项目{i % 97}建设任务完成率", "质量") for i in range(20000)
        ]
        engine.replace_all([*road_catalogue(), *big[:100]], version=1)
        errors: list[BaseException] = []
        answered = 0
        stop = threading.Event()

        def read() -> None:
            nonlocal answered
            try:
                while not stop.is_set():
                    assert engine.suggest(SuggestQuery(text=EXAMPLE, limit=3)).items
                    answered += 1
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        engine.replace_all([*road_catalogue(), *big], version=2)
        stop.set()
        reader.join()
        assert not errors
        assert answered > 0
        assert engine.version == 2
        assert len(engine) == len(road_catalogue()) + len(big)
