"""HTTP routes for proposals and their review (thin: parse, call the service, shape headers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from starlette.concurrency import run_in_threadpool

from service.auth.access import ASSIGN, PROPOSALS_READ, PROPOSE, REVIEW
from service.deps import EntityId, OffsetParam, SessionDep, SuggestDep
from service.domain import ProposalState
from service.errors import problem_responses
from service.imports.routes import UPLOAD_BODY, UploadDep
from service.names import RequiredName
from service.proposals import service
from service.proposals.schemas import (
    AssignIn,
    CommentIn,
    CommentOut,
    CommentThreads,
    DecisionIn,
    ProposalIn,
    ProposalList,
    ProposalOut,
    ProposalPatch,
    ReviewersOut,
    ReviewOut,
)

router = APIRouter(prefix="/v1", tags=["proposals"])

IfMatch = Annotated[str | None, Header(alias="If-Match", description="the proposal's ETag")]


def _located(response: Response, out: ProposalOut, tag: str) -> ProposalOut:
    response.headers["ETag"] = tag
    response.headers["Location"] = f"/v1/proposals/{out.id}"
    return out


@router.post(
    "/proposals",
    operation_id="createProposal",
    dependencies=[Depends(PROPOSE)],
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(422),
)
def create_proposal(data: ProposalIn, session: SessionDep, response: Response) -> ProposalOut:
    """A draft proposal of new indicators, changes and retirements for one department."""
    return _located(response, *service.create_proposal(session, data))


@router.post(
    "/proposals:import",
    operation_id="importProposal",
    dependencies=[Depends(PROPOSE)],
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
    responses=problem_responses(413, 422),
)
async def import_proposal(
    upload: UploadDep,
    session: SessionDep,
    response: Response,
    title: Annotated[RequiredName, Query(max_length=500)],
    department_code: Annotated[str, Query(min_length=1, max_length=64)],
    reason: Annotated[str | None, Query(max_length=10_000)] = None,
) -> ProposalOut:
    """A whole table as one draft proposal: rows with a code revise (停用 in 状态 retires), rows without create."""
    out, tag = await run_in_threadpool(
        service.import_proposal,
        session,
        upload,
        title=title,
        department_code=department_code,
        reason=reason,
    )
    return _located(response, out, tag)


@router.get(
    "/proposals",
    operation_id="listProposals",
    dependencies=[Depends(PROPOSALS_READ)],
    response_model=ProposalList,
)
def list_proposals(
    session: SessionDep,
    state: ProposalState | None = None,
    department: Annotated[str | None, Query(max_length=64, description="department code")] = None,
    assigned_to: Annotated[str | None, Query(max_length=200, description="a reviewer (actor)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetParam = 0,
) -> ProposalList:
    """The proposals the caller may see: finance all, editors their departments', reviewers those assigned."""
    return service.list_proposals(
        session, state=state, department=department, assigned_to=assigned_to, limit=limit, offset=offset
    )


@router.get(
    "/proposals/{proposal_id}",
    operation_id="getProposal",
    dependencies=[Depends(PROPOSALS_READ)],
    response_model=ProposalOut,
    responses=problem_responses(404),
)
def get_proposal(proposal_id: EntityId, session: SessionDep, response: Response) -> ProposalOut:
    """Items, findings, reviewers and comment counts; the ETag guards edits and decisions."""
    out, tag = service.get_proposal(session, proposal_id)
    response.headers["ETag"] = tag
    return out


