"""The suggest page without a browser (issue 15): the field and drafts shown, who may propose drafts and for
which department, an unknown sector said on the page, kept rows remembered (the browser walk is in
test_suggest_page.py)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.support.auth import bearer, mint_key

TEXT = "2025年为全县义务教育学校新建塑胶跑道12000平方米,学生体质健康达标率达到92%,家长满意度不低于90%。"


@pytest.fixture
def site(seeded_url: str) -> Iterator[dict[str, Any]]:
    with TestClient(create_app(Settings(database_url=seeded_url, seed=True)), follow_redirects=False) as c:
        steward = bearer(mint_key(seeded_url, "steward", owner="财政厅"))
        for code, name in (("JYT", "省教育厅"), ("WJW", "省卫生健康委")):
            assert c.post("/v1/departments", json={"code": code, "name": name}, headers=steward).status_code == 201
        yield {
            "client": c,
            "steward": steward,
            "editor": bearer(mint_key(seeded_url, "editor", owner="教育厅", departments=["JYT"])),
            "reviewer": bearer(mint_key(seeded_url, "reviewer", owner="专家甲")),
        }


def drafts_of(page: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(r'name="item" value="([^"]*)"', page)]


def test_editor_sees_the_field_and_drafts_and_may_propose_for_its_own_department_only(site: dict[str, Any]) -> None:
    c = site["client"]
    r = c.post("/ui/suggest", headers=site["editor"], data={"text": TEXT})
    assert r.status_code == 200
    assert "行业领域:<strong>教育</strong>" in r.text
    assert 'class="draft"' in r.text
    assert "义务教育学校新建塑胶跑道面积" in r.text
    assert "提交为新指标提案" in r.text
    assert re.findall(r'<option value="([^"]+)"', r.text) == ["JYT"]
    items = drafts_of(r.text)
    assert items
    assert json.loads(items[0])["action"] == "create"
    # Another department's proposal is refused by the proposals service, and nothing is created.
    before = c.get("/v1/proposals", headers=site["steward"]).json()["total"]
    refused = c.post(
        "/ui/suggest/proposal",
        headers=site["editor"],
        data={"department_code": "WJW", "title": "越权", "item": items, "text": TEXT},
    )
    assert refused.status_code == 403
    assert c.get("/v1/proposals", headers=site["steward"]).json()["total"] == before
    ok = c.post(
        "/ui/suggest/proposal",
        headers=site["editor"],
        data={"department_code": "JYT", "title": "跑道", "item": items[:1], "text": TEXT},
    )
    assert ok.status_code == 303
    proposal = c.get(ok.headers["location"].replace("/ui/proposals/", "/v1/proposals/"), headers=site["steward"])
    assert proposal.json()["items"][0]["fields"]["department"] == "省教育厅"


def test_a_reviewer_sees_drafts_but_no_proposal_form(site: dict[str, Any]) -> None:
    r = site["client"].post("/ui/suggest", headers=site["reviewer"], data={"text": TEXT})
    assert r.status_code == 200
    assert 'class="draft"' in r.text
    assert "提交为新指标提案" not in r.text


def test_a_tampered_draft_is_refused_with_the_reason(site: dict[str, Any]) -> None:
    r = site["client"].post(
        "/ui/suggest/proposal",
        headers=site["editor"],
        data={"department_code": "JYT", "title": "坏", "item": ['{"action": "create", "fields": {}}'], "text": TEXT},
    )
    assert r.status_code == 422
    assert 'role="alert"' in r.text


def test_an_unknown_sector_is_said_on_the_page(site: dict[str, Any]) -> None:
    r = site["client"].post("/ui/suggest", headers=site["editor"], data={"text": TEXT, "sector": "火星农业"})
    assert r.status_code == 422
    assert "火星农业" in r.text
    assert 'role="alert"' in r.text


def test_rows_kept_in_a_downloaded_table_teach_similar_targets(site: dict[str, Any]) -> None:
    c = site["client"]
    hit = c.get("/v1/indicators", params={"q": "享受资助人数", "limit": 1}, headers=site["steward"]).json()["items"][0]
    text = "为全县义务教育学校学生发放资助,确保资助对象应助尽助"
    before = c.post("/v1/suggestions", json={"text": text}, headers=site["editor"]).json()["items"]
    assert all("相似目标曾使用 1 次" not in i["reasons"] for i in before)
    table = {"text": "为全县义务教育学校家庭经济困难学生发放资助", "keep": ["0"], "level1": ["产出指标"],
             "level2": ["数量指标"], "name": [hit["name"]], "value": ["2100"], "unit": ["人"], "code": [hit["code"]]}  # fmt: skip
    r = c.post("/ui/suggest/table.xlsx", headers=site["editor"], data=table)
    assert r.status_code == 200
    after = c.post("/v1/suggestions", json={"text": text}, headers=site["editor"]).json()["items"]
    item = next(i for i in after if i["indicator"]["code"] == hit["code"])
    assert "相似目标曾使用 1 次" in item["reasons"]
