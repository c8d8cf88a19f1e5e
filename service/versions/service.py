"""Revisions of indicators and legal bases: recording, history, field diffs and reads as of a time.

Every write goes through ``record_indicators`` / ``record_bases`` in the writer's transaction: the
new state is snapshotted, compared with the newest revision, and — when something changed — a
revision is appended (numbered, classified, dated, explained) and announced on the change feed.
A revision is valid from its ``valid_from`` until the next one's; as-of reads pick the newest
revision valid before the end of the asked day.

Dating (``effective_from_for``): a change takes effect when asked (a change set's effective day,
otherwise now) but never before the newest revision, so ``valid_from`` never decreases with the
revision number. "The revision in force at t" — the greatest ``valid_from`` ≤ t, ties to the higher
number — is then simply the highest number valid by t, which is what every reader (SQL, the graph
projection's ``valid_to``, releases) computes. While a revision is scheduled (valid from a future
day) the live row already holds its content, and so does the snapshot of any edit made on top of
it: such an edit is dated with the scheduled revision and supersedes it from that day (same
``valid_from``, higher number; the scheduled one keeps an empty interval in history). Dated today,
it would show the scheduled content early. An indicator with a scheduled revision therefore stays
editable; carrying today's edits into today's state as well is the bitemporal model's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from service import audit
from service.auth.context import current_principal
from service.changes.service import Event, EventType, emit
from service.domain import LIFECYCLE, IndicatorStatus
from service.errors import Conflict, FieldError, NotFound, ValidationFailed
from service.indicators import repository as indicator_repo
from service.indicators.schemas import IndicatorOut
from service.models import Indicator, IndicatorRevision, LegalBasisRevision, Release, utcnow
from service.taxonomy.service import Refs
from service.versions import repository as repo
from service.versions.schemas import (
    BasisHistoryOut,
    BasisRevisionOut,
    FieldChange,
    HistoryOut,
    RevisionDiff,
    RevisionOut,
)


class ChangeClass(StrEnum):
    initial = "INITIAL"
    major = "MAJOR"  # meaning changed
    minor = "MINOR"  # standard value, basis or lifecycle changed
    patch = "PATCH"  # wording, keywords, notes


MAJOR_FIELDS = frozenset({"definition", "formula", "unit", "comparator", "kind"})
MINOR_FIELDS = frozenset(
    {
        "value", "value_max", "raw_value", "value_basis", "value_basis_text", "legal_bases", "basis", "status",
        "superseded_by", "effective_from", "expires_on", "level1", "level2", "scoring_rule", "direction",
        "sector", "department", "duties", "strategic_goals", "horizon", "weight", "is_core",
    }
)  # fmt: skip
# Derived from other fields: they change with them and are not listed on their own.
DERIVED_FIELDS = frozenset(
    {"comparator_symbol", "sector_code", "department_code", "framework", "category_id"}
)


@dataclass(frozen=True)
class Provenance:
    """Who changed what, why, in which change set, and from when it holds (default: now).

    Without an ``author`` the revision names the actor of the request (``system`` outside one).
    """

    reason: str | None = None
    author: str | None = None
    change_set_id: int | None = None
    valid_from: datetime | None = None


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of(day: date) -> datetime:
    """As-of a date means at the end of that day: changes effective that day are included.

    Reads compare ``valid_from < end_of(day)``. The last calendar day (9999-12-31, "the far
    future") has no next day to start: its end is the last representable instant instead.
    """
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return start_of(day + timedelta(days=1))


def effective_from_for(asked: datetime, newest: datetime | None) -> datetime:
    """When a change takes effect: when asked, or with the newest revision if that one is later.

    See the module docstring: a newest revision valid from a later day is scheduled (or a change
    set dated before edits recorded since), and the change joins it rather than being refused —
    a refusal made every later edit, retirement and import of that indicator impossible.
    """
    asked = as_utc(asked)
    return asked if newest is None else max(asked, as_utc(newest))


# An indicator's legal bases are its links (which document, which clause); the linked document's own
# record (title, status after a new edition or a repeal) has its own history and is no edit of the indicator.
_LINK_KEYS = ("id", "clause", "note")


def _own(field: str, value: Any) -> Any:
    if field == "legal_bases" and isinstance(value, list):
        return [{k: b.get(k) for k in _LINK_KEYS} for b in value if isinstance(b, dict)]
    return value


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = (set(old) | set(new)) - DERIVED_FIELDS
    return sorted(k for k in keys if _own(k, old.get(k)) != _own(k, new.get(k)))


def classify(fields: Sequence[str]) -> ChangeClass:
    if any(f in MAJOR_FIELDS for f in fields):
        return ChangeClass.major
    if any(f in MINOR_FIELDS for f in fields):
        return ChangeClass.minor
    return ChangeClass.patch


def check_transition(code: str, old: str, new: str) -> None:
    """Lifecycle moves follow ``LIFECYCLE``; anything else is a 409."""
    if old != new and new not in LIFECYCLE[IndicatorStatus(old)]:
        allowed = ", ".join(sorted(LIFECYCLE[IndicatorStatus(old)])) or "none (final)"
        raise Conflict(
            f"Indicator {code} cannot move from {old} to {new}; from {old} it may move to: {allowed}",
            extra={"from": old, "to": new},
        )


# --- recording ------------------------------------------------------------------------------------


def _event(ind: Indicator, number: int, change: ChangeClass, fields: list[str], prov: Provenance) -> Event:
    if number == 1:
        kind = EventType.indicator_created
    elif "status" in fields and ind.status == IndicatorStatus.retired:
        kind = EventType.indicator_retired
    else:
        kind = EventType.indicator_revised
    payload: dict[str, Any] = {"code": ind.code, "revision": number, "change": change.value, "fields": fields}
    if prov.change_set_id is not None:
        payload["change_set_id"] = prov.change_set_id
    return Event(kind, "indicator", ind.code, payload)


def record_indicators(
    session: Session,
    ids: Sequence[int],
    prov: Provenance,
    refs: Refs | None = None,
    *,
    known: Mapping[int, Any] | None = None,
) -> list[int]:
    """Append a revision for each indicator whose content differs from its newest revision.

    Returns the ids that got one. A change asked for a day before the indicator's newest revision
    takes effect with that revision (``effective_from_for``): history stays a line in valid time.
    ``known`` may hold the fresh state of some of them (attribute access like the model), as an
    import has for the rows it just inserted, to save reading them back.
    """
    refs = refs or Refs(session)
    done: list[int] = []
    for start in range(0, len(ids), 5000):  # bounded memory on a 100k import
        done += _record_chunk(session, ids[start : start + 5000], prov, refs, known or {})
    return done


def _record_chunk(
    session: Session, ids: Sequence[int], prov: Provenance, refs: Refs, known: Mapping[int, Any]
) -> list[int]:
    from service.indicators.service import snapshots

    read = {row.id: row for row in repo.indicator_rows(session, [i for i in ids if i not in known])}
    indicators = [known[i] if i in known else read[i] for i in ids if i in known or i in read]
    snaps = snapshots(session, indicators, refs)
    heads = repo.head_indicator_revisions(session, [i.id for i in indicators if i.id is not None])
    now = utcnow()
    seq = indicator_repo.current_change_seq(session)
    author = prov.author or current_principal().actor
    rows: list[dict[str, Any]] = []
    events: list[Event] = []
    touched: list[tuple[int, int]] = []
    for ind, snap in zip(indicators, snaps, strict=True):
        assert ind.id is not None
        head = heads.get(ind.id)
        valid_from = as_utc(prov.valid_from) if prov.valid_from else now
        if head is None:
            number, change, fields = 1, ChangeClass.initial, []
            if prov.valid_from is None and ind.effective_from is not None:
                valid_from = start_of(ind.effective_from)
        else:
            fields = changed_fields(head.snapshot, snap)
            if not fields:
                continue
            valid_from = effective_from_for(valid_from, head.valid_from)
            number, change = head.number + 1, classify(fields)
        rows.append(
            {
                "indicator_id": ind.id,
                "code": ind.code,
                "number": number,
                "change": change.value,
                "status": ind.status,
                "fields": fields,
                "snapshot": {k: v for k, v in snap.items() if v is not None},  # absent = None
                "reason": prov.reason,
                "author": author,
                "change_set_id": prov.change_set_id,
                "valid_from": valid_from,
                "recorded_at": now,
                "change_seq": seq,
            }
        )
        touched.append((ind.id, number))
        events.append(_event(ind, number, change, fields, prov))
    repo.insert_indicator_revisions(session, rows)
    rev_ids = repo.revision_ids(session, touched)
    # The links each revision carried, as rows: as-of graph queries join on them.
    repo.insert_revision_bases(
        session,
        [
            {
                "revision_id": rev_ids[(row["indicator_id"], row["number"])],
                "legal_basis_id": b["id"],
                "clause": b["clause"],
            }
            for row in rows
            for b in row["snapshot"]["legal_bases"]
        ],
    )
    repo.set_indicator_heads(session, touched)
    emit(session, events)
    return [i for i, _ in touched]


def basis_snapshot(session: Session, basis_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    from service.legal_bases.service import get_basis

    return {
        bid: get_basis(session, bid).model_dump(mode="json", exclude={"indicator_count"}) for bid in basis_ids
    }


def record_bases(
    session: Session, basis_ids: Sequence[int], prov: Provenance, *, event: EventType | None = None
) -> None:
    """Append a revision for each legal basis whose record or edition links changed."""
    ids = sorted(set(basis_ids))
    if not ids:
        return
    session.flush()
    snaps = basis_snapshot(session, ids)
    heads = repo.head_basis_revisions(session, ids)
    now = utcnow()
    author = prov.author or current_principal().actor
    rows, events = [], []
    for bid in ids:
        snap, head = snaps[bid], heads.get(bid)
        fields = changed_fields(head.snapshot, snap) if head else []
        if head is not None and not fields:
            continue
        valid_from = as_utc(prov.valid_from) if prov.valid_from else now
        if head is None and prov.valid_from is None and snap.get("effective_on"):
            valid_from = start_of(date.fromisoformat(snap["effective_on"]))
        # E.g. a repeal dated today of an edition that takes effect next year: repealed from that day.
        valid_from = effective_from_for(valid_from, head.valid_from if head else None)
        rows.append(
            {
                "legal_basis_id": bid,
                "number": head.number + 1 if head else 1,
                "status": snap["status"],
                "fields": fields,
                "snapshot": {k: v for k, v in snap.items() if v is not None},  # absent = None
                "reason": prov.reason,
                "author": author,
                "change_set_id": prov.change_set_id,
                "valid_from": valid_from,
                "recorded_at": now,
            }
        )
        kind = event or (EventType.legal_basis_created if head is None else None)
        if kind is not None:
            events.append(Event(kind, "legal_basis", str(bid), {"id": bid, "status": snap["status"]}))
    repo.insert_basis_revisions(session, rows)
    emit(session, events)


def backfill(session: Session) -> int:
    """First revisions for rows written before revisions existed (an upgraded database)."""
    prov = Provenance(reason="history starts: recorded when versioning was introduced", author="system")
    from service.outbox.service import Entity, record

    ids = repo.unrecorded_indicator_ids(session)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        record_indicators(session, chunk, prov)
        # The graph projects revisions with their indicator: announce them, so Neo4j needs no rebuild.
        record(session, Entity.indicator, [row.code for row in repo.indicator_rows(session, chunk)])
    bases = repo.unrecorded_basis_ids(session)
    record_bases(session, bases, prov)
    record(session, Entity.legal_basis, bases)
    if ids or bases:
        audit.record(
            session,
            entity_type="catalogue",
            entity_id="revisions",
            action=audit.Action.backfill,
            after={"indicators": len(ids), "legal_bases": len(bases)},
            reason=prov.reason,
        )
    return len(ids)


def newest_revision_id(session: Session) -> int:
    """Taken before a bulk write, it bounds the revisions that write records (see ``revision_span``)."""
    return repo.newest_revision_id(session)


def revision_span(session: Session, *, change_seq: int, after_id: int) -> dict[str, int | None]:
    """The indicator revisions one catalogue change wrote, for the bulk audit entry that cites them."""
    first, last, count = repo.revision_span(session, change_seq=change_seq, after_id=after_id)
    return {"change_seq": change_seq, "first_revision_id": first, "last_revision_id": last, "revisions": count}


# --- reading --------------------------------------------------------------------------------------


def _require(session: Session, code: str) -> Indicator:
    ind = indicator_repo.get_by_code(session, code)
    if ind is None:
        raise NotFound(f"Indicator {code!r} does not exist")
    return ind


def _valid_to(revisions: Sequence[IndicatorRevision | LegalBasisRevision], i: int) -> datetime | None:
    return as_utc(revisions[i + 1].valid_from) if i + 1 < len(revisions) else None


def _revision_out(rev: IndicatorRevision, valid_to: datetime | None, *, with_snapshot: bool) -> RevisionOut:
    return RevisionOut(
        code=rev.code,
        number=rev.number,
        change=rev.change,
        status=rev.status,
        fields=list(rev.fields),
        reason=rev.reason,
        author=rev.author,
        change_set_id=rev.change_set_id,
        valid_from=as_utc(rev.valid_from),
        valid_to=valid_to,
        recorded_at=as_utc(rev.recorded_at),
        snapshot=rev.snapshot if with_snapshot else None,
    )


def history(session: Session, code: str) -> HistoryOut:
    ind = _require(session, code)
    assert ind.id is not None
    revs = repo.indicator_history(session, ind.id)
    return HistoryOut(
        code=ind.code,
        current=ind.revision,
        revisions=[_revision_out(r, _valid_to(revs, i), with_snapshot=False) for i, r in enumerate(revs)],
    )


def revision(session: Session, code: str, number: int) -> RevisionOut:
    ind = _require(session, code)
    assert ind.id is not None
    revs = repo.indicator_history(session, ind.id)
    for i, r in enumerate(revs):
        if r.number == number:
            return _revision_out(r, _valid_to(revs, i), with_snapshot=True)
    raise NotFound(f"Indicator {code} has no revision {number} (it has 1–{len(revs)})")


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    return [FieldChange(field=f, before=old.get(f), after=new.get(f)) for f in changed_fields(old, new)]


def diff(session: Session, code: str, a: int, b: int) -> RevisionDiff:
    """Field-level difference between two revisions of one indicator, classified."""
    ind = _require(session, code)
    assert ind.id is not None
    ra, rb = repo.indicator_revision(session, ind.id, a), repo.indicator_revision(session, ind.id, b)
    missing = [n for n, r in ((a, ra), (b, rb)) if r is None]
    if ra is None or rb is None:
        raise NotFound(f"Indicator {code} has no revision {missing[0]}")
    changes = field_changes(ra.snapshot, rb.snapshot)
    return RevisionDiff(
        code=ind.code,
        from_revision=a,
        to_revision=b,
        change=classify([c.field for c in changes]).value if changes else None,
        changes=changes,
    )


@dataclass(frozen=True)
class Past:
    """Which past a read asks for: the end of a day, a published release, or neither (today)."""

    as_of: date | None = None
    release: str | None = None

    @property
    def asked(self) -> bool:
        return self.as_of is not None or self.release is not None


def check_one_of(release: str | None, as_of: object | None) -> None:
    """A read is as of a release or as of a date, not both (422)."""
    if release is not None and as_of is not None:
        raise ValidationFailed(
            "Ask for a release or a date, not both",
            errors=[
                FieldError(field="release", message="give release or as_of"),
                FieldError(field="as_of", message="give release or as_of"),
            ],
        )


# ASCII digits only: ``\d`` alone also matches other scripts' digits, which ``fromisoformat`` refuses.
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
AS_OF_FORMAT = "as_of must be a calendar date written YYYY-MM-DD (0001-01-01 to 9999-12-31)"


def parse_as_of(as_of: str | None) -> date | None:
    """The one reading of ``?as_of=`` (``service.deps.PastDep`` hands it to every route).

    Every calendar date is accepted, the last one meaning the far future (see ``end_of``); anything
    else — including the other ISO 8601 spellings ``fromisoformat`` would take, 20261208 or
    2026-W50-2 — is one and the same 422.
    """
    if as_of is None:
        return None
    try:
        if not _ISO_DAY.fullmatch(as_of):
            raise ValueError(as_of)
        return date.fromisoformat(as_of)
    except ValueError as exc:
        raise ValidationFailed(
            AS_OF_FORMAT, errors=[FieldError(field="as_of", message="not a calendar date YYYY-MM-DD")]
        ) from exc


def revision_as_of(session: Session, code: str, day: date) -> IndicatorRevision:
    ind = _require(session, code)
    assert ind.id is not None
    rev = repo.indicator_revision_at(session, ind.id, end_of(day))
    if rev is None:
        raise NotFound(f"Indicator {code} did not exist yet on {day.isoformat()}")
    return rev


def require_release(session: Session, name: str) -> Release:
    release = repo.release_by_name(session, name)
    if release is None:
        raise NotFound(f"Release {name!r} does not exist")
    return release


def historical_view(rev: IndicatorRevision, ind: Indicator, valid_to: datetime | None = None) -> IndicatorOut:
    """An indicator as a past revision said it, marked with the revision's validity."""
    return IndicatorOut.model_validate(
        {
            "level2": None,  # stored snapshots leave out empty fields; level2 is the one required of them
            **rev.snapshot,
            "version": ind.version,
            "revision": rev.number,
            "created_at": as_utc(ind.created_at),
            "updated_at": as_utc(rev.recorded_at),
            "valid_from": as_utc(rev.valid_from),
            "valid_to": valid_to,
        }
    )


def indicator_at(session: Session, code: str, *, as_of: date | None, release: str | None) -> IndicatorOut:
    """One indicator as of the end of a day, or as frozen in a named release (404 if absent then)."""
    ind = _require(session, code)
    assert ind.id is not None
    if release is not None:
        rel = require_release(session, release)
        rev = repo.release_revision(session, rel.id or 0, ind.id)
        if rev is None:
            raise NotFound(f"Indicator {code} is not in release {release}")
    else:
        assert as_of is not None
        rev = revision_as_of(session, code, as_of)
    later = repo.indicator_revision(session, ind.id, rev.number + 1)
    return historical_view(rev, ind, as_utc(later.valid_from) if later else None)


def basis_history(session: Session, basis_id: int) -> BasisHistoryOut:
    """Every revision of a legal basis (record fields and edition links), oldest first."""
    revs = repo.basis_history(session, basis_id)
    if not revs:
        raise NotFound(f"Legal basis {basis_id} does not exist")
    return BasisHistoryOut(
        id=basis_id,
        revisions=[
            BasisRevisionOut(
                number=r.number,
                status=r.status,
                fields=list(r.fields),
                reason=r.reason,
                author=r.author,
                change_set_id=r.change_set_id,
                valid_from=as_utc(r.valid_from),
                valid_to=_valid_to(revs, i),
                recorded_at=as_utc(r.recorded_at),
                snapshot=r.snapshot,
            )
            for i, r in enumerate(revs)
        ],
    )
