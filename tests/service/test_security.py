"""HTTP protections: security headers and CORS, request size caps, the per-key rate limit on suggestions.

They sit in front of the routes, whatever the database, so these tests run on the embedded backend only.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.csrf import session_token
from service.security.rate_limit import RateLimiter
from service.settings import Settings
from tests.support.auth import bearer, mint_key

PROBLEM = "application/problem+json"
TEXT = {"text": "2025年适龄儿童疫苗接种率达到98%以上"}


@pytest.fixture
def url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


def _client(url: str, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(database_url=url, seed=True, **settings)), follow_redirects=False)


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    with _client(url) as c:
        c.headers.update(bearer(mint_key(url, "admin")))
        yield c


class TestHeaders:
    def test_api_answers_carry_the_security_headers(self, client: TestClient) -> None:
        r = client.get("/v1/indicators", params={"limit": 1})
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        error = client.get("/v1/indicators/NOPE-1")  # errors too
        assert error.headers["x-content-type-options"] == "nosniff"

    def test_pages_get_a_strict_policy_and_are_not_cached(self, client: TestClient) -> None:
        page = client.get("/ui/search")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("style-src-attr")[0]  # no inline script or style sheet
        assert page.headers["cache-control"] == "no-store"
        static = client.get("/ui/static/app.css")
        assert static.status_code == 200
        assert "cache-control" not in static.headers or static.headers["cache-control"] != "no-store"

    def test_no_cross_origin_calls_unless_configured(self, client: TestClient, url: str) -> None:
        origin = {"Origin": "https://platform.example.gov.cn"}
        r = client.get("/v1/indicators", params={"limit": 1}, headers=origin)
        assert "access-control-allow-origin" not in r.headers
        with _client(url, cors_origins=["https://platform.example.gov.cn"]) as c:
            pre = c.options("/v1/suggestions", headers={**origin, "Access-Control-Request-Method": "POST",
                                                         "Access-Control-Request-Headers": "authorization,content-type"})  # fmt: skip
            assert pre.status_code == 200
            assert pre.headers["access-control-allow-origin"] == origin["Origin"]
            assert "authorization" in pre.headers["access-control-allow-headers"].lower()
            other = c.options("/v1/suggestions", headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})  # fmt: skip
            assert "access-control-allow-origin" not in other.headers


class TestBodyLimit:
    def test_a_declared_oversized_body_is_refused_before_it_is_read(self, url: str) -> None:
        with _client(url, max_body_bytes=4096) as c:
            c.headers.update(bearer(mint_key(url, "admin")))
            r = c.post("/v1/indicators", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"})
            assert r.status_code == 413
            assert r.headers["content-type"].startswith(PROBLEM)
            assert r.json()["title"] == "Payload too large"
            assert c.post("/v1/suggestions", json=TEXT).status_code == 200  # small bodies pass

    def test_a_streamed_body_is_cut_off_at_the_cap(self, url: str) -> None:
        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
            yield b'{"text": "'
            for _ in range(10):
                yield b"a" * 1000
            yield b'"}'

        with _client(url, max_body_bytes=4096) as c:
            c.headers.update(bearer(mint_key(url, "admin")))
            r = c.post("/v1/suggestions", content=chunks(), headers={"Content-Type": "application/json"})
            assert r.status_code == 413
            assert r.headers["content-type"].startswith(PROBLEM)

    def test_uploads_have_their_own_cap(self, url: str) -> None:
        body = ("指标名称,指标值\n" + "满意度,≥90%\n" * 500).encode()  # ~9 KB
        with _client(url, max_body_bytes=4096, max_upload_bytes=1_000_000) as c:
            c.headers.update(bearer(mint_key(url, "admin")))
            r = c.post("/v1/imports", params={"dry_run": "true"}, content=body, headers={"Content-Type": "text/csv"})
            assert r.status_code != 413, r.text
        with _client(url, max_upload_bytes=1024) as c:
            c.headers.update(bearer(mint_key(url, "admin")))
            r = c.post("/v1/imports", content=body, headers={"Content-Type": "text/csv"})
            assert r.status_code == 413


class TestRateLimit:
    def test_each_key_gets_its_own_bucket(self, url: str) -> None:
        with _client(url, suggest_rate_per_minute=60, suggest_burst=3) as c:
            one, two = bearer(mint_key(url, "platform")), bearer(mint_key(url, "platform"))
            assert [c.post("/v1/suggestions", json=TEXT, headers=one).status_code for _ in range(3)] == [200] * 3
            refused = c.post("/v1/suggestions", json=TEXT, headers=one)
            assert refused.status_code == 429
            assert refused.headers["content-type"].startswith(PROBLEM)
            assert 1 <= int(refused.headers["retry-after"]) <= 2
            assert refused.json()["retry_after"] == int(refused.headers["retry-after"])
            assert c.post("/v1/suggestions", json=TEXT, headers=two).status_code == 200
            # A batch counts each text; the page's suggestions count like the API's.
            batch = c.post("/v1/suggestions:batch", json={"items": [TEXT] * 3}, headers=two)
            assert batch.status_code == 429
            key = one["Authorization"].removeprefix("Bearer ")
            c.cookies.set("icat_key", key, path="/ui")
            page_form = {"text": TEXT["text"], "csrf_token": session_token(key)}  # what the page's form posts
            assert c.post("/ui/suggest", data=page_form).status_code == 429

    def test_switched_off_with_zero(self, url: str) -> None:
        with _client(url, suggest_rate_per_minute=0, suggest_burst=1) as c:
            key = bearer(mint_key(url, "platform"))
            assert {c.post("/v1/suggestions", json=TEXT, headers=key).status_code for _ in range(5)} == {200}

    def test_the_bucket_refills_at_the_rate(self) -> None:
        now = [100.0]
        limiter = RateLimiter(per_minute=60, burst=2)
        limiter._now = lambda: now[0]
        assert [limiter.take("k") for _ in range(2)] == [0.0, 0.0]
        assert limiter.take("k") == pytest.approx(1.0)
        now[0] += 0.5
        assert limiter.take("k") == pytest.approx(0.5)
        now[0] += 0.5
        assert limiter.take("k") == 0.0
        now[0] += 3600  # never more than the burst after a long pause
        assert [limiter.take("k") for _ in range(3)][2] > 0
        assert limiter.take("other") == 0.0


class TestDownloads:
    def test_export_names_cannot_inject_headers_or_paths(self, client: TestClient) -> None:
        for name in ("2026年第一版", "../../etc/passwd", 'a"; filename="evil.exe'):
            r = client.post("/v1/releases", json={"name": name, "effective_on": "2026-01-01"})
            if r.status_code == 422:  # the name rules refuse it already: nothing to export
                continue
            assert r.status_code == 201, r.text
            export = client.get("/v1/exports", params={"release": name, "format": "csv"})
            assert export.status_code == 200, export.text
            header = export.headers["content-disposition"]
            fallback = header.split('filename="', 1)[1].split('"', 1)[0]
            assert "/" not in fallback
            assert ".." not in fallback
            assert "\r" not in header
            assert header.count('"') == 2

    def test_exported_cells_are_formula_escaped(self, client: TestClient) -> None:
        r = client.post("/v1/indicators", json={"name": "=HYPERLINK(\"http://x\",\"y\")", "kind": "共性"})
        assert r.status_code == 201, r.text
        csv_text = client.get("/v1/exports", params={"format": "csv"}).content.decode("utf-8-sig")
        assert "'=HYPERLINK" in csv_text
