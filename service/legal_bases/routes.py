"""HTTP routes for legal bases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from service.auth.access import CATALOGUE_WRITE, PUBLIC_READ
from service.deps import EntityId, SessionDep
from service.errors import problem_responses
from service.legal_bases import service
from service.legal_bases.schemas import LegalBasisIn, LegalBasisOut, LegalBasisPage

router = APIRouter(prefix="/v1/legal-bases", tags=["legal-bases"])


@router.get(
    "", operation_id="listLegalBases", dependencies=[Depends(PUBLIC_READ)], response_model=LegalBasisPage
)
def list_legal_bases(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
) -> LegalBasisPage:
    items = service.list_bases(session, q=q, status=status_)
    return LegalBasisPage(items=items, total=len(items))


@router.post(
    "",
    operation_id="createLegalBasis",
    dependencies=[Depends(CATALOGUE_WRITE)],
    response_model=LegalBasisOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
)
def create_legal_basis(data: LegalBasisIn, session: SessionDep, response: Response) -> LegalBasisOut:
    out = service.create_basis(session, data)
    response.headers["Location"] = f"/v1/legal-bases/{out.id}"
    return out


@router.get(
    "/{basis_id}",
    operation_id="getLegalBasis",
    dependencies=[Depends(PUBLIC_READ)],
    response_model=LegalBasisOut,
    responses=problem_responses(404),
)
def get_legal_basis(basis_id: EntityId, session: SessionDep) -> LegalBasisOut:
    return service.get_basis(session, basis_id)
