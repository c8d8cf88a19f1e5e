"""Fixture tiers: every API test runs on SQLite and on a real PostgreSQL.

A seeded template database is built once per backend (SQLite file copy,
PostgreSQL ``CREATE DATABASE … TEMPLATE``), so each test gets a fresh,
seeded catalogue cheaply.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.principal import Role
from service.bootstrap import prepare_database
from service.db import make_engine, migrate
from service.settings import Settings
from tests.support.auth import bearer, mint_key
from tests.support.postgres import PostgresServer, start_postgres_or_skip

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TEMPLATE_DB = "catalog_seed_template"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = start_postgres_or_skip(tmp_path_factory.mktemp("postgres"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare_database(engine, seed=True)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database(TEMPLATE_DB, drop_existing=True)
    engine = make_engine(url)
    prepare_database(engine, seed=True)
    engine.dispose()
    return TEMPLATE_DB


def _pg_copy(server: PostgresServer, template: str) -> str:
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.admin_conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    return server.url_for(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def seeded_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh copy of the seeded catalogue on the test's backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "catalog.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return _pg_copy(server, request.getfixturevalue("postgres_template"))


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database with the schema but no seed."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"e_{uuid.uuid4().hex[:12]}")


def client_for(url: str, *, seed: bool, role: Role | None = Role.admin) -> TestClient:
    """A client that sends a key in ``role`` (admin unless told; None: anonymous).

    The database is migrated first, so the key can be minted before the app starts.
    """
    client = TestClient(create_app(Settings(database_url=url, seed=seed)), raise_server_exceptions=False)
    if role is not None:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        client.headers.update(bearer(mint_key(url, role, owner=f"test-{role.value}")))
    return client


@pytest.fixture
def client(seeded_url: str) -> Iterator[TestClient]:
    with client_for(seeded_url, seed=True) as c:
        yield c


@pytest.fixture
def empty_client(empty_url: str) -> Iterator[TestClient]:
    with client_for(empty_url, seed=False) as c:
        yield c
