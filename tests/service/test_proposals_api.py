"""Proposals and their review over HTTP, on both backends: propose, check, review, approve, publish."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from service.auth.principal import Role
from tests.conftest import client_for
from tests.support.auth import bearer, mint_key

PROBLEM = "application/problem+json"
EDU, HEALTH = "JYT", "WJW"  # the proposing department, and another one
IN_FORCE_BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class World:
    """A seeded catalogue with two departments, one key per actor, and indicators of the education department."""

    client: TestClient  # admin
    editor: dict[str, str]  # editor of EDU
    other_editor: dict[str, str]  # editor of HEALTH
    reviewer: dict[str, str]
    other_reviewer: dict[str, str]
    steward: dict[str, str]
    vaccine: str  # the seed's 适龄儿童疫苗接种率, owned by HEALTH
    repair: str  # an EDU indicator to revise
    aid: str  # an EDU indicator to retire

    def as_(self, who: dict[str, str], method: str, url: str, **kwargs: Any) -> Any:
        return self.client.request(method, url, headers={**who, **kwargs.pop("headers", {})}, **kwargs)


def _patch_indicator(client: TestClient, code: str, body: dict[str, Any]) -> None:
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.patch(f"/v1/indicators/{code}", json=body, headers={"If-Match": tag})
    assert r.status_code == 200, r.text


def _indicator(client: TestClient, body: dict[str, Any]) -> str:
    full = {
        "kind": "分行业分领域", "department": EDU, "sector": "教育", "level1": "产出指标",
        "level2": "质量指标", "comparator": "≥", "unit": "%", "basis": IN_FORCE_BASIS,
        "definition": "按学年统计", "status": "standard", **body,
    }  # fmt: skip
    r = client.post("/v1/indicators", json=full)
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


@pytest.fixture
def world(seeded_url: str) -> Iterator[World]:
    with client_for(seeded_url, seed=True) as client:
        for code, name in ((EDU, "省教育厅"), (HEALTH, "省卫生健康委")):
            assert client.post("/v1/departments", json={"code": code, "name": name}).status_code == 201

        def key(role: Role, owner: str, departments: tuple[str, ...] = ()) -> dict[str, str]:
            return bearer(mint_key(seeded_url, role, owner=owner, departments=departments))

        hits = client.get("/v1/indicators", params={"q": "适龄儿童疫苗接种率", "limit": 1}).json()["items"]
        vaccine = hits[0]["code"]
        assert hits[0]["name"] == "适龄儿童疫苗接种率"
        _patch_indicator(client, vaccine, {"department": HEALTH, "reason": "归口卫生健康委"})
        yield World(
            client=client,
            editor=key(Role.editor, "editor-jyt", (EDU,)),
            other_editor=key(Role.editor, "editor-wjw", (HEALTH,)),
            reviewer=key(Role.reviewer, "reviewer-r"),
            other_reviewer=key(Role.reviewer, "reviewer-q"),
            steward=key(Role.steward, "steward-s"),
            vaccine=vaccine,
            repair=_indicator(client, {"name": "义务教育学校校舍维修改造完成率", "value": 95}),
            aid=_indicator(client, {"name": "学生资助资金发放及时率", "value": 100}),
        )


def _proposal(w: World, items: list[dict[str, Any]], who: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"title": "2027年教育指标调整", "department_code": EDU, "reason": "新学年绩效目标", "items": items}
    r = w.as_(who or w.editor, "POST", "/v1/proposals", json=body)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/v1/proposals/{r.json()['id']}"
    assert r.headers["etag"] == f'"p{r.json()["id"]}.v1"'
    return dict(r.json())


def _create_item(**fields: Any) -> dict[str, Any]:
    return {
        "action": "create",
        "fields": {
            "name": "农村义务教育学校改造覆盖率", "level1": "产出指标", "level2": "数量指标",
            "comparator": "≥", "value": 90, "unit": "%", "basis": IN_FORCE_BASIS,
            "definition": "完成改造的学校数/应改造学校数", **fields,
        },
        "reason": "新增",
    }  # fmt: skip


def _etag(w: World, pid: int, who: dict[str, str]) -> str:
    r = w.as_(who, "GET", f"/v1/proposals/{pid}")
    assert r.status_code == 200, r.text
    return str(r.headers["etag"])


def _submit(w: World, pid: int, who: dict[str, str] | None = None) -> dict[str, Any]:
    r = w.as_(who or w.editor, "POST", f"/v1/proposals/{pid}/submit")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "submitted"
    return dict(r.json())


def _decide(w: World, pid: int, who: dict[str, str], decision: str, reason: str | None = None) -> Any:
    return w.as_(
        who,
        "POST",
        f"/v1/proposals/{pid}/decision",
        json={"decision": decision, "reason": reason},
        headers={"If-Match": _etag(w, pid, who)},
    )


def _assign(w: World, pid: int, *reviewers: str) -> None:
    r = w.as_(w.steward, "POST", f"/v1/proposals/{pid}/reviewers", json={"reviewers": list(reviewers)})
    assert r.status_code == 200, r.text


def _count_proposals(w: World) -> int:
    return int(w.client.get("/v1/proposals").json()["total"])


def _in_review(w: World, items: list[dict[str, Any]]) -> dict[str, Any]:
    p = _proposal(w, items)
    _submit(w, p["id"])
    _assign(w, p["id"], "reviewer-r")
    r = _decide(w, p["id"], w.reviewer, "start_review")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _trail(w: World, **filters: str) -> list[dict[str, Any]]:
    """Audit entries matching the filters, oldest first (the API pages newest first)."""
    r = w.client.get("/v1/audit", params={**filters, "limit": 500})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))


class TestTheWholeStory:
    def test_propose_check_review_change_approve_and_publish(self, world: World) -> None:
        w = world
        target = {"external_id": "JY-2027-0001", "fiscal_year": 2027, "project": "学生资助",
                  "indicators": [{"code": w.aid, "comparator": "≥", "value": 100, "unit": "%"}]}  # fmt: skip
        assert w.client.post("/v1/targets", json=target).status_code == 201
        # 1. The education department proposes: a new indicator, a new value, a retirement.
        p = _proposal(
            w,
            [
                _create_item(name="适龄儿童疫苗接种完成率", level2="数量指标", value=98, unit="人"),
                {
                    "action": "revise",
                    "indicator_code": w.repair,
                    "fields": {"value": 97},
                    "reason": "标准提高",
                },
                {"action": "retire", "indicator_code": w.aid, "reason": "并入学生资助综合指标"},
            ],
        )
        pid = p["id"]
        assert (p["state"], p["proposer"], p["item_count"]) == ("draft", "editor-jyt", 3)
        first, second, third = p["items"]
        assert first["indicator_code"] is None
        assert second["base_revision"] is None

        # 2. Submission runs the checks and stores them, with the revisions judged against.
        p = _submit(w, pid)
        assert p["checked_at"] is not None
        assert p["counts"]["error"] == 0
        [duplicate] = [f for f in p["checks"] if f["check"] == "duplicate"]
        assert (duplicate["severity"], duplicate["item"], duplicate["field"]) == (
            "warning",
            first["id"],
            "name",
        )
        [seed] = [r for r in duplicate["related"] if r["code"] == w.vaccine]
        assert seed["department_code"] == HEALTH
        assert seed["name"] == "适龄儿童疫苗接种率"
        assert seed["score"] >= 0.75
        assert seed["href"] == f"/v1/indicators/{w.vaccine}"
        consistency = [f for f in p["items"][0]["checks"] if f["check"] == "consistency"]
        assert [(f["field"], f["severity"]) for f in consistency] == [("unit", "warning")]  # 率 counted in 人
        assert p["items"][1]["base_revision"] == 1
        assert p["items"][2]["base_revision"] == 1
        [usage] = p["items"][2]["checks"]  # retiring is allowed; the reviewer learns who still uses it
        assert (usage["check"], usage["severity"]) == ("usage", "info")
        assert "JY-2027-0001" in usage["message"]

        # 3. Finance assigns a reviewer, who starts the review and comments on item 1's unit.
        assert w.as_(w.reviewer, "GET", f"/v1/proposals/{pid}").status_code == 404  # not assigned yet
        _assign(w, pid, "reviewer-r")
        r = _decide(w, pid, w.reviewer, "start_review")
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "in_review"
        assert r.json()["reviewers"] == ["reviewer-r"]
        r = w.as_(w.reviewer, "POST", f"/v1/proposals/{pid}/comments",
                  json={"item_id": first["id"], "field": "unit", "body": "接种完成率的计量单位应为%"})  # fmt: skip
        assert r.status_code == 201, r.text
        comment = r.json()
        assert (comment["author"], comment["role"], comment["seq"]) == ("reviewer-r", "reviewer", 1)
        r = w.as_(w.editor, "POST", f"/v1/proposals/{pid}/comments",
                  json={"parent_id": comment["id"], "body": "已改为%"})  # fmt: skip
        assert r.status_code == 201
        assert r.json()["field"] == "unit"
        r = _decide(w, pid, w.reviewer, "request_changes", "请修正计量单位")
        assert r.status_code == 200, r.text
        assert (r.json()["state"], r.json()["decision"]) == ("changes_requested", "request_changes")

        # 4. The editor fixes the item (If-Match) and submits again.
        items = [
            {"id": first["id"], **_create_item(name="适龄儿童疫苗接种完成率", level2="数量指标", value=98)},
            {"id": second["id"], "action": "revise", "indicator_code": w.repair, "fields": {"value": 97}},
            {
                "id": third["id"],
                "action": "retire",
                "indicator_code": w.aid,
                "reason": "并入学生资助综合指标",
            },
        ]
        r = w.as_(w.editor, "PATCH", f"/v1/proposals/{pid}", json={"items": items},
                  headers={"If-Match": _etag(w, pid, w.editor)})  # fmt: skip
        assert r.status_code == 200, r.text
        assert [i["id"] for i in r.json()["items"]] == [first["id"], second["id"], third["id"]]
        assert r.json()["items"][0]["comments"] == 2  # the thread stays with the edited item
        p = _submit(w, pid)
        assert not any(f["check"] == "consistency" for f in p["items"][0]["checks"])

        # 5. The reviewer approves: one change set, applied at once.
        assert _decide(w, pid, w.reviewer, "start_review").status_code == 200
        r = _decide(w, pid, w.reviewer, "approve", "符合指标设置要求")
        assert r.status_code == 200, r.text
        p = r.json()
        assert (p["state"], p["decided_by"], p["decision"]) == ("approved", "reviewer-r", "approve")
        new_code = p["items"][0]["indicator_code"]
        assert new_code
        assert p["change_set_id"]
        cs = w.client.get(f"/v1/change-sets/{p['change_set_id']}").json()
        assert (cs["origin"], cs["status"], cs["proposal_id"], cs["applied_by"]) == (
            "proposal", "applied", pid, "reviewer-r"
        )  # fmt: skip
        assert f"提案 #{pid}" in cs["summary"]
        assert "reviewer-r" in cs["summary"]
        assert "评论 2 条" in cs["summary"]
        actions = cs["counts"]["by_action"]
        assert (actions["create"], actions["revise"], actions["retire"], cs["counts"]["by_decision"]["accepted"]) == (
            1, 1, 1, 3
        )  # fmt: skip
        assert {i["indicator_code"] for i in cs["items"]} == {new_code, w.repair, w.aid}

        # The revisions carry the change set and a reason naming the proposal; history shows them.
        created = w.client.get(f"/v1/indicators/{new_code}").json()
        assert (created["status"], created["department_code"], created["unit"]) == ("standard", EDU, "%")
        for code in (new_code, w.repair, w.aid):
            newest = w.client.get(f"/v1/indicators/{code}/history").json()["revisions"][-1]
            assert newest["change_set_id"] == p["change_set_id"]
            assert f"提案 #{pid}" in newest["reason"]
            assert newest["author"] == "editor-jyt"
        assert w.client.get(f"/v1/indicators/{w.repair}").json()["value"] == 97
        assert w.client.get(f"/v1/indicators/{w.aid}").json()["status"] == "retired"

        review = w.as_(w.editor, "GET", f"/v1/proposals/{pid}/review").json()
        assert (review["decision"], review["decided_by"], review["comment_count"]) == (
            "approve",
            "reviewer-r",
            2,
        )
        assert review["created"] == [new_code]
        assert len(review["revisions"]) == 3
        assert review["change_set_href"] == f"/v1/change-sets/{p['change_set_id']}"
        assert [h["move"] for h in review["history"]] == [
            "create", "submit", "start_review", "request_changes", "submit", "start_review", "approve"
        ]  # fmt: skip
        assert len(review["comments"]) == 1
        assert len(review["comments"][0]["replies"]) == 1

        # 6. Finance publishes a release that contains the new indicator (and not the retired one).
        r = w.as_(w.steward, "POST", "/v1/releases", json={"name": "2027.1", "effective_on": "2027-01-01"})
        assert r.status_code == 201, r.text
        assert w.client.get(f"/v1/indicators/{new_code}", params={"release": "2027.1"}).status_code == 200
        assert w.client.get(f"/v1/indicators/{w.aid}", params={"release": "2027.1"}).status_code == 404

        # 7. The audit trail shows every step: who, in which role, what before and after, and why.
        trail = _trail(w, entity_type="proposal", entity_id=str(pid))
        assert [(e["action"], e["actor"], e["role"]) for e in trail] == [
            ("create", "editor-jyt", "editor"),
            ("submit", "editor-jyt", "editor"),
            ("start_review", "reviewer-r", "reviewer"),
            ("request_changes", "reviewer-r", "reviewer"),
            ("update", "editor-jyt", "editor"),  # the PATCH: stored findings cleared
            ("edit_items", "editor-jyt", "editor"),
            ("submit", "editor-jyt", "editor"),
            ("start_review", "reviewer-r", "reviewer"),
            ("approve", "reviewer-r", "reviewer"),
        ]
        changes_requested, edited, approval = trail[3], trail[5], trail[8]
        assert changes_requested["reason"] == "请修正计量单位"
        assert (changes_requested["before"]["state"], changes_requested["after"]["state"]) == (
            "in_review", "changes_requested"
        )  # fmt: skip
        assert edited["before"]["items"][0]["fields"]["unit"] == "人"
        assert edited["after"]["items"][0]["fields"]["unit"] == "%"
        assert approval["route"] == "/v1/proposals/{proposal_id}/decision"
        assert approval["reason"] == "符合指标设置要求"
        # The approval's one request wrote the change set and the three indicators, all traced to it.
        same_request = _trail(w, request_id=approval["request_id"])
        touched = {(e["entity_type"], e["entity_id"]) for e in same_request}
        assert {("indicator", new_code), ("indicator", w.repair), ("indicator", w.aid)} <= touched
        assert ("change_set", str(p["change_set_id"])) in touched
        assert {e["actor"] for e in same_request} == {"reviewer-r"}
        [assignment] = _trail(w, entity_type="proposal_reviewer")
        assert (assignment["actor"], assignment["role"], assignment["after"]["reviewer"]) == (
            "steward-s", "steward", "reviewer-r"
        )  # fmt: skip
        assert {e["actor"] for e in _trail(w, entity_type="proposal_comment")} == {"reviewer-r", "editor-jyt"}
        [release] = _trail(w, entity_type="release", entity_id="2027.1")
        assert (release["actor"], release["action"]) == ("steward-s", "create")
        assert w.client.get("/v1/audit/verify").json()["ok"] is True


class TestWorkflow:
    def test_moves_outside_the_workflow_are_409(self, world: World) -> None:
        w = world
        pid = _proposal(w, [_create_item()])["id"]
        assert _decide(w, pid, w.steward, "start_review").status_code == 409  # still a draft
        _submit(w, pid)
        r = _decide(w, pid, w.steward, "approve")
        assert r.status_code == 409
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["allowed"] == ["start_review", "withdraw"]
        assert w.as_(w.editor, "POST", f"/v1/proposals/{pid}/submit").status_code == 409
        r = w.as_(w.editor, "PATCH", f"/v1/proposals/{pid}", json={"title": "改"},
                  headers={"If-Match": _etag(w, pid, w.editor)})  # fmt: skip
        assert r.status_code == 409  # the reviewer's turn
        assert w.as_(w.editor, "POST", f"/v1/proposals/{pid}/withdraw").json()["state"] == "withdrawn"
        assert w.as_(w.editor, "POST", f"/v1/proposals/{pid}/withdraw").status_code == 409
        assert _decide(w, pid, w.steward, "start_review").status_code == 409

    def test_edits_need_a_current_etag(self, world: World) -> None:
        w = world
        pid = _proposal(w, [_create_item()])["id"]
        url = f"/v1/proposals/{pid}"
        assert w.as_(w.editor, "PATCH", url, json={"title": "新标题"}).status_code == 428
        r = w.as_(w.editor, "PATCH", url, json={"title": "新标题"}, headers={"If-Match": '"p1.v0"'})
        assert r.status_code == 412
        r = w.as_(
            w.editor, "PATCH", url, json={"title": "新标题"}, headers={"If-Match": _etag(w, pid, w.editor)}
        )
        assert r.status_code == 200
        assert r.json()["title"] == "新标题"
        assert r.headers["etag"].endswith('.v2"')
        r = w.as_(w.steward, "POST", f"{url}/decision", json={"decision": "start_review"})
        assert r.status_code == 428

    def test_the_proposer_never_reviews_their_own_proposal(self, world: World) -> None:
        w = world
        pid = _proposal(w, [_create_item()], who=w.steward)["id"]
        _submit(w, pid, w.steward)
        r = _decide(w, pid, w.steward, "start_review")
        assert r.status_code == 403
        assert r.headers["content-type"].startswith(PROBLEM)
        r = w.as_(w.steward, "POST", f"/v1/proposals/{pid}/reviewers", json={"reviewers": ["steward-s"]})
        assert r.status_code == 422
        assert _decide(w, pid, w.client.headers, "start_review").status_code == 200  # another finance actor
        assert _decide(w, pid, w.steward, "approve").status_code == 403

    def test_approval_is_blocked_while_a_finding_is_an_error(self, world: World) -> None:
        w = world
        p = _in_review(
            w, [_create_item(name="农村集中供水水质达标率", basis="GB 5749-2006《生活饮用水卫生标准》")]
        )
        [basis] = [f for f in p["checks"] if f["check"] == "basis"]
        assert basis["severity"] == "error"
        assert "GB 5749-2022" in basis["message"]
        assert [r["code"] for r in basis["related"]] == ["GB 5749-2006", "GB 5749-2022"]
        r = _decide(w, p["id"], w.reviewer, "approve")
        assert r.status_code == 409
        assert r.json()["blocking_count"] == 1
        assert r.json()["errors"][0]["field"] == "items[0].fields.basis"
        assert w.client.get(f"/v1/proposals/{p['id']}").json()["state"] == "in_review"
        assert _decide(w, p["id"], w.reviewer, "reject").status_code == 422  # a rejection says why

    def test_a_basis_repealed_after_submission_blocks_approval(self, world: World) -> None:
        w = world
        p = _in_review(w, [_create_item(name="农村义务教育学校改造覆盖率")])
        assert p["counts"]["error"] == 0
        [basis] = w.client.get("/v1/legal-bases", params={"q": "皖政〔2016〕31号"}).json()["items"]
        r = w.as_(
            w.steward, "POST", f"/v1/legal-bases/{basis['id']}/repeal", json={"effective_on": "2026-01-01"}
        )
        assert r.status_code == 201, r.text
        # The stored findings were clean; approval checks the catalogue of now and finds the repeal.
        r = _decide(w, p["id"], w.reviewer, "approve")
        assert r.status_code == 409, r.text
        assert "since it was submitted" in r.json()["detail"]
        assert r.json()["errors"][0]["field"] == "items[0].fields.basis"
        assert w.client.get(f"/v1/proposals/{p['id']}").json()["state"] == "in_review"
        assert _decide(w, p["id"], w.reviewer, "reject", "依据已废止").json()["state"] == "rejected"

    def test_a_revision_after_submission_makes_approval_409(self, world: World) -> None:
        w = world
        p = _in_review(w, [{"action": "revise", "indicator_code": w.repair, "fields": {"value": 99}}])
        _patch_indicator(w.client, w.repair, {"value": 96, "reason": "年中调整"})
        r = _decide(w, p["id"], w.reviewer, "approve")
        assert r.status_code == 409, r.text
        assert r.json()["stale"] == [
            {
                "item": p["items"][0]["id"],
                "seq": 1,
                "code": w.repair,
                "base_revision": 1,
                "current_revision": 2,
            }
        ]
        assert w.client.get(f"/v1/indicators/{w.repair}").json()["value"] == 96
        after = w.client.get(f"/v1/proposals/{p['id']}").json()
        assert (after["state"], after["change_set_id"]) == ("in_review", None)


class TestChecks:
    def test_each_rule_names_the_item_and_field(self, world: World) -> None:
        w = world
        items = [
            _create_item(name="学生资助政策知晓率", comparator="定性", value="较好", unit=None),
            _create_item(name="义务教育巩固率", value=120),
            _create_item(name="校园安全状况", comparator="定性", value="良好"),
            _create_item(name="教师培训合格率", level2="经济效益指标"),
            _create_item(name="教师培训人次", value=5000, unit=None, basis=None),
            _create_item(name="教师培训完成率", level1="不存在的一级"),
        ]
        p = _proposal(w, items)
        found = {(f["seq"], f["check"], f["field"], f["severity"]) for f in _submit(w, p["id"])["checks"]}
        assert {
            (1, "quantifiable", "comparator", "warning"),  # 知晓率 could be measured
            (2, "consistency", "value", "error"),  # 120 %
            (3, "consistency", "unit", "error"),  # qualitative, yet in %
            (4, "levels", "level2", "error"),  # 经济效益 is not under 产出
            (5, "required", "unit", "error"),
            (5, "required", "basis", "error"),
            (6, "levels", "level1", "error"),
        } <= found
        assert not any(seq == 1 and severity == "error" for seq, _, _, severity in found)


class TestAccess:
    def test_an_editor_proposes_and_reads_only_for_their_departments(self, world: World) -> None:
        w = world
        body = {"title": "越权", "department_code": EDU, "items": [_create_item()]}
        r = w.as_(w.other_editor, "POST", "/v1/proposals", json=body)
        assert r.status_code == 403
        assert r.headers["content-type"].startswith(PROBLEM)
        pid = _proposal(w, [_create_item()])["id"]
        for method, url in (("GET", ""), ("GET", "/review"), ("GET", "/comments"), ("POST", "/submit")):
            assert w.as_(w.other_editor, method, f"/v1/proposals/{pid}{url}").status_code == 404, url
        assert w.as_(w.other_editor, "GET", "/v1/proposals").json()["total"] == 0
        assert w.as_(w.editor, "GET", "/v1/proposals").json()["items"][0]["id"] == pid
        assert (
            w.as_(w.editor, "POST", f"/v1/proposals/{pid}/reviewers", json={"reviewers": ["x"]}).status_code
            == 403
        )

    def test_a_reviewer_sees_only_assigned_proposals(self, world: World) -> None:
        w = world
        p = _in_review(w, [_create_item()])
        pid = p["id"]
        assert w.as_(w.other_reviewer, "GET", f"/v1/proposals/{pid}").status_code == 404
        r = w.as_(w.other_reviewer, "POST", f"/v1/proposals/{pid}/decision", json={"decision": "approve"},
                  headers={"If-Match": "*"})  # fmt: skip
        assert r.status_code == 404
        r = w.as_(w.other_reviewer, "POST", f"/v1/proposals/{pid}/comments", json={"body": "?"})
        assert r.status_code == 404
        assert w.as_(w.other_reviewer, "GET", "/v1/proposals").json()["total"] == 0
        mine = w.as_(w.reviewer, "GET", "/v1/proposals", params={"state": "in_review"}).json()
        assert [x["id"] for x in mine["items"]] == [pid]
        assert (
            w.as_(w.reviewer, "POST", "/v1/proposals", json={}).status_code == 403
        )  # reviewers never propose
        r = w.as_(w.steward, "POST", f"/v1/proposals/{pid}/reviewers", json={"reviewers": ["nobody"]})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "reviewers"

    def test_an_unassigned_reviewer_loses_the_proposal(self, world: World) -> None:
        w = world
        pid = _in_review(w, [_create_item()])["id"]
        assert w.as_(w.reviewer, "DELETE", f"/v1/proposals/{pid}/reviewers/reviewer-q").status_code == 403
        assert w.as_(w.steward, "DELETE", f"/v1/proposals/{pid}/reviewers/reviewer-q").status_code == 404
        r = w.as_(w.steward, "DELETE", f"/v1/proposals/{pid}/reviewers/reviewer-r")
        assert r.status_code == 200, r.text
        assert r.json()["reviewers"] == []
        assert w.as_(w.reviewer, "GET", f"/v1/proposals/{pid}").status_code == 404
        [removed] = _trail(w, entity_type="proposal_reviewer", action="delete")
        assert (removed["actor"], removed["before"]["reviewer"]) == ("steward-s", "reviewer-r")
        # A closed proposal keeps its reviewers on record.
        _assign(w, pid, "reviewer-r")
        assert _decide(w, pid, w.reviewer, "reject", "重复").status_code == 200
        assert w.as_(w.steward, "DELETE", f"/v1/proposals/{pid}/reviewers/reviewer-r").status_code == 409


class TestValidation:
    def test_items_are_validated_like_the_indicator_api(self, world: World) -> None:
        w = world
        items = [
            _create_item(weight="heavy", colour="red"),
            {"action": "revise", "indicator_code": "NO-SUCH-1", "fields": {"value": 1}},
            {"action": "create", "indicator_code": w.repair, "fields": {"name": "乙", "status": "standard"}},
            {"action": "retire", "indicator_code": w.aid, "fields": {"value": 1}},
        ]
        body = {"title": "坏提案", "department_code": EDU, "items": items}
        r = w.as_(w.editor, "POST", "/v1/proposals", json=body)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM)
        fields = {e["field"] for e in r.json()["errors"]}
        assert {"items[0].fields.weight", "items[0].fields.colour", "items[1].indicator_code",
                "items[2].indicator_code", "items[2].fields.status", "items[3].fields"} <= fields  # fmt: skip
        assert _count_proposals(w) == 0

    def test_a_table_becomes_one_proposal_and_a_bad_row_stores_nothing(self, world: World) -> None:
        w = world
        header = ["指标编码", "指标名称", "一级指标", "二级指标", "指标性质", "指标值", "计量单位", "状态"]
        good = [
            [None, "学前教育毛入园率", "产出指标", "数量指标", "≥", 92, "%", None],
            [w.repair, "义务教育学校校舍维修改造完成率", "产出指标", "质量指标", "≥", 98, "%", None],
            [w.aid, "学生资助资金发放及时率", "产出指标", "质量指标", "≥", 100, "%", "停用"],
            [
                w.vaccine,
                "适龄儿童疫苗接种率",
                "产出指标",
                "数量指标",
                None,
                "100.00%",
                None,
                None,
            ],  # unchanged
        ]
        bad = [*good, [None, "课后服务满意度", "满意度指标", None, "≥", "较好", "%", None]]
        params = {"title": "教育指标表", "department_code": EDU}
        r = w.as_(w.editor, "POST", "/v1/proposals:import", params=params, content=_xlsx(header, bad),
                  headers={"Content-Type": XLSX})  # fmt: skip
        assert r.status_code == 422, r.text
        assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(6, "value")], r.text
        assert _count_proposals(w) == 0
        r = w.as_(w.editor, "POST", "/v1/proposals:import", params=params, content=_xlsx(header, good),
                  headers={"Content-Type": XLSX})  # fmt: skip
        assert r.status_code == 201, r.text
        items = r.json()["items"]
        assert [(i["action"], i["indicator_code"]) for i in items] == [
            ("create", None), ("revise", w.repair), ("retire", w.aid)
        ]  # fmt: skip
        assert items[1]["fields"] == {"raw_value": "98"}  # only what the row changes (指标值 is the text)
        assert items[0]["fields"]["name"] == "学前教育毛入园率"
        r = w.as_(w.other_editor, "POST", "/v1/proposals:import", params=params, content=_xlsx(header, good),
                  headers={"Content-Type": XLSX})  # fmt: skip
        assert r.status_code == 403


def _xlsx(header: list[str], rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "指标"
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
