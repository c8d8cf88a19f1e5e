"""A list of codes or names in a body naming one entry twice is the client's mistake: 422 naming
the repeated position, never 409 "reload and retry" that no retry can satisfy (issue 14)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _code(client: TestClient, q: str) -> str:
    return str(client.get("/v1/indicators", params={"q": q, "limit": 1}).json()["items"][0]["code"])


def test_duty_and_goal_naming_an_indicator_twice_is_422(client: TestClient) -> None:
    assert client.post("/v1/departments", json={"code": "JYT", "name": "教育厅"}).status_code == 201
    code = _code(client, "满意度")
    for path in ("duties", "strategic-goals"):
        r = client.post(f"/v1/departments/JYT/{path}", json={"name": "重复", "indicators": [code, code]})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["indicators[1]"]
    duty = client.post(
        "/v1/departments/JYT/duties", json={"name": "负责义务教育", "indicators": [code]}
    ).json()
    r = client.patch(f"/v1/duties/{duty['id']}", json={"indicators": [code, code]})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "indicators[1]"
    listed = client.get("/v1/departments/JYT/duties").json()
    assert [d["indicators"] for d in listed if d["id"] == duty["id"]] == [[code]]


def test_indicator_naming_a_duty_or_goal_twice_is_422(client: TestClient) -> None:
    body = {"name": "义务教育巩固率", "department": "教育厅", "kind": "共性", "level1": "产出指标",
            "level2": "质量指标"}  # fmt: skip
    r = client.post("/v1/indicators", json={**body, "duties": ["负责义务教育", "负责义务教育"]})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "duties[1]"
    r = client.post("/v1/indicators", json={**body, "strategic_goals": ["教育强省", "教育强省"]})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "strategic_goals[1]"


def test_target_naming_an_indicator_twice_is_422(client: TestClient) -> None:
    code = _code(client, "适龄儿童疫苗接种率")
    r = client.post(
        "/v1/targets",
        json={"external_id": "DUP-1", "indicators": [{"code": code}, {"code": code, "raw_value": "≥95%"}]},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "indicators.1.code"
    assert client.get("/v1/targets/DUP-1").status_code == 404
