"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from graph.errors import GraphUnavailable
from service.auth.access import HEALTH
from service.db import ping
from service.deps import StateDep
from service.errors import problem

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health", dependencies=[Depends(HEALTH)])
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", operation_id="ready", dependencies=[Depends(HEALTH)], response_model=None)
async def ready(state: StateDep) -> dict[str, Any] | JSONResponse:
    """The database answers; reports the search index size and the graph projection lag."""
    try:
        await run_in_threadpool(ping, state.engine)
    except SQLAlchemyError as exc:
        return problem(
            503, "Service unavailable", f"database unreachable: {type(exc).__name__}", slug="not-ready"
        )
    lag = await run_in_threadpool(state.graph.lag)
    graph: dict[str, Any] = {"backend": state.graph.backend, "projection_lag": lag}
    if state.graph.neo4j is not None:
        try:
            await run_in_threadpool(state.graph.neo4j.health)
            graph["neo4j"] = "ok"
        except GraphUnavailable as exc:
            # Not fatal: graph reads fall back to the embedded store, writes queue in the outbox.
            graph["neo4j"] = f"unavailable: {exc.detail}"
    return {
        "status": "ready",
        "database": "ok",
        "indexed": len(state.index),
        "index_version": state.index.version,
        "graph": graph,
    }
