"""Choose and open the graph store from settings: embedded by default, Neo4j when a URI is set."""

from __future__ import annotations

from typing import Protocol

import neo4j
from pydantic import SecretStr
from sqlalchemy import Engine

from graph.embedded import EmbeddedGraphStore
from graph.neo4j_store import Neo4jGraphStore
from graph.store import GraphStore

# Fail fast when Neo4j is away: an API read answers 503 within seconds instead of retrying for the
# driver's default 30 s, and the projector's own loop does the longer-term retrying.
CONNECTION_TIMEOUT = 5.0
ACQUISITION_TIMEOUT = 10.0
MAX_RETRY_TIME = 5.0


class GraphSettings(Protocol):
    """The settings fields the factory reads (``service.settings.Settings`` has them)."""

    @property
    def neo4j_uri(self) -> str | None: ...

    @property
    def neo4j_user(self) -> str: ...

    @property
    def neo4j_password(self) -> SecretStr | str: ...

    @property
    def neo4j_database(self) -> str: ...


def _password(settings: GraphSettings) -> str:
    value = settings.neo4j_password
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def open_neo4j_store(settings: GraphSettings) -> Neo4jGraphStore | None:
    """A Neo4j store owning a new driver, or None when ``neo4j_uri`` is unset."""
    if settings.neo4j_uri is None:
        return None
    password = _password(settings)
    auth = (settings.neo4j_user, password) if password else None
    driver = neo4j.GraphDatabase.driver(
        settings.neo4j_uri,
        auth=auth,
        connection_timeout=CONNECTION_TIMEOUT,
        connection_acquisition_timeout=ACQUISITION_TIMEOUT,
        max_transaction_retry_time=MAX_RETRY_TIME,
    )
    return Neo4jGraphStore(driver, database=settings.neo4j_database, owns_driver=True)


def open_graph_store(settings: GraphSettings, engine: Engine) -> GraphStore:
    """The configured store: embedded over ``engine`` when ``neo4j_uri`` is None, else Neo4j.

    The caller closes it (``store.close()``) on shutdown.
    """
    store = open_neo4j_store(settings)
    return EmbeddedGraphStore(engine) if store is None else store
