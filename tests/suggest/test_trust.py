"""Issue 15 in the engine: the inferred field, no filler from other fields, generic names once, drafts,
confidence with a floor, learning from past targets."""

from __future__ import annotations

import pytest

from service.search.text import Analyzer
from service.suggest.calibration import Calibration, fit
from service.suggest.dimensions import Dimension
from service.suggest.drafts import quantity_draft
from service.suggest.engine import SuggestEngine
from service.suggest.extract import extract
from service.suggest.ranking import SuggestQuery
from service.suggest.signals import UsageMemory
from tests.suggest.factories import doc, road_catalogue

# Neutral confidence model with no floor: these tests are about the filter, not the calibration.
NO_FLOOR = Calibration(floor=0.0)


@pytest.fixture
def engine(analyzer: Analyzer) -> SuggestEngine:
    e = SuggestEngine(analyzer, calibration=NO_FLOOR)
    e.replace_all(road_catalogue(), version=1)
    return e


def test_field_is_inferred_from_the_text_with_evidence(engine: SuggestEngine) -> None:
    res = engine.suggest(SuggestQuery(text="新改建农村公路,提高公路验收合格率"))
    assert res.field.name == "交通运输"
    assert res.field.source == "text"
    assert res.field.sector == "交通运输(农村公路)"
    assert any("新改建农村公路里程" in e or "农村公路验收合格率" in e for e in res.field.evidence)


def test_caller_sector_and_department_name_win(engine: SuggestEngine) -> None:
    given = engine.suggest(SuggestQuery(text="新改建农村公路", sector="教育"))
    assert (given.field.name, given.field.source, given.field.confidence) == ("教育", "given", 1.0)
    named = engine.suggest(SuggestQuery(text="新改建农村公路", department="某县水利局"))
    assert (named.field.name, named.field.source) == ("水利", "department")


def test_other_fields_stay_out_and_a_generic_name_shows_once_as_its_common_row(engine: SuggestEngine) -> None:
    text = "新改建农村公路里程50公里,农村公路验收合格率100%,服务对象满意度达到90%"
    res = engine.suggest(SuggestQuery(text=text, limit=14))
    assert res.field.allowed == frozenset({res.field.field})
    codes = [s.doc.code for s in res.items]
    assert "E1" not in codes
    assert "E2" not in codes
    assert "W1" not in codes  # 新建堤防长度: km too, but water
    satisfaction = [s for s in res.items if s.doc.name == "服务对象满意度"]
    assert len(satisfaction) == 1
    assert satisfaction[0].doc.kind == "common"


def test_a_name_many_fields_use_is_generic_counted_from_the_data(analyzer: Analyzer) -> None:
    docs = [
        *road_catalogue(),
        doc("G1", "资金到位率", "质量", unit="%", sector="教育"),
        doc("G2", "资金到位率", "质量", unit="%", sector="水利"),
        doc("G3", "资金到位率", "质量", unit="%", sector="卫生健康"),
    ]
    e = SuggestEngine(analyzer, calibration=NO_FLOOR)
    e.replace_all(docs, version=1)
    res = e.suggest(SuggestQuery(text="新改建农村公路里程50公里,资金到位率100%", limit=14))
    found = [s for s in res.items if s.doc.name == "资金到位率"]
    assert len(found) == 1
    assert found[0].generic_sectors == 3
    assert any("3个行业领域使用同名指标" in r for r in found[0].reasons)
    # Fresh with every write: retire two of them and the name is no longer generic.
    e.delete(["G2", "G3"], version=2)
    again = e.suggest(SuggestQuery(text="新改建农村公路里程50公里,资金到位率100%", limit=14))
    assert all(s.generic_sectors == 0 for s in again.items)


def test_a_quantity_no_row_takes_becomes_a_draft(engine: SuggestEngine) -> None:
    text = "新改建农村公路里程50公里,新建供水管网120公里"
    res = engine.suggest(SuggestQuery(text=text))
    taken = {s.proposed.span for s in res.items if s.proposed}
    assert text.index("50公里") == min(a for a, _ in taken)  # the mileage row took its 50 km
    drafts = {d.name: d for d in res.drafts}
    pipes = drafts["新建供水管网长度"]
    assert (pipes.unit, pipes.value, pipes.dimension) == ("公里", 120, Dimension.quantity)
    assert pipes.levels == ("产出指标", "数量指标")
    assert text[pipes.span[0] : pipes.span[1]] == "120公里" if pipes.span else False
    assert all(d.span not in taken for d in res.drafts)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("受益人口3.5万人", "受益人口数"),
        ("农民人均收入提高5%", "农民人均收入增长率"),
        ("新建村卫生室10所", "新建村卫生室数量"),
        ("全年开展送戏下乡演出120场次", "送戏下乡演出数量"),
        ("2025年为全县义务教育学校新建塑胶跑道12000平方米", "义务教育学校新建塑胶跑道面积"),
    ],
)
def test_draft_names_come_from_the_phrase_and_the_unit(text: str, name: str) -> None:
    (q,) = extract(text).quantities
    draft = quantity_draft(q)
    assert draft is not None
    assert draft.name == name


def test_an_age_is_not_a_draft() -> None:
    q = next(q for q in extract("为65岁以上老年人体检2.8万人次").quantities if q.unit == "岁")
    assert quantity_draft(q) is None


def test_rows_under_the_floor_are_not_shown(analyzer: Analyzer) -> None:
    strict = SuggestEngine(analyzer, calibration=Calibration(floor=0.5))
    strict.replace_all(road_catalogue(), version=1)
    loose = SuggestEngine(analyzer, calibration=NO_FLOOR)
    loose.replace_all(road_catalogue(), version=1)
    text = "新改建农村公路里程50公里,群众出行满意度不低于90%"
    shown = strict.suggest(SuggestQuery(text=text, limit=10)).items
    everything = loose.suggest(SuggestQuery(text=text, limit=10)).items
    assert 0 < len(shown) < len(everything)
    assert all(s.probability >= 0.5 and s.confidence == "高" for s in shown)


def test_calibration_learns_which_evidence_means_gold() -> None:
    # Feature 0 separates gold from not; the others are noise.
    x = [[1.0, 0, 0, 1, 0, 0, 1.0]] * 20 + [[0.1, 0, 0, 0, 0, 0, 0.3]] * 20
    y = [True] * 18 + [False] * 2 + [False] * 18 + [True] * 2
    model = fit(x, y)
    assert model.probability(x[0]) > 0.8 > 0.2 > model.probability(x[-1])


def test_similar_past_targets_vote_for_their_indicators() -> None:
    memory = UsageMemory()
    rows = [
        (1, "开展居民健康体检和高血压患者规范管理", "H1"),
        (1, "开展居民健康体检和高血压患者规范管理", "H2"),
        (2, "居民健康体检,高血压患者规范管理", "H1"),
        (3, "新改建农村公路里程", "R1"),
    ]
    memory._usage = memory._load(rows)
    signals = memory.signals("开展城乡居民健康体检,规范管理高血压患者")
    assert signals["H1"].reason == "相似目标曾使用 2 次"
    assert signals["H2"].reason == "相似目标曾使用 1 次"
    assert "R1" not in signals
    assert signals["H1"].weight > signals["H2"].weight
