"""The FastAPI application: lifespan-owned clients, routers, one error handler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from service.audit.routes import router as audit_router
from service.auth.access import declare_matrix
from service.auth.context import RequestIdMiddleware
from service.auth.routes import router as keys_router
from service.auth.service import KeyRing
from service.bootstrap import prepare_database
from service.change_sets.routes import router as change_sets_router
from service.changes.routes import router as changes_router
from service.db import make_engine
from service.deps import AppState
from service.duties.routes import router as duties_router
from service.errors import install_error_handlers, problems_in_contract
from service.health.routes import router as health_router
from service.imports.routes import router as imports_router
from service.indicators.routes import router as indicators_router
from service.indicators.service import rebuild_index
from service.knowledge.routes import router as knowledge_router
from service.knowledge.runtime import GraphRuntime
from service.legal_bases.routes import router as legal_bases_router
from service.proposals.routes import router as proposals_router
from service.quality.routes import router as quality_router
from service.releases.routes import router as releases_router
from service.search.index import SearchIndex
from service.search.text import Analyzer, load_synonyms
from service.security.body_limit import BodyLimitMiddleware
from service.security.headers import SecurityHeadersMiddleware
from service.security.rate_limit import RateLimiter
from service.security.strict_json import StrictJSONMiddleware
from service.settings import Settings
from service.suggest.routes import router as suggest_router
from service.suggest.service import build_engine
from service.targets.routes import router as targets_router
from service.taxonomy.routes import router as taxonomy_router
from service.versions.routes import router as versions_router
from service.web import HERE as WEB_DIR
from service.web import ROOMS as WEB_ROOMS
from service.web import router as web_router

log = logging.getLogger("service")

API_DESCRIPTION = """指标标准库 — the provincial budget-performance indicator & standard catalogue.

Every error is an RFC 9457 `application/problem+json` document with `errors[]` (field, row)."""


def build_index(session: Session) -> SearchIndex:
    """Build the search index with a user dictionary made from the catalogue's own words."""
    from service.indicators.service import catalogue_words

    index = SearchIndex(Analyzer(user_words=catalogue_words(session), synonyms=load_synonyms()))
    rebuild_index(session, index)
    return index


def startup(settings: Settings) -> AppState:
    engine = make_engine(settings.database_url)
    prepare_database(engine, seed=settings.seed, seed_dir=settings.seed_dir)
    with Session(engine) as session:
        index = build_index(session)
        suggest = build_engine(session, index.analyzer)
    graph = GraphRuntime.open(settings, engine)
    graph.start()
    keys = KeyRing(engine, settings.key_cache_seconds)
    return AppState(settings=settings, engine=engine, index=index, suggest=suggest, graph=graph, keys=keys)


# The API's rooms. Their policies are declared router by router, the pages' rooms too: a router that
# includes another does not list the included routes, so the pages are declared before they are nested.
API_ROUTERS = (
    health_router, indicators_router, taxonomy_router, duties_router, legal_bases_router,
    targets_router, imports_router, knowledge_router, suggest_router, versions_router, changes_router,
    releases_router, change_sets_router, keys_router, quality_router, audit_router, proposals_router,
)  # fmt: skip
# File uploads have their own cap (``max_upload_bytes``, plus room for the multipart envelope).
UPLOAD_PATHS = ("/v1/imports", "/v1/proposals:import")
MULTIPART_OVERHEAD = 64 * 1024


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await run_in_threadpool(startup, settings)
        app.state.catalog = state
        flusher = asyncio.create_task(state.keys.flush_every(settings.key_use_flush_seconds))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            try:
                await run_in_threadpool(state.keys.flush)  # the last uses, when the database lets us
            except Exception:
                log.exception("writing the keys' last use at shutdown failed")
            state.graph.close()
            state.engine.dispose()

    app = FastAPI(
        title="Indicator Catalog (指标标准库)",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.state.suggest_limiter = RateLimiter(settings.suggest_rate_per_minute, settings.suggest_burst)
    # Added last runs first: the request id and headers wrap everything, the size cap sits inside them.
    # Inside the size cap: a JSON body is checked once it has arrived within the cap and deadline.
    app.add_middleware(StrictJSONMiddleware, file_paths=UPLOAD_PATHS)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        upload_paths=UPLOAD_PATHS,
        deadline=settings.body_read_seconds,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After", "X-Graph-Backend"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    for router in API_ROUTERS + WEB_ROOMS:
        declare_matrix(router.routes)
    for router in (*API_ROUTERS, web_router):
        app.include_router(router)
    generate = app.openapi

    def contract() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_in_contract(generate())
        return app.openapi_schema

    app.openapi = contract  # type: ignore[method-assign]
    # The pages' CSS, scripts and the vendored htmx/cytoscape: public files, no key needed.
    app.mount("/ui/static", StaticFiles(directory=WEB_DIR / "static"), name="ui-static")
    return app
