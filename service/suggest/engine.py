"""The suggestion engine: catalogue snapshots (``catalogue``) plus the ranking (``ranking``).

One engine per process, created in the app's lifespan and held in ``AppState.suggest``; it shares the
search index's analyzer (one jieba dictionary per process) and the project's synonym table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from service.search.text import Analyzer, load_synonyms
from service.suggest.calibration import Calibration
from service.suggest.catalogue import Snapshot, SnapshotStore, SuggestDoc
from service.suggest.ranking import Ranker, Signal, SuggestQuery, SuggestResult, Weights
from service.suggest.signals import LinkCache, UsageMemory


class SuggestEngine:
    """Suggests catalogue indicators for target texts; reads never wait for writes."""

    def __init__(
        self,
        analyzer: Analyzer,
        *,
        weights: Weights | None = None,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self._store = SnapshotStore(analyzer)
        self.link_cache = LinkCache()  # relational context signals, see ``signals``
        self.usage = UsageMemory()  # indicators chosen for past targets, see ``signals``
        self._ranker = Ranker(
            analyzer, load_synonyms() if synonyms is None else synonyms, weights or Weights(), calibration
        )

    @property
    def version(self) -> int:
        """The catalogue change counter the engine reflects."""
        return self._store.version

    @property
    def snapshot(self) -> Snapshot:
        return self._store.snapshot

    @property
    def weights(self) -> Weights:
        return self._ranker.weights

    @property
    def calibration(self) -> Calibration:
        return self._ranker.calibration

    @calibration.setter
    def calibration(self, value: Calibration) -> None:
        self._ranker.calibration = value

    def __len__(self) -> int:
        return len(self._store)

    def info(self) -> dict[str, Any]:
        return self._store.info()

    def replace_all(self, docs: Iterable[SuggestDoc], *, version: int) -> None:
        """Full rebuild off-lock, then an atomic swap (the engine keeps answering meanwhile)."""
        self._store.replace_all(docs, version=version)

    def upsert(self, docs: Iterable[SuggestDoc], *, version: int) -> None:
        """Add or replace indicators by code (retired ones are removed)."""
        self._store.upsert(docs, version=version)

    def delete(self, codes: Iterable[str], *, version: int) -> None:
        self._store.delete(codes, version=version)

    def suggest(self, query: SuggestQuery, *, signals: Mapping[str, Signal] | None = None) -> SuggestResult:
        """Ranked suggestions, attached values and coverage for one target text."""
        return self._ranker.suggest(self._store.snapshot, query, signals=signals)