@router.patch(
    "/proposals/{proposal_id}",
    operation_id="patchProposal",
    dependencies=[Depends(PROPOSE)],
    response_model=ProposalOut,
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
def patch_proposal(
    proposal_id: EntityId, patch: ProposalPatch, session: SessionDep, response: Response, if_match: IfMatch = None
) -> ProposalOut:
    """Title, reason or items while draft or changes_requested; needs If-Match."""
    out, tag = service.patch_proposal(session, proposal_id, patch, if_match=if_match)
    response.headers["ETag"] = tag
    return out


@router.post(
    "/proposals/{proposal_id}/submit",
    operation_id="submitProposal",
    dependencies=[Depends(PROPOSE)],
    response_model=ProposalOut,
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
def submit_proposal(
    proposal_id: EntityId, session: SessionDep, engine: SuggestDep, response: Response, if_match: IfMatch = None
) -> ProposalOut:
    """Run the automated checks and store them; draft or changes_requested → submitted."""
    out, tag = service.submit(session, proposal_id, engine, if_match=if_match)
    response.headers["ETag"] = tag
    return out


@router.post(
    "/proposals/{proposal_id}/withdraw",
    operation_id="withdrawProposal",
    dependencies=[Depends(PROPOSE)],
    response_model=ProposalOut,
    responses=problem_responses(403, 404, 409, 412, 428),
)
def withdraw_proposal(
    proposal_id: EntityId, session: SessionDep, response: Response, if_match: IfMatch = None
) -> ProposalOut:
    """The proposer's side takes it back from any open state → withdrawn."""
    out, tag = service.withdraw(session, proposal_id, if_match=if_match)
    response.headers["ETag"] = tag
    return out


@router.post(
    "/proposals/{proposal_id}/reviewers",
    operation_id="assignProposalReviewers",
    dependencies=[Depends(ASSIGN)],
    response_model=ReviewersOut,
    responses=problem_responses(404, 409, 422),
)
def assign_reviewers(proposal_id: EntityId, data: AssignIn, session: SessionDep) -> ReviewersOut:
    """Assign reviewers (owners of an active reviewer key, never the proposer)."""
    return service.assign_reviewers(session, proposal_id, data)


@router.delete(
    "/proposals/{proposal_id}/reviewers/{reviewer}",
    operation_id="unassignProposalReviewer",
    dependencies=[Depends(ASSIGN)],
    response_model=ReviewersOut,
    responses=problem_responses(404, 409),
)
def unassign_reviewer(proposal_id: EntityId, reviewer: str, session: SessionDep) -> ReviewersOut:
    """Take a reviewer off an open proposal; their comments stay in the thread (and in the audit trail)."""
    return service.unassign_reviewer(session, proposal_id, reviewer)


@router.post(
    "/proposals/{proposal_id}/decision",
    operation_id="decideProposal",
    dependencies=[Depends(REVIEW)],
    response_model=ProposalOut,
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
def decide_proposal(
    proposal_id: EntityId,
    data: DecisionIn,
    session: SessionDep,
    engine: SuggestDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProposalOut:
    """start_review, request_changes, approve (applies it as a change set) or reject; needs If-Match.

    The proposer never decides on their own proposal (403); approval is 409 while a finding has severity
    error (stored at submission, or found when the checks run again at approval because the catalogue
    moved), or when an indicator it revises changed after submission.
    """
    out, tag = service.decide(session, proposal_id, data, engine, if_match=if_match)
    response.headers["ETag"] = tag
    return out


@router.post(
    "/proposals/{proposal_id}/comments",
    operation_id="commentOnProposal",
    dependencies=[Depends(PROPOSALS_READ)],
    response_model=CommentOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 422),
)
def add_comment(proposal_id: EntityId, data: CommentIn, session: SessionDep) -> CommentOut:
    """A comment on the proposal, an item or a field of an item, or a reply (``parent_id``)."""
    return service.add_comment(session, proposal_id, data)


@router.get(
    "/proposals/{proposal_id}/comments",
    operation_id="listProposalComments",
    dependencies=[Depends(PROPOSALS_READ)],
    response_model=CommentThreads,
    responses=problem_responses(404),
)
def list_comments(proposal_id: EntityId, session: SessionDep) -> CommentThreads:
    """The discussion as threads, oldest first."""
    return service.comment_threads(session, proposal_id)


@router.get(
    "/proposals/{proposal_id}/review",
    operation_id="getProposalReview",
    dependencies=[Depends(PROPOSALS_READ)],
    response_model=ReviewOut,
    responses=problem_responses(404),
)
def get_review(proposal_id: EntityId, session: SessionDep) -> ReviewOut:
    """Checks, comments, the decision (who, when, why), the change set and the revisions it created."""
    return service.review_summary(session, proposal_id)
