"""What a hostile tester still found on the pages (issue 14, findings 7 and 10, second round).

* A form field the page helper let through but the service's model refused (``text=" "`` on the suggest
  page) escaped as a pydantic ValidationError: a 500 and a reset connection instead of a 422 page.
* The log-in form skipped its CSRF token whenever *any* ``Authorization`` header came along, valid or not.
* A weak ETag (``W/"p1.v3"``) in the decision form passed the If-Match check, which must compare strongly.
* A NUL byte in a page's query field was echoed into the HTML.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.support.auth import bearer, mint_key
from tests.web.test_page_csrf import login, token_of

BASE = "https://testserver"
SAME = {"Origin": BASE}
BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"


@dataclass
class Site:
    app: Any
    steward: str
    editor: str
    proposal: int

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE, follow_redirects=False, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("probe-pages") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    app = create_app(Settings(database_url=url, seed=True))
    with TestClient(app, base_url=BASE) as c:
        steward = mint_key(url, "steward", owner="财政厅")
        admin = bearer(steward)
        assert c.post("/v1/departments", json={"code": "JYT", "name": "省教育厅"}, headers=admin).status_code == 201
        editor = mint_key(url, "editor", owner="教育厅", departments=["JYT"])
        code = c.post("/v1/indicators", headers=admin, json={
            "name": "义务教育学校校舍维修改造完成率", "kind": "分行业分领域", "department": "JYT", "level1": "产出指标",
            "level2": "质量指标", "comparator": "≥", "value": 95, "unit": "%", "basis": BASIS, "status": "standard",
        }).json()["code"]  # fmt: skip
        body = {"title": "校舍指标调整", "department_code": "JYT",
                "items": [{"action": "revise", "indicator_code": code, "fields": {"value": 97}}]}  # fmt: skip
        pid = c.post("/v1/proposals", json=body, headers=bearer(editor)).json()["id"]
        assert c.post(f"/v1/proposals/{pid}/submit", headers=bearer(editor)).status_code == 200
        yield Site(app, steward, editor, pid)


def is_page_refusal(r: Any, status: int) -> bool:
    return (
        r.status_code == status
        and r.headers["content-type"].startswith("text/html")
        and 'lang="zh-CN"' in r.text
    )


@pytest.mark.parametrize("blank", [" ", "\u3000", "\n\t", "\u3000 \u3000"])
def test_a_blank_target_on_the_suggest_page_is_a_422_page(site: Site, blank: str) -> None:
    with site.client() as c:
        token = login(c, site.editor)
        r = c.post("/ui/suggest", data={"text": blank, "csrf_token": token}, headers=SAME)
        assert is_page_refusal(r, 422), (blank, r.status_code, r.text[:200])
        assert "text:必填" in r.text
        # htmx asks for the results fragment only: the refusal comes as that fragment, still a 422.
        r = c.post("/ui/suggest", data={"text": blank, "csrf_token": token}, headers={**SAME, "HX-Request": "true"})
        assert r.status_code == 422, r.status_code
        assert r.headers["content-type"].startswith("text/html")
        assert "text:必填" in r.text
        assert "服务器内部错误" not in r.text
        # The connection is still good: the next request is answered as usual.
        assert c.get("/ui/suggest").status_code == 200


def test_a_model_refusal_anywhere_in_a_page_is_a_4xx_page_not_a_500(site: Site) -> None:
    """The safety net itself: a pydantic ValidationError raised by any page route is a 422 page."""
    from fastapi import APIRouter
    from pydantic import BaseModel, field_validator

    class Probe(BaseModel):
        value: str

        @field_validator("value")
        @classmethod
        def _never(cls, v: str) -> str:
            raise ValueError("never valid")

    router = APIRouter()

    @router.get("/ui/_probe_model")
    def probe() -> str:
        return Probe(value="x").value

    site.app.include_router(router)
    with site.client() as c:
        r = c.get("/ui/_probe_model")
        assert is_page_refusal(r, 422), (r.status_code, r.text[:200])
        assert "value" in r.text


@pytest.mark.parametrize("authorization", ["Bearer junk", "Bearer icat_nothing.secret", "Basic eDp5"])
def test_a_junk_authorization_header_does_not_skip_the_login_token(site: Site, authorization: str) -> None:
    with site.client() as c:
        for origin in (SAME, {}):
            r = c.post("/ui/login", data={"key": site.steward}, headers={**origin, "Authorization": authorization})
            assert is_page_refusal(r, 403), (authorization, origin, r.status_code)
            assert "icat_key" not in r.headers.get("set-cookie", "")


def test_even_a_valid_key_in_the_header_does_not_skip_the_login_token(site: Site) -> None:
    """Log-in is where the token matters: the form sets the cookie every later page request rides on."""
    with site.client() as c:
        r = c.post("/ui/login", data={"key": site.steward}, headers={**SAME, **bearer(site.steward)})
        assert is_page_refusal(r, 403), r.status_code
        assert "icat_key" not in r.headers.get("set-cookie", "")
        # The form itself, with its token, still logs in.
        token = token_of(c.get("/ui/login").text)
        ok = c.post("/ui/login", data={"key": site.steward, "csrf_token": token}, headers=SAME)
        assert ok.status_code == 303


def test_a_junk_authorization_header_does_not_skip_the_token_of_a_logged_in_page(site: Site) -> None:
    with site.client() as c:
        login(c, site.steward)
        path = f"/ui/proposals/{site.proposal}/comments"
        r = c.post(path, data={"body": "垃圾头评论"}, headers={**SAME, "Authorization": "Bearer junk"})
        # The junk key is what the page reads, not the cookie: back to the log-in page, nothing written.
        assert r.status_code == 303, r.status_code
        assert r.headers["location"].startswith("/ui/login")
        listed = c.get(f"/v1/proposals/{site.proposal}/comments", headers=bearer(site.steward)).json()
        assert "垃圾头评论" not in [t["body"] for t in listed["threads"]]


def test_a_weak_etag_in_the_decision_form_is_refused(site: Site) -> None:
    with site.client() as c:
        token = login(c, site.steward)
        api = bearer(site.steward)
        got = c.get(f"/v1/proposals/{site.proposal}", headers=api)
        strong = got.headers["etag"]
        assert not strong.startswith("W/")
        path = f"/ui/proposals/{site.proposal}/decision"
        for weak in (f"W/{strong}", f'"p0.v0", W/{strong}'):
            r = c.post(path, data={"decision": "start_review", "etag": weak, "reason": "", "csrf_token": token},
                       headers=SAME)  # fmt: skip
            assert is_page_refusal(r, 412), (weak, r.status_code, r.text[:200])
        after = c.get(f"/v1/proposals/{site.proposal}", headers=api).json()
        assert after["state"] == "submitted"
        r = c.post(path, data={"decision": "start_review", "etag": strong, "reason": "", "csrf_token": token},
                   headers=SAME)  # fmt: skip
        assert r.status_code == 303, r.text[:200]


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\x1b[31m", "\x7f"])
@pytest.mark.parametrize(
    ("path", "field"),
    [("/ui/search", "q"), ("/ui/policies", "q"), ("/ui/search", "level1"), ("/ui/search", "sector"),
     ("/ui/search", "department"), ("/ui/search", "cursor")],
)  # fmt: skip
def test_control_characters_in_a_page_query_are_refused(site: Site, path: str, field: str, value: str) -> None:
    with site.client() as c:
        r = c.get(path, params={field: value}, headers=bearer(site.steward))
        assert is_page_refusal(r, 422), (path, field, value, r.status_code)
        assert not {"\x00", "\x1b", "\x7f"} & set(r.text)
