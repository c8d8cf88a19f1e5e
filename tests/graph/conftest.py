"""Fixtures for the graph tests.

* ``catalogue`` -- the graph test catalogue (``tests.graph.catalogue``) on the test's relational
  backend (``backend``: sqlite, postgres), built once per backend from ``empty_url`` and shared by
  the read-only tests; ``fresh_catalogue`` builds a private one for tests that write.
* ``neo4j_server`` -- one real Neo4j for the session; ``neo4j_store`` wipes it for each test.
* ``store`` -- the store under contract test: "embedded" over the catalogue, or "neo4j" loaded
  from the same catalogue by a full projection.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from neo4j import Driver

from graph.embedded import EmbeddedGraphStore
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import read_all
from graph.store import GraphStore
from tests.graph.catalogue import Catalogue, build_catalogue
from tests.support.neo4j import Neo4jServer, start_neo4j_or_skip

STORE_KINDS = ["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)]


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    server = start_neo4j_or_skip(tmp_path_factory.mktemp("neo4j"))
    server.wipe()  # an external server (CATALOG_TEST_NEO4J_URI) may hold anything
    yield server
    server.close()


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_server: Neo4jServer) -> Iterator[Driver]:
    # Short retry/connect times: the outage tests want GraphUnavailable in about a second.
    driver: Driver = neo4j_server.driver(
        max_transaction_retry_time=1.0,
        connection_timeout=2.0,
        notifications_disabled_classifications=["UNRECOGNIZED"],
    )
    yield driver
    driver.close()


@pytest.fixture
def neo4j_store(neo4j_server: Neo4jServer, neo4j_driver: Driver) -> Iterator[Neo4jGraphStore]:
    """An empty Neo4j with the graph schema; restarts the server if an outage test left it down.

    The server is wiped (data, constraints, indexes) once per session; between tests only the
    data is deleted. Every test wants the same schema, and dropping and re-creating constraints
    would throw away the server's query plans and triple the time of each test.
    """
    if neo4j_server.managed and not neo4j_server.running:
        neo4j_server.start()
    store = Neo4jGraphStore(neo4j_driver)
    store.clear()
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture(scope="session")
def _catalogue_urls() -> dict[str, Catalogue]:
    return {}


@pytest.fixture
def catalogue(
    backend: str, request: pytest.FixtureRequest, _catalogue_urls: dict[str, Catalogue]
) -> Catalogue:
    """The shared graph test catalogue on ``backend`` (read-only: do not write to it)."""
    if backend not in _catalogue_urls:
        _catalogue_urls[backend] = build_catalogue(request.getfixturevalue("empty_url"))
    return _catalogue_urls[backend]


@pytest.fixture
def fresh_catalogue(empty_url: str) -> Catalogue:
    """A private graph test catalogue the test may change."""
    return build_catalogue(empty_url)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, catalogue: Catalogue) -> Iterator[GraphStore]:
    engine = catalogue.engine()
    try:
        if request.param == "embedded":
            embedded = EmbeddedGraphStore(engine)
            yield embedded
            embedded.close()
        else:
            neo: Neo4jGraphStore = request.getfixturevalue("neo4j_store")
            with engine.connect() as conn:
                neo.rebuild(*read_all(conn))
            yield neo
    finally:
        engine.dispose()
