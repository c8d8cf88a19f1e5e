"""A 422 from a check across fields names the field it is about, not ``body``.

Loose end of issue 14: a ``value_max`` below ``value`` (a model-level check of IndicatorDraft) was
answered with ``errors[0].field == "body"`` on ``POST /v1/indicators``: pydantic locates a model
validator's error at the model, and the request-validation handler read only that location.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.service.test_proposals_api import EDU, IN_FORCE_BASIS

PROBLEM = "application/problem+json"


def _fields(r: Any) -> list[str | None]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    return [e["field"] for e in r.json()["errors"]]


def test_create_names_value_max(client: TestClient) -> None:
    r = client.post("/v1/indicators", json={"name": "区间指标", "kind": "共性", "value": 90, "value_max": 10})
    assert _fields(r) == ["value_max"]
    assert not r.json()["errors"][0]["message"].startswith("Value error")


def test_create_names_expires_on_and_value(client: TestClient) -> None:
    dates = {"name": "日期指标", "effective_from": "2026-05-01", "expires_on": "2026-01-01"}
    assert _fields(client.post("/v1/indicators", json=dates)) == ["expires_on"]
    text = {"name": "文字指标", "comparator": "≥", "value": "较好"}
    assert _fields(client.post("/v1/indicators", json=text)) == ["value"]


def test_patch_names_value_max(client: TestClient) -> None:
    code = client.post("/v1/indicators", json={"name": "区间指标乙", "kind": "共性", "value": 5}).json()[
        "code"
    ]
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.patch(f"/v1/indicators/{code}", json={"value_max": 1}, headers={"If-Match": tag})
    assert _fields(r) == ["value_max"]


def test_proposal_item_names_value_max(client: TestClient) -> None:
    fields = {"name": "区间指标丙", "level1": "产出指标", "level2": "数量指标", "comparator": "≥",
              "value": 90, "value_max": 10, "unit": "%", "basis": IN_FORCE_BASIS}  # fmt: skip
    assert client.post("/v1/departments", json={"code": EDU, "name": "省教育厅"}).status_code == 201
    body = {"title": "区间", "department_code": EDU, "items": [{"action": "create", "fields": fields}]}
    assert _fields(client.post("/v1/proposals", json=body)) == ["items[0].fields.value_max"]
