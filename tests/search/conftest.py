"""Fixtures: one analyzer per test session (jieba loads once), the seed index."""

from __future__ import annotations

import pytest

from service.search.index import IndexDoc, SearchIndex
from service.search.text import Analyzer
from tests.search.factories import seed_docs, seed_rows


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    rows = seed_rows()
    return Analyzer(user_words=[r["name"] for r in rows] + [r["sector"] for r in rows])


@pytest.fixture(scope="session")
def docs() -> list[IndexDoc]:
    return seed_docs()


@pytest.fixture(scope="session")
def by_code(docs: list[IndexDoc]) -> dict[str, IndexDoc]:
    return {d.code: d for d in docs}


@pytest.fixture(scope="session")
def seed_index(analyzer: Analyzer, docs: list[IndexDoc]) -> SearchIndex:
    """Read-only shared index; tests that write build their own with ``fresh_index``."""
    index = SearchIndex(analyzer)
    index.replace_all(docs, version=1)
    return index


@pytest.fixture
def fresh_index(analyzer: Analyzer, docs: list[IndexDoc]) -> SearchIndex:
    index = SearchIndex(analyzer)
    index.replace_all(docs, version=1)
    return index
