"""Catalogue pages: log-in, search with facets, the indicator page and the suggest page.

Every page declares an access policy like an API route (``PageAccess``: the key comes from the
log-in cookie). No rule lives here: pages call the same services as the API and only arrange what
they return for reading.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from loaders.text import format_number
from loaders.writers import write_target_table
from service.auth.access import PAGE_LOGIN, PAGE_OPEN, PAGE_READ, PAGE_SUGGEST
from service.auth.csrf import LOGIN_COOKIE, PRESESSION_COOKIE
from service.deps import IndexDep, SessionDep, StateDep, SuggestDep
from service.domain import IndicatorStatus, Kind
from service.errors import ValidationFailed
from service.indicators import service as indicators
from service.security.rate_limit import suggest_quota
from service.suggest import service as suggestions
from service.suggest.schemas import SuggestRequest
from service.versions import service as versions
from service.web import forms, suggest_page
from service.web.rendering import refusal, render, safe_next

router = APIRouter()

FACETS = (
    ("kind", "指标类型"),
    ("level1", "一级指标"),
    ("sector", "行业领域"),
    ("department", "部门"),
    ("status", "状态"),
)
PAGE_SIZE = 20


@router.get("", dependencies=[Depends(PAGE_OPEN)])
def home() -> RedirectResponse:
    return RedirectResponse("/ui/search", status_code=303)


@router.get("/login", dependencies=[Depends(PAGE_OPEN)])
def loginrender(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login", dependencies=[Depends(PAGE_LOGIN)])
async def login(
    request: Request,
    state: StateDep,
    key: Annotated[str, Form(max_length=300)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Check the key like any API call; keep it in an http-only, SameSite=Strict cookie."""
    principal = await state.keys.authenticate(key.strip())
    if principal is None:
        context = {"next": safe_next(next), "error": "密钥无效、已过期或已吊销"}
        return render(request, "login.html", context, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LOGIN_COOKIE, key.strip(), httponly=True, secure=state.settings.cookie_secure, samesite="strict",
        max_age=state.settings.login_hours * 3600, path="/ui",
    )  # fmt: skip
    response.delete_cookie(PRESESSION_COOKIE, path="/ui")  # from now on the token is the session's
    return response


@router.post("/logout", dependencies=[Depends(PAGE_OPEN)])
def logout() -> RedirectResponse:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


