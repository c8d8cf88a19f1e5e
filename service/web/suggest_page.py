"""The suggest page's drafts: draft rows in the table, 提交为新指标提案, and kept rows as evidence.

Drafts are indicators the library lacks (``service.suggest.drafts``). The page shows them as rows of the
target table (marked 草稿) and offers them as one new-indicator proposal for the user's own department,
through the same service and checks as ``POST /v1/proposals``. The rows a user keeps in the table they
download are registered like a target of the platform (``service.targets``), so the suggestions learn
from them (相似目标曾使用 N 次).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from loaders.text import format_number
from service.auth.access import PAGE_PROPOSE, PROPOSE, TARGETS
from service.auth.context import current_principal
from service.auth.principal import Role
from service.codes import code_key
from service.deps import SessionDep
from service.errors import DomainError, FieldError, ValidationFailed
from service.proposals import service as proposals
from service.proposals.schemas import ProposalIn, ProposalItemIn
from service.suggest.schemas import SuggestResponse
from service.targets import service as targets
from service.targets.schemas import TargetIn, TargetRowIn
from service.taxonomy.service import Refs
from service.web.rendering import refusal, render

router = APIRouter()

KEPT_PREFIX = "ui-suggest-"  # external ids of the tables kept on the suggest page


def draft_rows(result: SuggestResponse) -> list[dict[str, Any]]:
    """The drafts as rows of the editable target table (no code: they are not in the catalogue)."""
    rows = []
    for d in result.drafts:
        value = ""
        if d.value is not None:
            shown = format_number(d.value) if isinstance(d.value, float) else str(d.value)
            value = f"{d.comparator_symbol}{shown}"
        rows.append(
            {"code": "", "level1": d.level1, "level2": d.level2, "name": d.name, "reasons": d.reason,
             "value": value, "unit": d.unit or "", "from_text": d.span is not None, "confidence": "",
             "draft": True}  # fmt: skip
        )
    return rows


def _departments(session: Session) -> list[tuple[str, str]]:
    """The departments the user may propose for: an editor's own; finance proposes for any."""
    principal = current_principal()
    refs = Refs(session)
    known = sorted((d.code, d.name) for d in refs.departments.values())
    if principal.role is Role.editor:
        return [(code, name) for code, name in known if code in principal.departments]
    return known


def drafts_form(session: Session, result: SuggestResponse) -> dict[str, Any] | None:
    """What the 提交为新指标提案 form needs, or None when there is nothing to propose or no right to."""
    principal = current_principal()
    if not result.drafts or principal.is_anonymous or principal.role not in PROPOSE.roles:
        return None
    departments = _departments(session)
    if not departments:
        return None
    items = [
        {"name": d.name, "reason": d.reason, "item": json.dumps(d.proposal_item.model_dump(), ensure_ascii=False)}
        for d in result.drafts
    ]
    return {"items": items, "departments": departments}


def remember_kept_rows(session: Session, text: str, codes: list[str]) -> None:
    """Register the kept rows as a target (evidence for similar targets); skipped when not allowed."""
    principal = current_principal()
    codes = list(dict.fromkeys(c for c in codes if c))
    if not text.strip() or not codes or principal.is_anonymous or principal.role not in TARGETS.roles:
        return
    department = sorted(principal.departments)[0] if principal.role is Role.editor and principal.departments else None
    digest = hashlib.sha256(json.dumps([text, codes], ensure_ascii=False).encode()).hexdigest()[:32]
    data = TargetIn(
        external_id=KEPT_PREFIX + digest,
        department=department,
        project="指标推荐页保留的指标表",
        text=text[:10_000],
        indicators=[TargetRowIn(code=c) for c in codes[:500]],
    )
    try:
        with session.begin_nested():
            targets.upsert_target(session, data)
    except DomainError:
        return  # a code that no longer exists, or out of scope: the download itself still goes out


@router.post("/suggest/proposal", dependencies=[Depends(PAGE_PROPOSE)])
def propose_drafts(
    request: Request,
    session: SessionDep,
    department_code: Annotated[str, Form(min_length=1, max_length=64)],
    title: Annotated[str, Form(min_length=1, max_length=500)],
    item: Annotated[list[str], Form(max_length=200)],
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The chosen drafts as one new-indicator proposal of the user's department (the API's checks)."""
    try:
        items = [ProposalItemIn.model_validate(json.loads(raw)) for raw in item]
        for it in items:
            it.fields["department"] = next(
                (name for code, name in _departments(session) if code_key(code) == code_key(department_code)), it.fields.get("department")
            )
        out, _etag = proposals.create_proposal(
            session,
            ProposalIn(title=title, department_code=department_code, reason=f"由绩效目标起草:{text}"[:10_000], items=items),
        )
    except (ValueError, ValidationError) as exc:
        session.rollback()
        error = ValidationFailed("草稿内容无效", errors=[FieldError(field="item", message=str(exc)[:300])])
        return render(request, "suggest.html", _refused(text, error), status_code=422)
    except DomainError as exc:
        if exc.status == 401:
            raise
        session.rollback()
        return render(request, "suggest.html", _refused(text, exc), status_code=exc.status)
    return RedirectResponse(f"/ui/proposals/{out.id}", status_code=303)


def _refused(text: str, error: DomainError) -> dict[str, Any]:
    return {"text": text, "department": "", "sector": "", "result": None, "refused": refusal(error)}
