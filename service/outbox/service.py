"""Record which catalogue entities changed, in the same transaction as the change.

The graph projector (graph/sync.py) replays these events into Neo4j in order;
because it re-reads each entity's current state, replaying is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlmodel import Session

from service.outbox import repository as repo


class Entity(StrEnum):
    indicator = "indicator"  # key: code
    legal_basis = "legal_basis"  # key: id
    target = "target"  # key: external_id
    department = "department"  # key: code
    duty = "duty"  # key: id
    goal = "goal"  # key: id
    sector = "sector"  # key: code
    category = "category"  # key: id


def record(session: Session, entity: Entity, keys: Iterable[object]) -> int:
    """Append one event per key (no-op for an empty iterable)."""
    return repo.append(session, entity.value, keys)


def lag(session: Session, *, backend: str = "neo4j") -> int:
    """Events written but not yet applied to the given graph backend."""
    return max(0, repo.max_event_id(session) - repo.applied_event_id(session, backend))
