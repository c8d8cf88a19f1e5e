"""Sentence-level extraction: numbers, units, comparators, ranges, deadlines, spans into the original."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain import Comparator
from service.suggest.extract import Quantity, extract

EXAMPLE = "新建或改造道路,共29个项目,规划里程169公里,群众出行满意度不低于90%"


def one(text: str) -> Quantity:
    found = extract(text).quantities
    assert len(found) == 1, found
    return found[0]


class TestExample:
    def test_three_quantities_with_spans_in_the_original(self) -> None:
        q = extract(EXAMPLE).quantities
        assert [(x.value, x.unit, x.comparator) for x in q] == [
            (29, "个", None),
            (169, "公里", None),
            (90, "%", Comparator.ge),
        ]
        assert [EXAMPLE[a:b] for a, b in (x.span for x in q)] == ["29个", "169公里", "90%"]
        assert q[0].object == "项目"
        assert q[1].context == "规划里程"
        assert q[2].context == "群众出行满意度"

    def test_full_width_input_keeps_original_spans(self) -> None:
        text = "新建或改造道路，共二十九个项目，规划里程１６９千米，群众出行满意度不低于９０％"
        q = extract(text).quantities
        assert [(x.value, x.unit, x.comparator) for x in q] == [
            (29, "个", None),
            (169, "公里", None),
            (90, "%", Comparator.ge),
        ]
        assert [x.text for x in q] == ["二十九个", "１６９千米", "９０％"]
        assert all(text[a:b] == x.text for x, (a, b) in zip(q, (x.span for x in q), strict=True))


class TestNumbers:
    @pytest.mark.parametrize(
        ("text", "value", "unit"),
        [
            ("完成1,200户改造", 1200, "户"),
            ("平均亩产2500公斤", 2500, "公斤"),
            ("繁育田850亩", 850, "亩"),
            ("补助3.5万元", 3.5, "万元"),
            ("采购原原种425万粒", 425, "万粒"),
            ("二十九个项目", 29, "个"),
            ("受益三万人", 3, "万人"),
            ("新建二十千米", 20, "公里"),
            ("百分之九十五的群众", 95, "%"),
            ("169 km", 169, "公里"),
            ("12㎡", 12, "平方米"),
            ("托管费10320元/年", 10320, "元/年"),
            ("1760株/栋", 1760, "株/栋"),
            ("约100人次", 100, "人次"),
        ],
    )
    def test_value_and_unit(self, text: str, value: float, unit: str) -> None:
        q = one(text)
        assert (q.value, q.unit) == (value, unit)
        assert text[q.span[0] : q.span[1]] == q.text

    @pytest.mark.parametrize(
        "text",
        [
            "2025年完成",  # a year
            "二〇二五年完成",
            "人感染H7N9禽流感",  # an identifier
            "12350安全生产举报",
            "(皖农政改函〔2022〕929号)",  # a document number
            "服务周期2023.07-2024.01",  # a date span
            "第一年按投资额返本",  # an ordinal
            "打造一系列品牌赛事",  # a figure of speech
            "GB 5749-2022",
        ],
    )
    def test_not_quantities(self, text: str) -> None:
        assert extract(text).quantities == ()


class TestComparators:
    @pytest.mark.parametrize(
        ("text", "comparator", "value", "unit"),
        [
            ("满意度不低于90%", Comparator.ge, 90, "%"),
            ("游客不少于6万人", Comparator.ge, 6, "万人"),
            ("合格率达到95%", Comparator.ge, 95, "%"),
            ("合格率≥95%", Comparator.ge, 95, "%"),
            ("合格率>=95%", Comparator.ge, 95, "%"),
            ("成本不超过300万元", Comparator.le, 300, "万元"),
            ("处置时间控制在30分钟以内", Comparator.le, 30, "分钟"),
            ("覆盖率提高到98%", Comparator.ge, 98, "%"),
            ("发生率降至1%以下", Comparator.le, 1, "%"),
            ("培训500人次以上", Comparator.ge, 500, "人次"),
            ("30日内办结", Comparator.le, 30, "天"),
            ("约50公里", Comparator.approx, 50, "公里"),
            ("超过2000人次", Comparator.gt, 2000, "人次"),
            ("不低于95", Comparator.ge, 95, None),
        ],
    )
    def test_comparator(self, text: str, comparator: Comparator, value: float, unit: str | None) -> None:
        q = one(text)
        assert (q.comparator, q.value, q.unit) == (comparator, value, unit)

    def test_change_words_give_a_relative_target(self) -> None:
        q = one("化学农药使用量降低5%")
        assert (q.comparator, q.value, q.unit, q.change) == (Comparator.ge, 5, "%", "decrease")
        q = one("就业率提高3个百分点")
        assert (q.change, q.unit) == ("increase", "个百分点")

    def test_from_to_marks_the_baseline_and_keeps_the_subject(self) -> None:
        start, target = extract("优良率由80%提高到90%").quantities
        assert start.baseline
        assert not target.baseline
        assert (target.comparator, target.value) == (Comparator.ge, 90)
        assert target.context == "优良率"


class TestRanges:
    @pytest.mark.parametrize(
        ("text", "low", "high", "unit"),
        [
            ("响应时间15-30分钟", 15, 30, "分钟"),
            ("响应时间15~30分钟", 15, 30, "分钟"),
            ("响应时间15分钟至30分钟", 15, 30, "分钟"),
            ("培训三至五次", 3, 5, "次"),
            ("年龄18-54周岁", 18, 54, "周岁"),
        ],
    )
    def test_range(self, text: str, low: float, high: float, unit: str) -> None:
        q = one(text)
        assert (q.value, q.value_max, q.unit) == (low, high, unit)
        assert text[q.span[0] : q.span[1]] == q.text


class TestDeadlines:
    @pytest.mark.parametrize(
        ("text", "found", "when"),
        [
            ("年底前完成", "年底前", date(2025, 12, 31)),
            ("6月30日前完成资金拨付", "6月30日前", date(2025, 6, 30)),
            ("2024年年底前验收", "2024年年底前", date(2024, 12, 31)),
            ("每年12月底前分红", "12月底前", date(2025, 12, 31)),
            ("11月底前完成培训", "11月底前", date(2025, 11, 30)),
            ("当年完成", "当年", date(2025, 12, 31)),
            ("一季度末前下达", "一季度末前", date(2025, 3, 31)),
            ("上半年完成", "上半年", date(2025, 6, 30)),
            ("６月３０日前", "６月３０日前", date(2025, 6, 30)),
        ],
    )
    def test_deadline(self, text: str, found: str, when: date) -> None:
        (d,) = extract(text, fiscal_year=2025).deadlines
        assert d.text == found
        assert text[d.span[0] : d.span[1]] == found
        assert d.date == when

    def test_without_a_year_the_date_stays_open(self) -> None:
        (d,) = extract("年底前完成").deadlines
        assert d.date is None

    def test_deadline_digits_are_not_quantities(self) -> None:
        e = extract("2021年11月30日前完成资金支付,支付比例100%")
        assert [d.text for d in e.deadlines] == ["2021年11月30日前"]
        assert [(q.value, q.unit) for q in e.quantities] == [(100, "%")]

    def test_a_bare_month_is_not_a_deadline(self) -> None:
        assert extract("6月开展培训").deadlines == ()

    @pytest.mark.parametrize("text", ["2023年度目标", "年度目标:保障运转", "三年内建成"])
    def test_year_mentions_are_not_deadlines(self, text: str) -> None:
        assert extract(text).deadlines == ()

    def test_a_duration_within_years_is_a_quantity(self) -> None:
        q = one("三年内建成")
        assert (q.value, q.unit, q.comparator) == (3, "年", Comparator.le)
