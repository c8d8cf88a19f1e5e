"""Cross-site requests on the pages (issue 14, finding 10): every unsafe page request must come from this
site (Origin, else Referer) and, when the log-in cookie authenticates it, carry the page's token; the
log-in form is protected before there is a session (double submit), and no API route reads the cookie.

The client speaks https (as browsers do to the service), so the Secure cookies travel as in a browser.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from service.app import API_ROUTERS, create_app
from service.auth.access import PageAccess, access_of
from service.settings import Settings
from service.web import ROOMS
from tests.support.auth import bearer, mint_key

BASE = "https://testserver"
SAME = {"Origin": BASE}
EVIL = {"Origin": "https://evil.example"}
BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"


@dataclass
class Site:
    url: str
    app: Any
    steward: str
    reviewer: str
    proposal: int

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE, follow_redirects=False)


def token_of(html: str) -> str:
    """The form token a page carries ('' if none: before the fix pages had none, and the checks that
    matter are the refusals below, not this helper)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return found.group(1) if found else ""


def login(client: TestClient, key: str) -> str:
    """Log in as a browser does; returns the token the pages then carry."""
    form = client.get("/ui/login")
    r = client.post("/ui/login", data={"key": key, "csrf_token": token_of(form.text)}, headers=SAME)
    assert r.status_code == 303, r.text
    return token_of(client.get("/ui/search").text)  # the log-out form carries it


def is_refusal_page(r: Any) -> bool:
    return r.status_code == 403 and r.headers["content-type"].startswith("text/html") and "跨站请求已拒绝" in r.text


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("csrf-pages") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    app = create_app(Settings(database_url=url, seed=True))
    with TestClient(app, base_url=BASE) as c:
        steward = mint_key(url, "steward", owner="财政厅")
        admin = bearer(steward)
        assert c.post("/v1/departments", json={"code": "JYT", "name": "省教育厅"}, headers=admin).status_code == 201
        editor = bearer(mint_key(url, "editor", owner="教育厅", departments=["JYT"]))
        code = c.post("/v1/indicators", headers=admin, json={
            "name": "义务教育学校校舍维修改造完成率", "kind": "分行业分领域", "department": "JYT", "level1": "产出指标",
            "level2": "质量指标", "comparator": "≥", "value": 95, "unit": "%", "basis": BASIS, "status": "standard",
        }).json()["code"]  # fmt: skip
        body = {"title": "校舍指标调整", "department_code": "JYT",
                "items": [{"action": "revise", "indicator_code": code, "fields": {"value": 97}}]}  # fmt: skip
        pid = c.post("/v1/proposals", json=body, headers=editor).json()["id"]
        assert pid == 1
        assert c.post(f"/v1/proposals/{pid}/submit", headers=editor).status_code == 200
        yield Site(url, app, steward, mint_key(url, "reviewer", owner="专家甲"), pid)


def comments(site: Site) -> list[str]:
    with site.client() as c:
        threads = c.get(f"/v1/proposals/{site.proposal}/comments", headers=bearer(site.steward)).json()
    return [t["body"] for t in threads["threads"]]


def test_a_cross_site_post_riding_the_session_cookie_is_refused(site: Site) -> None:
    with site.client() as c:
        token = login(c, site.steward)
        path = f"/ui/proposals/{site.proposal}/comments"
        for headers in (
            EVIL,
            {"Origin": "null"},  # a sandboxed frame, or a page with no-referrer
            {"Origin": "http://testserver"},  # the same host over plain http is another origin
            {"Origin": "https://testserver.evil.example"},
            {"Referer": "https://evil.example/attack.html"},  # no Origin: the Referer decides
        ):
            r = c.post(path, data={"body": f"伪造评论 {headers}", "csrf_token": token}, headers=headers)
            assert is_refusal_page(r), (headers, r.status_code, r.text[:200])
        assert not [b for b in comments(site) if b.startswith("伪造评论")]
        ok = c.post(path, data={"body": "本站评论", "csrf_token": token}, headers=SAME)
        assert ok.status_code == 303
        via_referer = c.post(path, data={"body": "本站评论二", "csrf_token": token},
                             headers={"Referer": f"{BASE}/ui/proposals/{site.proposal}"})  # fmt: skip
        assert via_referer.status_code == 303
        assert {"本站评论", "本站评论二"} <= set(comments(site))


