"""HTTP route of the change feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.auth.access import READ
from service.changes import service
from service.changes.schemas import ChangePage
from service.deps import SessionDep
from service.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["changes"])


@router.get(
    "/changes",
    operation_id="listChanges",
    dependencies=[Depends(READ)],
    response_model=ChangePage,
    responses=problem_responses(422),
)
def list_changes(
    session: SessionDep,
    after: Annotated[str | None, Query(max_length=200, description="cursor from the last page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChangePage:
    """Ordered catalogue events for incremental sync.

    Delivery is at-least-once: keep the last ``next_cursor`` after you have applied a page, and
    de-duplicate by ``event_id`` if you replay. The order is commit order; a cursor never skips an event.
    """
    return service.changes_after(session, after, limit)
