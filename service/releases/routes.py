"""HTTP routes for releases (thin). Releases are immutable: there is no update or delete."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response, status

from service.auth.access import PUBLIC_READ, RELEASE_PUBLISH
from service.deps import SessionDep
from service.errors import problem_responses
from service.releases import service
from service.releases.schemas import (
    DiffSection,
    ReleaseDiff,
    ReleaseDraft,
    ReleaseIndicatorPage,
    ReleaseList,
    ReleaseOut,
)

router = APIRouter(prefix="/v1/releases", tags=["releases"])

NameParam = Annotated[str, Path(max_length=64, description="release name, e.g. 2026.1")]


@router.post(
    "",
    operation_id="publishRelease",
    dependencies=[Depends(RELEASE_PUBLISH)],
    response_model=ReleaseOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
)
def publish_release(draft: ReleaseDraft, session: SessionDep, response: Response) -> ReleaseOut:
    """Freeze every indicator now standard, at its current revision, under a new name."""
    out = service.create_release(session, draft)
    response.headers["Location"] = f"/v1/releases/{quote(out.name, safe='')}"
    return out


@router.get("", operation_id="listReleases", dependencies=[Depends(PUBLIC_READ)], response_model=ReleaseList)
def list_releases(session: SessionDep) -> ReleaseList:
    """Every release, newest first, with its counts against the one before."""
    return service.list_releases(session)


@router.get(
    "/{name}",
    operation_id="getRelease",
    dependencies=[Depends(PUBLIC_READ)],
    response_model=ReleaseOut,
    responses=problem_responses(404, 422),
)
def get_release(name: NameParam, session: SessionDep) -> ReleaseOut:
    return service.get_release(session, name)


@router.get(
    "/{name}/indicators",
    operation_id="listReleaseIndicators",
    dependencies=[Depends(PUBLIC_READ)],
    response_model=ReleaseIndicatorPage,
    responses=problem_responses(404, 422),
)
def list_release_indicators(
    name: NameParam,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ReleaseIndicatorPage:
    """The indicators of a release as it froze them, ordered by code."""
    return service.release_indicators(session, name, limit=limit, cursor=cursor)


@router.get(
    "/{a}/diff/{b}",
    operation_id="diffReleases",
    dependencies=[Depends(PUBLIC_READ)],
    response_model=ReleaseDiff,
    responses=problem_responses(404, 422),
)
def diff_releases(
    a: NameParam,
    b: NameParam,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="changed items per page")] = 200,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    include: Annotated[
        list[DiffSection] | None, Query(description="sections to return (default all); counts always come")
    ] = None,
) -> ReleaseDiff:
    """Added and retired codes, and changed indicators with field diffs classified MAJOR / MINOR / PATCH."""
    return service.diff_releases(session, a, b, limit=limit, cursor=cursor, include=include)
