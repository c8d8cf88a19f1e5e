"""POST /v1/suggestions and /v1/suggestions:batch on the seeded catalogue (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

EXAMPLE = "新建或改造道路,共29个项目,规划里程169公里,群众出行满意度不低于90%"
ROADS = "交通运输(农村公路)"
CORE = {"产出-数量", "产出-质量", "产出-时效", "成本", "效益", "满意度"}


def suggest(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/suggestions", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/indicators", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def assert_problem(r: Any, status: int = 422) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == status


def test_example_sentence_gives_mileage_and_satisfaction_with_values(client: TestClient) -> None:
    # The seed has no road-mileage indicator; a department adds its own, as the finance platform would.
    create(
        client, name="新改建农村公路里程", level1="产出指标", level2="数量指标", unit="公里", sector=ROADS,
        status="standard",
    )  # fmt: skip
    data = suggest(client, text=EXAMPLE, sector=ROADS)
    items = data["items"]
    mileage = next(i for i in items if "里程" in i["indicator"]["name"])
    p = mileage["proposed"]
    assert (p["comparator"], p["comparator_symbol"], p["value"], p["unit"]) == ("ge", "≥", 169, "公里")
    assert EXAMPLE[p["span"][0] : p["span"][1]] == "169公里" == p["text"]
    assert "里程" in mileage["matched_terms"]
    satisfaction = next(i for i in items if "满意" in i["indicator"]["name"] and i["proposed"])
    p = satisfaction["proposed"]
    assert (p["comparator"], p["value"], p["unit"]) == ("ge", 90, "%")
    assert EXAMPLE[p["span"][0] : p["span"][1]] == "90%"
    assert all(i["reasons"] for i in items)

    coverage = data["coverage"]
    assert coverage["missing"], "a road sentence does not name cost or timeliness"
    assert set(coverage["present"]) | set(coverage["missing"]) == CORE
    assert not set(coverage["present"]) & set(coverage["missing"])
    assert {"产出-数量", "满意度"} <= set(coverage["present"])
    assert {f["dimension"] for f in coverage["fillers"]} <= set(coverage["missing"])
    for filler in coverage["fillers"]:  # real catalogue rows
        assert client.get(f"/v1/indicators/{filler['indicator']['code']}").status_code == 200

    quantities = data["parsed"]["quantities"]
    assert [(q["value"], q["unit"]) for q in quantities] == [(29, "个"), (169, "公里"), (90, "%")]


def test_deadlines_are_parsed_and_resolved_with_the_fiscal_year(client: TestClient) -> None:
    data = suggest(client, text="6月30日前完成资金拨付,年底前完成全部建设任务", fiscal_year=2025)
    assert [(d["text"], d["date"]) for d in data["parsed"]["deadlines"]] == [
        ("6月30日前", "2025-06-30"),
        ("年底前", "2025-12-31"),
    ]


def test_empty_and_blank_text_are_422(client: TestClient) -> None:
    for body in ({"text": ""}, {"text": "   "}, {}):
        assert_problem(client.post("/v1/suggestions", json=body))


def test_over_long_text_is_422(client: TestClient) -> None:
    r = client.post("/v1/suggestions", json={"text": "提高群众满意度" * 300})
    assert_problem(r)
    assert r.json()["errors"][0]["field"] == "text"
    assert client.post("/v1/suggestions", json={"text": "满" * 2000}).status_code == 200


def test_unknown_department_is_not_an_error_but_an_unknown_sector_is(client: TestClient) -> None:
    # Issue 15: a sector the catalogue does not know is the caller's mistake (it would silently turn
    # off the field filter), so it is a 422 naming the field; an unknown department is still just unused.
    plain = suggest(client, text=EXAMPLE)
    data = suggest(client, text=EXAMPLE, department="不存在的某某局")
    assert [i["indicator"]["code"] for i in data["items"]] == [i["indicator"]["code"] for i in plain["items"]]
    r = client.post("/v1/suggestions", json={"text": EXAMPLE, "sector": "不存在的行业"})
    assert_problem(r)
    assert r.json()["errors"][0]["field"] == "sector"


def test_limit_is_respected_and_bounded(client: TestClient) -> None:
    # Issue 15: rows under the confidence floor are not shown, so a list may be shorter than the limit.
    assert 1 <= len(suggest(client, text=EXAMPLE, limit=3)["items"]) <= 3
    assert 1 <= len(suggest(client, text=EXAMPLE)["items"]) <= 10
    assert len(suggest(client, text=EXAMPLE, limit=50)["items"]) <= 50
    assert_problem(client.post("/v1/suggestions", json={"text": EXAMPLE, "limit": 51}))
    assert_problem(client.post("/v1/suggestions", json={"text": EXAMPLE, "limit": 0}))


def test_batch_answers_in_order(client: TestClient) -> None:
    texts = [EXAMPLE, "提高适龄儿童疫苗接种率", "开展职业技能培训5000人次"]
    r = client.post("/v1/suggestions:batch", json={"items": [{"text": t, "limit": 5} for t in texts]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 3
    for text, result in zip(texts, results, strict=True):
        single = suggest(client, text=text, limit=5)
        assert [i["indicator"]["code"] for i in result["items"]] == [
            i["indicator"]["code"] for i in single["items"]
        ]
    assert results[2]["parsed"]["quantities"][0]["unit"] == "人次"


def test_batch_limits(client: TestClient) -> None:
    assert_problem(client.post("/v1/suggestions:batch", json={"items": []}))
    too_many = {"items": [{"text": "提高满意度"}] * 101}
    assert_problem(client.post("/v1/suggestions:batch", json=too_many))
    one_bad = {"items": [{"text": "提高满意度"}, {"text": ""}]}
    assert_problem(client.post("/v1/suggestions:batch", json=one_bad))


def test_new_indicator_is_suggestible_without_restart_and_retired_is_not(client: TestClient) -> None:
    text = "推进智慧灯杆建设,提升城市照明智能化水平"
    before = [i["indicator"]["name"] for i in suggest(client, text=text)["items"]]
    assert "智慧灯杆建设数量" not in before
    created = create(
        client, name="智慧灯杆建设数量", level1="产出指标", level2="数量指标", unit="根", status="standard"
    )
    after = suggest(client, text=text)["items"]
    assert after[0]["indicator"]["code"] == created["code"]
    assert after[0]["matched_terms"] == ["智慧灯杆建设"]

    r = client.delete(f"/v1/indicators/{created['code']}")
    assert r.status_code == 200, r.text
    codes = [i["indicator"]["code"] for i in suggest(client, text=text, limit=50)["items"]]
    assert created["code"] not in codes


def test_department_given_by_name_or_code_ranks_its_indicators_first(client: TestClient) -> None:
    rows = [
        {"name": "城区绿化养护面积", "level1": "产出指标", "level2": "数量指标", "unit": "平方米",
         "sector": "城市管理", "department": "示例市园林绿化局"},
        {"name": "绿化养护质量达标率", "level1": "产出指标", "level2": "质量指标", "unit": "%",
         "sector": "城市管理", "department": "示例市园林绿化局"},
        {"name": "市民对公园绿地满意度", "level1": "满意度指标", "level2": "服务对象满意度指标", "unit": "%",
         "sector": "城市管理", "department": "示例市园林绿化局"},
    ]  # fmt: skip
    r = client.post("/v1/imports", json=rows)
    assert r.status_code == 200, r.text
    dept = next(d for d in client.get("/v1/departments").json() if d["name"] == "示例市园林绿化局")
    for department in (dept["name"], dept["code"]):
        items = suggest(client, text="保障城市公园正常运转", department=department, limit=5)["items"]
        assert {i["indicator"]["department"] for i in items[:3]} == {"示例市园林绿化局"}
        assert any(r.startswith("本部门指标") for r in items[0]["reasons"])


def test_operation_ids_are_stable(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/suggestions"]["post"]["operationId"] == "suggestIndicators"
    assert paths["/v1/suggestions:batch"]["post"]["operationId"] == "suggestIndicatorsBatch"


def test_duty_links_and_past_targets_are_signals_and_stay_fresh(client: TestClient) -> None:
    assert client.post("/v1/departments", json={"code": "SLJ", "name": "示例县水利局"}).status_code == 201
    text = "保障全县防汛抗旱工作顺利开展"
    linked = client.get("/v1/indicators", params={"q": "新建堤防、护岸长度", "limit": 1}).json()["items"][0]
    before = suggest(client, text=text, department="SLJ", limit=3)["items"]
    assert linked["code"] not in [i["indicator"]["code"] for i in before]

    duty = client.post(
        "/v1/departments/SLJ/duties", json={"name": "负责水利工程建设管理", "indicators": [linked["code"]]}
    )
    assert duty.status_code == 201, duty.text
    after = suggest(client, text=text, department="SLJ", limit=3)["items"]
    item = next(i for i in after if i["indicator"]["code"] == linked["code"])
    assert "部门职责:负责水利工程建设管理" in item["reasons"]

    # Unlinking is seen at once (the link cache is keyed by the outbox position).
    assert client.patch(f"/v1/duties/{duty.json()['id']}", json={"indicators": []}).status_code == 200
    again = suggest(client, text=text, department="SLJ", limit=3)["items"]
    assert all("部门职责:负责水利工程建设管理" not in i["reasons"] for i in again)

    target = {"external_id": "SLJ-2026-01", "department": "示例县水利局", "project": "堤防加固",
              "indicators": [{"code": linked["code"]}]}  # fmt: skip
    assert client.post("/v1/targets", json=target).status_code == 201
    used = suggest(client, text=text, department="示例县水利局", limit=3)["items"]
    item = next(i for i in used if i["indicator"]["code"] == linked["code"])
    assert "本部门绩效目标已使用:堤防加固" in item["reasons"]
