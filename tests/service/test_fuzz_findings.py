"""What the contract fuzzer (test_contract_fuzz.py) found, pinned as plain tests on both backends."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from service.db import _sqlite_datetime

PROBLEM = "application/problem+json"
HUGE = 2**70


def test_ids_beyond_the_integer_column_are_422_not_500(client: TestClient) -> None:
    for path in (f"/v1/legal-bases/{HUGE}", f"/v1/proposals/{HUGE}", f"/v1/audit/{HUGE}",
                 f"/v1/legal-bases/{HUGE}/impact", f"/v1/change-sets?offset={HUGE}"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 422, path
        assert r.headers["content-type"].startswith(PROBLEM)
    assert client.get(f"/v1/legal-bases/{2**31 - 1}").status_code == 404  # the largest id is merely absent
    # A huge number inside a body reaches the database unchecked: the safety net answers 422 too.
    r = client.post("/v1/legal-bases", json={"doc_no": "测试〔2026〕1号", "title": "测试文件", "supersedes": [HUGE]})
    assert r.status_code in (404, 422), r.text
    assert r.headers["content-type"].startswith(PROBLEM)


def test_a_department_name_is_compared_as_stored(client: TestClient) -> None:
    assert client.post("/v1/departments", json={"code": "D1", "name": "省 测试厅"}).status_code == 201
    # The same name once normalised (full-width space): a conflict, not a failed INSERT.
    r = client.post("/v1/departments", json={"code": "D2", "name": "省\u3000测试厅"})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


def test_a_target_id_in_any_script_gets_a_valid_location(client: TestClient) -> None:
    r = client.post("/v1/targets", json={"external_id": "绩效目标/2027 #1", "indicators": []})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/targets/%E7%BB%A9%E6%95%88%E7%9B%AE%E6%A0%87%2F2027%20%231"
    body = r.json()
    assert body["created_at"].endswith(("Z", "+00:00"))  # date-time with its offset, as the schema says


def test_early_years_are_stored_readably() -> None:
    assert _sqlite_datetime(datetime(67, 4, 20)) == "0067-04-20 00:00:00.000000"
    assert _sqlite_datetime(datetime(2026, 1, 2, 3, 4, 5, 6)) == "2026-01-02 03:04:05.000006"


def test_extension_members_never_replace_the_standard_ones() -> None:
    import json

    from service.errors import problem

    body = json.loads(problem(422, "Validation failed", "d", slug="x", extra={"status": "applied", "n": 1}).body)
    assert body["status"] == 422
    assert body["n"] == 1
