"""The suggest page in Debian's Chromium (issue 15): the inferred field, a draft row, the draft proposed."""

from __future__ import annotations

import re
from typing import Any

from tests.support.browser import ARTIFACTS
from tests.web.test_pages import _login

# A target of the editor's own field (education): the library has no running-track indicator.
TEXT = "2025年为全县义务教育学校新建塑胶跑道12000平方米,学生体质健康达标率达到92%,家长满意度不低于90%。"


def test_paste_a_target_see_the_field_and_a_draft_then_propose_it(page: Any, site: dict[str, str]) -> None:
    _login(page, site, site["editor"], then="/ui/suggest")
    page.get_by_label("绩效目标(可粘贴整段文字)").fill(TEXT)
    page.get_by_role("button", name="推荐指标").click()
    field = page.locator("#suggestions #field")
    field.wait_for()
    assert "行业领域:教育" in field.inner_text()
    assert "推断" in field.inner_text()
    draft = page.locator("#suggestions table.suggest tbody tr.draft", has_text="新建塑胶跑道面积")
    assert draft.count() == 1
    assert draft.locator("input[name=value]").input_value() == "≥12000"
    assert draft.locator("input[name=unit]").input_value() == "平方米"
    page.screenshot(path=str(ARTIFACTS / "suggest-drafts.png"), full_page=True)
    form = page.locator("#propose-drafts")
    # The editor proposes for its own department only.
    assert form.locator("select[name=department_code] option").all_inner_texts() == ["省教育厅"]
    with page.expect_navigation():
        form.get_by_role("button", name="提交为新指标提案").click()
    page.wait_for_url(re.compile(r"/ui/proposals/\d+$"))
    body = page.locator("main").inner_text()
    assert "义务教育学校新建塑胶跑道面积" in body
    page.screenshot(path=str(ARTIFACTS / "suggest-draft-proposal.png"), full_page=True)
