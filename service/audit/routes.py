"""HTTP routes of the audit trail (thin). Read-only by design: no route here writes, and none may."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from service.audit import service
from service.audit.repository import Filters
from service.audit.schemas import AuditEntryOut, AuditExportFormat, AuditPage, AuditRole, VerifyOut
from service.auth.access import AUDIT_READ
from service.deps import EntityId, SessionDep, StateDep
from service.errors import problem_responses
from service.security.headers import attachment

router = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(AUDIT_READ)])

_NAME = r"^[a-z][a-z_]{0,31}$"


def audit_filters(
    actor: Annotated[str | None, Query(max_length=200, description="the key owner")] = None,
    role: AuditRole | None = None,
    key_id: Annotated[str | None, Query(max_length=16)] = None,
    entity_type: Annotated[str | None, Query(pattern=_NAME, description="indicator, legal_basis, …")] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(pattern=_NAME, description="create, update, import, …")] = None,
    route: Annotated[str | None, Query(max_length=300, description="a route template")] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        datetime | None, Query(description="from this moment (inclusive; UTC unless zoned)")
    ] = None,
    until: Annotated[datetime | None, Query(description="before this moment (exclusive)")] = None,
) -> Filters:
    return Filters(
        actor=actor,
        role=role.value if role else None,
        key_id=key_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        route=route,
        request_id=request_id,
        since=since,
        until=until,
    )


FiltersDep = Annotated[Filters, Depends(audit_filters)]


@router.get("", operation_id="listAuditEntries", response_model=AuditPage, responses=problem_responses(422))
def list_entries(
    session: SessionDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditPage:
    """Recorded writes, newest first, narrowed by any of the filters; follow `next_cursor` for older ones."""
    return service.list_entries(session, filters, limit=limit, cursor=cursor)


@router.get(
    "/export",
    operation_id="exportAuditEntries",
    response_class=Response,
    responses={
        200: {
            "description": "CSV (UTF-8 with BOM) or XLSX, oldest first",
            "content": {media.split(";")[0]: {} for media in service.MEDIA.values()},
        },
        **problem_responses(422),
    },
)
def export_entries(
    session: SessionDep,
    state: StateDep,
    filters: FiltersDep,
    format: AuditExportFormat = AuditExportFormat.csv,
) -> StreamingResponse:
    """The matching entries with every field and both hashes, so the chain can be checked offline."""
    body, media_type, filename = service.export(session, state.engine, filters, format)
    return StreamingResponse(
        body, media_type=media_type, headers={"Content-Disposition": attachment(filename)}
    )


@router.get("/verify", operation_id="verifyAuditChain", response_model=VerifyOut)
def verify_chain(session: SessionDep) -> VerifyOut:
    """Recompute the hash chain from the first entry to the head; `ok` false names the first bad entry."""
    return service.verify(session)


@router.get(
    "/{entry_id}",
    operation_id="getAuditEntry",
    response_model=AuditEntryOut,
    responses=problem_responses(404, 422),
)
def get_entry(entry_id: EntityId, session: SessionDep) -> AuditEntryOut:
    return service.get_entry(session, entry_id)
