"""End-to-end in Debian's Chromium: log in with a key, search in Chinese as you type, read an indicator.

Screenshots of each main page go to ``test-artifacts/web/`` (looked at by people, not compared).
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.browser import ARTIFACTS


def _login(page: Any, site: dict[str, str], key: str, then: str = "/ui/search") -> None:
    page.goto(f"{site['base']}{then}")
    assert "/ui/login" in page.url  # no key yet: the log-in page, with the way back
    page.get_by_label("API 密钥").fill(key)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(re.escape(then)))


def test_search_as_you_type_then_read_the_indicator(page: Any, site: dict[str, str]) -> None:
    _login(page, site, site["platform"])
    page.screenshot(path=str(ARTIFACTS / "search-empty.png"), full_page=True)
    box = page.get_by_label("检索词")
    box.fill("满意度")  # no Enter: htmx asks as the user types
    page.wait_for_url(re.compile(r"q=%E6%BB%A1"))
    first = page.locator("#results table.grid tbody tr").first
    first.wait_for()
    assert "满意度" in first.inner_text()
    total = int(page.locator("#results .total strong").inner_text())
    # A facet narrows the results in place: the count it showed is the count that remains.
    counts = [int(c) for c in page.locator("#results .facets .facet .count").all_inner_texts()]
    pick = next(i for i, n in enumerate(counts) if n < total)
    facet = page.locator("#results .facets .facet").nth(pick)
    with page.expect_response(lambda r: "/ui/search?" in r.url):
        facet.locator("input").check()
    page.wait_for_function(f"() => document.querySelector('#results .total strong').textContent === '{counts[pick]}'")
    assert page.locator("#results .facets input:checked").count() == 1
    page.screenshot(path=str(ARTIFACTS / "search-results.png"), full_page=True)
    # Detail: every field, the legal basis with its clause, history, the graph drawn.
    page.locator("#results table.grid tbody tr a").nth(1).click()
    page.wait_for_url(re.compile(r"/ui/indicators/"))
    assert page.get_by_role("heading", level=1).inner_text()
    assert page.locator("dl.fields dt", has_text="指标值").count() == 1
    assert page.get_by_role("heading", name="设置依据").count() == 1
    assert page.get_by_role("heading", name="修订历史").count() == 1
    page.locator("#graph canvas").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "indicator.png"), full_page=True)


def test_narrow_screen_and_keyboard(browser: Any, site: dict[str, str]) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    try:
        _login(page, site, site["steward"])
        # Keyboard only: the search box has the focus, typing searches, Tab reaches the facets.
        assert page.evaluate("document.activeElement.id") == "q"
        page.keyboard.type("满意度")
        # The whole word searched and no request in flight: a late swap would take the focus away.
        page.wait_for_url(re.compile(r"q=%E6%BB%A1%E6%84%8F%E5%BA%A6"))
        page.wait_for_function("() => !document.querySelector('.htmx-request')")
        page.locator("#results table.grid tbody tr").first.wait_for()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "检索"
        # The facets are folded away on a narrow screen: their summary takes the next Tab and Space opens it.
        assert not page.locator("#results .facets .facet input").first.is_visible()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.type") == "checkbox"
        page.keyboard.press("Space")
        page.wait_for_function("() => /(kind|level1|sector|department|status)=/.test(location.search)")
        # Nothing wider than the screen: the table reflows into cards.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "search-narrow.png"), full_page=True)
    finally:
        context.close()


def test_a_wrong_key_stays_on_the_login_page(page: Any, site: dict[str, str]) -> None:
    page.goto(f"{site['base']}/ui/login")
    page.get_by_label("API 密钥").fill("icat_nope_nope")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "密钥无效、已过期或已吊销"
    page.screenshot(path=str(ARTIFACTS / "login-refused.png"), full_page=True)


def test_suggest_edit_and_download_the_target_table(page: Any, site: dict[str, str]) -> None:
    from io import BytesIO
    from pathlib import Path

    from openpyxl import load_workbook

    _login(page, site, site["platform"], then="/ui/suggest")
    page.get_by_label("绩效目标(可粘贴整段文字)").fill("2025年适龄儿童疫苗接种率达到98%以上,群众满意度不低于90%")
    page.get_by_role("button", name="推荐指标").click()
    rows = page.locator("#suggestions table.suggest tbody tr")
    rows.first.wait_for()
    assert rows.count() >= 2
    names = page.locator("#suggestions table.suggest tbody tr td:nth-child(4) a").all_inner_texts()
    # The user edits the first row's value and drops the second row.
    page.locator("#suggestions input[name=value]").first.fill("≥99")
    page.locator("#suggestions input[name=keep]").nth(1).uncheck()
    page.screenshot(path=str(ARTIFACTS / "suggest.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="下载绩效目标表(XLSX)").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(BytesIO(Path(download.value.path()).read_bytes())).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][0] == "绩效目标表"
    assert table[1][1].startswith("2025年适龄儿童疫苗接种率")
    assert table[2] == ["一级指标", "二级指标", "三级指标", "指标值", "计量单位", "指标编码"]
    body = table[3:]
    assert len(body) == rows.count() - 1  # the dropped row is not in the file
    assert body[0][2] == names[0]
    assert body[0][3] == "≥99"
    assert names[1] not in [r[2] for r in body]
    assert all(r[0] and r[2] for r in body)  # every row has its 一级 and 三级
