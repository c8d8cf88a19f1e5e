"""Self-tests of tests/support: start each real server, query it, restart it, crash it, stop it.

The servers here are the module's own (not the session ones from tests/conftest.py): these tests
restart and kill them.

These run in CI with REQUIRE_POSTGRES=1 / REQUIRE_NEO4J=1 (then an unavailable server FAILS);
elsewhere they skip with a loud reason when a server cannot be had.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port, require_or_skip
from tests.support.neo4j import Neo4jServer, neo4j_available, start_neo4j_or_skip
from tests.support.postgres import PostgresServer, postgres_available, start_postgres_or_skip

# -- the skip-or-fail policy -----------------------------------------------------------------------


def test_require_or_skip_does_nothing_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRE_POSTGRES", "1")
    require_or_skip("postgres", None)


def test_require_or_skip_skips_when_not_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUIRE_NEO4J", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"NO NEO4J SERVER.*no jars.*REQUIRE_NEO4J=1"):
        require_or_skip("neo4j", "no jars")
    monkeypatch.setenv("REQUIRE_NEO4J", "0")
    with pytest.raises(pytest.skip.Exception):
        require_or_skip("neo4j", "no jars")


def test_require_or_skip_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRE_NEO4J", "1")
    with pytest.raises(pytest.fail.Exception, match=r"NEO4J REQUIRED \(REQUIRE_NEO4J=1\).*no jars"):
        require_or_skip("neo4j", "no jars")


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_availability_reasons_are_strings_or_none() -> None:
    for reason in (postgres_available(), neo4j_available()):
        assert reason is None or (isinstance(reason, str) and reason)


# -- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selftest_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = start_postgres_or_skip(tmp_path_factory.mktemp("postgres"))
    yield server
    server.close()


def _pg_scalar(url: str, sql: str) -> object:
    """Run one statement through SQLAlchemy (psycopg 3 driver) and return its scalar, if any."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_urls_work_with_sqlalchemy(selftest_postgres: PostgresServer) -> None:
    assert selftest_postgres.url.startswith("postgresql+psycopg://")
    assert selftest_postgres.url.endswith("/catalog_test") or not selftest_postgres.managed
    assert _pg_scalar(selftest_postgres.url, "SELECT 1") == 1
    assert _pg_scalar(selftest_postgres.admin_url, "SELECT current_database()") == "postgres"
    assert _pg_scalar(selftest_postgres.url, "SHOW server_encoding") == "UTF8"
    if selftest_postgres.managed:
        assert _pg_scalar(selftest_postgres.url, "SHOW fsync") == "off"
        assert _pg_scalar(selftest_postgres.url, "SHOW synchronous_commit") == "off"


@pytest.mark.postgres
def test_postgres_restart_and_crash_keep_committed_data(selftest_postgres: PostgresServer) -> None:
    import psycopg

    if not selftest_postgres.managed:
        pytest.skip("external PostgreSQL (CATALOG_TEST_POSTGRES_URL): cannot restart it")
    url = selftest_postgres.create_database("selftest_restart", drop_existing=True)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo) as conn:
        conn.execute("CREATE TABLE t (name text PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES ('预算执行率')")
    old_pid = selftest_postgres.pid

    selftest_postgres.restart()
    assert selftest_postgres.pid not in (None, old_pid)
    assert _pg_scalar(url, "SELECT name FROM t") == "预算执行率"

    with psycopg.connect(conninfo) as conn:
        # The throwaway cluster runs with synchronous_commit=off: a crash may lose the last few
        # hundred ms of commits. A fault test that needs a commit to survive kill() asks for it:
        conn.execute("SET synchronous_commit = on")
        conn.execute("INSERT INTO t VALUES ('项目完成及时率')")
    selftest_postgres.kill()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(conninfo, connect_timeout=2).close()
    selftest_postgres.start()
    assert _pg_scalar(url, "SELECT count(*) FROM t") == 2

    selftest_postgres.drop_database("selftest_restart")
    selftest_postgres.stop()
    selftest_postgres.stop()  # idempotent
    assert selftest_postgres.pid is None
    selftest_postgres.start()
    assert _pg_scalar(selftest_postgres.url, "SELECT 1") == 1


