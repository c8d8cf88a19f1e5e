"""The projector: keeps Neo4j in step with the relational source through the outbox.

Writers insert ``OutboxEvent(entity, entity_key)`` in the same transaction as the change. The
projector reads events past ``GraphSyncState.last_event_id``, collapses them to the set of touched
entities, re-reads those entities as they are *now* and applies them idempotently; only then does
it advance ``last_event_id``, in its own transaction. A crash or an outage between apply and
advance replays the batch: at-least-once delivery of idempotent upserts, so effectively once.

Outbox ids come from a sequence, and on PostgreSQL a transaction can commit after one with a
higher id. Events newer than ``gap_grace`` seconds that follow a hole in the ids are therefore
left for the next round (the hole may be an uncommitted writer); an older hole is taken to be a
rolled-back id and skipped. Writers that bump ``catalog_state`` before inserting their event are
serialised by its row lock and never produce such holes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from graph.errors import GraphUnavailable
from graph.neo4j_store import Neo4jGraphStore
from graph.projection import (
    T_OUTBOX,
    T_SYNC_STATE,
    checksum,
    count_edges,
    count_nodes,
    read_all,
    read_entities,
)
from graph.results import ProjectionStats

log = logging.getLogger("graph.sync")

MAX_BACKOFF = 10.0


def _utc(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for DateTime(timezone=True) columns; they were written in UTC.
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class GraphProjector:
    """Projects the relational catalogue into a ``Neo4jGraphStore`` (full and incremental)."""

    def __init__(
        self,
        engine: Engine,
        store: Neo4jGraphStore,
        *,
        backend_name: str = "neo4j",
        gap_grace: float = 5.0,
    ) -> None:
        self._engine = engine
        self._store = store
        self._backend = backend_name
        self._gap_grace = timedelta(seconds=gap_grace)

    # --- state ------------------------------------------------------------------------------------

    def _state(self, conn: Connection) -> int | None:
        value = conn.execute(
            select(T_SYNC_STATE.c.last_event_id).where(T_SYNC_STATE.c.backend == self._backend)
        ).scalar_one_or_none()
        return None if value is None else int(value)

    def last_event_id(self) -> int:
        """The last outbox event applied to this backend, creating its state row when absent."""
        with self._engine.connect() as conn:
            value = self._state(conn)
        if value is not None:
            return value
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(T_SYNC_STATE).values(
                        backend=self._backend, last_event_id=0, updated_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            pass  # another projector created it first
        return 0

    def _advance(self, event_id: int, *, force: bool = False) -> None:
        """Record ``event_id`` as applied (never moves backwards unless ``force``, i.e. a rebuild)."""
        stmt = (
            update(T_SYNC_STATE)
            .where(T_SYNC_STATE.c.backend == self._backend)
            .values(last_event_id=event_id, updated_at=datetime.now(UTC))
        )
        if not force:
            stmt = stmt.where(T_SYNC_STATE.c.last_event_id < event_id)
        with self._engine.begin() as conn:
            if conn.execute(stmt).rowcount == 0 and self._state(conn) is None:
                conn.execute(
                    insert(T_SYNC_STATE).values(
                        backend=self._backend, last_event_id=event_id, updated_at=datetime.now(UTC)
                    )
                )

    def needs_rebuild(self) -> bool:
        """True when this backend was never projected (no state row): call ``rebuild`` first,
        because data loaded without outbox events (the seed) would otherwise never arrive."""
        with self._engine.connect() as conn:
            return self._state(conn) is None

    # --- incremental --------------------------------------------------------------------------------

    def _ready_events(self, events: Sequence[Any], last: int) -> Sequence[Any]:
        """The prefix of ``events`` that is safe to apply now (see the module docstring on holes)."""
        now = datetime.now(UTC)
        expected = last + 1
        for index, event in enumerate(events):
            created = _utc(event.created_at)
            if event.id != expected and created is not None and now - created < self._gap_grace:
                log.info("outbox hole before event %s; waiting for a possibly uncommitted writer", event.id)
                return events[:index]
            expected = event.id + 1
        return events

    def sync_once(self, max_events: int = 5000) -> int:
        """Apply up to ``max_events`` pending outbox events; returns how many were consumed.

        Raises ``GraphUnavailable`` (nothing advanced) when Neo4j cannot take the batch.
        """
        last = self.last_event_id()
        with self._engine.connect() as conn:
            events = conn.execute(
                select(T_OUTBOX.c.id, T_OUTBOX.c.entity, T_OUTBOX.c.entity_key, T_OUTBOX.c.created_at)
                .where(T_OUTBOX.c.id > last)
                .order_by(T_OUTBOX.c.id)
                .limit(max_events)
            ).all()
        events = self._ready_events(events, last)
        if not events:
            return 0
        # Many events about one entity collapse to one re-read of its current state.
        refs = list(dict.fromkeys((e.entity, e.entity_key) for e in events))
        with self._engine.connect() as conn:
            changed = read_entities(conn, refs)
        for kind, key in changed.unknown:
            log.warning("skipping outbox event for unknown entity kind %r (key %r)", kind, key)
        self._store.apply(
            changed.nodes,
            changed.edges,
            removed_keys=changed.removed,
            touched=changed.touched,
            revisions=changed.revisions,
        )
        self._advance(events[-1].id)
        log.debug("applied %d outbox events (%d entities) up to %d", len(events), len(refs), events[-1].id)
        return len(events)

    def lag(self) -> int:
        """Outbox events not yet applied to this backend."""
        last = self.last_event_id()
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(T_OUTBOX).where(T_OUTBOX.c.id > last)
                ).scalar_one()
            )

    # --- full -----------------------------------------------------------------------------------------

    def _rebuild_position(self, conn: Connection) -> int:
        """The outbox position a projection read after this call reflects at least.

        The newest events (inside ``gap_grace``) may have uncommitted neighbours below them, so
        the position stops before them: they are replayed, harmlessly, by the next sync.
        """
        recent = conn.execute(
            select(T_OUTBOX.c.id, T_OUTBOX.c.created_at).order_by(T_OUTBOX.c.id.desc()).limit(1000)
        ).all()
        if not recent:
            return 0
        now = datetime.now(UTC)
        position = int(recent[0].id)
        for event in recent:
            created = _utc(event.created_at)
            if created is not None and now - created < self._gap_grace:
                position = int(event.id) - 1
        return position

    def rebuild(self) -> ProjectionStats:
        """Full projection; then ``last_event_id`` = the outbox position read BEFORE the source."""
        began = time.monotonic()
        with self._engine.connect() as conn:
            position = self._rebuild_position(conn)
        with self._engine.connect() as conn:
            nodes, edges = read_all(conn)
        self._store.rebuild(nodes, edges)
        self._advance(position, force=True)
        node_counts, edge_counts = count_nodes(nodes), count_edges(edges)
        return ProjectionStats(
            nodes=node_counts,
            edges=edge_counts,
            total_nodes=sum(node_counts.values()),
            total_edges=sum(edge_counts.values()),
            checksum=checksum(nodes, edges),
            last_event_id=position,
            seconds=round(time.monotonic() - began, 3),
        )

    # --- loop -------------------------------------------------------------------------------------

    def run_forever(
        self, stop_event: threading.Event, interval: float = 1.0, *, max_events: int = 5000
    ) -> None:
        """Sync until ``stop_event`` is set; outages are logged and retried with backoff (≤ 10 s)."""
        backoff = interval
        while not stop_event.is_set():
            try:
                applied = self.sync_once(max_events)
            except GraphUnavailable as e:
                log.warning("graph unavailable, retrying in %.1f s: %s", backoff, e)
            except SQLAlchemyError:
                log.exception("outbox or source unreadable, retrying in %.1f s", backoff)
            else:
                backoff = interval
                # A full batch means more is waiting: go again without sleeping.
                stop_event.wait(0 if applied >= max_events else interval)
                continue
            stop_event.wait(backoff)
            backoff = min(max(backoff, 0.1) * 2, MAX_BACKOFF)
