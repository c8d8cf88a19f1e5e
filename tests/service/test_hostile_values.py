"""Hostile values in JSON bodies (issue 14): refused with a 422 naming the field, never stored changed.

NaN/Infinity, duplicate keys and characters XML 1.0 cannot hold are refused once, where a JSON body is
read (service/security/strict_json.py); the sweep at the end proves no JSON write operation of the
contract escapes that check.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import UPLOAD_PATHS
from tests.conftest import client_for
from tests.support import REPO_ROOT

PROBLEM = "application/problem+json"


def _raw(client: TestClient, method: str, url: str, body: str) -> Any:
    return client.request(method, url, content=body.encode("utf-8"), headers={"content-type": "application/json"})


def _fields(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    return [e["field"] for e in r.json()["errors"]]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_indicator_value_is_refused(client: TestClient, literal: str) -> None:
    before = client.get("/v1/indicators", params={"q": "非有限值"}).json()
    r = _raw(client, "POST", "/v1/indicators", f'{{"name":"非有限值","comparator":"ge","value":{literal}}}')
    assert _fields(r) == ["value"]
    assert client.get("/v1/indicators", params={"q": "非有限值"}).json() == before


def test_non_finite_values_in_nested_bodies_name_the_path(client: TestClient) -> None:
    code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
    r = _raw(client, "POST", "/v1/targets",
             f'{{"external_id":"NAN-1","indicators":[{{"code":"{code}","value":NaN}}]}}')  # fmt: skip
    assert _fields(r) == ["indicators.0.value"]
    assert client.get("/v1/targets/NAN-1").status_code == 404


def test_duplicate_keys_are_refused(client: TestClient) -> None:
    r = _raw(client, "POST", "/v1/indicators", '{"name":"重复键甲","name":"重复键乙"}')
    assert _fields(r) == ["name"]
    assert "more than once" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize("bad", ["\\u0000", "\\u0007", "\\uffff", "\\ufffe", "\\ud800", "\\u001b"])
def test_characters_xml_cannot_hold_are_refused_not_dropped(client: TestClient, bad: str) -> None:
    r = _raw(client, "POST", "/v1/indicators", f'{{"name":"坏字符{bad}尾"}}')
    assert _fields(r) == ["name"]
    r = _raw(client, "POST", "/v1/departments", f'{{"code":"CTL1","name":"部门{bad}"}}')
    assert _fields(r) == ["name"]
    assert client.get("/v1/departments/CTL1").status_code in (404, 405)


def test_tab_and_newline_stay_allowed(client: TestClient) -> None:
    r = _raw(client, "POST", "/v1/indicators", '{"name":"换行\\t允许","definition":"第一行\\n第二行"}')
    assert r.status_code == 201, r.text


def _json_writes() -> list[tuple[str, str]]:
    spec = json.loads((REPO_ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            # An import's JSON body is a file: its loader refuses bad rows by row number (tests/imports).
            if path not in UPLOAD_PATHS and any(ct == "application/json" or ct.endswith("+json") for ct in content):
                out.append((method.upper(), path))
    return out


JSON_WRITES = _json_writes()


def test_the_sweep_sees_the_json_writes() -> None:
    # Not vacuous: the contract has many JSON write operations, among them the ones of the findings.
    assert len(JSON_WRITES) >= 20
    assert ("POST", "/v1/indicators") in JSON_WRITES
    assert ("POST", "/v1/proposals") in JSON_WRITES


@pytest.fixture(scope="module")
def sweep_client(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # One catalogue for the whole sweep: every request is refused before it could change anything.
    db = tmp_path_factory.mktemp("hostile") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    with client_for(f"sqlite:///{db}", seed=True) as c:
        yield c


@pytest.mark.parametrize(("method", "path"), JSON_WRITES, ids=[f"{m} {p}" for m, p in JSON_WRITES])
@pytest.mark.parametrize(
    ("hostile", "says"),
    [('{"probe": NaN}', "not a number"), ('{"probe": "a\\u0000b"}', "U+0000"), ('{"probe": 1, "probe": 2}', "more than once")],
)
def test_every_json_write_refuses_hostile_values(
    sweep_client: TestClient, method: str, path: str, hostile: str, says: str
) -> None:
    # The message, not only the field: "probe" is also refused as an unknown field by most schemas.
    url = re.sub(r"\{[^}]+\}", "1", path)
    r = sweep_client.request(method, url, content=hostile.encode(), headers={"content-type": "application/json",
                                                                      "If-Match": "*"})  # fmt: skip
    assert _fields(r) == ["probe"], (method, url)
    assert says in r.json()["errors"][0]["message"], (method, url)


@pytest.mark.parametrize("blank", ["   ", "\u3000", " \u3000\t"])
def test_blank_names_are_refused(client: TestClient, blank: str) -> None:
    assert _fields(client.post("/v1/departments", json={"code": "BLANK1", "name": blank})) == ["name"]
    assert client.post("/v1/departments", json={"code": "JYT", "name": "教育厅"}).status_code == 201
    assert _fields(client.post("/v1/departments/JYT/duties", json={"name": blank})) == ["name"]
    assert _fields(client.post("/v1/departments/JYT/strategic-goals", json={"name": blank})) == ["name"]
    duty = client.post("/v1/departments/JYT/duties", json={"name": " 负责义务教育 "})
    assert duty.status_code == 201, duty.text
    assert duty.json()["name"] == "负责义务教育"
    assert _fields(client.patch(f"/v1/duties/{duty.json()['id']}", json={"name": blank})) == ["name"]
    assert client.get("/v1/departments/JYT/duties").json()[0]["name"] == "负责义务教育"
    code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
    etag = client.get(f"/v1/indicators/{code}").headers["etag"]
    assert _fields(client.patch(f"/v1/indicators/{code}", json={"name": blank}, headers={"If-Match": etag})) == ["name"]


def test_blank_import_title_is_refused(client: TestClient) -> None:
    r = client.post("/v1/proposals:import", params={"title": " \u3000", "department_code": "JYT"},
                    files={"file": ("t.csv", "name\n甲\n".encode(), "text/csv")})  # fmt: skip
    assert "title" in _fields(r)
