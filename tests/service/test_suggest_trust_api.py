"""Issue 15 over HTTP: the inferred field, no filler from other fields, drafts, proposals, learning from use."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

# A user's trial from the issue (a smoke test on the seed library, not a tuning target).
WATER = "2024年完成全县农村饮水安全巩固提升工程,新建供水管网120公里,受益人口3.5万人,水质达标率达到95%以上,群众满意度不低于90%。"


def suggest(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/suggestions", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def family(sector: str | None) -> str | None:
    import re

    return re.split(r"[(（/]", sector)[0] if sector else None


def test_field_is_inferred_with_evidence_and_other_fields_stay_out(client: TestClient) -> None:
    data = suggest(client, text=WATER)
    field = data["parsed"]["field"]
    assert field["name"] == "水利"
    assert field["source"] == "text"
    assert field["evidence"]
    assert field["label"] in ("高", "中", "低")
    names = [i["indicator"]["name"] for i in data["items"]]
    assert "资助标准达标率" not in names  # student aid was the filler for 水质达标率
    for item in data["items"]:
        ind = item["indicator"]
        generic = ind["kind"] == "common" or family(ind["sector"]) == "通用" or item["generic_sectors"]
        assert family(ind["sector"]) == "水利" or generic or ind["sector"] is None, item
        assert item["confidence"] in ("高", "中", "低")
        assert 0.0 <= item["probability"] <= 1.0
    # One row per name.
    assert len(names) == len(set(names))


def test_caller_sector_wins_over_the_text(client: TestClient) -> None:
    field = suggest(client, text=WATER, sector="教育")["parsed"]["field"]
    assert (field["name"], field["source"], field["confidence"]) == ("教育", "given", 1.0)


def test_quantities_nobody_took_become_drafts_with_a_proposal_item(client: TestClient) -> None:
    data = suggest(client, text=WATER)
    taken = {tuple(i["proposed"]["span"]) for i in data["items"] if i["proposed"]}
    drafts = {d["name"]: d for d in data["drafts"]}
    pipes = drafts["新建供水管网长度"]
    assert pipes["draft"] is True
    assert (pipes["level1"], pipes["level2"]) == ("产出指标", "数量指标")
    assert (pipes["unit"], pipes["comparator"], pipes["value"]) == ("公里", "ge", 120)
    assert WATER[pipes["span"][0] : pipes["span"][1]] == "120公里"
    assert "120公里" in pipes["reason"]
    # Every quantity of the text is taken by a row or a draft.
    spans = {tuple(q["span"]) for q in data["parsed"]["quantities"]}
    assert spans <= taken | {tuple(d["span"]) for d in data["drafts"] if d["span"]}
    item = pipes["proposal_item"]
    assert item["action"] == "create"
    assert item["fields"]["name"] == "新建供水管网长度"
    assert item["fields"]["raw_value"] == "≥120公里"
    assert family(item["fields"]["sector"]) == "水利"


def test_drafts_become_a_proposal_in_one_call(client: TestClient) -> None:
    assert client.post("/v1/departments", json={"code": "SLJ", "name": "示例县水利局"}).status_code == 201
    data = suggest(client, text=WATER, department="示例县水利局")
    items = [d["proposal_item"] for d in data["drafts"]]
    assert items
    assert all(i["fields"]["department"] == "示例县水利局" for i in items)
    r = client.post(
        "/v1/proposals",
        json={"title": "农村饮水安全新指标", "department_code": "SLJ", "items": items},
    )
    assert r.status_code == 201, r.text
    proposal = r.json()
    assert [i["fields"]["name"] for i in proposal["items"]] == [d["name"] for d in data["drafts"]]
    assert all(i["action"] == "create" for i in proposal["items"])
    # Submitting runs the usual checks on the drafted rows (levels, duplicates, …).
    submitted = client.post(f"/v1/proposals/{proposal['id']}/submit", headers={"If-Match": r.headers["ETag"]})
    assert submitted.status_code in (200, 422), submitted.text
    checked = client.get(f"/v1/proposals/{proposal['id']}").json()
    assert checked["checked_at"] is not None


def test_past_targets_of_any_department_are_a_signal_fresh_with_every_write(client: TestClient) -> None:
    text = "开展城乡居民健康体检,规范管理高血压患者,提高群众健康水平"
    hit = client.get("/v1/indicators", params={"q": "高血压规范管理数", "limit": 1}).json()["items"][0]
    reason = "相似目标曾使用 2 次"
    before = suggest(client, text=text)["items"]
    assert all(reason not in i["reasons"] for i in before)
    for n, dept in enumerate(("甲县卫生健康局", "乙县卫生健康局")):
        target = {"external_id": f"T-{n}", "department": dept, "project": "基本公共卫生服务",
                  "text": "开展居民健康体检和高血压患者规范管理,提高群众健康水平",
                  "indicators": [{"code": hit["code"]}]}  # fmt: skip
        assert client.post("/v1/targets", json=target).status_code == 201
    after = suggest(client, text=text)["items"]
    item = next(i for i in after if i["indicator"]["code"] == hit["code"])
    assert reason in item["reasons"]
    # Replacing a target is seen at once: the memory follows the targets.
    target = {"external_id": "T-1", "department": "乙县卫生健康局", "text": "与此无关的道路养护", "indicators": []}
    assert client.post("/v1/targets", json=target).status_code == 200
    again = suggest(client, text=text)["items"]
    assert all(reason not in i["reasons"] for i in again)


def test_bad_requests_are_clear_problems(client: TestClient) -> None:
    for body in ({"text": ""}, {"text": "   "}, {"text": "字" * 100_000}, {"text": WATER, "sector": "火星农业"}):
        r = client.post("/v1/suggestions", json=body)
        assert 400 <= r.status_code < 500, (body.get("sector"), r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == r.status_code
        assert problem.get("detail")