@pytest.mark.postgres
def test_postgres_recreate_database_gives_a_clean_slate(selftest_postgres: PostgresServer) -> None:
    url = selftest_postgres.create_database("selftest_clean", drop_existing=True)
    _pg_scalar(url, "CREATE TABLE leftover (x int)")
    url = selftest_postgres.recreate_database("selftest_clean")
    assert _pg_scalar(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'") == 0
    selftest_postgres.drop_database("selftest_clean")


# -- Neo4j -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selftest_neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    server = start_neo4j_or_skip(tmp_path_factory.mktemp("neo4j"))
    yield server
    server.close()


def _cypher(server: Neo4jServer, query: str, **params: object) -> list[dict[str, object]]:
    with server.driver() as driver:
        records = driver.execute_query(query, params).records
    return [record.data() for record in records]


@pytest.mark.neo4j
def test_neo4j_constraint_fulltext_cjk_restart_and_crash(selftest_neo4j: Neo4jServer) -> None:
    from neo4j.exceptions import ConstraintError, ServiceUnavailable

    server = selftest_neo4j
    server.wipe()
    _cypher(server, "CREATE CONSTRAINT selftest_code IF NOT EXISTS FOR (n:SelfTest) REQUIRE n.code IS UNIQUE")
    _cypher(
        server,
        "CREATE FULLTEXT INDEX selftest_name IF NOT EXISTS FOR (n:SelfTest) ON EACH [n.name] "
        "OPTIONS {indexConfig: {`fulltext.analyzer`: 'cjk'}}",
    )
    rows = [{"code": "A1", "name": "预算执行率"}, {"code": "A2", "name": "项目完成及时率"}]
    _cypher(server, "UNWIND $rows AS r MERGE (n:SelfTest {code: r.code}) SET n.name = r.name", rows=rows)
    with pytest.raises(ConstraintError):
        _cypher(server, "CREATE (:SelfTest {code: 'A1'})")
    _cypher(server, "CALL db.awaitIndexes(60)")
    hits = _cypher(
        server,
        "CALL db.index.fulltext.queryNodes('selftest_name', $q) YIELD node RETURN node.code AS code",
        q="执行",
    )
    assert hits == [{"code": "A1"}]
    assert _cypher(server, "CALL dbms.components() YIELD edition RETURN edition") in (
        [{"edition": "community"}],
        [{"edition": "enterprise"}],
    )

    if not server.managed:
        server.wipe()
        pytest.skip("external Neo4j (CATALOG_TEST_NEO4J_URI): cannot restart it")

    old_pid = server.pid
    server.stop()
    assert server.pid is None
    with pytest.raises(ServiceUnavailable), server.driver(connection_timeout=2) as driver:
        driver.verify_connectivity()
    server.start()
    assert server.pid not in (None, old_pid)
    assert _cypher(server, "MATCH (n:SelfTest) RETURN n.code AS code ORDER BY code") == [
        {"code": "A1"},
        {"code": "A2"},
    ]

    _cypher(server, "CREATE (:SelfTest {code: 'A3', name: '崩溃前写入'})")
    server.kill()
    server.start()  # recovers from the transaction log
    assert [r["code"] for r in _cypher(server, "MATCH (n:SelfTest) RETURN n.code AS code ORDER BY code")] == [
        "A1",
        "A2",
        "A3",
    ]
    _cypher(server, "CALL db.awaitIndexes(60)")
    assert _cypher(
        server,
        "CALL db.index.fulltext.queryNodes('selftest_name', $q) YIELD node RETURN node.code AS code",
        q="崩溃",
    ) == [{"code": "A3"}]
    assert server.startup_seconds is not None
    print(f"neo4j start-up after a crash: {server.startup_seconds:.1f}s")  # shown with -s

    server.wipe()
    assert _cypher(server, "MATCH (n) RETURN count(n) AS n") == [{"n": 0}]
    assert _cypher(server, "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name") == []


@pytest.mark.neo4j
def test_neo4j_store_lives_in_workdir(selftest_neo4j: Neo4jServer) -> None:
    if not selftest_neo4j.managed:
        pytest.skip("external Neo4j")
    assert selftest_neo4j.home is not None
    assert (selftest_neo4j.home / "conf" / "neo4j.conf").is_file()
    assert (selftest_neo4j.home / "data" / "databases" / "neo4j").is_dir()
    assert selftest_neo4j.uri == f"bolt://127.0.0.1:{selftest_neo4j.port}"
    assert Path(os.fspath(selftest_neo4j.log_file)).is_file()
