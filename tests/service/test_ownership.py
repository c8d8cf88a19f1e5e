"""One ownership rule on every write path an editor has (issue 14, finding 1).

An editor may write only indicators owned by one of the departments its key is scoped to; indicators
with no department (the whole seed) are finance's. Proposals of every action — at creation, PATCH, import,
submission and approval —, duties and strategic goals are checked; targets only cite indicators.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from service.auth.principal import Principal, Role
from tests.conftest import client_for
from tests.support.auth import bearer, mint_key

PROBLEM = "application/problem+json"
EDU, HEALTH = "JYT", "WSJ"
BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class World:
    client: TestClient  # admin
    editor: dict[str, str]  # editor of EDU
    reviewer: dict[str, str]
    steward: dict[str, str]
    mine: str  # an EDU indicator
    theirs: str  # a HEALTH indicator
    seed: str  # a seed indicator with no department: finance's

    def as_(self, who: dict[str, str], method: str, url: str, **kwargs: Any) -> Any:
        return self.client.request(method, url, headers={**who, **kwargs.pop("headers", {})}, **kwargs)


def _indicator(client: TestClient, department: str, name: str) -> str:
    body = {"kind": "分行业分领域", "department": department, "level1": "产出指标", "level2": "质量指标",
            "comparator": "≥", "value": 95, "unit": "%", "basis": BASIS, "definition": "按年度统计",
            "status": "standard", "name": name}  # fmt: skip
    r = client.post("/v1/indicators", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


@pytest.fixture
def world(seeded_url: str) -> Iterator[World]:
    with client_for(seeded_url, seed=True) as client:
        for code, name in ((EDU, "省教育厅"), (HEALTH, "省卫生健康委")):
            assert client.post("/v1/departments", json={"code": code, "name": name}).status_code == 201
        seed = client.get("/v1/indicators", params={"q": "满意度", "limit": 1}).json()["items"][0]
        assert seed["department_code"] is None

        def key(role: Role, owner: str, departments: tuple[str, ...] = ()) -> dict[str, str]:
            return bearer(mint_key(seeded_url, role, owner=owner, departments=departments))

        yield World(
            client=client,
            editor=key(Role.editor, "editor-jyt", (EDU,)),
            reviewer=key(Role.reviewer, "reviewer-r"),
            steward=key(Role.steward, "steward-s"),
            mine=_indicator(client, EDU, "义务教育学校校舍维修改造完成率"),
            theirs=_indicator(client, HEALTH, "适龄儿童免疫规划疫苗接种率"),
            seed=str(seed["code"]),
        )


def _body(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"title": "教育指标调整", "department_code": EDU, "items": items}


def _retire(code: str) -> dict[str, Any]:
    return {"action": "retire", "indicator_code": code, "reason": "不再使用"}


def _revise(code: str) -> dict[str, Any]:
    return {"action": "revise", "indicator_code": code, "fields": {"value": 99}}


def _forbidden(r: Any, field: str, row: int | None = None) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert [(e["field"], e.get("row")) for e in r.json()["errors"]] == [(field, row)], r.text


def _status(w: World, code: str) -> str:
    return str(w.client.get(f"/v1/indicators/{code}").json()["status"])


def _count_proposals(w: World) -> int:
    return int(w.client.get("/v1/proposals").json()["total"])


class TestTheRule:
    def test_editors_write_their_departments_finance_writes_all(self) -> None:
        from service.auth.rules import may_write_indicator

        editor = Principal(actor="e", role=Role.editor, departments=frozenset({EDU}))
        assert may_write_indicator(editor, EDU)
        assert not may_write_indicator(editor, HEALTH)
        assert not may_write_indicator(editor, None)  # no department: finance's
        for role in (Role.admin, Role.steward):
            assert may_write_indicator(Principal(actor="f", role=role), None)
        for role in (Role.reviewer, Role.platform):
            assert not may_write_indicator(Principal(actor="x", role=role, departments=frozenset({EDU})), EDU)


class TestProposalItems:
    def test_the_finding_an_editor_retires_another_departments_indicator(self, world: World) -> None:
        w = world
        r = w.as_(w.editor, "POST", "/v1/proposals", json=_body([_revise(w.mine), _retire(w.theirs)]))
        _forbidden(r, "items[1].indicator_code")
        assert w.theirs in r.json()["errors"][0]["message"]
        assert _count_proposals(w) == 0
        assert _status(w, w.theirs) == "standard"

    @pytest.mark.parametrize("make", [_retire, _revise], ids=["retire", "revise"])
    def test_an_editor_may_not_touch_finances_or_another_departments(self, world: World, make: Any) -> None:
        w = world
        for code in (w.theirs, w.seed):
            r = w.as_(w.editor, "POST", "/v1/proposals", json=_body([make(code)]))
            _forbidden(r, "items[0].indicator_code")
        assert _count_proposals(w) == 0

    def test_a_new_indicator_for_another_department_is_refused(self, world: World) -> None:
        w = world
        fields = {"name": "儿童健康体检率", "department": HEALTH, "level1": "产出指标", "level2": "数量指标",
                  "comparator": "≥", "value": 90, "unit": "%", "basis": BASIS}  # fmt: skip
        r = w.as_(w.editor, "POST", "/v1/proposals", json=_body([{"action": "create", "fields": fields}]))
        _forbidden(r, "items[0].fields.department")

    def test_own_items_still_pass(self, world: World) -> None:
        w = world
        r = w.as_(w.editor, "POST", "/v1/proposals", json=_body([_revise(w.mine)]))
        assert r.status_code == 201, r.text

    def test_patch_may_not_bring_in_a_foreign_item(self, world: World) -> None:
        w = world
        r = w.as_(w.editor, "POST", "/v1/proposals", json=_body([_revise(w.mine)]))
        pid, tag = r.json()["id"], r.headers["etag"]
        r = w.as_(w.editor, "PATCH", f"/v1/proposals/{pid}", json={"items": [_revise(w.mine), _retire(w.seed)]},
                  headers={"If-Match": tag})  # fmt: skip
        _forbidden(r, "items[1].indicator_code")
        p = w.as_(w.editor, "GET", f"/v1/proposals/{pid}").json()
        assert [i["indicator_code"] for i in p["items"]] == [w.mine]

    def test_a_table_row_retiring_a_foreign_indicator_is_refused_with_its_row(self, world: World) -> None:
        w = world
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(["指标编码", "指标名称", "状态"])
        ws.append([w.mine, "义务教育学校校舍维修改造完成率", "停用"])
        ws.append([w.theirs, "适龄儿童免疫规划疫苗接种率", "停用"])
        out = io.BytesIO()
        wb.save(out)
        r = w.as_(w.editor, "POST", "/v1/proposals:import", params={"title": "表", "department_code": EDU},
                  content=out.getvalue(), headers={"Content-Type": XLSX})  # fmt: skip
        _forbidden(r, "code", 3)
        assert _count_proposals(w) == 0

    def test_submission_and_approval_check_again(self, world: World) -> None:
        """The indicator changes owner after the proposal was written: submission and approval refuse."""
        w = world
        r = w.as_(w.editor, "POST", "/v1/proposals", json=_body([_retire(w.mine)]))
        pid = r.json()["id"]
        assert w.as_(w.editor, "POST", f"/v1/proposals/{pid}/submit").status_code == 200
        assert w.as_(w.steward, "POST", f"/v1/proposals/{pid}/reviewers",
                     json={"reviewers": ["reviewer-r"]}).status_code == 200  # fmt: skip
        tag = w.as_(w.reviewer, "GET", f"/v1/proposals/{pid}").headers["etag"]
        r = w.as_(w.reviewer, "POST", f"/v1/proposals/{pid}/decision", json={"decision": "start_review"},
                  headers={"If-Match": tag})  # fmt: skip
        assert r.status_code == 200, r.text
        tag = w.client.get(f"/v1/indicators/{w.mine}").headers["etag"]
        moved = w.client.patch(f"/v1/indicators/{w.mine}", json={"department": HEALTH, "reason": "划转"},
                               headers={"If-Match": tag})  # fmt: skip
        assert moved.status_code == 200, moved.text
        tag = w.as_(w.reviewer, "GET", f"/v1/proposals/{pid}").headers["etag"]
        r = w.as_(w.reviewer, "POST", f"/v1/proposals/{pid}/decision", json={"decision": "approve"},
                  headers={"If-Match": tag})  # fmt: skip
        _forbidden(r, "items[0].indicator_code")
        assert _status(w, w.mine) == "standard"
        # Sent back, the editor cannot submit it again either.
        tag = w.as_(w.reviewer, "GET", f"/v1/proposals/{pid}").headers["etag"]
        r = w.as_(w.reviewer, "POST", f"/v1/proposals/{pid}/decision",
                  json={"decision": "request_changes", "reason": "已划转"}, headers={"If-Match": tag})  # fmt: skip
        assert r.status_code == 200, r.text
        _forbidden(w.as_(w.editor, "POST", f"/v1/proposals/{pid}/submit"), "items[0].indicator_code")

    def test_finance_may_propose_for_any_indicator_and_a_retire_item_gets_the_ownership_check(
        self, world: World
    ) -> None:
        w = world
        r = w.as_(w.steward, "POST", "/v1/proposals", json=_body([_retire(w.theirs), _retire(w.seed)]))
        assert r.status_code == 201, r.text
        p = w.as_(w.steward, "POST", f"/v1/proposals/{r.json()['id']}/submit").json()
        owned = [(f["seq"], f["severity"]) for f in p["checks"] if f["check"] == "ownership"]
        assert owned == [(1, "error")]  # WSJ's indicator in a JYT proposal; the seed one is finance's


class TestDutiesAndGoals:
    @pytest.mark.parametrize("kind", ["duties", "strategic-goals"])
    def test_linking_a_foreign_indicator_is_refused(self, world: World, kind: str) -> None:
        w = world
        for code in (w.theirs, w.seed):
            r = w.as_(w.editor, "POST", f"/v1/departments/{EDU}/{kind}",
                      json={"name": "负责义务教育", "indicators": [w.mine, code]})  # fmt: skip
            _forbidden(r, "indicators[1]")
        r = w.as_(w.editor, "POST", f"/v1/departments/{EDU}/{kind}", json={"name": "负责义务教育", "indicators": [w.mine]})
        assert r.status_code == 201, r.text
        url = f"/v1/{'duties' if kind == 'duties' else 'strategic-goals'}/{r.json()['id']}"
        _forbidden(w.as_(w.editor, "PATCH", url, json={"indicators": [w.theirs, w.mine]}), "indicators[0]")
        assert w.as_(w.editor, "GET", f"/v1/departments/{EDU}/{kind}").json()[0]["indicators"] == [w.mine]
        # Finance links what it likes; the editor may still drop a link it did not make.
        r = w.as_(w.steward, "PATCH", url, json={"indicators": [w.mine, w.seed]})
        assert r.status_code == 200, r.text
        r = w.as_(w.editor, "PATCH", url, json={"indicators": [w.mine]})
        assert r.status_code == 200, r.text


class TestTargets:
    def test_a_target_cites_any_indicator_of_the_library(self, world: World) -> None:
        """Decided: a target reads indicators, it does not change them — any department's may be cited."""
        w = world
        body = {"external_id": "JY-2027-1", "department": EDU, "fiscal_year": 2027,
                "indicators": [{"code": c, "raw_value": "≥95%"} for c in (w.mine, w.theirs, w.seed)]}  # fmt: skip
        r = w.as_(w.editor, "POST", "/v1/targets", json=body)
        assert r.status_code == 201, r.text
        assert w.client.get(f"/v1/indicators/{w.theirs}/history").json()["current"] == 1
