"""Hostile values in every field of every page: a page answers with a Chinese HTML page and a 4xx, never a
500 and never JSON (issue 14, finding 7: ``item_id=²`` passed ``str.isdigit`` and broke ``int``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from service.web import ROOMS
from tests.support.auth import bearer, mint_key

BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"
# Digits str.isdigit accepts and int() refuses or reads as another number, empties, words, signs,
# numbers past any column, fullwidth digits, NUL, impossible dates, and a long string.
# A draft row of the suggest page as its form posts it (a create item of the proposal API).
DRAFT = (
    '{"action": "create", "fields": {"name": "新建供水管网长度", "kind": "分行业分领域", "level1": "产出指标",'
    ' "level2": "数量指标", "comparator": "≥", "value": 120, "unit": "公里"}}'
)
HOSTILE = ["²", "٣", "１２", "", "abc", "-1", "0", str(10**30), "1e3", "1 2", "\x00", "2026-13-45", "x" * 20_000]


@dataclass
class Site:
    client: TestClient
    steward: dict[str, str]
    editor: dict[str, str]
    proposal: int
    indicator: str
    basis: int


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("hostile-pages") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    app = create_app(Settings(database_url=url, seed=True))
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as c:
        steward = bearer(mint_key(url, "steward", owner="财政厅"))
        assert c.post("/v1/departments", json={"code": "JYT", "name": "省教育厅"}, headers=steward).status_code == 201
        editor = bearer(mint_key(url, "editor", owner="教育厅", departments=["JYT"]))
        mint_key(url, "reviewer", owner="专家甲")
        code = c.post("/v1/indicators", headers=steward, json={
            "name": "义务教育学校校舍维修改造完成率", "kind": "分行业分领域", "department": "JYT", "level1": "产出指标",
            "level2": "质量指标", "comparator": "≥", "value": 95, "unit": "%", "basis": BASIS, "status": "standard",
        }).json()["code"]  # fmt: skip
        body = {"title": "校舍指标调整", "department_code": "JYT",
                "items": [{"action": "revise", "indicator_code": code, "fields": {"value": 97}}]}  # fmt: skip
        pid = c.post("/v1/proposals", json=body, headers=editor).json()["id"]
        assert c.post(f"/v1/proposals/{pid}/submit", headers=editor).status_code == 200
        basis = c.get("/v1/legal-bases", headers=steward).json()["items"][0]["id"]
        yield Site(c, steward, editor, pid, code, basis)


def _is_page_refusal(response: Any) -> bool:
    return (
        400 <= response.status_code < 500
        and response.headers["content-type"].startswith("text/html")
        and 'lang="zh-CN"' in response.text
    )


def _acceptable(response: Any) -> bool:
    """A field that may legitimately hold the value (a comment body 'abc') may succeed; what fails must
    fail as a page. A 500, or JSON on a page, is never acceptable."""
    if response.status_code >= 500:
        return False
    if response.status_code >= 400:
        return _is_page_refusal(response)
    return True


def _forms(site: Site) -> list[tuple[str, dict[str, str], dict[str, str], set[str]]]:
    """(path, a valid form, the key to send, the fields whose hostile values must be refused)."""
    p = f"/ui/proposals/{site.proposal}"
    return [
        (f"{p}/comments", {"body": "请核实", "item_id": "", "field": "", "parent_id": ""}, site.steward,
         {"item_id", "parent_id"}),
        (f"{p}/decision", {"decision": "start_review", "etag": '"0"', "reason": ""}, site.steward,
         {"decision", "etag"}),
        (f"{p}/move", {"move": "withdraw", "etag": '"0"'}, site.editor, {"move", "etag"}),
        (f"{p}/reviewers", {"reviewers": "专家甲"}, site.steward, set()),
        ("/ui/suggest", {"text": "义务教育巩固率达到95%", "department": "", "sector": ""}, site.steward, set()),
        ("/ui/suggest/table.xlsx", {"text": "t", "keep": "0", "level1": "产出指标", "level2": "", "name": "n",
                                    "value": "1", "unit": "", "code": ""}, site.steward, set()),
        ("/ui/suggest/proposal", {"department_code": "JYT", "title": "新指标", "item": DRAFT, "text": "t"},
         site.editor, {"item"}),
        ("/ui/login", {"key": "icat_nothing", "next": "/ui/search"}, {}, {"key"}),
    ]  # fmt: skip


def test_every_page_form_route_is_probed(site: Site) -> None:
    """A page POST route added later cannot escape the hostile-value sweep."""
    probed = {path for path, *_ in _forms(site)}
    served = {
        ("/ui" + route.path).replace("{proposal_id}", str(site.proposal))
        for room in ROOMS
        for route in room.routes
        if "POST" in (getattr(route, "methods", None) or set())
    }
    assert "/ui/suggest/proposal" in served  # the walk sees the rooms' routes at all
    assert served - {"/ui/logout"} <= probed, sorted(served - probed)


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:12])
def test_every_form_field_refuses_hostile_values_as_a_page(site: Site, value: str) -> None:
    failures = []
    for path, valid, who, strict in _forms(site):
        for name in valid:
            response = site.client.post(path, data={**valid, name: value}, headers=who)
            ok = _is_page_refusal(response) if name in strict and value != valid[name] else _acceptable(response)
            if not ok:
                failures.append(f"{path} {name}={value[:12]!r}: {response.status_code} {response.text[:120]!r}")
        missing = site.client.post(path, data={}, headers=who)
        if not _acceptable(missing):
            failures.append(f"{path} (no fields): {missing.status_code} {missing.text[:120]!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:12])
def test_every_page_path_and_query_refuses_hostile_values_as_a_page(site: Site, value: str) -> None:
    who = site.steward
    segment = quote(value, safe="")
    requests: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET", "/ui/search", {"q": value}),
        ("GET", "/ui/search", {"kind": value}),
        ("GET", "/ui/search", {"status": value}),
        ("GET", "/ui/search", {"level1": value}),
        ("GET", "/ui/search", {"cursor": value}),
        ("GET", f"/ui/indicators/{segment}", None),
        ("GET", f"/ui/indicators/{segment}/graph.json", None),
        ("GET", "/ui/policies", {"q": value}),
        ("GET", "/ui/policies", {"status": value}),
        ("GET", f"/ui/policies/{segment}", None),
        ("GET", f"/ui/policies/{site.basis}", {"offset": value}),
        ("GET", "/ui/proposals", {"state": value}),
        ("GET", "/ui/proposals", {"offset": value}),
        ("GET", f"/ui/proposals/{segment}", None),
        ("POST", f"/ui/proposals/{segment}/comments", None),
        ("GET", "/ui/login", {"next": value}),
    ]
    failures = []
    for method, path, params in requests:
        if not value and path.endswith("/"):
            continue
        data = {"body": "x"} if method == "POST" else None
        response = site.client.request(method, path, params=params, data=data, headers=who)
        if not _acceptable(response):
            failures.append(f"{method} {path[:40]} {params}: {response.status_code} {response.text[:120]!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("value", ["²", "٣", "１２", "abc", "-1", "0", str(10**30), "x" * 30])
def test_a_comment_on_an_item_that_is_not_a_number_is_refused_on_the_proposal_page(site: Site, value: str) -> None:
    path = f"/ui/proposals/{site.proposal}/comments"
    for name in ("item_id", "parent_id"):
        response = site.client.post(path, data={"body": "请核实", name: value}, headers=site.steward)
        assert response.status_code == 422, (name, value, response.status_code)
        assert "填写的内容有误" in response.text
        assert "校舍指标调整" in response.text  # the proposal page again, with why


def test_a_change_set_item_proposing_odd_basis_ids_does_not_break_the_policy_page(site: Site) -> None:
    """What an item proposes is merged from the API caller's JSON: the page shows odd values as given
    (it looked each basis id up with int(), so 'replaces': ['²'] made the policy page a 500)."""
    c, steward = site.client, site.steward
    bases = c.get("/v1/legal-bases", params={"q": "基本公共卫生服务规范"}, headers=steward).json()["items"]
    current = next(b for b in bases if "第三版" in b["title"])
    r = c.post(f"/v1/legal-bases/{current['id']}/editions", headers=steward, json={
        "doc_no": "国卫基层发〔2099〕9号", "title": "国家基本公共卫生服务规范(第九版)", "effective_on": "2099-01-01",
        "summary": "调整考核指标",
    })  # fmt: skip
    assert r.status_code < 300, r.text
    listed = c.get("/v1/change-sets", params={"legal_basis_id": current["id"]}, headers=steward).json()["items"]
    cs = c.get(f"/v1/change-sets/{listed[0]['id']}", headers=steward).json()
    item = cs["items"][0]
    url = f"/v1/change-sets/{cs['id']}/items/{item['id']}"
    for odd in (["²"], ["٣", 10**30], "abc", [None, True, 1.5]):
        tag = c.get(url, headers=steward).headers.get("etag") or f'"csi{item["id"]}.v1"'
        patched = c.patch(url, json={"proposed": {"replaces": odd}}, headers={**steward, "If-Match": tag})
        if patched.status_code >= 300:
            continue  # the service refused it: nothing odd stored
        page = c.get(f"/ui/policies/{current['id']}", headers=steward)
        assert page.status_code == 200, (odd, page.status_code, page.text[:200])


def test_a_page_form_over_the_body_cap_gets_a_page(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    app = create_app(Settings(database_url=url, seed=False, max_body_bytes=2048))
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as c:
        key = bearer(mint_key(url, "platform"))
        declared = c.post("/ui/suggest", data={"text": "满意度" * 1000}, headers=key)
        assert declared.status_code == 413
        assert _is_page_refusal(declared)

        def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while it streams
            yield b"text=" + b"x" * 4096

        streamed = c.post("/ui/suggest", content=chunks(),
                          headers={**key, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert streamed.status_code == 413
        assert _is_page_refusal(streamed)