def test_a_post_without_this_sessions_token_is_refused(site: Site) -> None:
    with site.client() as other:
        others_token = login(other, site.reviewer)
    with site.client() as c:
        token = login(c, site.steward)
        assert token
        assert others_token
        assert token != others_token
        path = f"/ui/proposals/{site.proposal}/comments"
        for sent in ({}, {"csrf_token": ""}, {"csrf_token": "x" * 64}, {"csrf_token": others_token}):
            r = c.post(path, data={"body": "无令牌评论", **sent}, headers=SAME)
            assert is_refusal_page(r), (sent, r.status_code)
        # Neither Origin nor Referer (a script, an old browser): the token alone decides.
        assert is_refusal_page(c.post(path, data={"body": "无令牌评论"}))
        assert c.post(path, data={"body": "脚本评论", "csrf_token": token}).status_code == 303
        assert "无令牌评论" not in comments(site)
        # htmx sends the token as a header (hx-headers on <body>), once for the whole page.
        page = c.get(f"/ui/proposals/{site.proposal}")
        assert f"hx-headers='{{\"X-CSRF-Token\": \"{token}\"}}'" in page.text
        r = c.post(path, data={"body": "htmx 评论"}, headers={**SAME, "X-CSRF-Token": token, "HX-Request": "true"})
        assert r.status_code == 303
        assert is_refusal_page(c.post(path, data={"body": "x"}, headers={**SAME, "X-CSRF-Token": others_token}))
        # Log-out is a state change too: another site may not log the user out.
        assert is_refusal_page(c.post("/ui/logout", headers=EVIL))
        assert is_refusal_page(c.post("/ui/logout", headers=SAME))
        assert c.get("/ui/search").status_code == 200  # still logged in
        assert c.post("/ui/logout", data={"csrf_token": token}, headers=SAME).status_code == 303


def test_login_csrf_fails(site: Site) -> None:
    """Another site posting the log-in form with the attacker's key must not log the victim in."""
    with site.client() as victim:
        victim.get("/ui/login")  # the victim has been here before: a pre-session cookie of their own
        with site.client() as attacker:
            attackers_token = token_of(attacker.get("/ui/login").text)
        for headers, data in (
            (EVIL, {"key": site.steward}),
            (EVIL, {"key": site.steward, "csrf_token": attackers_token}),
            (SAME, {"key": site.steward}),  # a sibling host that strips Origin still lacks the token
            ({}, {"key": site.steward, "csrf_token": attackers_token}),
        ):
            r = victim.post("/ui/login", data=data, headers=headers)
            assert is_refusal_page(r), (headers, data.keys(), r.status_code)
            assert "icat_key" not in r.headers.get("set-cookie", "")
        assert victim.get("/ui/search").status_code == 303  # still not logged in
    with site.client() as fresh:
        r = fresh.post("/ui/login", data={"key": site.steward}, headers=SAME)  # never saw the form
        assert is_refusal_page(r)


def test_the_presession_cookie_is_tied_to_the_form_and_flagged_like_the_login(site: Site) -> None:
    with site.client() as c:
        form = c.get("/ui/login")
        cookie = form.headers["set-cookie"]
        for flag in ("icat_csrf=", "HttpOnly", "Secure", "SameSite=strict", "Path=/ui"):
            assert flag.lower() in cookie.lower(), (flag, cookie)
        assert token_of(form.text)
        assert c.cookies.get("icat_csrf") == token_of(form.text)
        again = c.get("/ui/login")  # a second tab: the same token, no new cookie
        assert token_of(again.text) == token_of(form.text)
        assert "set-cookie" not in again.headers
        r = c.post("/ui/login", data={"key": site.steward, "csrf_token": token_of(form.text)}, headers=SAME)
        assert r.status_code == 303
        set_cookies = r.headers.get_list("set-cookie")
        assert any(s.startswith("icat_key=") and "httponly" in s.lower() for s in set_cookies)
        assert any(s.startswith('icat_csrf=""') for s in set_cookies)  # the session's token takes over


def test_a_proxy_named_origin_is_the_only_one_accepted(site: Site) -> None:
    app = create_app(Settings(database_url=site.url, seed=False, page_origin="https://zhibiao.czt.example.gov.cn"))
    with TestClient(app, base_url=BASE, follow_redirects=False) as c:
        token = token_of(c.get("/ui/login").text)
        data = {"key": site.steward, "csrf_token": token}
        assert is_refusal_page(c.post("/ui/login", data=data, headers=SAME))
        assert c.post("/ui/login", data=data, headers={"Origin": "https://zhibiao.czt.example.gov.cn"}).status_code == 303


def test_scripts_with_a_key_in_the_header_need_no_token_but_must_not_come_from_another_site(site: Site) -> None:
    key = bearer(site.steward)
    with site.client() as c:
        path = f"/ui/proposals/{site.proposal}/comments"
        assert c.post(path, data={"body": "脚本用密钥评论"}, headers=key).status_code == 303
        assert is_refusal_page(c.post(path, data={"body": "x"}, headers={**key, **EVIL}))


def test_no_api_route_accepts_the_page_cookie(site: Site) -> None:
    # Only PageAccess reads the cookie: every page declares it, no API route does.
    pages = [r for room in ROOMS for r in room.routes]
    assert pages
    assert all(isinstance(r, APIRoute) and isinstance(access_of(r), PageAccess) for r in pages)
    api = [r for router in API_ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(api) > 50
    assert not [r.path for r in api if isinstance(access_of(r), PageAccess)]
    with site.client() as c:
        c.cookies.set("icat_key", site.steward, path="/")  # even if the browser sent it to the API
        assert c.get("/v1/proposals").status_code == 401
        r = c.post(f"/v1/proposals/{site.proposal}/comments", json={"body": "cookie"}, headers=SAME)
        assert r.status_code == 401
