"""An import row changes only the columns the file has (issue 14: never a silent change of stored data).

A column (JSON key) the file does not have keeps the stored value; a column that is present and empty
(empty cell, null, "") clears it; a file without a status column never moves an indicator's status.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi.testclient import TestClient

CODE = "ZZ-00014"
FULL = {
    "code": CODE, "name": "依据指标A", "kind": "department_duty", "department": "教育厅",
    "level1": "产出指标", "level2": "数量指标", "unit": "个", "comparator": "≥", "value": 10,
    "raw_value": "≥10个", "basis": "教财〔2027〕1号", "notes": "备注", "status": "draft",
}  # fmt: skip
KEPT = ("kind", "department", "unit", "comparator", "basis", "level1", "level2", "notes", "status")


def _import(client: TestClient, rows: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.post(
        "/v1/imports", content=json.dumps(rows).encode(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _csv(client: TestClient, header: list[str], cells: list[str]) -> dict[str, Any]:
    out = io.StringIO()
    csv.writer(out).writerows([header, cells])
    r = client.post("/v1/imports", content=out.getvalue().encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _stored(client: TestClient) -> dict[str, Any]:
    r = client.get(f"/v1/indicators/{CODE}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _setup(client: TestClient) -> dict[str, Any]:
    assert client.post("/v1/departments", json={"code": "JYT", "name": "教育厅"}).status_code == 201
    assert _import(client, [FULL])["created"] == 1
    return _stored(client)


def _same(before: dict[str, Any], after: dict[str, Any], keys: tuple[str, ...]) -> None:
    assert {k: after.get(k) for k in keys} == {k: before.get(k) for k in keys}


def test_a_json_row_without_keys_keeps_what_it_leaves_out(client: TestClient) -> None:
    before = _setup(client)
    report = _import(client, [{"code": CODE, "name": "依据指标A", "raw_value": "44"}])
    assert report["updated"] == 1
    assert report["warnings"] == []  # level 1 was not left empty: the file does not speak of it
    after = _stored(client)
    _same(before, after, KEPT)
    assert after["department"] is not None
    assert after["kind"] == "department_duty"
    assert (after["raw_value"], after["value"]) == ("44", 44)
    # The same row again changes nothing and is counted so.
    assert _import(client, [{"code": CODE, "name": "依据指标A", "raw_value": "44"}])["unchanged"] == 1


def test_a_present_but_empty_key_clears_it(client: TestClient) -> None:
    before = _setup(client)
    assert _import(client, [{"code": CODE, "name": "依据指标A", "notes": None, "basis": ""}])["updated"] == 1
    after = _stored(client)
    assert (after.get("notes"), after.get("basis")) == (None, None)
    _same(before, after, ("kind", "department", "unit", "comparator", "value", "raw_value", "status"))


def test_a_full_row_without_a_status_column_keeps_the_status(client: TestClient) -> None:
    _setup(client)
    row = {k: v for k, v in FULL.items() if k != "status"} | {"notes": "新备注"}
    assert _import(client, [row])["updated"] == 1
    after = _stored(client)
    assert (after["status"], after["notes"]) == ("draft", "新备注")


def test_csv_absent_column_keeps_and_empty_cell_clears(client: TestClient) -> None:
    before = _setup(client)
    assert _csv(client, ["指标编码", "指标名称", "备注"], [CODE, "依据指标A", ""])["updated"] == 1
    after = _stored(client)
    assert after.get("notes") is None
    _same(before, after, ("kind", "department", "unit", "comparator", "value", "raw_value", "basis", "status",
                          "level1", "level2"))  # fmt: skip
    assert _csv(client, ["指标编码", "指标名称", "备注"], [CODE, "依据指标A", ""])["unchanged"] == 1


def test_new_rows_still_get_defaults(client: TestClient) -> None:
    report = _import(
        client, [{"name": "全新指标", "level1": "产出指标", "level2": "数量指标", "raw_value": "≥3个"}]
    )
    assert report["created"] == 1
