"""What every page shares: the templates, the Chinese labels, and how a page is rendered."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from loaders.fields import CHINESE_EXPORT_COLUMNS
from loaders.text import format_number
from service.auth import csrf
from service.auth.context import current_principal
from service.domain import IndicatorStatus, Kind, ProposalState
from service.errors import DomainError

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def show(value: Any) -> str:
    """A field value as a reader wants it: numbers without a trailing .0, lists joined, nothing as —."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, list | tuple):
        return "、".join(show(v) for v in value)
    if isinstance(value, dict):
        return ";".join(f"{k}:{show(v)}" for k, v in value.items())
    return str(getattr(value, "value", value))


templates.env.filters["num"] = lambda v: (
    format_number(v) if isinstance(v, int | float) else ("" if v is None else v)
)
templates.env.filters["show"] = show
# Times are stored in UTC; readers are in China (UTC+8 all year, no daylight saving).
BEIJING = timezone(timedelta(hours=8), "北京时间")


def local_time(t: datetime | None) -> str:
    return t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if t else "—"


templates.env.filters["local"] = local_time

KIND_LABELS = {
    Kind.common.value: "共性指标",
    Kind.department_strategic.value: "部门战略指标",
    Kind.department_duty.value: "部门职责指标",
    Kind.sector.value: "分行业分领域指标",
}
STATUS_LABELS = {
    IndicatorStatus.draft.value: "草稿",
    IndicatorStatus.proposed.value: "拟定",
    IndicatorStatus.standard.value: "标准",
    IndicatorStatus.superseded.value: "已替代",
    IndicatorStatus.retired.value: "已停用",
}
PROPOSAL_STATE_LABELS = {
    ProposalState.draft.value: "草稿",
    ProposalState.submitted.value: "已提交",
    ProposalState.in_review.value: "审核中",
    ProposalState.changes_requested.value: "退回修改",
    ProposalState.approved.value: "已批准",
    ProposalState.rejected.value: "已驳回",
    ProposalState.withdrawn.value: "已撤回",
}
BASIS_STATUS_LABELS = {"in_force": "现行有效", "superseded": "已被替代", "repealed": "已废止", "amended": "已修订"}
BASIS_KIND_LABELS = {
    "law": "法律", "regulation": "法规", "duty_mandate": "部门三定职责", "plan": "规划", "policy": "政策文件",
    "national_standard": "国家标准", "industry_standard": "行业标准", "other": "其他",
}  # fmt: skip
CHANGE_LABELS = {"INITIAL": "首次收录", "MAJOR": "重大修订", "MINOR": "一般修订", "PATCH": "文字修订"}
FIELD_LABELS = {**CHINESE_EXPORT_COLUMNS, "title": "提案标题", "reason": "提案理由"}
# What a refused action means to the person who clicked, in their words; the detail follows it.
REFUSALS = {
    403: "无权执行此操作",
    404: "找不到该对象",
    409: "当前状态不允许此操作",
    412: "内容已被他人修改,请刷新页面后重试",
    422: "填写的内容有误",
    428: "缺少版本信息,请刷新页面后重试",
}


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    principal = current_principal()
    token, new_cookie = csrf.page_token(request)  # every form of the page posts it back
    base = {
        "principal": None if principal.is_anonymous else principal,
        "kinds": KIND_LABELS,
        "statuses": STATUS_LABELS,
        "proposal_states": PROPOSAL_STATE_LABELS,
        "basis_statuses": BASIS_STATUS_LABELS,
        "basis_kinds": BASIS_KIND_LABELS,
        "changes": CHANGE_LABELS,
        "field_labels": FIELD_LABELS,
        "csrf_field": csrf.FORM_FIELD,
        "csrf_header": csrf.HEADER,
        "csrf_token": token,
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
    if new_cookie:
        csrf.set_presession_cookie(response, new_cookie, secure=request.app.state.catalog.settings.cookie_secure)
    return response


MESSAGES = {"required": "必填"}


def refusal(error: DomainError, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A domain error as the page shows it: a Chinese headline, each field's message, and the service's
    own detail (the API's wording, kept for whoever reports the problem). ``labels`` names the page's fields."""
    names = {**FIELD_LABELS, **(labels or {})}
    errors = [
        f"{names.get(str(e.field), e.field) or ''}:{MESSAGES.get(e.message, e.message)}".lstrip(":")
        for e in error.errors
    ]
    return {"title": REFUSALS.get(error.status, error.title), "detail": error.detail, "errors": errors}


def safe_next(target: str | None) -> str:
    """Only a path on this site: a log-in link must not send the user elsewhere."""
    if not target:
        return "/ui/search"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/ui"):
        return "/ui/search"
    return target
