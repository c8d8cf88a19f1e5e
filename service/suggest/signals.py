"""Context signals from outside the text: the seam for the graph, and a relational implementation.

A ``SignalProvider`` maps a query to evidence per indicator code. ``RelationalSignals`` reads the
catalogue's own tables — indicators that measure the department's 三定 duties or strategic goals, and
indicators its registered targets already use; the graph store (``graph/``) can implement the same
protocol from ``department_profile``/``related`` and be passed next to it.

Link lookups are cached per (department, outbox position): every write that can change them (duties,
goals, targets, departments, indicators) appends to the outbox in its own transaction, so a new
outbox position is exactly "something may have changed".
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session

from service.suggest import repository as repo
from service.suggest.ranking import Signal, SuggestQuery

# Strength of each link kind (how directly it ties the indicator to the department's work).
LINK_WEIGHTS = {"duty": 1.0, "goal": 0.8, "target": 0.6}
LINK_LABELS = {"duty": "部门职责", "goal": "部门战略目标", "target": "本部门绩效目标已使用"}


class SignalProvider(Protocol):
    """Evidence from outside the text for a query: indicator code → signal (weight in [0, 1], reason)."""

    def signals(self, query: SuggestQuery) -> Mapping[str, Signal]: ...


class LinkCache:
    """A small LRU of department link signals, keyed by (department, outbox position)."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, int], dict[str, Signal]] = OrderedDict()

    def get(self, key: tuple[str, int]) -> dict[str, Signal] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], value: dict[str, Signal]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class RelationalSignals:
    """Indicators tied to the department's duties, strategic goals and past targets (SQL)."""

    def __init__(self, session: Session, *, cache: LinkCache | None = None, outbox_position: int = 0) -> None:
        self._session = session
        self._cache = cache
        self._position = outbox_position

    def signals(self, query: SuggestQuery) -> Mapping[str, Signal]:
        if not query.department:
            return {}
        key = (query.department, self._position)
        if self._cache is not None and (found := self._cache.get(key)) is not None:
            return found
        out: dict[str, Signal] = {}
        dept_id = repo.department_id(self._session, query.department)
        if dept_id is not None:
            for code, kind, via in repo.department_links(self._session, dept_id):
                weight = LINK_WEIGHTS[kind]
                if code not in out or out[code].weight < weight:
                    out[code] = Signal(weight=weight, reason=f"{LINK_LABELS[kind]}:{via}")
        if self._cache is not None and self._position:
            self._cache.put(key, out)
        return out


# --- learning from use ----------------------------------------------------------------------------

SIMILAR = 0.3  # cosine of character-bigram sets above which a past target counts as similar
COMMON_GRAM_SHARE = 0.2  # bigrams in more of the past targets than this say nothing about similarity
MAX_SIMILAR = 50  # most similar past targets that vote
_CJK = re.compile(r"[\u4e00-\u9fff]+")


def text_grams(text: str) -> frozenset[str]:
    """Character bigrams of the Chinese runs of a text (digits and punctuation say nothing here)."""
    return frozenset(run[i : i + 2] for run in _CJK.findall(text) for i in range(len(run) - 1))


@dataclass(frozen=True)
class _Usage:
    grams: tuple[frozenset[str], ...]  # per past target
    codes: tuple[tuple[str, ...], ...]  # the indicators it used
    postings: dict[str, tuple[int, ...]]  # bigram -> past targets that have it (common ones left out)


class UsageMemory:
    """Indicators chosen for past targets (``POST /v1/targets``, tables kept on the suggest page).

    Loaded from the database and replaced whenever the targets change (checked when the outbox
    position moves, so it is fresh with every write and costs nothing between writes). A query's
    similar past targets (bigram cosine ≥ ``SIMILAR``, any department) vote for their indicators.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = -1
        self._stamp: tuple[int, int, int] | None = None
        self._usage = _Usage((), (), {})

    def refresh(self, session: Session, position: int) -> None:
        if position == self._position and position:
            return
        stamp = repo.target_stamp(session)
        with self._lock:
            if stamp == self._stamp:
                self._position = position
                return
        usage = self._load(repo.target_usage(session))
        with self._lock:
            self._usage, self._stamp, self._position = usage, stamp, position

    @staticmethod
    def _load(rows: Sequence[tuple[int, str, str]]) -> _Usage:
        texts: dict[int, str] = {}
        codes: dict[int, list[str]] = {}
        for tid, text, code in rows:
            texts[tid] = text
            codes.setdefault(tid, []).append(code)
        ids = list(texts)
        grams = tuple(text_grams(texts[t]) for t in ids)
        df: Counter[str] = Counter(g for gs in grams for g in gs)
        cap = max(5, COMMON_GRAM_SHARE * len(ids))
        postings: dict[str, list[int]] = {}
        for k, gs in enumerate(grams):
            for g in gs:
                if df[g] <= cap:
                    postings.setdefault(g, []).append(k)
        return _Usage(
            grams,
            tuple(tuple(dict.fromkeys(codes[t])) for t in ids),
            {g: tuple(v) for g, v in postings.items()},
        )

    def __len__(self) -> int:
        return len(self._usage.grams)

    def signals(self, text: str) -> dict[str, Signal]:
        usage = self._usage
        query = text_grams(text)
        if not usage.grams or not query:
            return {}
        overlap: Counter[int] = Counter()
        for g in query:
            for k in usage.postings.get(g, ()):
                overlap[k] += 1
        similar: list[tuple[float, int]] = []
        for k in overlap:
            grams = usage.grams[k]
            sim = len(query & grams) / math.sqrt(len(query) * len(grams))
            if sim >= SIMILAR:
                similar.append((sim, k))
        similar.sort(reverse=True)
        uses: Counter[str] = Counter()
        best: dict[str, float] = {}
        for sim, k in similar[:MAX_SIMILAR]:
            for code in usage.codes[k]:
                uses[code] += 1
                best[code] = max(best.get(code, 0.0), sim)
        return {
            code: Signal(weight=min(1.0, best[code] * (0.5 + 0.25 * n)), reason=f"相似目标曾使用 {n} 次")
            for code, n in uses.items()
        }


class UsageSignals:
    """The ``SignalProvider`` over a ``UsageMemory`` (refreshed by the service before each query)."""

    def __init__(self, memory: UsageMemory) -> None:
        self._memory = memory

    def signals(self, query: SuggestQuery) -> Mapping[str, Signal]:
        return self._memory.signals(query.text)
