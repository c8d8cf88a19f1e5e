"""FastAPI dependencies: the per-request session and the long-lived clients on app state."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Engine
from sqlmodel import Session

from service.auth.service import KeyRing
from service.db import session_scope
from service.knowledge.runtime import GraphRuntime
from service.releases.service import PastIndexes
from service.search.index import SearchIndex
from service.settings import Settings
from service.suggest.engine import SuggestEngine


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


async def get_state(request: Request) -> AppState:
    # async: reading app state never blocks, and a sync dependency costs a thread-pool hop.
    state: AppState = request.app.state.catalog
    return state


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    yield from session_scope(state.engine)


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

AsOfParam = Annotated[
    str | None,
    Query(max_length=10, description="YYYY-MM-DD: the catalogue as it stood at the end of that day"),
]
ReleaseParam = Annotated[
    str | None, Query(max_length=64, description="name of a published release, e.g. 2026.1")
]

StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]
IndexDep = Annotated[SearchIndex, Depends(get_index)]
SuggestDep = Annotated[SuggestEngine, Depends(get_suggest)]
PastIndexesDep = Annotated[PastIndexes, Depends(get_past_indexes)]
