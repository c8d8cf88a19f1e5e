"""HTTP routes for suggestions (thin: parse, call the service, render)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlmodel import Session

from service.auth.access import SUGGEST
from service.deps import SessionDep, StateDep, SuggestDep
from service.errors import problem_responses
from service.security.rate_limit import charge, suggest_quota
from service.suggest import service
from service.suggest.schemas import SuggestBatchRequest, SuggestBatchResponse, SuggestRequest, SuggestResponse

router = APIRouter(prefix="/v1", tags=["suggestions"])


def _json(model: BaseModel) -> Response:
    # The service already built the validated response model; rendering it with pydantic directly
    # skips FastAPI's re-validation of ``response_model`` (about a third of a suggestion's cost).
    return Response(content=model.model_dump_json(), media_type="application/json")


@router.post(
    "/suggestions",
    operation_id="suggestIndicators",
    dependencies=[Depends(SUGGEST), Depends(suggest_quota)],
    response_model=SuggestResponse,
    responses=problem_responses(422, 429),
)
async def suggest_indicators(body: SuggestRequest, state: StateDep) -> Response:
    """Catalogue indicators for a target text: ranked, with reasons, proposed values and coverage.

    An unknown department or sector is not an error; it is just not used as a signal. Retired
    indicators are never suggested.
    """
    # One suggestion is a few milliseconds of CPU with two small indexed reads: answering on the event
    # loop saves the thread-pool hops of a sync route and session dependency (a third of the cost at load).
    # The batch route below stays in the thread pool, since 100 texts would hold the loop too long.
    with Session(state.engine) as session:  # read-only: nothing to commit
        return _json(service.suggest(session, state.suggest, body))


@router.post(
    "/suggestions:batch",
    operation_id="suggestIndicatorsBatch",
    dependencies=[Depends(SUGGEST)],
    response_model=SuggestBatchResponse,
    responses=problem_responses(422, 429),
)
def suggest_indicators_batch(
    body: SuggestBatchRequest, request: Request, session: SessionDep, engine: SuggestDep
) -> Response:
    """Suggestions for up to 100 target texts, answered in order; each text counts against the rate limit."""
    charge(request, len(body.items))
    return _json(service.suggest_batch(session, engine, body))
