"""HTTP routes for an indicator's history (thin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from service.auth.access import READ
from service.deps import MAX_INT, EntityId, SessionDep
from service.errors import problem_responses
from service.versions import service
from service.versions.schemas import BasisHistoryOut, HistoryOut, RevisionDiff, RevisionOut

router = APIRouter(prefix="/v1", tags=["history"])


@router.get(
    "/indicators/{code}/history",
    operation_id="getIndicatorHistory",
    dependencies=[Depends(READ)],
    response_model=HistoryOut,
    responses=problem_responses(404),
)
def get_history(code: str, session: SessionDep) -> HistoryOut:
    """Every revision, oldest first: number, class, fields changed, reason, author, validity."""
    return service.history(session, code)


@router.get(
    "/indicators/{code}/revisions/{number}",
    operation_id="getIndicatorRevision",
    dependencies=[Depends(READ)],
    response_model=RevisionOut,
    responses=problem_responses(404),
)
def get_revision(code: str, number: Annotated[int, Path(ge=1, le=MAX_INT)], session: SessionDep) -> RevisionOut:
    """One revision with the full snapshot of the indicator at that point."""
    return service.revision(session, code, number)


@router.get(
    "/indicators/{code}/diff",
    operation_id="diffIndicatorRevisions",
    dependencies=[Depends(READ)],
    response_model=RevisionDiff,
    responses=problem_responses(404, 422),
)
def diff_revisions(
    code: str,
    session: SessionDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=MAX_INT)],
    to: Annotated[int, Query(ge=1, le=MAX_INT)],
) -> RevisionDiff:
    """Field-level difference between two revisions, classified MAJOR / MINOR / PATCH."""
    return service.diff(session, code, from_, to)


@router.get(
    "/legal-bases/{basis_id}/history",
    operation_id="getLegalBasisHistory",
    dependencies=[Depends(READ)],
    response_model=BasisHistoryOut,
    responses=problem_responses(404),
)
def get_basis_history(basis_id: EntityId, session: SessionDep) -> BasisHistoryOut:
    """Every revision of a legal basis: status changes (superseded, repealed), edition links, dates."""
    return service.basis_history(session, basis_id)
