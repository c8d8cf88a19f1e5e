"""End-to-end in Chromium: a reviewer's queue, the side-by-side review, comments per field, approval;
and the impact of a policy change. The proposal is made over the API, as the finance platform would."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.auth import bearer
from tests.support.browser import ARTIFACTS
from tests.web.conftest import watch_csp
from tests.web.test_pages import _login

BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"


def _api(site: dict[str, str], who: str, method: str, url: str, **kwargs: Any) -> Any:
    r = httpx.request(method, f"{site['base']}{url}", headers=bearer(site[who]), timeout=30, **kwargs)
    assert r.status_code < 300, r.text
    return r.json()


def _proposal(site: dict[str, str]) -> int:
    """The education department proposes a new indicator (a near-duplicate of health's) and a new value."""
    repair = _api(site, "steward", "POST", "/v1/indicators", json={
        "name": "义务教育学校校舍维修改造完成率", "kind": "分行业分领域", "department": "JYT", "sector": "教育",
        "level1": "产出指标", "level2": "质量指标", "comparator": "≥", "value": 95, "unit": "%", "basis": BASIS,
        "definition": "按学年统计", "status": "standard",
    })["code"]  # fmt: skip
    items = [
        {"action": "create", "reason": "新学年新增", "fields": {
            "name": "适龄儿童疫苗接种完成率", "level1": "产出指标", "level2": "数量指标", "comparator": "≥",
            "value": 98, "unit": "人", "basis": BASIS, "definition": "完成全程接种的适龄儿童数/适龄儿童数"}},
        {"action": "revise", "indicator_code": repair, "fields": {"value": 97}, "reason": "标准提高"},
    ]  # fmt: skip
    body = {"title": "2027年教育指标调整", "department_code": "JYT", "reason": "新学年绩效目标", "items": items}
    pid = int(_api(site, "editor", "POST", "/v1/proposals", json=body)["id"])
    _api(site, "editor", "POST", f"/v1/proposals/{pid}/submit")
    return pid


def _post(page: Any, button: str) -> None:
    """Press a form's button and wait for the page it leads to (the URL may not change)."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_review_a_proposal_then_approve_it(browser: Any, site: dict[str, str]) -> None:
    pid = _proposal(site)
    steward = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    reviewer = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    refused = watch_csp(steward) + watch_csp(reviewer)
    try:
        # Finance assigns the consultant on the proposal's page.
        _login(steward, site, site["steward"], then=f"/ui/proposals/{pid}")
        steward.get_by_label("指派审核人").fill("第三方评审专家")
        _post(steward, "指派")
        assert "第三方评审专家" in steward.locator("dl.fields").inner_text()

        # The consultant's queue holds it; the page shows the checks and the catalogue next to the proposal.
        _login(reviewer, site, site["reviewer"], then="/ui/proposals")
        assert reviewer.get_by_role("heading", level=1).inner_text().startswith("审核队列")
        row = reviewer.locator("table.grid tbody tr", has_text="2027年教育指标调整")
        assert "已提交" in row.inner_text()
        reviewer.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
        row.get_by_role("link").click()
        reviewer.wait_for_url(re.compile(rf"/ui/proposals/{pid}$"))
        first, second = reviewer.locator("section.item").all()
        duplicate = first.locator(".findings li", has_text="适龄儿童疫苗接种率")
        assert duplicate.locator("a").first.get_attribute("href").startswith("/ui/indicators/")
        value_row = second.locator("table.sbs tr", has=reviewer.locator("th", has_text="指标数值"))
        assert value_row.locator("td.before").inner_text() == "95"
        assert value_row.locator("td.after").inner_text() == "97"
        assert "changed" in (value_row.get_attribute("class") or "")

        _post(reviewer, "开始审核")
        assert reviewer.locator("h1 .state").inner_text() == "审核中"
        # A comment on one field of the first item stays with that field.
        first = reviewer.locator("section.item").first
        unit_row = first.locator("table.sbs tr", has=reviewer.locator("th", has_text="计量单位"))
        unit_row.locator("summary", has_text="评论此字段").click()
        unit_row.get_by_label("对「计量单位」的意见").fill("接种完成率的计量单位应为%")
        unit_row.get_by_role("button", name="发表评论").click()
        reviewer.wait_for_url(re.compile(rf"/ui/proposals/{pid}#item-\d+$"))
        unit_row = reviewer.locator("section.item").first.locator("table.sbs tr", has=reviewer.locator("th", has_text="计量单位"))
        assert "接种完成率的计量单位应为%" in unit_row.locator(".comment").inner_text()

        # Asking for changes without saying why is refused, and nothing moves.
        _post(reviewer, "退回修改")
        alert = reviewer.get_by_role("alert")
        assert "填写的内容有误" in alert.inner_text()
        assert "审核意见:必填" in alert.inner_text()
        assert reviewer.locator("h1 .state").inner_text() == "审核中"
        reviewer.screenshot(path=str(ARTIFACTS / "review-proposal.png"), full_page=True)

        reviewer.get_by_label("审核意见").fill("口径清晰,同意")
        _post(reviewer, "批准")
        # The redirect after the POST may still be loading: wait for the state, and say why if refused.
        try:
            reviewer.wait_for_function("() => document.querySelector('h1 .state')?.textContent === '已批准'")
        except Exception:
            alert = reviewer.locator(".refused").all_inner_texts()
            raise AssertionError(f"not approved: {reviewer.locator('h1 .state').inner_text()} {alert}") from None
        revisions = reviewer.locator("#decide ul li a")
        assert revisions.count() == 2
        reviewer.screenshot(path=str(ARTIFACTS / "review-approved.png"), full_page=True)
        # On a phone the side-by-side table reflows and nothing is wider than the screen.
        reviewer.set_viewport_size({"width": 390, "height": 844})
        assert reviewer.evaluate("document.documentElement.scrollWidth") <= 390
        reviewer.screenshot(path=str(ARTIFACTS / "review-narrow.png"), full_page=True)
        assert not refused, f"the Content-Security-Policy blocked something: {refused}"
    finally:
        steward.context.close()
        reviewer.context.close()
    # The approval is the catalogue's now: the new indicator and the new value, over the API.
    approved = _api(site, "steward", "GET", f"/v1/proposals/{pid}")
    assert approved["state"] == "approved"
    assert approved["decided_by"] == "第三方评审专家"
    codes = [i["indicator_code"] for i in approved["items"]]
    assert _api(site, "platform", "GET", f"/v1/indicators/{codes[0]}")["name"] == "适龄儿童疫苗接种完成率"
    assert _api(site, "platform", "GET", f"/v1/indicators/{codes[1]}")["value"] == 97


def test_the_impact_of_a_new_edition(page: Any, site: dict[str, str]) -> None:
    bases = _api(site, "steward", "GET", "/v1/legal-bases", params={"q": "基本公共卫生服务规范"})
    current = next(b for b in (bases["items"] if isinstance(bases, dict) else bases) if "第三版" in b["title"])
    _api(site, "steward", "POST", f"/v1/legal-bases/{current['id']}/editions", json={
        "doc_no": "国卫基层发〔2099〕1号", "title": "国家基本公共卫生服务规范(第四版)", "effective_on": "2099-01-01",
        "summary": "调整服务项目与考核指标",
    })  # fmt: skip
    _login(page, site, site["steward"], then="/ui/policies")
    page.get_by_label("文件名称或文号").fill("基本公共卫生")
    page.get_by_role("button", name="查找").click()
    page.get_by_role("link", name="国家基本公共卫生服务规范(第三版)").click()
    page.wait_for_url(re.compile(rf"/ui/policies/{current['id']}$"))
    totals = page.locator(".impact-totals strong").all_inner_texts()
    assert int(totals[0]) > 0
    assert page.locator("#impact table.grid tbody tr").count() > 0
    change_sets = page.locator("#change-sets h3")
    assert change_sets.count() >= 1
    assert "待处理" in change_sets.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "policy-impact.png"), full_page=True)
