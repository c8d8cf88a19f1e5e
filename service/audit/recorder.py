"""Recording writes in the audit trail, in the writer's own transaction.

Two sources feed one list of pending entries per session transaction:

* **ORM writes** to the models in ``AUDITED`` are caught by an ``after_flush`` listener on every
  ``Session``: a created or deleted row is recorded whole, an updated row with the columns that
  changed (before and after, from the attribute history). Secrets are redacted.
* **Core and bulk writes** (imports, change-set apply, indicator edits, guarded UPDATEs) are invisible
  to the ORM; their services call :func:`record` — once per entity for single writes, and once per
  *operation* for bulk ones, with counts and the revision range instead of one entry per row.

The pending entries are appended in ``before_commit``: the head of the hash chain is locked only
for the last moment of the transaction, a rolled-back transaction (a failed request, a dry run)
leaves nothing, and a create followed by updates of the same entity in one transaction becomes one
entry with the final values. Who, which request and which route come from
:func:`service.auth.context.current_context` (``system`` outside a request).

Not audited, because they are derived from audited writes or are bookkeeping: revisions, change
events, the outbox, graph sync state, ``catalog_state``, ``code_sequence``, ``release_item`` (counted in
its release), the indicator–basis/duty/goal links (inside the indicator's snapshot, or the duty's or
goal's ``indicators``), categories (the fixed tree) and a key's ``last_used_at``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.session import SessionTransaction
from sqlmodel import SQLModel

from service.audit import chain, repository
from service.auth.context import current_context
from service.models import (
    ApiKey,
    ChangeSet,
    ChangeSetItem,
    Department,
    Duty,
    Indicator,
    LegalBasis,
    LegalBasisLink,
    Proposal,
    ProposalComment,
    ProposalItem,
    ProposalReviewer,
    Release,
    Sector,
    StrategicGoal,
    Target,
    utcnow,
)

REDACTED = "[redacted]"


class Action(StrEnum):
    create = "create"
    update = "update"
    delete = "delete"
    retire = "retire"
    import_ = "import"
    apply = "apply"
    settle = "settle"
    backfill = "backfill"


@dataclass(frozen=True)
class Audited:
    """A model whose ORM writes are recorded: its entity name, the columns naming a row, secrets."""

    model: type[SQLModel]
    entity_type: str
    key: tuple[str, ...] = ("id",)
    redact: frozenset[str] = frozenset()
    # Columns the service derives from others (a code's comparison key): a function of what was
    # written, so an entry leaves them out rather than report them as something a person changed.
    derived: frozenset[str] = frozenset()


_CODE_KEY = frozenset({"code_key"})

# Extend here when a feature adds tables people write to (e.g. proposals and their reviews).
AUDITED: tuple[Audited, ...] = (
    Audited(Indicator, "indicator", ("code",), derived=_CODE_KEY),
    Audited(LegalBasis, "legal_basis"),
    Audited(LegalBasisLink, "legal_basis_link", ("basis_id", "target_id")),
    Audited(Department, "department", ("code",), derived=_CODE_KEY),
    Audited(Sector, "sector", ("code",), derived=_CODE_KEY),
    Audited(Duty, "duty"),
    Audited(StrategicGoal, "strategic_goal"),
    Audited(Target, "target", ("external_id",)),
    Audited(Release, "release", ("name",), derived=frozenset({"name_key"})),
    Audited(ChangeSet, "change_set"),
    Audited(ChangeSetItem, "change_set_item"),
    Audited(ApiKey, "api_key", redact=frozenset({"secret_hash"})),
    Audited(Proposal, "proposal"),
    Audited(ProposalItem, "proposal_item"),
    Audited(ProposalReviewer, "proposal_reviewer", ("proposal_id", "reviewer")),
    Audited(ProposalComment, "proposal_comment"),
)

_PENDING = "audit.pending"
_REASON = "audit.reason"
_SEALED = "audit.sealed"
_SAVEPOINTS = "audit.savepoints"  # the pending entries as each open savepoint began
_MERGEABLE = frozenset({Action.create.value, Action.update.value})


@dataclass
class _Entry:
    actor: str
    role: str
    key_id: str | None
    request_id: str
    method: str | None
    route: str | None
    entity_type: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


@dataclass
class _Batch:
    """The transaction's pending entries; creates and updates of one entity are merged."""

    entries: list[_Entry] = field(default_factory=list)
    open: dict[tuple[str, str], _Entry] = field(default_factory=dict)

    def add(self, entry: _Entry) -> None:
        key = (entry.entity_type, entry.entity_id)
        earlier = self.open.get(key)
        if earlier is not None and entry.action == Action.update:
            earlier.after = {**(earlier.after or {}), **(entry.after or {})}
            if earlier.action == Action.update:  # the first value seen before this transaction wins
                earlier.before = {**(entry.before or {}), **(earlier.before or {})}
            earlier.reason = entry.reason or earlier.reason
            return
        self.entries.append(entry)
        if entry.action in _MERGEABLE:
            self.open[key] = entry
        else:
            self.open.pop(key, None)


def _batch(session: Session) -> _Batch:
    if session.info.get(_SEALED):
        raise RuntimeError("an audited write was made after this transaction's audit entries were appended")
    batch: _Batch | None = session.info.get(_PENDING)
    if batch is None:
        batch = session.info[_PENDING] = _Batch()
    return batch


