"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from service.db import ping
from service.deps import StateDep
from service.errors import problem

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health")
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", operation_id="ready", response_model=None)
async def ready(state: StateDep) -> dict[str, Any] | JSONResponse:
    """The database answers; the search index reports how many indicators it holds."""
    try:
        await run_in_threadpool(ping, state.engine)
    except SQLAlchemyError as exc:
        return problem(
            503, "Service unavailable", f"database unreachable: {type(exc).__name__}", slug="not-ready"
        )
    return {
        "status": "ready",
        "database": "ok",
        "indexed": len(state.index),
        "index_version": state.index.version,
    }
