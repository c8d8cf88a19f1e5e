"""HTTP route of the catalogue quality lint (thin: parse, call the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.auth.access import QUALITY
from service.deps import PastDep, SessionDep
from service.domain import IndicatorStatus
from service.errors import problem_responses
from service.quality import service
from service.quality.schemas import CodeCollisions, QualityReport

router = APIRouter(prefix="/v1/quality", tags=["quality"])


@router.get(
    "",
    operation_id="catalogueQuality",
    dependencies=[Depends(QUALITY)],
    response_model=QualityReport,
    responses=problem_responses(404, 422),
)
def catalogue_quality(
    session: SessionDep,
    status: Annotated[
        list[IndicatorStatus] | None,
        Query(description="statuses to check (default draft, proposed, standard)"),
    ] = None,
    qualitative_threshold: Annotated[
        float, Query(ge=0, le=1, description="flag departments whose qualitative share is above this")
    ] = 0.3,
    min_similarity: Annotated[
        float, Query(ge=0.75, le=1, description="name similarity (0–1) for duplicate clusters")
    ] = 0.9,
    limit: Annotated[int, Query(ge=1, le=500, description="items per list; counts are always full")] = 50,
    *,
    past: PastDep,
) -> QualityReport:
    """Lint the catalogue before publishing: legal bases missing or out of force, qualitative share per
    department, near-duplicate names across departments, inconsistent units, values that do not fit.

    Today's catalogue by default; with ``release`` the indicators frozen in it, with ``as_of`` those in
    force at the end of that day (from revision snapshots, with each legal basis's status of then;
    department names as the snapshots recorded them).
    """
    params = service.QualityParams(
        statuses=tuple(dict.fromkeys(status)) if status else service.DEFAULT_STATUSES,
        qualitative_threshold=qualitative_threshold,
        min_similarity=min_similarity,
        limit=limit,
    )
    return service.catalogue_quality(session, params, as_of=past.as_of, release=past.release)


@router.get(
    "/code-collisions",
    operation_id="codeCollisions",
    dependencies=[Depends(QUALITY)],
    response_model=CodeCollisions,
    responses=problem_responses(422),
)
def code_collisions(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="groups listed; the count is always full")] = 50,
) -> CodeCollisions:
    """Indicators whose codes differ only in case or width (ZZ-00006 and zz-00006).

    New ones are refused; these were kept by the upgrade that made codes compare this way (renaming a
    code would break the revisions, feed and audit entries that cite it). Each still answers to its exact
    code and other spellings find the oldest; retire or supersede the duplicates.
    """
    return service.catalogue_code_collisions(session, limit=limit)
