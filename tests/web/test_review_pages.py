"""The review pages' rules without a browser: who may press which button, and a refused action leaves
nothing behind (the browser walk-through is in test_review.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.support.auth import bearer, mint_key

BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"


@dataclass
class Site:
    client: TestClient
    steward: dict[str, str]
    editor: dict[str, str]
    reviewer: dict[str, str]
    other_reviewer: dict[str, str]
    indicator: str
    proposal: int

    def page(self, who: dict[str, str], path: str) -> Any:
        return self.client.get(path, headers=who)

    def form(self, who: dict[str, str], path: str, data: dict[str, str]) -> Any:
        return self.client.post(path, headers=who, data=data)

    def etag(self) -> str:
        return str(self.client.get(f"/v1/proposals/{self.proposal}", headers=self.steward).headers["etag"])

    def state(self) -> str:
        return str(self.client.get(f"/v1/proposals/{self.proposal}", headers=self.steward).json()["state"])


@pytest.fixture
def site(seeded_url: str) -> Iterator[Site]:
    with TestClient(create_app(Settings(database_url=seeded_url, seed=True)), follow_redirects=False) as c:
        steward = bearer(mint_key(seeded_url, "steward", owner="财政厅"))
        assert c.post("/v1/departments", json={"code": "JYT", "name": "省教育厅"}, headers=steward).status_code == 201
        editor = bearer(mint_key(seeded_url, "editor", owner="教育厅", departments=["JYT"]))
        reviewer = bearer(mint_key(seeded_url, "reviewer", owner="专家甲"))
        other = bearer(mint_key(seeded_url, "reviewer", owner="专家乙"))
        code = c.post("/v1/indicators", headers=steward, json={
            "name": "义务教育学校校舍维修改造完成率", "kind": "分行业分领域", "department": "JYT", "level1": "产出指标",
            "level2": "质量指标", "comparator": "≥", "value": 95, "unit": "%", "basis": BASIS, "status": "standard",
        }).json()["code"]  # fmt: skip
        body = {"title": "校舍指标调整", "department_code": "JYT",
                "items": [{"action": "revise", "indicator_code": code, "fields": {"value": 97}}]}  # fmt: skip
        pid = c.post("/v1/proposals", json=body, headers=editor).json()["id"]
        assert c.post(f"/v1/proposals/{pid}/submit", headers=editor).status_code == 200
        assert c.post(f"/v1/proposals/{pid}/reviewers", json={"reviewers": ["专家甲"]}, headers=steward).status_code == 200
        yield Site(c, steward, editor, reviewer, other, code, pid)


def test_only_the_assigned_reviewer_sees_it_and_the_proposer_gets_no_buttons(site: Site) -> None:
    path = f"/ui/proposals/{site.proposal}"
    mine = site.page(site.reviewer, path)
    assert mine.status_code == 200
    assert 'value="start_review"' in mine.text
    assert site.page(site.other_reviewer, path).status_code == 404  # as if it did not exist
    assert "校舍指标调整" not in site.page(site.other_reviewer, "/ui/proposals").text
    own = site.page(site.editor, path)
    assert own.status_code == 200
    assert 'name="decision"' not in own.text  # the proposer never decides
    assert 'value="withdraw"' in own.text
    # And the route refuses an editor whatever the form says (the review policy, as in the API).
    r = site.form(site.editor, f"{path}/decision", {"decision": "start_review", "etag": site.etag()})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert site.state() == "submitted"


def test_a_stale_page_gets_412_and_changes_nothing(site: Site) -> None:
    path = f"/ui/proposals/{site.proposal}"
    old = site.etag()
    assert site.form(site.reviewer, f"{path}/decision", {"decision": "start_review", "etag": old}).status_code == 303
    r = site.form(site.reviewer, f"{path}/decision", {"decision": "reject", "reason": "不需要", "etag": old})
    assert r.status_code == 412
    assert "内容已被他人修改" in r.text
    assert site.state() == "in_review"


def test_a_refused_approval_is_rolled_back_whole(site: Site) -> None:
    """Approval moves the proposal first, then finds the indicator revised since submission: 409, and the
    move is undone with everything else (no change set, no revision, the proposal still in review)."""
    path = f"/ui/proposals/{site.proposal}"
    assert site.form(site.reviewer, f"{path}/decision", {"decision": "start_review", "etag": site.etag()}).status_code == 303
    current = site.client.get(f"/v1/indicators/{site.indicator}", headers=site.steward)
    r = site.client.patch(f"/v1/indicators/{site.indicator}", json={"value": 96},
                          headers={**site.steward, "If-Match": current.headers["etag"]})  # fmt: skip
    assert r.status_code == 200, r.text
    page = site.page(site.reviewer, path)
    assert "提交后该指标已被修订" in page.text
    audit_before = site.client.get("/v1/audit", params={"limit": 1}, headers=site.steward).json()
    r = site.form(site.reviewer, f"{path}/decision", {"decision": "approve", "etag": site.etag()})
    assert r.status_code == 409
    assert "当前状态不允许此操作" in r.text
    assert site.state() == "in_review"
    assert site.client.get("/v1/change-sets", headers=site.steward).json()["total"] == 0
    history = site.client.get(f"/v1/indicators/{site.indicator}/history", headers=site.steward).json()
    assert [r["number"] for r in history["revisions"]] == [1, 2]
    audit_after = site.client.get("/v1/audit", params={"limit": 1}, headers=site.steward).json()
    assert audit_after["items"][0]["id"] == audit_before["items"][0]["id"]


def test_comments_need_a_body_and_a_field_of_the_item(site: Site) -> None:
    path = f"/ui/proposals/{site.proposal}"
    r = site.form(site.reviewer, f"{path}/comments", {"body": "", "field": "value"})
    assert r.status_code == 422
    assert "评论内容" in r.text
    item = site.client.get(f"/v1/proposals/{site.proposal}", headers=site.steward).json()["items"][0]["id"]
    r = site.form(site.reviewer, f"{path}/comments", {"body": "<script>x</script>", "item_id": str(item), "field": "nope"})
    assert r.status_code == 422
    r = site.form(site.reviewer, f"{path}/comments", {"body": "<script>x</script>", "item_id": str(item), "field": "value"})
    assert r.status_code == 303
    assert r.headers["location"] == f"{path}#item-{item}"
    page = site.page(site.reviewer, path).text
    assert "&lt;script&gt;x&lt;/script&gt;" in page  # escaped, never markup
    assert "<script>x</script>" not in page


def test_finance_assigns_only_reviewers(site: Site) -> None:
    path = f"/ui/proposals/{site.proposal}"
    r = site.form(site.steward, f"{path}/reviewers", {"reviewers": "专家乙、教育厅"})
    assert r.status_code == 422
    assert re.search("教育厅 holds no active reviewer key", r.text)
    assert site.form(site.steward, f"{path}/reviewers", {"reviewers": "专家乙"}).status_code == 303
    assert site.page(site.other_reviewer, path).status_code == 200
    assert site.form(site.reviewer, f"{path}/reviewers", {"reviewers": "专家乙"}).status_code == 403


def test_policy_pages(site: Site) -> None:
    listing = site.page(site.reviewer, "/ui/policies?q=基本公共卫生")
    assert listing.status_code == 200
    basis = re.search(r'href="/ui/policies/(\d+)">国家基本公共卫生服务规范', listing.text)
    assert basis
    page = site.page(site.reviewer, f"/ui/policies/{basis.group(1)}")
    assert page.status_code == 200
    assert "影响范围" in page.text
    assert "WSJK-00001" in page.text
    missing = site.page(site.reviewer, "/ui/policies/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
