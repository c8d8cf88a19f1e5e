"""HTTP routes for performance targets."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Response, status

from service.auth.access import TARGETS
from service.deps import SessionDep
from service.errors import problem_responses
from service.targets import service
from service.targets.schemas import TargetIn, TargetOut

router = APIRouter(prefix="/v1/targets", tags=["targets"])


@router.post(
    "",
    operation_id="upsertTarget",
    dependencies=[Depends(TARGETS)],
    response_model=TargetOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": TargetOut, "description": "Replaced an existing target"},
        **problem_responses(422),
    },
)
def upsert_target(data: TargetIn, session: SessionDep, response: Response) -> TargetOut:
    """Register (or replace, by external id) a target and the indicator rows it uses."""
    out, created = service.upsert_target(session, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/v1/targets/{quote(out.external_id, safe='')}"
    return out


@router.get(
    "/{external_id}",
    operation_id="getTarget",
    dependencies=[Depends(TARGETS)],
    response_model=TargetOut,
    responses=problem_responses(404),
)
def get_target(external_id: str, session: SessionDep) -> TargetOut:
    return service.get_target(session, external_id)
