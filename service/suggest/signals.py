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

import threading
from collections import OrderedDict
from collections.abc import Mapping
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
