"""Linking an indicator to a duty or goal through the duties API is a write to the indicator: it
appends a revision (README: every write to an indicator appends one), so the change is not shown
later in an unrelated revision under another author (issue 14)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _history(client: TestClient, code: str) -> dict:  # type: ignore[type-arg]
    return dict(client.get(f"/v1/indicators/{code}/history").json())


def test_duty_and_goal_links_append_indicator_revisions(client: TestClient) -> None:
    assert client.post("/v1/departments", json={"code": "JYT", "name": "教育厅"}).status_code == 201
    r = client.post(
        "/v1/indicators",
        json={"name": "义务教育巩固率", "department": "JYT", "kind": "共性", "level1": "产出指标",
              "level2": "质量指标"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    code, tag = r.json()["code"], r.headers["etag"]
    assert _history(client, code)["current"] == 1

    duty = client.post("/v1/departments/JYT/duties", json={"name": "负责义务教育", "indicators": [code]})
    assert duty.status_code == 201, duty.text
    history = _history(client, code)
    assert history["current"] == 2
    newest = history["revisions"][-1] if history["revisions"][-1]["number"] == 2 else history["revisions"][0]
    assert newest["number"] == 2
    assert "duties" in newest["fields"]
    # The link is part of the indicator: a client holding the old ETag must reload.
    assert client.get(f"/v1/indicators/{code}").headers["etag"] != tag

    goal = client.post("/v1/departments/JYT/strategic-goals", json={"name": "教育强省"}).json()
    r = client.patch(f"/v1/strategic-goals/{goal['id']}", json={"indicators": [code]})
    assert r.status_code == 200, r.text
    assert _history(client, code)["current"] == 3
    # Unlinking is a revision too; relinking the same list again is none.
    assert client.patch(f"/v1/strategic-goals/{goal['id']}", json={"indicators": [code]}).status_code == 200
    assert _history(client, code)["current"] == 3
    assert client.patch(f"/v1/duties/{duty.json()['id']}", json={"indicators": []}).status_code == 200
    assert _history(client, code)["current"] == 4

    # A later unrelated edit carries only its own field.
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    assert client.patch(f"/v1/indicators/{code}", json={"unit": "%"}, headers={"If-Match": tag}).status_code == 200
    revs = {r["number"]: r for r in _history(client, code)["revisions"]}
    assert "duties" not in revs[5]["fields"]
    assert "strategic_goals" not in revs[5]["fields"]
