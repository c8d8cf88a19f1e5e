"""Targets registered by the platform; departments' duties and strategic goals with MEASURES links."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _code(client: TestClient, q: str) -> str:
    return str(client.get("/v1/indicators", params={"q": q, "limit": 1}).json()["items"][0]["code"])


def test_target_round_trip_and_replace(client: TestClient) -> None:
    code = _code(client, "适龄儿童疫苗接种率")
    body = {
        "external_id": "PRJ-2026-001",
        "department": "卫生健康委员会",
        "fiscal_year": 2026,
        "text": "适龄儿童疫苗接种率达到95%以上",
        "indicators": [{"code": code, "raw_value": "≥95%"}],
    }
    r = client.post("/v1/targets", json=body)
    assert r.status_code == 201, r.text
    row = r.json()["indicators"][0]
    assert (row["code"], row["comparator"], row["value"], row["unit"]) == (code, "ge", "95", "%")
    body["indicators"] = []
    again = client.post("/v1/targets", json=body)
    assert again.status_code == 200
    assert again.json()["version"] == 2
    assert client.get("/v1/targets/PRJ-2026-001").json()["indicators"] == []


def test_target_with_unknown_indicator_is_422(client: TestClient) -> None:
    r = client.post("/v1/targets", json={"external_id": "X", "indicators": [{"code": "NOPE-1"}]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "indicators.0.code"
    assert client.get("/v1/targets/X").status_code == 404


def test_duties_and_goals_crud_with_links(client: TestClient) -> None:
    dept = client.post("/v1/departments", json={"code": "JYT", "name": "教育厅"})
    assert dept.status_code == 201, dept.text
    code = _code(client, "满意度")
    duty = client.post("/v1/departments/JYT/duties", json={"name": "负责义务教育均衡发展", "indicators": [code]})
    assert duty.status_code == 201, duty.text
    assert duty.json()["indicators"] == [code]
    goal = client.post("/v1/departments/JYT/strategic-goals", json={"name": "教育现代化"}).json()
    assert [d["name"] for d in client.get("/v1/departments/JYT/duties").json()] == ["负责义务教育均衡发展"]
    assert client.delete(f"/v1/duties/{duty.json()['id']}").status_code == 409
    assert client.patch(f"/v1/duties/{duty.json()['id']}", json={"indicators": []}).json()["indicators"] == []
    assert client.delete(f"/v1/duties/{duty.json()['id']}").status_code == 204
    assert client.delete(f"/v1/strategic-goals/{goal['id']}").status_code == 204
    assert client.get("/v1/departments/NOPE/duties").status_code == 404


def test_indicator_names_its_duties(client: TestClient) -> None:
    r = client.post(
        "/v1/indicators",
        json={"name": "义务教育巩固率", "department": "教育厅", "duties": ["负责义务教育"], "strategic_goals": ["教育强省"]},
    )
    assert r.status_code == 201, r.text
    dept = r.json()["department_code"]
    duties = client.get(f"/v1/departments/{dept}/duties").json()
    assert duties[0]["name"] == "负责义务教育"
    assert duties[0]["indicators"] == [r.json()["code"]]
    no_dept = client.post("/v1/indicators", json={"name": "甲", "duties": ["某职责"]})
    assert no_dept.status_code == 422
