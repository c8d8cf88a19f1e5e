"""Cross-site forgery against the pages, in Chromium: an attacker's page on another port of the same host
(same-site, so SameSite=Strict lets the log-in cookie through) posts the pages' forms itself.

Each attack must end in the Chinese 403 page and change nothing; the same forms posted from the pages
themselves still work (the other browser tests walk those).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.support.auth import bearer

BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"


class _Evil(BaseHTTPRequestHandler):
    pages: dict[str, str] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def evil() -> Iterator[tuple[str, dict[str, str]]]:
    """Another origin on the same host: http://127.0.0.1:<other port>, serving the attacker's pages."""
    pages: dict[str, str] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(type("Evil", (_Evil,), {"pages": pages})))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def _auto_post(action: str, fields: dict[str, str], *, referrer: str = "origin") -> str:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return (
        f'<!doctype html><meta name="referrer" content="{referrer}"><form id="f" method="post" action="{action}">'
        f"{inputs}</form><script>document.getElementById('f').submit()</script>"
    )


def _api(site: dict[str, str], who: str, method: str, url: str, **kwargs: Any) -> Any:
    r = httpx.request(method, f"{site['base']}{url}", headers=bearer(site[who]), timeout=30, **kwargs)
    assert r.status_code < 300, r.text
    return r.json()


def _login(page: Any, site: dict[str, str], key: str) -> None:
    page.goto(f"{site['base']}/ui/login")
    page.get_by_label("API 密钥").fill(key)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site['base']}/ui/search")


def _attack(page: Any, evil: tuple[str, dict[str, str]], name: str, html: str, target: str) -> Any:
    base, pages = evil
    pages[f"/{name}"] = html
    with page.expect_response(lambda r: r.url.startswith(target) and r.request.method == "POST") as answer:
        page.goto(f"{base}/{name}")
    page.wait_for_load_state()
    return answer.value


def test_another_origin_cannot_post_the_pages_forms(page: Any, site: dict[str, str], evil: Any) -> None:
    code = _api(site, "steward", "POST", "/v1/indicators", json={
        "name": "跨站测试校舍维修改造完成率", "kind": "分行业分领域", "department": "JYT", "level1": "产出指标",
        "level2": "质量指标", "comparator": "≥", "value": 95, "unit": "%", "basis": BASIS, "status": "standard",
    })["code"]  # fmt: skip
    body = {"title": "跨站测试提案", "department_code": "JYT",
            "items": [{"action": "revise", "indicator_code": code, "fields": {"value": 97}}]}  # fmt: skip
    pid = _api(site, "editor", "POST", "/v1/proposals", json=body)["id"]
    _api(site, "editor", "POST", f"/v1/proposals/{pid}/submit")
    _login(page, site, site["steward"])
    target = f"{site['base']}/ui/proposals/{pid}/comments"
    for referrer in ("origin", "no-referrer"):  # "Origin: http://127.0.0.1:<evil>", then "Origin: null"
        html = _auto_post(target, {"body": "伪造的评论"}, referrer=referrer)
        answer = _attack(page, evil, f"comment-{referrer}", html, target)
        assert answer.status == 403, referrer
        assert "跨站请求已拒绝" in page.content()
    threads = _api(site, "steward", "GET", f"/v1/proposals/{pid}/comments")["threads"]
    assert "伪造的评论" not in [t["body"] for t in threads]
    # Nor may another site log the user out.
    logout = f"{site['base']}/ui/logout"
    assert _attack(page, evil, "logout", _auto_post(logout, {}), logout).status == 403
    page.goto(f"{site['base']}/ui/proposals/{pid}")
    assert "财政厅绩效处" in page.locator("header .who").inner_text()  # still logged in
    # The page's own comment form still works, and says so.
    page.get_by_label("对提案的意见").fill("本站发表的评论")
    page.locator("#talk").get_by_role("button", name="发表评论").click()
    page.wait_for_url(f"{site['base']}/ui/proposals/{pid}#talk")
    threads = _api(site, "steward", "GET", f"/v1/proposals/{pid}/comments")["threads"]
    assert "本站发表的评论" in [t["body"] for t in threads]


def test_another_site_cannot_log_the_victim_into_its_key(page: Any, site: dict[str, str], evil: Any) -> None:
    """Log-in CSRF: the attacker posts the log-in form with their own key from their page."""
    page.goto(f"{site['base']}/ui/login")  # the victim has seen the log-in page: a pre-session cookie
    target = f"{site['base']}/ui/login"
    html = _auto_post(target, {"key": site["platform"], "next": "/ui/search"})
    answer = _attack(page, evil, "login", html, target)
    assert answer.status == 403
    assert "跨站请求已拒绝" in page.content()
    page.goto(f"{site['base']}/ui/search")
    assert "/ui/login" in page.url  # not logged in as anyone
