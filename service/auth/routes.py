"""Admin API for keys (thin). The same operations exist on the command line: ``indicator-catalog keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.auth import service
from service.auth.access import KEYS_ADMIN
from service.auth.context import current_principal
from service.auth.schemas import KeyCreated, KeyIn, KeyList, KeyOut, RotateIn
from service.deps import SessionDep
from service.errors import problem_responses

router = APIRouter(tags=["keys"], dependencies=[Depends(KEYS_ADMIN)])


@router.post(
    "/v1/keys",
    operation_id="createApiKey",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(422),
)
def create_key(data: KeyIn, session: SessionDep, response: Response) -> KeyCreated:
    """Mint a key. The `token` in the answer is shown this once; only its hash is kept."""
    created = service.create_key(session, data, created_by=current_principal().actor)
    response.headers["Location"] = f"/v1/keys/{created.id}"
    response.headers["Cache-Control"] = "no-store"
    return created


@router.get("/v1/keys", operation_id="listApiKeys", response_model=KeyList)
def list_keys(
    session: SessionDep, include_revoked: Annotated[bool, Query(description="also revoked keys")] = False
) -> KeyList:
    return KeyList(items=service.list_keys(session, include_revoked=include_revoked))


@router.get(
    "/v1/keys/{key_id}", operation_id="getApiKey", response_model=KeyOut, responses=problem_responses(404)
)
def get_key(key_id: str, session: SessionDep) -> KeyOut:
    return service.get_key(session, key_id)


@router.post(
    "/v1/keys/{key_id}/rotate",
    operation_id="rotateApiKey",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 422),
)
def rotate_key(
    key_id: str, data: RotateIn, session: SessionDep, request: Request, response: Response
) -> KeyCreated:
    """A new key with the same owner and rights; the old one is revoked now or after `grace_seconds`."""
    created = service.rotate(session, key_id, data, by=current_principal().actor)
    session.commit()  # before the cache drops the key, so no request can re-cache the old state
    request.app.state.catalog.keys.forget(key_id)
    response.headers["Cache-Control"] = "no-store"
    return created


@router.delete(
    "/v1/keys/{key_id}",
    operation_id="revokeApiKey",
    response_model=KeyOut,
    responses=problem_responses(404, 409),
)
def revoke_key(key_id: str, session: SessionDep, request: Request) -> KeyOut:
    """Revoke at once (this process; other workers within the key cache time). The row stays for the audit."""
    out = service.revoke(session, key_id, by=current_principal().actor)
    session.commit()
    request.app.state.catalog.keys.forget(key_id)
    return out
