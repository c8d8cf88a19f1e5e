"""The graph at run time: which store answers reads, and the projector thread that feeds Neo4j.

Reads go to Neo4j when it is configured. If it cannot answer (down, or not yet
projected), they fall back to the embedded store, which reads the relational
source directly and is therefore always current; the response says so in the
``X-Graph-Backend`` header. Writes never depend on Neo4j: they only append to
the outbox, which the projector thread replays when Neo4j is reachable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine

from graph.embedded import EmbeddedGraphStore
from graph.errors import GraphUnavailable
from graph.factory import open_neo4j_store
from graph.neo4j_store import Neo4jGraphStore
from graph.store import GraphStore
from graph.sync import GraphProjector
from service.settings import Settings

log = logging.getLogger("service.graph")
T = TypeVar("T")


@dataclass
class GraphRuntime:
    embedded: EmbeddedGraphStore
    neo4j: Neo4jGraphStore | None = None
    projector: GraphProjector | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def open(cls, settings: Settings, engine: Engine) -> GraphRuntime:
        neo4j = open_neo4j_store(settings)
        projector = GraphProjector(engine, neo4j) if neo4j is not None else None
        return cls(embedded=EmbeddedGraphStore(engine), neo4j=neo4j, projector=projector)

    @property
    def backend(self) -> str:
        return "neo4j" if self.neo4j is not None else "embedded"

    def read(self, query: Callable[[GraphStore], T]) -> tuple[T, str]:
        """Run a read on Neo4j, or on the embedded store when Neo4j cannot answer."""
        if self.neo4j is not None:
            try:
                return query(self.neo4j), "neo4j"
            except GraphUnavailable as exc:
                log.warning("neo4j unavailable, answering from the embedded store: %s", exc)
                return query(self.embedded), "embedded (neo4j unavailable)"
        return query(self.embedded), "embedded"

    def lag(self) -> int | None:
        """Outbox events not yet in Neo4j (None on the embedded backend, which has no lag)."""
        return self.projector.lag() if self.projector is not None else None

    def start(self) -> None:
        """Start projecting in the background (first a full rebuild when never projected)."""
        if self.projector is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="graph-projector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.projector is not None
        backoff = 1.0
        while not self._stop.is_set():
            try:
                if self.projector.needs_rebuild():
                    self.neo4j.ensure_schema()  # type: ignore[union-attr]
                    stats = self.projector.rebuild()
                    log.info("graph projected: %s nodes, %s edges", stats.total_nodes, stats.total_edges)
                break
            except GraphUnavailable as exc:
                log.warning(
                    "neo4j unavailable for the first projection, retrying in %.0f s: %s", backoff, exc
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.projector.run_forever(self._stop)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self.neo4j is not None:
            self.neo4j.close()
        self.embedded.close()
