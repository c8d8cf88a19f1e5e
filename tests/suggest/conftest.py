"""One analyzer per test session (jieba loads once)."""

from __future__ import annotations

import pytest

from service.search.text import Analyzer


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()