def _new_entry(
    entity_type: str,
    entity_id: object,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str | None,
) -> _Entry:
    ctx = current_context()
    return _Entry(
        actor=ctx.principal.actor,
        role=ctx.principal.role_name,
        key_id=ctx.principal.key_id,
        request_id=ctx.request_id,
        method=ctx.method,
        route=ctx.route,
        entity_type=entity_type,
        entity_id=str(entity_id),
        action=str(action),
        before=chain.plain(dict(before)) if before is not None else None,
        after=chain.plain(dict(after)) if after is not None else None,
        reason=reason,
    )


def record(
    session: Session,
    *,
    entity_type: str,
    entity_id: object,
    action: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Record a write the ORM cannot see; it is appended to the trail when the transaction commits.

    For a bulk operation record one entry for the operation (counts, file digest, the revision
    range), not one per row. An ``update`` of an entity already recorded in this transaction is
    merged into that entry.
    """
    _batch(session).add(_new_entry(entity_type, entity_id, action, before, after, reason))


def set_reason(session: Session, reason: str | None) -> None:
    """The reason of this transaction's writes: entries recorded without one take it."""
    if reason:
        session.info[_REASON] = reason


# --- the ORM listener ----------------------------------------------------------------------------------

_SPECS: dict[type[Any], Audited] = {}


def _entity_id(state: Any, spec: Audited) -> str:
    values = [state.dict.get(k) for k in spec.key]
    if any(v is None for v in values):
        values = list(state.identity or ())
    return ":".join(str(v) for v in values)


def _row(state: Any, spec: Audited) -> dict[str, Any]:
    """The loaded column values of a row; never loads (no SQL inside a flush)."""
    out: dict[str, Any] = {}
    for prop in state.mapper.column_attrs:
        if prop.key in state.dict and prop.key not in spec.derived:
            out[prop.key] = REDACTED if prop.key in spec.redact else state.dict[prop.key]
    return out


def _changes(state: Any, spec: Audited) -> tuple[dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for prop in state.mapper.column_attrs:
        if prop.key in spec.derived:
            continue
        history = state.attrs[prop.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        before[prop.key] = REDACTED if prop.key in spec.redact and old is not None else old
        after[prop.key] = REDACTED if prop.key in spec.redact and new is not None else new
    return before, after


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    found: list[_Entry] = []
    for obj in session.new:
        spec = _SPECS.get(type(obj))
        if spec is not None:
            state = inspect(obj)
            found.append(
                _new_entry(
                    spec.entity_type, _entity_id(state, spec), Action.create, None, _row(state, spec), None
                )
            )
    for obj in session.dirty:
        spec = _SPECS.get(type(obj))
        if spec is not None and session.is_modified(obj, include_collections=False):
            state = inspect(obj)
            before, after = _changes(state, spec)
            if after:
                found.append(
                    _new_entry(spec.entity_type, _entity_id(state, spec), Action.update, before, after, None)
                )
    for obj in session.deleted:
        spec = _SPECS.get(type(obj))
        if spec is not None:
            state = inspect(obj)
            found.append(
                _new_entry(
                    spec.entity_type, _entity_id(state, spec), Action.delete, _row(state, spec), None, None
                )
            )
    if found:
        batch = _batch(session)
        for entry in found:
            batch.add(entry)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # releasing a savepoint: the entries wait for the outermost commit
    session.flush()  # ORM changes still pending reach the listener before the entries are sealed
    batch: _Batch | None = session.info.pop(_PENDING, None)
    session.info[_SEALED] = True
    if batch is None or not batch.entries:
        return
    reason = session.info.get(_REASON)
    conn = session.connection()
    last_id, last_hash = repository.lock_head(conn)
    at = utcnow()
    rows: list[dict[str, Any]] = []
    for entry in batch.entries:
        last_id += 1
        row: dict[str, Any] = {
            "id": last_id,
            "at": at,
            "actor": entry.actor,
            "role": entry.role,
            "key_id": entry.key_id,
            "request_id": entry.request_id,
            "method": entry.method,
            "route": entry.route,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "action": entry.action,
            "before": entry.before,
            "after": entry.after,
            "reason": entry.reason or reason,
            "prev_hash": last_hash,
        }
        row["hash"] = last_hash = chain.link(last_hash, row)
        rows.append(row)
    repository.append(conn, rows, at=at)


def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        pending: _Batch | None = session.info.get(_PENDING)
        session.info.setdefault(_SAVEPOINTS, {})[id(transaction)] = copy.deepcopy(pending)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:  # back to the savepoint: so are the entries recorded since
        saved = session.info.get(_SAVEPOINTS, {}).pop(id(previous), None)
        session.info[_PENDING] = saved if saved is not None else _Batch()


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed, rolled back or closed
        for key in (_PENDING, _REASON, _SEALED, _SAVEPOINTS):
            session.info.pop(key, None)


def install() -> None:
    """Register the listeners on every Session (idempotent; done when this module is imported)."""
    _SPECS.update({spec.model: spec for spec in AUDITED})
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_transaction_create", _after_transaction_create)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


install()
