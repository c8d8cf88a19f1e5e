"""The catalogue quality lint, ``GET /v1/quality``, over HTTP on both backends, and its checks alone.

Indicators created over the API start as ``draft`` while the seed is ``standard``, so most tests ask
for ``status=draft`` and see exactly the catalogue state they built.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rapidfuzz import fuzz

from service.quality.repository import Row
from service.quality.schemas import MismatchRule
from service.quality.service import duplicate_clusters, mismatch_rules, name_key, similar_pairs

PROBLEM = "application/problem+json"
BASE = {"kind": "分行业分领域", "level1": "产出指标", "level2": "数量指标"}


@pytest.fixture
def qc(client: TestClient) -> TestClient:
    return client


def _create(client: TestClient, name: str, department: str | None = None, **body: Any) -> dict[str, Any]:
    payload = {**BASE, "name": name, **body}
    if department is not None:
        payload["department"] = department
    r = client.post("/v1/indicators", json=payload)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _quality(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/quality", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _clusters_with(report: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [c for c in report["duplicate_clusters"]["items"] if code in {m["code"] for m in c["members"]}]


class TestReport:
    def test_seeded_catalogue_totals_and_shape(self, qc: TestClient) -> None:
        body = _quality(qc)
        assert set(body) == {
            "generated_at", "as_of", "release", "limit", "totals", "without_basis", "repealed_basis",
            "qualitative_share", "duplicate_clusters", "inconsistent_units", "unit_value_mismatch",
        }  # fmt: skip
        totals = body["totals"]
        assert totals["statuses"] == ["draft", "proposed", "standard"]
        assert totals["by_status"] == {"standard": totals["indicators"]}
        assert totals["indicators"] >= 637
        assert (body["as_of"], body["release"], body["limit"]) == (None, None, 50)
        overall = body["qualitative_share"]["overall"]
        assert overall["indicators"] == totals["indicators"]
        assert 0 < overall["qualitative"] < overall["indicators"]
        assert overall["share"] == round(overall["qualitative"] / overall["indicators"], 4)

    def test_limit_caps_lists_but_not_counts(self, qc: TestClient) -> None:
        body = _quality(qc, limit=2)
        assert body["without_basis"]["count"] > 2
        assert len(body["without_basis"]["items"]) == 2
        codes = [i["code"] for i in body["without_basis"]["items"]]
        assert codes == sorted(codes)

    def test_retired_are_left_out_unless_asked_for(self, qc: TestClient) -> None:
        code = _create(qc, "质量测试退役指标")["code"]
        assert qc.delete(f"/v1/indicators/{code}").status_code == 200
        default = _quality(qc)
        assert default["totals"]["by_status"]["retired"] == 1
        assert default["totals"]["indicators"] == default["totals"]["by_status"]["standard"]
        retired = _quality(qc, status="retired")
        assert retired["totals"]["indicators"] == 1
        assert [i["code"] for i in retired["without_basis"]["items"]] == [code]

    def test_bad_parameters_are_422_problems(self, qc: TestClient) -> None:
        for params in (
            {"limit": 0},
            {"limit": 501},
            {"min_similarity": 0.5},
            {"qualitative_threshold": 1.5},
            {"status": "gone"},
            {"as_of": "2026-13-01"},
            {"as_of": "2026-01-01", "release": "2026.1"},
        ):
            r = qc.get("/v1/quality", params=params)
            assert r.status_code == 422, params
            assert r.headers["content-type"].startswith(PROBLEM)

    def test_unknown_release_is_404(self, qc: TestClient) -> None:
        r = qc.get("/v1/quality", params={"release": "9999.1"})
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(PROBLEM)


class TestDuplicates:
    def test_same_name_in_two_departments_is_one_cluster(self, qc: TestClient) -> None:
        a = _create(qc, "培训人次", "质量测试甲厅", unit="人次")
        b = _create(qc, "培训　人次", "质量测试乙厅", unit="人次")  # ideographic space: same name
        money = _create(qc, "培训人次", "质量测试丙厅", unit="万元")  # another unit family
        other = _create(qc, "参训人次", "质量测试丁厅", unit="人次")  # similarity 0.75
        same_dept = _create(qc, "培训人次", "质量测试甲厅", unit="人次")
        body = _quality(qc, status="draft")
        [cluster] = _clusters_with(body, a["code"])
        assert {m["code"] for m in cluster["members"]} == {a["code"], b["code"], same_dept["code"]}
        assert (cluster["name"], cluster["similarity"], cluster["departments"], cluster["member_count"]) == (
            "培训人次", 1.0, 2, 3,
        )  # fmt: skip
        assert {m["department_code"] for m in cluster["members"]} == {
            a["department_code"],
            b["department_code"],
        }
        assert all(m["unit"] == "人次" for m in cluster["members"])
        assert _clusters_with(body, money["code"]) == []
        assert _clusters_with(body, other["code"]) == []
        assert body["duplicate_clusters"]["count"] == 1

    def test_near_identical_names_cluster_above_the_threshold(self, qc: TestClient) -> None:
        a = _create(qc, "农村公路养护里程数", "质量测试交通甲局", unit="公里")
        b = _create(qc, "农村公路养护里程", "质量测试交通乙局", unit="千米")  # same unit family
        [cluster] = _quality(qc, status="draft")["duplicate_clusters"]["items"]
        assert {m["code"] for m in cluster["members"]} == {a["code"], b["code"]}
        assert cluster["similarity"] == round(1 - 1 / 17, 4)
        strict = _quality(qc, status="draft", min_similarity=0.95)
        assert strict["duplicate_clusters"] == {"min_similarity": 0.95, "count": 0, "items": []}

    def test_one_department_alone_is_not_a_cluster(self, qc: TestClient) -> None:
        _create(qc, "巡查次数", "质量测试甲厅", unit="次")
        _create(qc, "巡查次数", "质量测试甲厅", unit="次")
        _create(qc, "巡查次数", None, unit="次")  # no department: does not make a second one
        assert _quality(qc, status="draft")["duplicate_clusters"]["count"] == 0


class TestUnits:
    def test_one_name_with_several_units(self, qc: TestClient) -> None:
        _create(qc, "志愿服务活动项目数", "质量测试甲厅", unit="个")
        _create(qc, "志愿服务活动项目数", "质量测试乙厅", unit="个")
        _create(qc, "志愿服务活动项目数", "质量测试丙厅", unit="项")
        _create(qc, "示范村覆盖率", "质量测试甲厅", unit="%")
        _create(qc, "示范村覆盖率", "质量测试乙厅", unit="百分比")  # a synonym of %, not another unit
        body = _quality(qc, status="draft")
        assert body["inconsistent_units"] == {
            "count": 1,
            "items": [
                {
                    "name": "志愿服务活动项目数",
                    "indicators": 3,
                    "variants": [
                        {"unit": "个", "count": 2, "spellings": ["个"]},
                        {"unit": "项", "count": 1, "spellings": ["项"]},
                    ],
                }
            ],
        }

    def test_values_that_do_not_fit_unit_or_comparator(self, qc: TestClient) -> None:
        over = _create(qc, "质量测试达标比例", "质量测试甲厅", raw_value="≥120%")
        fine = _create(qc, "质量测试合格率", "质量测试甲厅", raw_value="≥100%")
        qualitative = _create(
            qc, "质量测试建设成效", "质量测试甲厅", comparator="定性", value="显著", unit="个"
        )
        body = _quality(qc, status="draft")["unit_value_mismatch"]
        assert body["count"] == 2
        assert body["by_rule"] == {"non_numeric_value": 0, "percent_over_100": 1, "qualitative_with_unit": 1}
        found = {(i["code"], i["rule"], i["comparator"], i["value"], i["unit"]) for i in body["items"]}
        assert found == {
            (over["code"], "percent_over_100", "ge", 120, "%"),
            (qualitative["code"], "qualitative_with_unit", "qualitative", "显著", "个"),
        }
        assert fine["code"] not in {i["code"] for i in body["items"]}


class TestQualitativeShare:
    def test_departments_above_the_threshold_are_flagged(self, qc: TestClient) -> None:
        for name in ("质量测试服务规范性", "质量测试制度健全性"):
            _create(qc, name, "质量测试定性厅", comparator="定性", value="健全")
        _create(qc, "质量测试宣传次数", "质量测试定性厅", raw_value="≥3次")
        _create(qc, "质量测试检查户数", "质量测试定量厅", raw_value="≥50户")
        _create(qc, "质量测试检查次数", "质量测试定量厅", raw_value="≥2次")
        share = _quality(qc, status="draft")["qualitative_share"]
        assert (share["count"], share["flagged"]) == (2, 1)
        [heavy, light] = share["items"]
        assert (heavy["department_name"], heavy["indicators"], heavy["qualitative"]) == (
            "质量测试定性厅",
            3,
            2,
        )
        assert (heavy["share"], heavy["flagged"]) == (0.6667, True)
        assert (light["department_name"], light["indicators"], light["qualitative"]) == (
            "质量测试定量厅",
            2,
            0,
        )
        assert (light["share"], light["flagged"]) == (0.0, False)
        assert share["overall"] == {
            "department_code": None, "department_name": None, "indicators": 5, "qualitative": 2,
            "share": 0.4, "flagged": True,
        }  # fmt: skip
        relaxed = _quality(qc, status="draft", qualitative_threshold=0.7)["qualitative_share"]
        assert relaxed["flagged"] == 0
        assert relaxed["threshold"] == 0.7


class TestLegalBases:
    def _bases(self, qc: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
        out = []
        for n, title in ((1, "质量测试绩效管理办法"), (2, "质量测试资金管理办法")):
            r = qc.post(
                "/v1/legal-bases", json={"doc_no": f"鲁财绩〔2099〕{n}号", "title": title, "kind": "政策文件"}
            )
            assert r.status_code == 201, r.text
            out.append(dict(r.json()))
        return out[0], out[1]

    def test_missing_repealed_and_superseded_bases(self, qc: TestClient) -> None:
        first, second = self._bases(qc)
        only_first = _create(qc, "质量测试绩效自评完成率", "质量测试甲厅", basis="鲁财绩〔2099〕1号")
        both = _create(
            qc, "质量测试资金拨付及时率", "质量测试甲厅", basis="鲁财绩〔2099〕1号；鲁财绩〔2099〕2号"
        )
        none = _create(qc, "质量测试项目验收合格率", "质量测试甲厅")
        assert [b["id"] for b in both["legal_bases"]] == [first["id"], second["id"]]

        body = _quality(qc, status="draft")
        assert body["without_basis"] == {
            "count": 1,
            "items": [
                {
                    "code": none["code"],
                    "name": "质量测试项目验收合格率",
                    "department_code": none["department_code"],
                }
            ],
        }
        assert body["repealed_basis"] == {"count": 0, "errors": 0, "warnings": 0, "items": []}

        r = qc.post(f"/v1/legal-bases/{first['id']}/repeal", json={"effective_on": "2099-01-01"})
        assert r.status_code in (200, 201), r.text
        repealed = {
            "id": first["id"],
            "doc_no": "鲁财绩〔2099〕1号",
            "title": "质量测试绩效管理办法",
            "status": "repealed",
        }
        body = _quality(qc, status="draft")["repealed_basis"]
        assert body == {
            "count": 2,
            "errors": 1,
            "warnings": 1,
            "items": [
                {"code": only_first["code"], "name": "质量测试绩效自评完成率",
                 "department_code": only_first["department_code"], "severity": "error", "in_force": 0,
                 "out_of_force": [repealed]},
                {"code": both["code"], "name": "质量测试资金拨付及时率", "department_code": both["department_code"],
                 "severity": "warning", "in_force": 1, "out_of_force": [repealed]},
            ],
        }  # fmt: skip

        # A new edition supersedes the second document: nothing the indicator rests on is in force.
        r = qc.post(
            f"/v1/legal-bases/{second['id']}/editions",
            json={"doc_no": "鲁财绩〔2099〕3号", "title": "质量测试资金管理办法", "effective_on": "2099-01-01",
                  "summary": "修订"},
        )  # fmt: skip
        assert r.status_code in (200, 201), r.text
        body = _quality(qc, status="draft")["repealed_basis"]
        assert (body["count"], body["errors"], body["warnings"]) == (2, 2, 0)
        [on_both] = [i for i in body["items"] if i["code"] == both["code"]]
        assert [(b["id"], b["status"]) for b in on_both["out_of_force"]] == [
            (first["id"], "repealed"),
            (second["id"], "superseded"),
        ]

        # Both changes take effect in 2099: the catalogue of today still rests on bases in force.
        today = _quality(qc, status="draft", as_of="2098-12-31")
        assert today["as_of"] == "2098-12-31"
        assert today["repealed_basis"]["count"] == 0
        later = _quality(qc, status="draft", as_of="2099-01-01")["repealed_basis"]
        assert (later["count"], later["errors"]) == (2, 2)


class TestPast:
    def test_as_of_a_day_before_the_edits(self, qc: TestClient) -> None:
        before = _quality(qc)["totals"]["indicators"]
        _create(qc, "质量测试新增指标", "质量测试甲厅", status="standard")
        assert _quality(qc)["totals"]["indicators"] == before + 1
        past = _quality(qc, as_of="2025-06-30")
        assert past["totals"]["indicators"] == before
        assert past["as_of"] == "2025-06-30"

    def test_release_reports_what_it_froze(self, qc: TestClient) -> None:
        r = qc.post("/v1/releases", json={"name": "Q.1", "effective_on": "2026-01-01"})
        assert r.status_code == 201, r.text
        frozen = r.json()["indicator_count"]
        created = _create(qc, "质量测试发布后指标", "质量测试甲厅", status="standard")
        now = _quality(qc, status="standard", limit=500)
        release = _quality(qc, status="standard", release="Q.1", limit=500)
        assert release["release"] == "Q.1"
        assert release["totals"] == {
            "indicators": frozen,
            "statuses": ["standard"],
            "by_status": {"standard": frozen},
        }
        assert now["totals"]["indicators"] == frozen + 1
        assert release["without_basis"]["count"] == now["without_basis"]["count"] - 1
        assert created["code"] not in {i["code"] for i in release["without_basis"]["items"]}


# --- the checks alone, without a database ------------------------------------------------------------


def _row(code: str, name: str, dept: str | None = None, **extra: Any) -> Row:
    fields: dict[str, Any] = {"status": "standard", "department_code": dept, "department_name": dept,
                              "unit": None, "comparator": None, "value": None, **extra}  # fmt: skip
    return Row(code=code, name=name, **fields)


class TestMismatchRules:
    def test_quantitative_comparator_with_text_value(self) -> None:
        assert mismatch_rules(_row("A", "甲", comparator="ge", value="及时")) == [
            MismatchRule.non_numeric_value
        ]
        assert mismatch_rules(_row("A", "甲", comparator="ge", value=95.0, unit="%")) == []

    def test_percent_over_100_only_for_percent_itself(self) -> None:
        assert mismatch_rules(_row("A", "甲", comparator="ge", value=101.0, unit="百分比")) == [
            MismatchRule.percent_over_100
        ]
        assert mismatch_rules(_row("A", "甲", comparator="le", value=300.0, unit="‰")) == []
        assert mismatch_rules(_row("A", "甲", comparator="eq", value=100.0, unit="%")) == []

    def test_qualitative_with_a_unit_of_measure(self) -> None:
        assert mismatch_rules(_row("A", "甲", comparator="qualitative", value="好", unit="公里")) == [
            MismatchRule.qualitative_with_unit
        ]
        # 是/否 is how tables mark a yes/no indicator, not a unit of measure.
        assert mismatch_rules(_row("A", "甲", comparator="qualitative", value="是", unit="是/否")) == []


class TestScale:
    def test_blocking_finds_every_pair_with_an_intact_end(self) -> None:
        """Against brute force: no false pair, and no miss among pairs sharing 2 first or last characters."""
        from bench.generate import generate_indicators

        rng = random.Random(7)
        names = {r["name"] for r in generate_indicators(600, seed=5)}
        # Near variants: one character dropped, replaced or added somewhere in the name.
        for name in list(names)[:200]:
            i = rng.randrange(len(name))
            names.add(
                rng.choice(
                    (name[:i] + name[i + 1 :], name[:i] + "新" + name[i + 1 :], name[:i] + "新" + name[i:])
                )
            )
        keys = sorted({name_key(n) for n in names})
        for threshold in (0.9, 0.8):
            found = {tuple(sorted(p)) for p in similar_pairs(keys, threshold)}
            brute = {
                (i, j)
                for i, j in itertools.combinations(range(len(keys)), 2)
                if fuzz.ratio(keys[i], keys[j]) >= threshold * 100
            }
            assert found <= brute
            reachable = {
                (i, j) for i, j in brute if keys[i][:2] == keys[j][:2] or keys[i][-2:] == keys[j][-2:]
            }
            assert reachable <= found
            assert len(brute) > 50  # the variants make plenty

    def test_twenty_thousand_indicators(self) -> None:
        """Sub-quadratic: 20k generated indicators (≈6k distinct names) cluster in well under a second or two."""
        from bench.generate import generate_indicators

        rows = [
            _row(f"C{i:05d}", r["name"], r.get("department"), unit=r.get("unit") or None)
            for i, r in enumerate(generate_indicators(20_000, seed=11))
        ]
        report = duplicate_clusters(rows, min_similarity=0.9, limit=5)
        assert report.count > 0
        assert len(report.items) == 5
        biggest = report.items[0]
        assert biggest.member_count >= report.items[-1].member_count
        assert biggest.departments >= 2
        assert len(biggest.members) == 5
