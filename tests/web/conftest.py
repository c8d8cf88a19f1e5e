"""Fixtures for the browser tests: one seeded service and one Chromium for the module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import require_or_skip
from tests.support.auth import make_department, mint_key
from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, browser_available, serve


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running service on a copy of the seeded catalogue, and keys for its users."""
    require_or_skip("browser", browser_available())
    db = tmp_path_factory.mktemp("web") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    make_department(url, "JYT", "省教育厅")  # the editor's key is scoped to it
    keys = {
        "platform": mint_key(url, "platform", owner="一体化平台"),
        "steward": mint_key(url, "steward", owner="财政厅绩效处"),
        "editor": mint_key(url, "editor", owner="教育厅规划处", departments=["JYT"]),
        "reviewer": mint_key(url, "reviewer", owner="第三方评审专家"),
    }
    with serve(url) as base:
        yield {"base": base, "url": url, **keys}


@pytest.fixture(scope="module")
def browser(site: dict[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def watch_csp(page: Any) -> list[str]:
    """Collects what the pages' Content-Security-Policy refused (inline code, other origins)."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    refused = watch_csp(page)
    yield page
    assert not refused, f"the Content-Security-Policy blocked something: {refused}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
    context.close()
