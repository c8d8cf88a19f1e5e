"""The hash chain of the audit trail: canonical text of an entry and its SHA-256 link.

An entry's ``hash`` is ``sha256(prev_hash + canonical(entry))`` in lower-case hex, where
``canonical`` is the JSON object of the fields in ``CHAINED_FIELDS`` with sorted keys, no
whitespace, non-ASCII kept (UTF-8), and ``at`` written ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC). The
first entry's ``prev_hash`` is ``GENESIS_HASH``. Anyone holding an export can recompute the chain with
these rules alone.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64

CHAINED_FIELDS: tuple[str, ...] = (
    "id", "at", "actor", "role", "key_id", "request_id", "method", "route",
    "entity_type", "entity_id", "action", "before", "after", "reason", "prev_hash",
)  # fmt: skip


def utc_text(moment: datetime) -> str:
    """A moment as the chain writes it: UTC, microseconds, ``Z``."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain(value: Any) -> Any:
    """A value as JSON stores it and reads it back unchanged (what the chain hashes).

    NaN and infinities become null (JSON has neither); dates and times become ISO text; enums their
    value; other objects their text.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return plain(float(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def canonical(entry: Mapping[str, Any]) -> str:
    """The canonical JSON text of an entry's chained fields."""
    fields = {name: entry.get(name) for name in CHAINED_FIELDS}
    fields["at"] = utc_text(fields["at"]) if isinstance(fields["at"], datetime) else fields["at"]
    return json.dumps(plain(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The entry's hash: SHA-256 over the previous entry's hash and the entry's canonical text."""
    return hashlib.sha256((prev_hash + canonical(entry)).encode("utf-8")).hexdigest()
