"""The audit trail over HTTP, on both backends.

Every successful write leaves entries naming the caller, the request and the route; a failed one
leaves nothing; no API can change the trail, the database refuses to, and the hash chain shows it
when someone does it anyway.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from service.audit import chain, record
from service.audit.service import EXPORT_COLUMNS
from service.auth.principal import Role
from service.db import make_engine
from tests.conftest import client_for
from tests.support.auth import bearer, mint_key

PROBLEM = "application/problem+json"
READ_ONLY_POSTS = {"suggestIndicators", "suggestIndicatorsBatch"}  # POST for a body, but they write nothing
# The proposals feature records its own writes; its drivers belong with its tests.
NOT_DRIVEN_HERE = ("/v1/proposals",)
BASIS = {"doc_no": "GB/T 99001-2026", "title": "审计测试规范"}


# --- helpers --------------------------------------------------------------------------------------


def _key_id(client: TestClient) -> str:
    return client.headers["Authorization"].split()[1].split("_")[1]


def _entries(client: TestClient, **filters: Any) -> list[dict[str, Any]]:
    """Every entry matching the filters, newest first, across all pages."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**filters, "limit": 500, **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/audit", params=params)
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


def _verify(client: TestClient) -> dict[str, Any]:
    r = client.get("/v1/audit/verify")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _sql(url: str, *statements: str, params: dict[str, Any] | None = None) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params or {})
    finally:
        engine.dispose()


def _drop_append_only_triggers(url: str) -> None:
    if url.startswith("sqlite"):
        _sql(url, "DROP TRIGGER audit_entry_no_update", "DROP TRIGGER audit_entry_no_delete")
    else:
        _sql(url, "DROP TRIGGER audit_entry_no_update_delete ON audit_entry")


