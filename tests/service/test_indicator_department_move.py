"""Moving an indicator to another department keeps its duties and goals where they are (issue 14).

They stay the old department's, linked across departments ("【部门】名称"); nothing is created in
the target department behind the caller's back, and the old department's goal keeps its indicator.
"""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_moving_department_keeps_goal_and_duty_links_in_the_old_department(client: TestClient) -> None:
    for code, name in (("JYT", "教育厅"), ("WJW", "卫生健康委员会办公室")):
        r = client.post("/v1/departments", json={"code": code, "name": name})
        assert r.status_code in (201, 409), r.text
    r = client.post(
        "/v1/indicators",
        json={"name": "义务教育巩固率", "department": "JYT", "kind": "共性", "level1": "产出指标",
              "level2": "质量指标", "duties": ["D"], "strategic_goals": ["G"]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert client.get("/v1/departments/JYT/strategic-goals").json()[0]["indicators"] == [code]

    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.patch(f"/v1/indicators/{code}", json={"department": "WJW"}, headers={"If-Match": tag})
    assert r.status_code == 200, r.text

    assert client.get("/v1/departments/WJW/strategic-goals").json() == []
    assert client.get("/v1/departments/WJW/duties").json() == []
    assert [g["indicators"] for g in client.get("/v1/departments/JYT/strategic-goals").json()] == [[code]]
    assert [d["indicators"] for d in client.get("/v1/departments/JYT/duties").json()] == [[code]]
    ind = client.get(f"/v1/indicators/{code}").json()
    assert ind["department_code"] == "WJW"
    assert ind["strategic_goals"] == ["G"]  # read as names; the links above say whose
