"""FastAPI dependencies: the per-request session and the long-lived clients on app state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlmodel import Session

from service.auth.service import KeyRing
from service.db import session_scope
from service.knowledge.runtime import GraphRuntime
from service.releases.service import PastIndexes
from service.search.index import SearchIndex
from service.settings import Settings
from service.suggest.engine import SuggestEngine
from service.versions.service import Past, check_one_of, parse_as_of


@dataclass
class AppState:
    """Everything created once in the lifespan and shared by requests."""

    settings: Settings
    engine: Engine
    index: SearchIndex
    suggest: SuggestEngine
    graph: GraphRuntime
    keys: KeyRing
    past_indexes: PastIndexes = field(default_factory=PastIndexes)  # search over releases / past days
    # One writing request at a time per process; the others queue here, on the event loop, holding no thread.
    writer: asyncio.Lock = field(default_factory=asyncio.Lock)


async def get_state(request: Request) -> AppState:
    # async: reading app state never blocks, and a sync dependency costs a thread-pool hop.
    state: AppState = request.app.state.catalog
    return state


# POSTs that only read (suggestions, the pages' log-in and downloads): they must not queue for the write lock.
READ_ONLY_POSTS = ("/v1/suggestions", "/v1/suggestions:batch", "/ui/suggest", "/ui/suggest/table.xlsx", "/ui/login")


async def read_body_first(request: Request) -> None:
    """Buffer the request body now, unless FastAPI has already read it.

    FastAPI reads a declared body (JSON model, form fields) before it solves any dependency; a route
    with none (the uploads: raw body or multipart) reads ``request`` itself, in the handler — after its
    dependencies, so after the write turn. Buffered here, the handler's ``request.stream()`` /
    ``request.form()`` replay it from memory. Routes run after their access check, so only a caller
    allowed to write gets this far (the size is capped by the body-limit middleware).
    """
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and route.body_field is not None:
        return
    if getattr(request.state, "body_read", False):
        return  # an upload dependency read (and parsed) it already: see ``mark_body_read``
    await request.body()


def mark_body_read(request: Request) -> None:
    """Say that a dependency has read the whole body itself (streamed, so ``request.body()`` cannot replay it).

    The upload routes read and parse their file in a dependency declared before the session's, so
    before the write turn; ``read_body_first`` then has nothing left to read.
    """
    request.state.body_read = True


async def write_turn(request: Request, state: Annotated[AppState, Depends(get_state)]) -> AsyncIterator[bool]:
    """Whether the request writes; a writing request also waits for its turn here.

    Every write takes the database's write lock (SQLite) or the change counter's row (PostgreSQL), so
    writes are serial anyway. Waiting for that inside the thread pool is what went wrong: with more
    writers than threads, all threads blocked on the lock and the holder could not get one back to
    commit — a deadlock until a timeout, and 500s. Queued here, a waiting writer holds no thread.

    The whole body is read before the turn is taken: a client sending its upload a byte a second
    must not make every other write wait for it (the body's time is bounded by the body-limit middleware).
    """
    write = request.method not in ("GET", "HEAD", "OPTIONS") and request.url.path not in READ_ONLY_POSTS
    if write:
        await read_body_first(request)
        async with state.writer:
            yield True
    else:
        yield False


def get_session(
    write: Annotated[bool, Depends(write_turn, scope="function")], state: Annotated[AppState, Depends(get_state)]
) -> Iterator[Session]:
    yield from session_scope(state.engine, write=write)


async def get_index(state: Annotated[AppState, Depends(get_state)]) -> SearchIndex:
    return state.index


async def get_suggest(request: Request) -> SuggestEngine:
    state: AppState = request.app.state.catalog
    return state.suggest


async def get_past_indexes(request: Request) -> PastIndexes:
    state: AppState = request.app.state.catalog
    return state.past_indexes


# Query parameters every read of the past shares (indicators, search, exports, graph).
# Row ids and counts are PostgreSQL INTEGER: a larger number cannot name anything and would not even fit
# the column (the database would fail instead of answering 404), so the contract bounds them.
MAX_INT = 2**31 - 1
EntityId = Annotated[int, Path(ge=1, le=MAX_INT)]
OffsetParam = Annotated[int, Query(ge=0, le=MAX_INT)]


async def past_read(
    as_of: Annotated[
        str | None,
        # Checked by ``parse_as_of`` alone, so that every malformed date gets the same 422 (a
        # max_length here would answer over-long ones with another); the schema still says what fits.
        Query(
            description="YYYY-MM-DD: the catalogue as it stood at the end of that day (9999-12-31: the far future)",
            json_schema_extra={"format": "date", "maxLength": 10},
        ),
    ] = None,
    release: Annotated[
        str | None,
        Query(
            max_length=64,
            description="name of a published release, e.g. 2026.1 (the graph reads it as of its effective date)",
        ),
    ] = None,
) -> Past:
    """The one parser of ``?as_of=`` and ``?release=``: every route that reads the past takes this.

    Same bounds and the same problem+json everywhere: a malformed date is a 422 naming ``as_of``,
    both at once a 422 naming both. A release name is looked up (404 if unknown) by the service.
    """
    # async: parsing never blocks, and a sync dependency costs a thread-pool hop.
    check_one_of(release, as_of)
    return Past(as_of=parse_as_of(as_of), release=release)


PastDep = Annotated[Past, Depends(past_read)]

StateDep = Annotated[AppState, Depends(get_state)]
# scope="function": the unit of work commits (and the write turn ends) before the response is sent.
# FastAPI's default runs that code after the response has gone out: a commit failing there (the
# database restarting) was a 200 for a write never stored, and a dropped keep-alive connection.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
IndexDep = Annotated[SearchIndex, Depends(get_index)]
SuggestDep = Annotated[SuggestEngine, Depends(get_suggest)]
PastIndexesDep = Annotated[PastIndexes, Depends(get_past_indexes)]