def _new_department(client: TestClient, code: str, *, request_id: str | None = None) -> dict[str, Any]:
    headers = {"X-Request-ID": request_id} if request_id else {}
    r = client.post("/v1/departments", json={"code": code, "name": f"{code}测试厅"}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


# --- every write is recorded ----------------------------------------------------------------------


@dataclass
class Walk:
    """State the write walk carries from one operation to the next."""

    client: TestClient
    ids: dict[str, Any] = field(default_factory=dict)


def _one(entries: list[dict[str, Any]], entity_type: str, action: str | None = None) -> dict[str, Any]:
    found = [e for e in entries if e["entity_type"] == entity_type and action in (None, e["action"])]
    assert len(found) == 1, (entity_type, action, entries)
    return found[0]


def _create_legal_basis(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post("/v1/legal-bases", json={**BASIS, "effective_on": "2026-01-01", "kind": "国家标准"})
    w.ids["basis"] = r.json().get("id")

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "legal_basis", "create")
        assert (e["entity_id"], e["after"]["doc_no"], e["before"]) == (
            str(w.ids["basis"]),
            BASIS["doc_no"],
            None,
        )

    return r, check


def _create_department(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post("/v1/departments", json={"code": "AUDT", "name": "审计测试厅"})

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "department", "create")
        assert (e["entity_id"], e["after"]["name"]) == ("AUDT", "审计测试厅")

    return r, check


def _create_indicator(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post(
        "/v1/indicators",
        json={"name": "审计测试达标率", "kind": "共性", "level1": "产出指标", "level2": "质量指标",
              "comparator": "≥", "value": 95, "department": "AUDT",
              "basis": f"{BASIS['doc_no']}《{BASIS['title']}》"},
    )  # fmt: skip
    w.ids["code"] = r.json().get("code")
    w.ids["etag"] = r.headers.get("etag")

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "indicator", "create")
        assert e["entity_id"] == w.ids["code"]
        assert (e["before"], e["after"]["name"], e["after"]["value"], e["after"]["revision"]) == (
            None, "审计测试达标率", 95, 1,
        )  # fmt: skip
        assert [b["id"] for b in e["after"]["legal_bases"]] == [w.ids["basis"]]

    return r, check


def _update_indicator(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.patch(
        f"/v1/indicators/{w.ids['code']}",
        json={"unit": "%", "value": 96, "reason": "按新口径调整"},
        headers={"If-Match": w.ids["etag"]},
    )

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "indicator", "update")
        assert e["reason"] == "按新口径调整"
        assert e["before"] == {"version": 1, "revision": 1, "unit": None, "value": 95}
        assert e["after"] == {"version": 2, "revision": 2, "unit": "%", "value": 96}

    return r, check


def _measured(which: str, path: str) -> Callable[[Walk], tuple[Any, Callable[[list[dict[str, Any]]], None]]]:
    entity = "duty" if which == "duty" else "strategic_goal"

    def create(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
        r = w.client.post(
            f"/v1/departments/AUDT/{path}", json={"name": f"{which}甲", "indicators": [w.ids["code"]]}
        )
        w.ids[which] = r.json().get("id")

        def check(entries: list[dict[str, Any]]) -> None:
            e = _one(entries, entity)  # the links are merged into the one created entry
            assert e["action"] == "create"
            assert (e["after"]["name"], e["after"]["indicators"]) == (f"{which}甲", [w.ids["code"]])

        return r, check

    return create


def _update_measured(
    which: str, path: str
) -> Callable[[Walk], tuple[Any, Callable[[list[dict[str, Any]]], None]]]:
    entity = "duty" if which == "duty" else "strategic_goal"

    def update(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
        r = w.client.patch(f"/v1/{path}/{w.ids[which]}", json={"name": f"{which}乙", "indicators": []})

        def check(entries: list[dict[str, Any]]) -> None:
            e = _one(entries, entity, "update")
            assert e["before"] == {"name": f"{which}甲", "indicators": [w.ids["code"]]}
            assert e["after"] == {"name": f"{which}乙", "indicators": []}

        return r, check

    return update


def _delete_measured(
    which: str, path: str
) -> Callable[[Walk], tuple[Any, Callable[[list[dict[str, Any]]], None]]]:
    entity = "duty" if which == "duty" else "strategic_goal"

    def delete(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
        r = w.client.delete(f"/v1/{path}/{w.ids[which]}")

        def check(entries: list[dict[str, Any]]) -> None:
            e = _one(entries, entity, "delete")
            assert (e["entity_id"], e["before"]["name"], e["after"]) == (
                str(w.ids[which]),
                f"{which}乙",
                None,
            )

        return r, check

    return delete


def _upsert_target(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post(
        "/v1/targets",
        json={"external_id": "AUDIT-T-1", "fiscal_year": 2026, "project": "审计测试项目",
              "indicators": [{"code": w.ids["code"], "comparator": "≥", "value": 96, "unit": "%"}]},
    )  # fmt: skip

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "target", "create")
        assert (e["entity_id"], e["after"]["project"]) == ("AUDIT-T-1", "审计测试项目")
        assert e["after"]["indicators"] == [
            {"code": w.ids["code"], "comparator": "ge", "value": "96", "unit": "%", "raw_value": None}
        ]

    return r, check


IMPORT_ROWS = [
    {"name": "审计导入指标甲", "level1": "产出指标", "level2": "数量指标", "value": 10, "unit": "个"},
    {"name": "审计导入指标乙", "level1": "产出指标", "level2": "数量指标", "value": 20, "unit": "个"},
]


def _import(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    body = json.dumps(IMPORT_ROWS, ensure_ascii=False).encode("utf-8")
    r = w.client.post(
        "/v1/imports",
        params={"reason": "年度指标入库"},
        content=body,
        headers={"Content-Type": "application/json"},
    )

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "import", "import")  # one entry for the whole file, not one per row
        assert e["entity_id"] == hashlib.sha256(body).hexdigest()
        assert e["reason"] == "年度指标入库"
        after = e["after"]
        assert (after["rows"], after["created"], after["updated"], after["revisions"]) == (2, 2, 0, 2)
        assert after["file"] == {"sha256": e["entity_id"], "name": None, "content_type": "application/json",
                                 "bytes": len(body)}  # fmt: skip
        w.ids["imported"] = sorted(after["codes"])
        names = {w.client.get(f"/v1/indicators/{c}").json()["name"] for c in w.ids["imported"]}
        assert names == {row["name"] for row in IMPORT_ROWS}
        assert after["last_revision_id"] - after["first_revision_id"] == 1

    return r, check


def _publish_release(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post("/v1/releases", json={"name": "audit.1", "effective_on": "2026-12-01", "notes": "审计"})

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "release", "create")  # created, then its counts set: one entry
        assert e["entity_id"] == "audit.1"
        assert e["after"]["indicator_count"] == r.json()["indicator_count"] > 0

    return r, check


def _record_edition(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post(
        f"/v1/legal-bases/{w.ids['basis']}/editions",
        json={"doc_no": "GB/T 99001-2027", "title": BASIS["title"], "effective_on": "2027-01-01",
              "summary": "限值调整"},
    )  # fmt: skip
    body = r.json()
    w.ids["new_basis"] = body.get("basis", {}).get("id")
    w.ids["change_set"] = body.get("change_set", {}).get("id")
    w.ids["item"] = (body.get("change_set", {}).get("items") or [{}])[0].get("id")

    def check(entries: list[dict[str, Any]]) -> None:
        old = next(e for e in entries if e["entity_type"] == "legal_basis" and e["action"] == "update")
        assert (old["entity_id"], old["before"]["status"], old["after"]["status"]) == (
            str(w.ids["basis"]), "in_force", "superseded",
        )  # fmt: skip
        new = next(e for e in entries if e["entity_type"] == "legal_basis" and e["action"] == "create")
        assert new["after"]["doc_no"] == "GB/T 99001-2027"
        link = _one(entries, "legal_basis_link", "create")
        assert link["entity_id"] == f"{w.ids['new_basis']}:{w.ids['basis']}"
        cs = _one(entries, "change_set", "create")
        assert (cs["after"]["items"], cs["after"]["items_by_action"]) == (1, {"rebase": 1})
        assert all(e["reason"].startswith("GB/T 99001-2026 → GB/T 99001-2027") for e in entries)

    return r, check


def _patch_change_set(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.patch(
        f"/v1/change-sets/{w.ids['change_set']}",
        json={"summary": "限值复核后调整"},
        headers={"If-Match": w.client.get(f"/v1/change-sets/{w.ids['change_set']}").headers["etag"]},
    )

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "change_set", "update")
        assert (e["before"]["summary"], e["after"]["summary"]) == ("限值调整", "限值复核后调整")

    return r, check


def _settle(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post(
        f"/v1/change-sets/{w.ids['change_set']}/items:settle",
        json={"decision": "accepted", "items": "all", "note": "全部同意"},
    )

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "change_set", "settle")
        assert (e["after"]["decision"], e["after"]["items"], e["after"]["updated"]) == (
            "accepted",
            "all pending",
            1,
        )
        assert e["reason"] == "全部同意"

    return r, check


def _item_etag(w: Walk) -> str:
    items = w.client.get(f"/v1/change-sets/{w.ids['change_set']}").json()["items"]
    version = next(i["version"] for i in items if i["id"] == w.ids["item"])
    return f'"csi{w.ids["item"]}.v{version}"'


def _patch_item(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.patch(
        f"/v1/change-sets/{w.ids['change_set']}/items/{w.ids['item']}",
        json={"note": "条款核对无误"},
        headers={"If-Match": _item_etag(w)},
    )

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "change_set_item", "update")
        assert e["entity_id"] == str(w.ids["item"])
        assert e["after"]["note"] == "条款核对无误"
        assert e["after"]["version"] == e["before"]["version"] + 1

    return r, check


def _apply(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post(f"/v1/change-sets/{w.ids['change_set']}/apply")

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "change_set", "apply")
        assert (e["before"]["status"], e["after"]["status"], e["after"]["revised"]) == ("draft", "applied", 1)
        assert e["after"]["codes"] == [w.ids["code"]]
        assert e["after"]["revisions"] == 1
        assert e["reason"].startswith("GB/T 99001-2026 → GB/T 99001-2027")

    return r, check


def _repeal(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post(
        f"/v1/legal-bases/{w.ids['new_basis']}/repeal", json={"effective_on": "2028-01-01", "summary": "废止"}
    )

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "legal_basis", "update")
        assert (e["entity_id"], e["after"]["status"]) == (str(w.ids["new_basis"]), "repealed")
        assert _one(entries, "change_set", "create")["after"]["origin"] == "repeal"

    return r, check


def _retire(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    code = w.ids["imported"][0]
    r = w.client.delete(f"/v1/indicators/{code}")

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "indicator", "retire")
        assert (e["entity_id"], e["before"]["status"], e["after"]["status"]) == (code, "standard", "retired")

    return r, check


def _create_key(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post("/v1/keys", json={"owner": "审计员", "role": "steward"})
    w.ids["key"] = r.json().get("id")
    # icat_<id>_<secret>: the secret is url-safe base64 and may itself hold "_", so split twice only
    # (the last fragment alone can be a few characters that turn up in the dump by chance).
    secret = r.json().get("token", "").split("_", 2)[-1]

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "api_key", "create")
        assert (e["entity_id"], e["after"]["owner"], e["after"]["secret_hash"]) == (
            w.ids["key"],
            "审计员",
            "[redacted]",
        )
        dumped = json.dumps(entries, ensure_ascii=False)
        assert secret not in dumped
        assert hashlib.sha256(secret.encode()).hexdigest() not in dumped

    return r, check


def _rotate_key(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.post(f"/v1/keys/{w.ids['key']}/rotate", json={})
    w.ids["rotated"] = r.json().get("id")

    def check(entries: list[dict[str, Any]]) -> None:
        new = _one(entries, "api_key", "create")
        assert (new["entity_id"], new["after"]["rotated_from"]) == (w.ids["rotated"], w.ids["key"])
        old = _one(entries, "api_key", "update")
        assert (old["entity_id"], old["before"]["revoked_at"]) == (w.ids["key"], None)
        assert old["after"]["revoked_by"] == "test-admin"

    return r, check


def _revoke_key(w: Walk) -> tuple[Any, Callable[[list[dict[str, Any]]], None]]:
    r = w.client.delete(f"/v1/keys/{w.ids['rotated']}")

    def check(entries: list[dict[str, Any]]) -> None:
        e = _one(entries, "api_key", "update")
        assert e["entity_id"] == w.ids["rotated"]
        assert e["before"]["revoked_at"] is None
        assert e["after"]["revoked_at"] is not None

    return r, check


# (operationId, method, route template, driver) in an order where each finds what it needs.
WRITES: list[tuple[str, str, str, Callable[[Walk], tuple[Any, Callable[[list[dict[str, Any]]], None]]]]] = [
    ("createLegalBasis", "POST", "/v1/legal-bases", _create_legal_basis),
    ("createDepartment", "POST", "/v1/departments", _create_department),
    ("createIndicator", "POST", "/v1/indicators", _create_indicator),
    ("updateIndicator", "PATCH", "/v1/indicators/{code}", _update_indicator),
    ("createDuty", "POST", "/v1/departments/{code}/duties", _measured("duty", "duties")),
    ("updateDuty", "PATCH", "/v1/duties/{duty_id}", _update_measured("duty", "duties")),
    ("deleteDuty", "DELETE", "/v1/duties/{duty_id}", _delete_measured("duty", "duties")),
    ("createStrategicGoal", "POST", "/v1/departments/{code}/strategic-goals", _measured("goal", "strategic-goals")),
    ("updateStrategicGoal", "PATCH", "/v1/strategic-goals/{goal_id}", _update_measured("goal", "strategic-goals")),
    ("deleteStrategicGoal", "DELETE", "/v1/strategic-goals/{goal_id}", _delete_measured("goal", "strategic-goals")),
    ("upsertTarget", "POST", "/v1/targets", _upsert_target),
    ("importIndicators", "POST", "/v1/imports", _import),
    ("publishRelease", "POST", "/v1/releases", _publish_release),
    ("recordLegalBasisEdition", "POST", "/v1/legal-bases/{basis_id}/editions", _record_edition),
    ("patchChangeSet", "PATCH", "/v1/change-sets/{change_set_id}", _patch_change_set),
    ("settleChangeSetItems", "POST", "/v1/change-sets/{change_set_id}/items:settle", _settle),
    ("patchChangeSetItem", "PATCH", "/v1/change-sets/{change_set_id}/items/{item_id}", _patch_item),
    ("applyChangeSet", "POST", "/v1/change-sets/{change_set_id}/apply", _apply),
    ("repealLegalBasis", "POST", "/v1/legal-bases/{basis_id}/repeal", _repeal),
    ("retireIndicator", "DELETE", "/v1/indicators/{code}", _retire),
    ("createApiKey", "POST", "/v1/keys", _create_key),
    ("rotateApiKey", "POST", "/v1/keys/{key_id}/rotate", _rotate_key),
    ("revokeApiKey", "DELETE", "/v1/keys/{key_id}", _revoke_key),
]  # fmt: skip


def test_every_write_operation_is_driven_here(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    writes = {
        op["operationId"]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method != "get" and not path.startswith(NOT_DRIVEN_HERE)
    }
    assert writes - READ_ONLY_POSTS == {op for op, *_ in WRITES}, (
        "add a driver to WRITES for a new write route"
    )


def test_every_successful_write_leaves_entries_naming_the_caller_request_and_route(
    client: TestClient,
) -> None:
    walk, key_id = Walk(client), _key_id(client)
    head = _verify(client)["head_id"]
    for op, method, route, driver in WRITES:
        request_id = f"test-123-{op}"
        client.headers["X-Request-ID"] = request_id
        response, check = driver(walk)
        assert response.status_code < 300, (op, response.status_code, response.text)
        assert response.headers["x-request-id"] == request_id
        entries = _entries(client, request_id=request_id)
        assert entries, f"{op} left no audit entry"
        for e in entries:
            assert (e["actor"], e["role"], e["key_id"]) == ("test-admin", "admin", key_id), op
            assert (e["request_id"], e["method"], e["route"]) == (request_id, method, route), op
        check(entries)
    del client.headers["X-Request-ID"]
    assert _verify(client)["ok"] is True
    assert _verify(client)["head_id"] > head


def test_reads_and_suggestions_record_nothing(client: TestClient) -> None:
    head = _verify(client)
    assert client.post("/v1/suggestions", json={"text": "农村公路建设里程达到100公里"}).status_code == 200
    assert client.get("/v1/indicators", params={"q": "满意度"}).status_code == 200
    assert _verify(client) == head


def test_entries_name_the_key_and_role_used(client: TestClient, seeded_url: str) -> None:
    _new_department(client, "AUDE")
    token = mint_key(seeded_url, Role.editor, owner="科室编辑", departments=["AUDE"])
    r = client.post(
        "/v1/departments/AUDE/duties",
        json={"name": "负责审计测试"},
        headers={**bearer(token), "X-Request-ID": "test-123"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "test-123"
    [entry] = _entries(client, request_id="test-123")
    assert (entry["actor"], entry["role"], entry["key_id"]) == ("科室编辑", "editor", token.split("_")[1])
    assert (entry["entity_type"], entry["entity_id"], entry["action"]) == (
        "duty",
        str(r.json()["id"]),
        "create",
    )
    assert (entry["method"], entry["route"]) == ("POST", "/v1/departments/{code}/duties")


def test_revisions_name_the_actor_when_no_author_is_given(client: TestClient) -> None:
    code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
    assert (
        client.get(f"/v1/indicators/{code}/history").json()["revisions"][0]["author"] == "system"
    )  # the seed
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    assert (
        client.patch(f"/v1/indicators/{code}", json={"notes": "复核"}, headers={"If-Match": tag}).status_code
        == 200
    )
    assert client.get(f"/v1/indicators/{code}/history").json()["revisions"][-1]["author"] == "test-admin"


def test_the_request_id_is_echoed_or_minted(client: TestClient) -> None:
    minted = client.post("/v1/departments", json={"code": "AUDR", "name": "请求测试厅"})
    request_id = minted.headers["x-request-id"]
    assert len(request_id) == 32
    assert [e["request_id"] for e in _entries(client, entity_type="department", entity_id="AUDR")] == [
        request_id
    ]
    too_long = client.post(
        "/v1/departments", json={"code": "AUDL", "name": "长号测试厅"}, headers={"X-Request-ID": "x" * 65}
    )
    assert too_long.headers["x-request-id"] != "x" * 65
    assert (
        client.get("/v1/audit/verify", headers={"X-Request-ID": "probe-1"}).headers["x-request-id"]
        == "probe-1"
    )
    refused = client.get("/v1/audit", headers={"Authorization": "Bearer nope", "X-Request-ID": "probe-2"})
    assert (refused.status_code, refused.headers["x-request-id"]) == (401, "probe-2")


# --- failed writes leave nothing ------------------------------------------------------------------


def test_failed_writes_leave_nothing(client: TestClient, seeded_url: str) -> None:
    code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
    basis = client.post("/v1/legal-bases", json={**BASIS, "effective_on": "2026-01-01"}).json()["id"]
    resting = {"name": "失败测试指标", "basis": f"{BASIS['doc_no']}《{BASIS['title']}》"}
    assert client.post("/v1/indicators", json=resting).status_code == 201
    opened = client.post(
        f"/v1/legal-bases/{basis}/editions",
        json={"doc_no": "GB/T 99001-2099", "title": BASIS["title"], "effective_on": "2099-01-01", "summary": "修订"},
    )  # one pending item: apply will refuse
    assert opened.status_code == 201, opened.text
    reviewer = bearer(mint_key(seeded_url, Role.reviewer))
    before = _verify(client)
    failures = [
        client.post("/v1/indicators", json={"name": ""}),  # 422
        client.patch(f"/v1/indicators/{code}", json={"unit": "%"}),  # 428: no If-Match
        client.patch(f"/v1/indicators/{code}", json={"unit": "%"}, headers={"If-Match": '"stale.v0"'}),  # 412
        client.post("/v1/departments", json={"code": "AUDF", "name": "失败测试厅"}),
        client.post(
            "/v1/departments", json={"code": "AUDF", "name": "失败测试厅"}
        ),  # 409 (after one success)
        client.post(
            "/v1/imports",
            content=b'[{"name": "x"}, {"level1": "y"}]',
            headers={"Content-Type": "application/json"},
        ),
        client.post(
            f"/v1/change-sets/{opened.json()['change_set']['id']}/apply"
        ),  # 409: writes, then rolls back
        client.delete(f"/v1/keys/{_key_id(client)}"),  # 409: the last admin key
        client.post("/v1/keys", json={"owner": "x", "role": "editor"}),  # 422: an editor needs departments
        client.post("/v1/indicators", json={"name": "越权"}, headers=reviewer),  # 403
        client.delete("/v1/duties/999999"),  # 404
    ]
    statuses = [r.status_code for r in failures]
    assert statuses == [422, 428, 412, 201, 409, 422, 409, 409, 422, 403, 404]
    assert all(r.headers["content-type"].startswith(PROBLEM) for r in failures if r.status_code >= 400)
    after = _verify(client)
    assert after["ok"] is True
    assert after["head_id"] == before["head_id"] + 1  # the one department that was created
    [entry] = [e for e in _entries(client) if e["id"] > before["head_id"]]
    assert (entry["entity_type"], entry["entity_id"]) == ("department", "AUDF")


def test_a_dry_run_import_records_nothing(client: TestClient) -> None:
    before = _verify(client)
    r = client.post(
        "/v1/imports",
        params={"dry_run": "true"},
        content=json.dumps(IMPORT_ROWS, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["created"]) == (200, 2)
    assert _verify(client) == before


# --- nothing can change the trail -----------------------------------------------------------------


def test_the_api_has_no_way_to_change_the_trail(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    audit_ops = {(m, p) for p, ops in doc["paths"].items() if p.startswith("/v1/audit") for m in ops}
    assert audit_ops == {("get", p) for _, p in audit_ops}
    assert {p for _, p in audit_ops} == {
        "/v1/audit",
        "/v1/audit/export",
        "/v1/audit/verify",
        "/v1/audit/{entry_id}",
    }
    _new_department(client, "AUDX")
    first = client.get("/v1/audit/1").json()
    before = _verify(client)
    for path in ("/v1/audit", "/v1/audit/1", "/v1/audit/verify", "/v1/audit/export", "/v1/audit/1/before"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = client.request(method, path, json={"actor": "forged", "reason": "forged"})
            assert r.status_code in (404, 405), (method, path, r.status_code)
            assert r.headers["content-type"].startswith(PROBLEM)
    assert client.get("/v1/audit/1").json() == first
    assert _verify(client) == before


def test_the_database_refuses_to_update_or_delete_entries(client: TestClient, seeded_url: str) -> None:
    _new_department(client, "AUDS")
    before = _verify(client)
    refused = [
        "UPDATE audit_entry SET actor = 'forged' WHERE id = 1",
        "UPDATE audit_entry SET reason = 'forged'",
        "DELETE FROM audit_entry WHERE id = 1",
        "DELETE FROM audit_entry",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET last_id = 0",
    ]
    if not seeded_url.startswith("sqlite"):
        refused += ["TRUNCATE audit_entry", "TRUNCATE audit_head"]
    for statement in refused:
        with pytest.raises(DBAPIError, match=r"append-only|only moves forward|cannot be deleted"):
            _sql(seeded_url, statement)
    assert _verify(client) == before


@pytest.mark.parametrize("tamper", ["content", "content and hash", "delete", "cut tail"])
def test_verify_finds_tampering_that_got_past_the_triggers(
    client: TestClient, seeded_url: str, tamper: str
) -> None:
    for code in ("AUDA", "AUDB", "AUDC"):
        _new_department(client, code)
    good = _verify(client)
    assert good["ok"] is True
    last = good["head_id"]
    target = last - 1
    _drop_append_only_triggers(seeded_url)
    if tamper == "content":
        _sql(seeded_url, "UPDATE audit_entry SET reason = 'forged' WHERE id = :id", params={"id": target})
        expected = target
    elif tamper == "content and hash":  # a forger who recomputes the entry's own hash breaks the next link
        entry = client.get(f"/v1/audit/{target}").json()
        entry.update(reason="forged", at=datetime.fromisoformat(entry["at"]))
        forged = chain.link(entry["prev_hash"], entry)
        _sql(
            seeded_url,
            "UPDATE audit_entry SET reason = 'forged', hash = :h WHERE id = :id",
            params={"h": forged, "id": target},
        )
        expected = target + 1
    elif tamper == "delete":
        _sql(seeded_url, "DELETE FROM audit_entry WHERE id = :id", params={"id": target})
        expected = target
    else:
        _sql(seeded_url, "DELETE FROM audit_entry WHERE id = :id", params={"id": last})
        expected = last
    report = _verify(client)
    assert (report["ok"], report["first_bad_id"]) == (False, expected), report
    assert report["problem"]


def test_concurrent_writers_never_fork_the_chain(client: TestClient, seeded_url: str) -> None:
    engine = make_engine(seeded_url)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(5):
                with Session(engine) as session:
                    record(
                        session, entity_type="probe", entity_id=f"{n}-{i}", action="create", after={"n": n}
                    )
                    record(session, entity_type="probe", entity_id=f"{n}-{i}-b", action="create")
                    session.commit()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    before = _verify(client)["head_id"]
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert errors == []
    report = _verify(client)
    assert (report["ok"], report["head_id"]) == (True, before + 60)
    probes = _entries(client, entity_type="probe")
    assert sorted(e["id"] for e in probes) == list(range(before + 1, before + 61))
    # Each transaction's two entries sit next to each other: appends never interleave.
    by_id = {e["id"]: e for e in probes}
    for e in probes:
        if not e["entity_id"].endswith("-b"):
            assert by_id[e["id"] + 1]["entity_id"] == e["entity_id"] + "-b"


# --- reading: filters, pages, export --------------------------------------------------------------


def test_filters_and_cursor_pages(client: TestClient) -> None:
    for i, code in enumerate(("AUD1", "AUD2", "AUD3")):
        _new_department(client, code, request_id=f"page-{i}")
    mine = _entries(client, route="/v1/departments", action="create")
    assert [e["entity_id"] for e in mine] == ["AUD3", "AUD2", "AUD1"]  # newest first
    seen, cursor = [], None
    while True:
        r = client.get(
            "/v1/audit", params={"actor": "test-admin", "limit": 1, **({"cursor": cursor} if cursor else {})}
        )
        seen += [e["id"] for e in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert seen == [e["id"] for e in _entries(client, actor="test-admin")]
    assert len(seen) == len(set(seen))
    key_id = _key_id(client)
    for filters in (
        {"request_id": "page-1"},
        {"entity_type": "department", "entity_id": "AUD2"},
        {"key_id": key_id, "entity_id": "AUD2"},
        {"role": "admin", "route": "/v1/departments", "entity_id": "AUD2"},
    ):
        assert [e["entity_id"] for e in _entries(client, **filters)] == ["AUD2"], filters
    at = {e["entity_id"]: e["at"] for e in mine}
    window = _entries(client, since=at["AUD2"], until=at["AUD3"], route="/v1/departments")
    assert [e["entity_id"] for e in window] == ["AUD2"]
    assert _entries(client, actor="nobody") == []
    assert _entries(client, role="public") == []
    one = client.get(f"/v1/audit/{mine[0]['id']}")
    assert one.json() == mine[0]


@pytest.mark.parametrize(
    ("params", "field_name"),
    [
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"role": "superuser"}, "role"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"entity_type": "DROP TABLE"}, "entity_type"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filters_are_422_naming_the_field(
    client: TestClient, params: dict[str, Any], field_name: str
) -> None:
    for path in ("/v1/audit", "/v1/audit/export"):
        if path.endswith("export") and field_name in ("cursor", "limit"):
            continue
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert field_name in [e["field"] for e in r.json()["errors"]]


def test_a_cursor_only_works_with_its_filters(client: TestClient) -> None:
    for code in ("AUDP", "AUDQ"):
        _new_department(client, code)
    cursor = client.get("/v1/audit", params={"entity_type": "department", "limit": 1}).json()["next_cursor"]
    assert cursor is not None
    r = client.get("/v1/audit", params={"entity_type": "indicator", "limit": 1, "cursor": cursor})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "cursor"


def test_unknown_entry_is_404(client: TestClient) -> None:
    head = _verify(client)["head_id"]
    r = client.get(f"/v1/audit/{head + 1}")
    assert (r.status_code, r.headers["content-type"].split(";")[0]) == (404, PROBLEM)


def test_only_finance_reads_the_trail(client: TestClient, seeded_url: str) -> None:
    steward = bearer(mint_key(seeded_url, Role.steward))
    assert client.get("/v1/audit", headers=steward).status_code == 200
    for role in (Role.platform, Role.reviewer):
        assert client.get("/v1/audit", headers=bearer(mint_key(seeded_url, role))).status_code == 403


@pytest.fixture
def evil_actor(client: TestClient, seeded_url: str) -> str:
    """A key whose owner's name is a spreadsheet formula; one write made with it."""
    owner = '=HYPERLINK("http://example.invalid","点此")'
    token = mint_key(seeded_url, Role.admin, owner=owner)
    r = client.post(
        "/v1/departments",
        json={"code": "AUDE1", "name": "导出测试厅"},
        headers={**bearer(token), "X-Request-ID": "export-1"},
    )
    assert r.status_code == 201, r.text
    return owner


def test_csv_export_has_a_bom_escapes_formulas_and_recomputes(client: TestClient, evil_actor: str) -> None:
    r = client.get("/v1/audit/export", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="audit-')
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    records = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [int(x["id"]) for x in records] == list(range(1, len(records) + 1))  # oldest first, complete
    mine = next(x for x in records if x["request_id"] == "export-1")
    assert mine["actor"] == "'" + evil_actor  # a spreadsheet shows it as text, never runs it
    assert "导出测试厅" in mine["after"]
    # The export alone is enough to check the chain (undoing the formula escape on the actor).
    prev = chain.GENESIS_HASH
    for x in records:
        entry: dict[str, Any] = {k: (v or None) for k, v in x.items()}
        entry["id"] = int(x["id"])
        entry["actor"] = evil_actor if x["actor"] == "'" + evil_actor else x["actor"]
        entry["before"] = json.loads(x["before"]) if x["before"] else None
        entry["after"] = json.loads(x["after"]) if x["after"] else None
        assert entry["prev_hash"] == prev
        assert chain.link(prev, entry) == x["hash"], x["id"]
        prev = x["hash"]
    filtered = client.get("/v1/audit/export", params={"request_id": "export-1"})
    assert len(list(csv.reader(io.StringIO(filtered.content.decode("utf-8-sig"))))) == 2


def test_xlsx_export_escapes_formulas(client: TestClient, evil_actor: str) -> None:
    r = client.get("/v1/audit/export", params={"format": "xlsx", "request_id": "export-1"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows())
    assert tuple(c.value for c in rows[0]) == EXPORT_COLUMNS
    [row] = rows[1:]
    actor = row[EXPORT_COLUMNS.index("actor")]
    assert (actor.value, actor.data_type) == ("'" + evil_actor, "s")
    assert "导出测试厅" in row[EXPORT_COLUMNS.index("after")].value


def test_a_fresh_catalogue_starts_its_chain_at_start_up(empty_url: str) -> None:
    with client_for(empty_url, seed=True) as client:
        entries = _entries(client)
        assert _verify(client)["ok"] is True
    assert entries[-1]["id"] == 1
    assert {e["actor"] for e in entries} == {"system"}
    assert {e["request_id"] for e in entries} == {"system"}
    seed = _one(entries, "import", "import")
    assert (seed["after"]["created"], seed["reason"], seed["after"]["file"]["name"]) == (
        637, "bundled seed library", "seed_indicators.jsonl",
    )  # fmt: skip
