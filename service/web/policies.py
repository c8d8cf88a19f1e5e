"""Policy pages: the legal bases, and what a change of one touches (indicators, departments, targets).

The impact is the graph's (the same query as ``GET /v1/legal-bases/{id}/impact``); the change sets a
new edition or a repeal opened are the change-set service's, shown with what each proposes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from service.auth.access import PAGE_POLICIES
from service.change_sets import service as change_sets
from service.change_sets.schemas import ChangeSetOut
from service.deps import EntityId, OffsetParam, SessionDep
from service.domain import BasisStatus
from service.legal_bases import service as legal_bases
from service.web import forms
from service.web.rendering import FIELD_LABELS, render, show

router = APIRouter()

IMPACT_PAGE = 50
ORIGIN_LABELS = {"edition": "新版本替代", "repeal": "废止", "manual": "手工", "proposal": "提案"}
CHANGE_SET_STATUS = {"draft": "待处理", "applied": "已实施", "discarded": "已放弃"}
ITEM_ACTIONS = {"rebase": "改依新版", "revise_value": "修订标准值", "retire": "停用", "no_change": "不变", "create": "新增"}
DECISIONS = {"pending": "待定", "accepted": "采纳", "rejected": "不采纳"}


def _doc_no(basis_id: Any, doc_nos: dict[int, str]) -> str:
    """A basis id as its document number. What an item proposes is merged from an API caller's JSON,
    so an id may be anything; shown as given rather than parsed (int('²') was a 500 here)."""
    known = doc_nos.get(basis_id) if type(basis_id) is int else None
    return known or show(basis_id)


def _proposed(proposed: dict[str, Any], doc_nos: dict[int, str]) -> list[tuple[str, str]]:
    """What a change-set item proposes, as (label, value) lines: basis ids become document numbers."""
    lines: list[tuple[str, str]] = []
    for key, value in proposed.items():
        if value in (None, "", []):
            continue
        if key == "legal_basis_id":
            lines.append(("改依", _doc_no(value, doc_nos)))
        elif key == "replaces":
            ids = value if isinstance(value, list) else [value]
            lines.append(("原依据", "、".join(_doc_no(i, doc_nos) for i in ids)))
        else:
            lines.append((FIELD_LABELS.get(key, key), show(value)))
    return lines


@router.get("/policies", dependencies=[Depends(PAGE_POLICIES)])
def policies_page(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """Every legal basis, most used first, with how many indicators rest on it."""
    chosen = forms.choice(status, "status", {s.value for s in BasisStatus})
    q = forms.text(q, "q", max_length=200)  # echoed into the page: no control characters
    bases = legal_bases.list_bases(session, q=q or None, status=chosen)
    bases.sort(key=lambda b: (-b.indicator_count, b.doc_no))
    return render(request, "policies.html", {"bases": bases, "q": q or "", "status": chosen or ""})


@router.get("/policies/{basis_id}", dependencies=[Depends(PAGE_POLICIES)])
def policy_page(
    request: Request,
    basis_id: EntityId,
    session: SessionDep,
    offset: OffsetParam = 0,
) -> HTMLResponse:
    """The basis, its edition chain, the indicators resting on it by department, and its change sets."""
    basis = legal_bases.get_basis(session, basis_id)
    graph = request.app.state.catalog.graph
    impact, _ = graph.read(lambda g: g.impact(basis_id, limit=IMPACT_PAGE, offset=offset, as_of=None))
    listed = change_sets.list_change_sets(session, status=None, limit=20, offset=0, basis_id=basis_id)
    opened: list[ChangeSetOut] = [change_sets.get_change_set(session, cs.id, limit=100) for cs in listed.items]
    editions = {e.id: e for e in impact.editions}
    doc_nos = {e.id: e.doc_no for e in impact.editions}
    proposed = {it.id: _proposed(it.proposed, doc_nos) for cs in opened for it in cs.items}
    context = {
        "basis": basis,
        "impact": impact,
        "editions": editions,
        "change_sets": opened,
        "proposed": proposed,
        "origins": ORIGIN_LABELS,
        "cs_status": CHANGE_SET_STATUS,
        "item_actions": ITEM_ACTIONS,
        "decisions": DECISIONS,
        "prev_offset": max(offset - IMPACT_PAGE, 0) if offset else None,
        "next_offset": offset + IMPACT_PAGE if offset + IMPACT_PAGE < impact.total_indicators else None,
    }
    return render(request, "policy.html", context)
