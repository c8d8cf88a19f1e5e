"""The Alembic migrations and the SQLModel tables describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.db import make_engine, migrate
from service.models import metadata


def test_migrations_match_models(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"
