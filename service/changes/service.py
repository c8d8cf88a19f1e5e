"""The change feed: ordered, at-least-once events for the finance platform's incremental sync.

Events are written in the same transaction as the change they describe. Their order is
``(change_seq, id)``: every writer takes the next catalogue change number first, which locks the
single ``catalog_state`` row until commit, so events of a later number always commit later and a
reader's cursor never passes over an event that is still to appear.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from service.changes import repository as repo
from service.changes.schemas import ChangeOut, ChangePage
from service.errors import FieldError, ValidationFailed
from service.indicators import repository as indicator_repo
from service.models import utcnow


class EventType(StrEnum):
    indicator_created = "indicator.created"
    indicator_revised = "indicator.revised"
    indicator_retired = "indicator.retired"
    legal_basis_created = "legal_basis.created"
    legal_basis_superseded = "legal_basis.superseded"
    legal_basis_repealed = "legal_basis.repealed"
    release_published = "release.published"
    change_set_applied = "change_set.applied"


@dataclass(frozen=True)
class Event:
    type: EventType
    entity: str
    key: str
    payload: dict[str, Any] = field(default_factory=dict)


def emit(session: Session, events: list[Event]) -> None:
    """Append events to the feed, in this transaction, after taking a change number."""
    if not events:
        return
    seq = indicator_repo.bump_change_seq(session)
    now = utcnow()
    repo.append(
        session,
        [
            {
                "event_id": str(uuid.uuid4()),
                "change_seq": seq,
                "type": e.type.value,
                "entity": e.entity,
                "key": e.key,
                "payload": e.payload,
                "created_at": now,
            }
            for e in events
        ],
    )


def encode_cursor(seq: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{seq}.{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return (-1, -1)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        seq, event_id = (int(p) for p in raw.split("."))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The cursor is not one this feed gave out",
            errors=[FieldError(field="after", message="malformed cursor")],
        ) from exc
    return seq, event_id


def changes_after(session: Session, after: str | None, limit: int) -> ChangePage:
    """Events after the cursor, oldest first; ``next_cursor`` is where to continue (same when empty)."""
    seq, event_id = decode_cursor(after)
    rows = repo.after(session, seq, event_id, limit)
    items = [
        ChangeOut(
            event_id=r.event_id,
            cursor=encode_cursor(r.change_seq, r.id or 0),
            type=r.type,
            entity=r.entity,
            key=r.key,
            payload=r.payload,
            created_at=r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
        )
        for r in rows
    ]
    next_cursor = items[-1].cursor if items else (after or None)
    return ChangePage(items=items, next_cursor=next_cursor, has_more=len(items) == limit)
