"""HTTP routes for indicators (thin: parse, call the service, shape headers)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Response, status

from service.auth.access import CATALOGUE_WRITE, PUBLIC_READ
from service.deps import IndexDep, PastDep, PastIndexesDep, SessionDep
from service.errors import problem_responses
from service.indicators import service
from service.indicators.schemas import IndicatorDraft, IndicatorOut, IndicatorPage, IndicatorPatch
from service.releases import service as releases
from service.versions import service as versions

router = APIRouter(prefix="/v1/indicators", tags=["indicators"])

ListParam = Annotated[list[str] | None, Query()]


@router.get(
    "",
    operation_id="listIndicators",
    dependencies=[Depends(PUBLIC_READ)],
    response_model=IndicatorPage,
    responses=problem_responses(422),
)
def list_indicators(
    session: SessionDep,
    index: IndexDep,
    past_indexes: PastIndexesDep,
    q: Annotated[str | None, Query(max_length=200, description="Chinese full-text query")] = None,
    kind: ListParam = None,
    sector: ListParam = None,
    department: ListParam = None,
    level1: ListParam = None,
    level2: ListParam = None,
    category: Annotated[list[str] | None, Query(description="category node id (level 1 or 2)")] = None,
    basis: Annotated[list[str] | None, Query(description="legal basis id")] = None,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    *,
    past: PastDep,
) -> IndicatorPage:
    """Search and browse: full text, filters, facet counts, cursor pagination.

    With ``as_of`` or ``release`` the search runs over the catalogue as it stood then.
    """
    params = service.SearchParams(
        q=q, kind=kind, sector=sector, department=department, level1=level1, level2=level2,
        category=category, basis=basis, status=status_, limit=limit, cursor=cursor,
    )  # fmt: skip
    if past.asked:
        return releases.search_past(session, index, past_indexes, params, release=past.release, as_of=past.as_of)
    return service.search(session, index, params)


@router.get(
    "/{code}",
    operation_id="getIndicator",
    dependencies=[Depends(PUBLIC_READ)],
    response_model=IndicatorOut,
    responses=problem_responses(404, 422),
)
def get_indicator(
    code: str, session: SessionDep, response: Response, past: PastDep
) -> IndicatorOut:
    """One indicator with its legal bases and clauses; the ETag guards later edits.

    With ``as_of`` or ``release`` the answer is the revision in force then (no ETag: history is read-only).
    """
    if past.asked:
        then = versions.indicator_at(session, code, as_of=past.as_of, release=past.release)
        return service.require_visible(then)
    out, tag = service.get_indicator(session, code)
    response.headers["ETag"] = tag
    return out


@router.post(
    "",
    operation_id="createIndicator",
    dependencies=[Depends(CATALOGUE_WRITE)],
    response_model=IndicatorOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
)
def create_indicator(draft: IndicatorDraft, session: SessionDep, response: Response) -> IndicatorOut:
    out, tag = service.create_indicator(session, draft)
    response.headers["ETag"] = tag
    response.headers["Location"] = f"/v1/indicators/{quote(out.code, safe='')}"
    return out


@router.patch(
    "/{code}",
    operation_id="updateIndicator",
    dependencies=[Depends(CATALOGUE_WRITE)],
    response_model=IndicatorOut,
    responses=problem_responses(404, 412, 422, 428),
)
def update_indicator(
    code: str,
    patch: IndicatorPatch,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header(description="ETag from GET; required")] = None,
) -> IndicatorOut:
    out, tag = service.patch_indicator(session, code, patch, if_match=if_match)
    response.headers["ETag"] = tag
    return out


@router.delete(
    "/{code}",
    operation_id="retireIndicator",
    dependencies=[Depends(CATALOGUE_WRITE)],
    response_model=IndicatorOut,
    responses=problem_responses(404, 412, 428),
)
def retire_indicator(
    code: str,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> IndicatorOut:
    """Retire (never erase): the indicator stays readable with status ``retired``."""
    out, tag = service.retire_indicator(session, code, if_match=if_match)
    response.headers["ETag"] = tag
    return out