@router.get("/search", dependencies=[Depends(PAGE_READ)])
def searchrender(
    request: Request,
    session: SessionDep,
    index: IndexDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[list[str] | None, Query()] = None,
    level1: Annotated[list[str] | None, Query()] = None,
    sector: Annotated[list[str] | None, Query()] = None,
    department: Annotated[list[str] | None, Query()] = None,
    status: Annotated[list[str] | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """Search with facets; htmx asks again as the user types and swaps only the results."""
    # Kind and status are closed sets; level1, sector and department are the catalogue's own words,
    # free text like q, so checked like it (the page echoes them: no control characters).
    q = forms.text(q, "q", max_length=200)
    cursor = forms.text(cursor, "cursor", max_length=500) or None
    chosen = {
        "kind": forms.choices(kind, "kind", {k.value for k in Kind}),
        "level1": forms.texts(level1, "level1", max_length=200),
        "sector": forms.texts(sector, "sector", max_length=200),
        "department": forms.texts(department, "department", max_length=200),
        "status": forms.choices(status, "status", {s.value for s in IndicatorStatus}),
    }
    params = indicators.SearchParams(
        q=q or None, limit=PAGE_SIZE, cursor=cursor, **{k: v or None for k, v in chosen.items()}
    )
    page = indicators.search(session, index, params)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    next_href = f"?{urlencode([*query, ('cursor', page.next_cursor)])}" if page.next_cursor else None
    context = {
        "q": q or "", "page": page, "facets": FACETS, "chosen": {k: set(v or ()) for k, v in chosen.items()},
        "next_href": next_href,
    }  # fmt: skip
    partial = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "results"
    return render(request, "_results.html" if partial else "search.html", context)


@router.get("/indicators/{code}", dependencies=[Depends(PAGE_READ)])
def indicatorrender(request: Request, code: str, session: SessionDep) -> HTMLResponse:
    """Every field, the legal bases with their clauses, the history, and the graph around it."""
    out, _ = indicators.get_indicator(session, code)
    history = versions.history(session, code)
    diffs = {
        r.number: versions.diff(session, code, r.number - 1, r.number).changes
        for r in history.revisions
        if r.number > 1
    }
    return render(request, "indicator.html", {"ind": out, "history": history, "diffs": diffs})


@router.get("/indicators/{code}/graph.json", dependencies=[Depends(PAGE_READ)])
def indicator_graph(request: Request, code: str, session: SessionDep) -> JSONResponse:
    """The neighbourhood as cytoscape elements (nodes, then edges)."""
    out, _ = indicators.get_indicator(session, code)  # 404, and drafts stay hidden from the public
    graph = request.app.state.catalog.graph
    # The node is keyed by the code as stored; the path may spell it in another case or width.
    sub, _ = graph.read(lambda g: g.neighbourhood(f"Indicator:{out.code}", depth=1, limit=60, as_of=None))
    nodes = [
        {"data": {"id": n.id, "label": str(n.props.get("name") or n.props.get("title") or n.key), "kind": n.label,
                  "root": n.distance == 0}}
        for n in sub.nodes
    ]  # fmt: skip
    edges = [
        {"data": {"id": f"e{i}", "source": e.source, "target": e.target, "label": e.type}}
        for i, e in enumerate(sub.edges)
    ]
    return JSONResponse({"elements": nodes + edges, "truncated": sub.truncated})


@router.get("/suggest", dependencies=[Depends(PAGE_SUGGEST)])
def suggestrender(request: Request) -> HTMLResponse:
    return render(request, "suggest.html", {"text": "", "department": "", "sector": "", "result": None})


@router.post("/suggest", dependencies=[Depends(PAGE_SUGGEST), Depends(suggest_quota)])
def suggest(
    request: Request,
    session: SessionDep,
    engine: SuggestDep,
    text: Annotated[str, Form(min_length=1, max_length=2000)],
    department: Annotated[str | None, Form(max_length=200)] = None,
    sector: Annotated[str | None, Form(max_length=200)] = None,
) -> HTMLResponse:
    """The suggested indicator table for a target sentence, editable, with the coverage check."""
    partial = request.headers.get("HX-Request") == "true"
    try:
        # Through the form helper first: a blank target (" ", "\u3000") is "必填" next to the form.
        body = SuggestRequest(
            text=forms.text(text, "text", max_length=2000, required=True),
            department=forms.text(department, "department", max_length=200) or None,
            sector=forms.text(sector, "sector", max_length=200) or None,
        )
        result = suggestions.suggest(session, engine, body)
    except ValidationFailed as exc:  # a blank target or an unknown sector: said on the page, next to the form
        refused = {"text": text, "department": department or "", "sector": sector or "", "result": None,
                   "refused": refusal(exc)}  # fmt: skip
        return render(request, "_suggestions.html" if partial else "suggest.html", refused, status_code=422)
    rows = [
        {
            "code": s.indicator.code, "level1": s.indicator.level1, "level2": s.indicator.level2 or "",
            "name": s.indicator.name, "reasons": "；".join(s.reasons),
            "value": (f"{s.proposed.comparator_symbol}{format_number(s.proposed.value) if isinstance(s.proposed.value, float) else s.proposed.value}"
                      if s.proposed else f"{s.indicator.comparator_symbol or ''}{_num(s.indicator.value)}"),
            "unit": (s.proposed.unit if s.proposed and s.proposed.unit else s.indicator.unit) or "",
            "from_text": s.proposed is not None,
            "confidence": s.confidence, "draft": False,
        }
        for s in result.items
    ]  # fmt: skip
    context: dict[str, Any] = {
        "text": text,
        "department": department or "",
        "sector": sector or "",
        "result": result,
        "rows": rows + suggest_page.draft_rows(result),
        "drafts": suggest_page.drafts_form(session, result),
    }
    return render(request, "_suggestions.html" if partial else "suggest.html", context)


def _num(value: float | str | None) -> str:
    return format_number(value) if isinstance(value, int | float) else (value or "")


@router.post("/suggest/table.xlsx", dependencies=[Depends(PAGE_SUGGEST)])
async def suggest_table(request: Request, session: SessionDep) -> Response:
    """The table as edited on the page, as a 绩效目标表 workbook (only the rows kept)."""
    form = await request.form()
    keep = {str(v) for v in form.getlist("keep")}
    columns = ("level1", "level2", "name", "value", "unit", "code")
    values = {c: [forms.text(str(v), c, max_length=500) for v in form.getlist(c)] for c in columns}
    count = min(len(v) for v in values.values()) if values else 0
    rows = [[values[c][i] for c in columns] for i in range(min(count, 200)) if str(i) in keep]
    goal = forms.text(str(form.get("text") or ""), "text", max_length=2000)
    suggest_page.remember_kept_rows(session, goal, [r[-1] for r in rows if r[-1]])
    body = write_target_table(rows, goal=goal)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": "attachment; filename=target-table.xlsx; filename*=UTF-8''%E7%BB%A9%E6%95%88%E7%9B%AE%E6%A0%87%E8%A1%A8.xlsx"
        },
    )
