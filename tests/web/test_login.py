"""The pages' log-in and access rules, without a browser (the browser tests are in test_pages.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.support.auth import bearer, mint_key


@pytest.fixture
def site(seeded_url: str) -> Iterator[TestClient]:
    # https, as a browser reaches the service: the Secure cookies (log-in, form token) travel.
    app = create_app(Settings(database_url=seeded_url, seed=True))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def form_token(site: TestClient, path: str = "/ui/login") -> str:
    """The token the page's forms post back (the log-in form's is tied to a pre-session cookie)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', site.get(path).text)
    assert found
    return found.group(1)


def test_pages_need_a_login_and_come_back_after_it(site: TestClient, seeded_url: str) -> None:
    r = site.get("/ui/search", params={"q": "满意度"})
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/ui/login"
    assert parse_qs(location.query)["next"] == ["/ui/search?q=%E6%BB%A1%E6%84%8F%E5%BA%A6"]
    token = mint_key(seeded_url, "reviewer", owner="咨询机构甲")
    r = site.post("/ui/login", data={"key": token, "next": "/ui/search?q=满意度", "csrf_token": form_token(site)})
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/search?q=%E6%BB%A1%E6%84%8F%E5%BA%A6"
    cookie = r.headers["set-cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/ui"):
        assert flag.lower() in cookie.lower()
    assert token in cookie
    site.cookies.set("icat_key", token, path="/ui")
    page = site.get("/ui/search", params={"q": "满意度"})
    assert page.status_code == 200
    assert "咨询机构甲" in page.text
    r = site.post("/ui/logout", data={"csrf_token": form_token(site, "/ui/search")})
    assert r.status_code == 303
    assert 'icat_key=""' in r.headers["set-cookie"]


def test_login_never_sends_the_user_elsewhere(site: TestClient, seeded_url: str) -> None:
    token = mint_key(seeded_url, "platform")
    for target in ("https://evil.example/", "//evil.example/x", "/v1/keys", None):
        site.cookies.clear()
        data = {"key": token, "csrf_token": form_token(site), **({"next": target} if target else {})}
        r = site.post("/ui/login", data=data)
        assert r.headers["location"] == "/ui/search", target


def test_a_bad_key_is_refused_on_the_page(site: TestClient) -> None:
    r = site.post("/ui/login", data={"key": "icat_abc_def", "csrf_token": form_token(site)})
    assert r.status_code == 401
    assert "密钥无效" in r.text
    # An API key in a header works for pages too (scripts), a bad cookie leads back to the log-in.
    site.cookies.set("icat_key", "icat_abc_def", path="/ui")
    assert site.get("/ui/search").status_code == 303


def test_errors_on_pages_are_readable_html(site: TestClient, seeded_url: str) -> None:
    headers = bearer(mint_key(seeded_url, "platform"))
    r = site.get("/ui/indicators/NOPE-1", headers=headers)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "NOPE-1" in r.text
    assert site.get("/ui/static/vendor/htmx.min.js").status_code == 200  # static files need no key


def test_public_read_opens_published_pages_only(seeded_url: str, tmp_path: Path) -> None:
    admin = bearer(mint_key(seeded_url, "admin"))
    app = create_app(Settings(database_url=seeded_url, seed=True, public_read=True))
    with TestClient(app, follow_redirects=False) as c:
        draft = c.post("/v1/indicators", json={"name": "网页草稿指标", "kind": "共性"}, headers=admin).json()
        assert c.get("/ui/search", params={"q": "满意度"}).status_code == 200
        assert c.get(f"/ui/indicators/{draft['code']}").status_code == 404
        assert c.get(f"/ui/indicators/{draft['code']}", headers=admin).status_code == 200
        assert draft["code"] not in c.get("/ui/search", params={"q": "网页草稿指标"}).text
        assert draft["code"] in c.get("/ui/search", params={"q": "网页草稿指标"}, headers=admin).text


def test_the_target_table_download_takes_any_form_safely(site: TestClient, seeded_url: str) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    headers = bearer(mint_key(seeded_url, "platform"))
    form = {"text": "=cmd|' /C calc'!A0", "keep": ["0", "1", "7"], "level1": ["产出指标", "效益指标"],
            "level2": ["数量指标"], "name": ["甲", "乙"], "value": ["≥95", "+1"], "unit": ["%", "个"], "code": ["A", "B"]}  # fmt: skip
    r = site.post("/ui/suggest/table.xlsx", data=form, headers=headers)
    assert r.status_code == 200
    rows = [list(x) for x in load_workbook(BytesIO(r.content)).active.iter_rows(values_only=True)]
    assert rows[1][1] == "'=cmd|' /C calc'!A0"  # a formula in the goal text stays text
    assert rows[3:] == [["产出指标", "数量指标", "甲", "≥95", "%", "A"]]  # ragged lists: complete rows only
    empty = site.post("/ui/suggest/table.xlsx", data={}, headers=headers)
    assert empty.status_code == 200
    assert site.post("/ui/suggest/table.xlsx", data={}).status_code == 303  # no key: the log-in page
