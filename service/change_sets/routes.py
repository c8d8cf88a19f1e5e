"""HTTP routes for policy changes (new edition, repeal) and the change sets they open (thin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status

from graph.store import GraphStore
from service.auth.access import POLICY_CHANGE, READ
from service.change_sets import service
from service.change_sets.schemas import (
    ApplyIn,
    ApplyOut,
    ChangeSetItemOut,
    ChangeSetList,
    ChangeSetOut,
    ChangeSetPatch,
    ChangeSetStatus,
    Decision,
    EditionIn,
    ItemAction,
    ItemPage,
    ItemPatch,
    PolicyChangeOut,
    RepealIn,
    SettleIn,
    SettleOut,
)
from service.deps import MAX_INT, EntityId, OffsetParam, SessionDep
from service.errors import problem_responses

router = APIRouter(tags=["change-sets"])

IfMatch = Annotated[str | None, Header(alias="If-Match")]
ItemsLimit = Annotated[int, Query(ge=1, le=service.MAX_ITEMS_PAGE)]


def _impact_store(request: Request) -> GraphStore:
    # Decisions are written from the relational source itself, never from a lagging Neo4j copy.
    store: GraphStore = request.app.state.catalog.graph.embedded
    return store


@router.post(
    "/v1/legal-bases/{basis_id}/editions",
    operation_id="recordLegalBasisEdition",
    dependencies=[Depends(POLICY_CHANGE)],
    response_model=PolicyChangeOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 422),
)
def record_edition(
    basis_id: EntityId, data: EditionIn, session: SessionDep, request: Request, response: Response
) -> PolicyChangeOut:
    """A new edition supersedes this one from its effective date; opens a draft change set of rebases."""
    out = service.record_edition(session, basis_id, data, _impact_store(request))
    response.headers["Location"] = f"/v1/change-sets/{out.change_set.id}"
    return out


@router.post(
    "/v1/legal-bases/{basis_id}/repeal",
    operation_id="repealLegalBasis",
    dependencies=[Depends(POLICY_CHANGE)],
    response_model=PolicyChangeOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 422),
)
def repeal_basis(
    basis_id: EntityId, data: RepealIn, session: SessionDep, request: Request, response: Response
) -> PolicyChangeOut:
    """The document is repealed; opens a draft change set retiring what rested on it alone."""
    out = service.repeal(session, basis_id, data, _impact_store(request))
    response.headers["Location"] = f"/v1/change-sets/{out.change_set.id}"
    return out


@router.get(
    "/v1/change-sets",
    operation_id="listChangeSets",
    dependencies=[Depends(READ)],
    response_model=ChangeSetList,
)
def list_change_sets(
    session: SessionDep,
    status_: Annotated[ChangeSetStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetParam = 0,
    legal_basis_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT, description="only those opened by a change of this basis (old or new edition)")
    ] = None,
) -> ChangeSetList:
    return service.list_change_sets(
        session, status=status_, limit=limit, offset=offset, basis_id=legal_basis_id
    )


@router.get(
    "/v1/change-sets/{change_set_id}",
    operation_id="getChangeSet",
    dependencies=[Depends(READ)],
    response_model=ChangeSetOut,
    responses=problem_responses(404),
)
def get_change_set(
    change_set_id: EntityId,
    session: SessionDep,
    response: Response,
    limit: ItemsLimit = service.MAX_ITEMS_PAGE,
    offset: OffsetParam = 0,
) -> ChangeSetOut:
    """Counts by decision and action, affected targets, and the items (all of them up to 1000)."""
    out = service.get_change_set(session, change_set_id, limit=limit, offset=offset)
    response.headers["ETag"] = f'"cs{out.id}.v{out.version}"'
    return out


@router.patch(
    "/v1/change-sets/{change_set_id}",
    operation_id="patchChangeSet",
    dependencies=[Depends(POLICY_CHANGE)],
    response_model=ChangeSetOut,
    responses=problem_responses(404, 409, 412, 422, 428),
)
def patch_change_set(
    change_set_id: EntityId,
    patch: ChangeSetPatch,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ChangeSetOut:
    """Title, summary or effective date of a draft; needs If-Match with the change set's ETag."""
    out, tag = service.patch_change_set(session, change_set_id, patch, if_match=if_match)
    response.headers["ETag"] = tag
    return out


@router.get(
    "/v1/change-sets/{change_set_id}/items",
    operation_id="listChangeSetItems",
    dependencies=[Depends(READ)],
    response_model=ItemPage,
    responses=problem_responses(404),
)
def list_items(
    change_set_id: EntityId,
    session: SessionDep,
    decision: Decision | None = None,
    action: ItemAction | None = None,
    limit: ItemsLimit = 100,
    offset: OffsetParam = 0,
) -> ItemPage:
    return service.list_items(
        session, change_set_id, limit=limit, offset=offset, decision=decision, action=action
    )


@router.patch(
    "/v1/change-sets/{change_set_id}/items/{item_id}",
    operation_id="patchChangeSetItem",
    dependencies=[Depends(POLICY_CHANGE)],
    response_model=ChangeSetItemOut,
    responses=problem_responses(404, 409, 412, 422, 428),
)
def patch_item(
    change_set_id: EntityId,
    item_id: EntityId,
    patch: ItemPatch,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ChangeSetItemOut:
    """Action, proposal, decision or note of one item; needs If-Match with the item's ETag."""
    out, tag = service.patch_item(session, change_set_id, item_id, patch, if_match=if_match)
    response.headers["ETag"] = tag
    return out


@router.post(
    "/v1/change-sets/{change_set_id}/items:settle",
    operation_id="settleChangeSetItems",
    dependencies=[Depends(POLICY_CHANGE)],
    response_model=SettleOut,
    responses=problem_responses(404, 409, 422),
)
def settle_items(change_set_id: EntityId, data: SettleIn, session: SessionDep) -> SettleOut:
    """Accept or reject many items at once: a list of item ids, or "all" (every item still pending)."""
    return service.settle(session, change_set_id, data)


@router.post(
    "/v1/change-sets/{change_set_id}/apply",
    operation_id="applyChangeSet",
    dependencies=[Depends(POLICY_CHANGE)],
    response_model=ApplyOut,
    responses=problem_responses(404, 409, 422),
)
def apply_change_set(
    change_set_id: EntityId, session: SessionDep, data: Annotated[ApplyIn | None, Body()] = None
) -> ApplyOut:
    """Carry out every accepted item in one transaction; 409 while an item is pending or stale.

    Applied by the caller's key: the body takes no field (an ``author`` in it is refused with 422)."""
    return service.apply(session, change_set_id)
