"""Export → import of the same catalogue stores exactly what was exported (issue 14, finding 4).

Each case here is one defect a hostile tester found; tests/imports/test_round_trip_property.py
generates catalogues to look for more of the same class.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import client_for
from tests.support.postgres import PostgresServer

FORMATS = [
    (fmt, profile) for fmt in ("jsonl", "csv", "xlsx") for profile in ("canonical", "chinese", "platform")
]


@pytest.fixture
def target(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """A second empty instance on the same backend, to import an export into."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'target.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"e_{uuid.uuid4().hex[:12]}")
    with client_for(url, seed=False) as c:
        yield c


def _import(client: TestClient, data: bytes, fmt: str) -> Any:
    return client.post("/v1/imports", files={"file": (f"export.{fmt}", data, "application/octet-stream")})


def _export(client: TestClient, fmt: str, profile: str) -> bytes:
    r = client.get("/v1/exports", params={"format": fmt, "profile": profile})
    assert r.status_code == 200, r.text[:500]
    return bytes(r.content)


def _duties(client: TestClient, dept_code: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/departments/{dept_code}/duties")
    assert r.status_code == 200, r.text
    return list(r.json())


def _department_code(client: TestClient, name: str) -> str:
    return str(next(d["code"] for d in client.get("/v1/departments").json() if d["name"] == name))


@pytest.mark.parametrize(("fmt", "profile"), FORMATS)
def test_a_duty_holding_a_list_separator_stays_one_duty(
    empty_client: TestClient, fmt: str, profile: str, target: TestClient
) -> None:
    duty = "负责全省学生资助工作、组织实施国家助学政策"
    body = {
        "code": "JY-00001",
        "name": "资助政策知晓率",
        "department": "教育厅",
        "duties": [duty],
        "strategic_goals": ["教育强省;人才强省"],
        "keywords": ["资助、助学", "知晓|率"],
        "budget_types": ["一般公共预算"],
    }
    r = empty_client.post("/v1/indicators", json=body)
    assert r.status_code == 201, r.text
    data = _export(empty_client, fmt, profile)
    r = _import(target, data, fmt)
    assert r.status_code == 200, r.text[:2000]
    got = target.get("/v1/indicators/JY-00001").json()
    assert got["duties"] == [duty]
    assert got["strategic_goals"] == ["教育强省;人才强省"]
    assert got["keywords"] == ["资助、助学", "知晓|率"]
    assert [d["name"] for d in _duties(target, _department_code(target, "教育厅"))] == [duty]


@pytest.mark.parametrize(("fmt", "profile"), FORMATS)
def test_value_basis_and_its_text_both_survive(
    empty_client: TestClient, fmt: str, profile: str, target: TestClient
) -> None:
    body = {
        "code": "X-1",
        "name": "甲",
        "value_basis": "行业标准",
        "value_basis_text": "参照GB 5749-2022第4条",
    }
    assert empty_client.post("/v1/indicators", json=body).status_code == 201
    data = _export(empty_client, fmt, profile)
    assert _import(target, data, fmt).status_code == 200
    got = target.get("/v1/indicators/X-1").json()
    assert (got["value_basis"], got["value_basis_text"]) == ("industry", "参照GB 5749-2022第4条")


@pytest.mark.parametrize(("fmt", "profile"), FORMATS)
def test_a_leading_apostrophe_is_data_not_an_escape(
    empty_client: TestClient, fmt: str, profile: str, target: TestClient
) -> None:
    texts = {"definition": "'=不是公式", "formula": "''+1", "notes": "'普通文字", "scoring_rule": "=SUM(A1)"}
    assert (
        empty_client.post("/v1/indicators", json={"code": "X-2", "name": "'@乙", **texts}).status_code == 201
    )
    data = _export(empty_client, fmt, profile)
    assert _import(target, data, fmt).status_code == 200
    got = target.get("/v1/indicators/X-2").json()
    assert {k: got[k] for k in texts} == texts
    assert got["name"] == "'@乙"


def test_a_hand_written_json_apostrophe_is_kept(empty_client: TestClient) -> None:
    body = '{"code": "X-3", "name": "\'=不是公式"}\n'.encode()
    r = empty_client.post("/v1/imports", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert empty_client.get("/v1/indicators/X-3").json()["name"] == "'=不是公式"


def _cross_department_link(client: TestClient) -> tuple[str, str]:
    """An indicator of 教育厅 measuring a duty of 财政厅 (linked from the duty's side)."""
    for code, name in (("JYT", "教育厅"), ("CZT", "财政厅")):
        assert client.post("/v1/departments", json={"code": code, "name": name}).status_code == 201
    r = client.post("/v1/indicators", json={"code": "JY-00009", "name": "资金到位率", "department": "教育厅"})
    assert r.status_code == 201, r.text
    duty = client.post(
        "/v1/departments/CZT/duties", json={"name": "管理教育资金", "indicators": ["JY-00009"]}
    )
    assert duty.status_code == 201, duty.text
    return "JY-00009", "管理教育资金"


@pytest.mark.parametrize(("fmt", "profile"), FORMATS)
def test_a_cross_department_duty_link_keeps_its_department(
    empty_client: TestClient, fmt: str, profile: str, target: TestClient
) -> None:
    code, duty = _cross_department_link(empty_client)
    data = _export(empty_client, fmt, profile)
    r = _import(target, data, fmt)
    assert r.status_code == 200, r.text[:2000]
    assert target.get(f"/v1/indicators/{code}").json()["duties"] == [duty]
    assert _duties(target, _department_code(target, "教育厅")) == []
    [owned] = _duties(target, _department_code(target, "财政厅"))
    assert (owned["name"], owned["indicators"]) == (duty, [code])


def test_re_importing_a_cross_department_link_changes_nothing(empty_client: TestClient) -> None:
    code, _ = _cross_department_link(empty_client)
    data = _export(empty_client, "csv", "chinese")
    r = _import(empty_client, data, "csv")
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, 1)
    assert _duties(empty_client, "JYT") == []
    assert [d["indicators"] for d in _duties(empty_client, "CZT")] == [[code]]
