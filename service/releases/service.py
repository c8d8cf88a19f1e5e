"""Releases: named, frozen published sets of the catalogue, and reads of the catalogue as it was.

Publishing a release freezes every indicator whose status is ``standard`` at its head revision
(one ``release_item`` row each, written by a single INSERT … SELECT). Releases never change, so the
counts against the previous release are taken once at publication and stored with it.

Past states — a release, or the catalogue at the end of a day — are read from revision snapshots:
one indicator (``versions.indicator_at``), a page of a release, a search (over a search index built
from the snapshots and kept in a small LRU), an export, or the difference between two releases.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from service.auth.context import current_principal
from service.changes.service import Event, EventType, emit
from service.errors import Conflict, FieldError, ValidationFailed
from service.indicators import repository as indicator_repo
from service.indicators.schemas import IndicatorOut, IndicatorPage
from service.indicators.service import SearchParams, search_filters
from service.models import IndicatorRevision, Release
from service.releases import repository as repo
from service.releases.schemas import (
    ChangedItem,
    DiffSection,
    ReleaseCounts,
    ReleaseDiff,
    ReleaseDraft,
    ReleaseIndicatorPage,
    ReleaseList,
    ReleaseOut,
    RetiredItem,
)
from service.search.index import IndexDoc, SearchIndex
from service.taxonomy.service import Refs
from service.versions.service import (
    ChangeClass,
    as_utc,
    changed_fields,
    check_one_of,
    classify,
    end_of,
    field_changes,
    historical_view,
    require_release,
)


def _id(release: Release) -> int:
    assert release.id is not None
    return release.id


# --- cursors ---------------------------------------------------------------------------------------


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(cursor: str, tag: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith(tag + "|"):
        raise ValidationFailed(
            "The cursor is not one this list gave out",
            errors=[FieldError(field="cursor", message="malformed cursor")],
        )
    return raw[len(tag) + 1 :]


# --- publishing ------------------------------------------------------------------------------------


def _release_out(rel: Release) -> ReleaseOut:
    summary = rel.summary or {}
    return ReleaseOut(
        name=rel.name,
        effective_on=rel.effective_on,
        notes=rel.notes,
        author=rel.author,
        indicator_count=rel.indicator_count,
        created_at=as_utc(rel.created_at),
        previous=summary.get("previous"),
        changes=ReleaseCounts.model_validate(summary.get("counts", {})),
    )


def create_release(session: Session, draft: ReleaseDraft) -> ReleaseOut:
    """Freeze the published set under a new name (409 if taken) and announce it on the change feed.

    Its author is the caller (the key's owner; ``system`` outside a request)."""
    author = current_principal().actor
    # Taking the change number first holds the catalogue's writer lock: no write is half done while the
    # set is frozen, and every revision recorded before has a smaller number than the release.
    seq = indicator_repo.bump_change_seq(session)
    if (same := repo.by_name(session, draft.name)) is not None:  # "2026.a" is the release 2026.A
        raise Conflict(
            f"Release {same.name!r} already exists; releases never change",
            errors=[
                FieldError(field="name", message=f"发布版本 {same.name} 已存在; release {same.name} exists")
            ],
            extra={"name": same.name},
        )
    previous = repo.newest(session)
    rel = repo.insert_release(
        session,
        Release(
            name=draft.name, effective_on=draft.effective_on, notes=draft.notes, author=author, change_seq=seq
        ),
    )
    count = repo.freeze_published(session, _id(rel))
    if previous is None:
        counts = ReleaseCounts(added=count)
    else:
        counts, _ = _compare(session, _id(previous), _id(rel), after=None, keep=0)
    rel.indicator_count = count
    rel.summary = {"previous": previous.name if previous else None, "counts": counts.model_dump()}
    session.flush()
    payload: dict[str, Any] = {
        "name": rel.name,
        "effective_on": rel.effective_on.isoformat(),
        "indicator_count": count,
        "previous": rel.summary["previous"],
        "counts": rel.summary["counts"],
    }
    emit(session, [Event(EventType.release_published, "release", rel.name, payload)])
    return _release_out(rel)


def list_releases(session: Session) -> ReleaseList:
    return ReleaseList(items=[_release_out(r) for r in repo.all_newest_first(session)])


def get_release(session: Session, name: str) -> ReleaseOut:
    return _release_out(require_release(session, name))


# --- contents --------------------------------------------------------------------------------------


def _views(session: Session, revisions: Sequence[IndicatorRevision]) -> list[IndicatorOut]:
    """The API shape of frozen revisions, each marked with when the next revision took over."""
    indicators = {
        i.id: i for i in indicator_repo.get_many_by_ids(session, [r.indicator_id for r in revisions])
    }
    following = repo.next_valid_from(session, [(r.indicator_id, r.number) for r in revisions])
    return [
        historical_view(
            r,
            indicators[r.indicator_id],
            as_utc(following[r.indicator_id]) if r.indicator_id in following else None,
        )
        for r in revisions
    ]


def release_indicators(
    session: Session, name: str, *, limit: int, cursor: str | None
) -> ReleaseIndicatorPage:
    """One page of a release's indicators as it froze them, by code."""
    rel = require_release(session, name)
    after = _decode(cursor, "i") if cursor else None
    revisions = repo.page_of_release(session, _id(rel), after=after, limit=limit + 1)
    more = len(revisions) > limit
    revisions = revisions[:limit]
    return ReleaseIndicatorPage(
        release=rel.name,
        items=_views(session, revisions),
        total=rel.indicator_count,
        next_cursor=_encode("i|" + revisions[-1].code) if more and revisions else None,
    )


# --- differences -----------------------------------------------------------------------------------


def _compare(
    session: Session, a: int, b: int, *, after: str | None, keep: int
) -> tuple[ReleaseCounts, list[ChangedItem]]:
    """Exact counts of ``a`` → ``b``, and the first ``keep`` changed items after the code ``after``.

    Membership and "same revision" are counted in SQL; only the items at different revisions have their
    snapshots compared (a revision can restore an earlier content, so a new revision is not yet a change).
    """
    added, retired, same = repo.count_diff(session, a, b)
    tally = {
        "changed": 0,
        "unchanged": same,
        ChangeClass.major: 0,
        ChangeClass.minor: 0,
        ChangeClass.patch: 0,
    }
    page: list[ChangedItem] = []
    # Rows come in SQL's code order, which may collate differently from Python's: skip up to the
    # cursor's code rather than comparing strings here.
    passed = after is None
    for code, number_a, number_b, snap_a, snap_b in repo.revised_pairs(session, a, b):
        fields = changed_fields(snap_a, snap_b)
        if not fields:
            tally["unchanged"] += 1
            continue
        change = classify(fields)
        tally["changed"] += 1
        tally[change] += 1
        if passed and len(page) < keep:
            page.append(
                ChangedItem(
                    code=code,
                    from_revision=number_a,
                    to_revision=number_b,
                    change=change.value,
                    changes=field_changes(snap_a, snap_b),
                )
            )
        passed = passed or code == after
    counts = ReleaseCounts(
        added=added,
        retired=retired,
        changed=tally["changed"],
        unchanged=tally["unchanged"],
        major=tally[ChangeClass.major],
        minor=tally[ChangeClass.minor],
        patch=tally[ChangeClass.patch],
    )
    return counts, page


def diff_releases(
    session: Session,
    from_name: str,
    to_name: str,
    *,
    limit: int,
    cursor: str | None,
    include: Sequence[DiffSection] | None = None,
) -> ReleaseDiff:
    """What changed from one release to another: added and retired codes, changed items with field diffs."""
    rel_a, rel_b = require_release(session, from_name), require_release(session, to_name)
    a, b = _id(rel_a), _id(rel_b)
    sections = set(include or DiffSection)
    after = None
    if cursor:
        pair, _, after = _decode(cursor, "d").partition("|")
        if pair != f"{a}.{b}":
            raise ValidationFailed(
                "The cursor belongs to another comparison",
                errors=[FieldError(field="cursor", message=f"not a cursor of {from_name} → {to_name}")],
            )
    # One item beyond the page is kept to know whether there is more.
    counts, page = _compare(
        session, a, b, after=after, keep=limit + 1 if DiffSection.changed in sections else 0
    )
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = _encode(f"d|{a}.{b}|{page[-1].code}")
    retired: list[RetiredItem] | None = None
    if DiffSection.retired in sections:
        gone = repo.only_in(session, a, b)
        statuses = repo.statuses_at(session, [i for i, _ in gone], rel_b.change_seq)
        retired = [RetiredItem(code=code, status=statuses.get(i)) for i, code in gone]
    return ReleaseDiff(
        from_release=rel_a.name,
        to_release=rel_b.name,
        counts=counts,
        added=[code for _, code in repo.only_in(session, b, a)] if DiffSection.added in sections else None,
        retired=retired,
        changed=page if DiffSection.changed in sections else None,
        next_cursor=next_cursor,
    )


# --- the catalogue as of a release or a day --------------------------------------------------------


def past_rows(
    session: Session, *, release: str | None, as_of: date | None, by_code: bool = False
) -> list[tuple[int, str, dict[str, Any]]]:
    """(revision id, code, snapshot) for a release, or for the revisions in force at the end of a day."""
    check_one_of(release, as_of)
    if release is not None:
        return repo.past_rows(session, release_id=_id(require_release(session, release)), by_code=by_code)
    assert as_of is not None
    return repo.past_rows(session, before=end_of(as_of), by_code=by_code)


def past_snapshots(session: Session, *, release: str | None, as_of: date | None) -> list[dict[str, Any]]:
    """What every indicator said in a release or at the end of a day, by code (exports)."""
    return [snap for _, _, snap in past_rows(session, release=release, as_of=as_of, by_code=True)]


@dataclass(frozen=True)
class PastIndex:
    """A search index over one past state, and the revision each of its codes stands for."""

    index: SearchIndex
    revision_ids: dict[str, int]


class PastIndexes:
    """A small LRU of search indexes over past states, one per release or per (day, change number).

    Releases never change; a day's state can (a change set may be dated back), so a day is keyed
    with the catalogue change number and a write makes the next search build afresh. An index of
    100k indicators takes about 100 MiB, hence the small capacity.
    """

    def __init__(self, capacity: int = 3) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, ...], PastIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(self, key: tuple[str, ...], build: Callable[[], PastIndex]) -> PastIndex:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        built = build()  # outside the lock: a build takes seconds at 100k and must not block other keys
        with self._lock:
            self._items[key] = built
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return built


def _doc(snap: dict[str, Any], refs: Refs) -> IndexDoc:
    """The index document of a snapshot, built as ``indicators.service.index_docs`` builds live ones."""
    node = refs.categories.get(snap.get("category_id") or 0)
    return IndexDoc(
        code=snap["code"],
        name=snap["name"],
        keywords=tuple(snap.get("keywords") or ()),
        definition=snap.get("definition") or "",
        level1=snap.get("level1") or "",
        level2=snap.get("level2") or "",
        sector=snap.get("sector") or "",
        department=snap.get("department") or "",
        kind=snap.get("kind") or "",
        status=snap.get("status") or "",
        bases=tuple(str(b["id"]) for b in snap.get("legal_bases") or ()),
        category_ids=tuple(c for c in (node.parent_id, node.id) if c is not None) if node else (),
    )


def _build_past_index(
    session: Session, live: SearchIndex, *, release: str | None, as_of: date | None
) -> PastIndex:
    rows = past_rows(session, release=release, as_of=as_of)
    refs = Refs(session)
    index = SearchIndex(live.analyzer)  # the live dictionary and synonyms: same tokens, same ranking rules
    index.replace_all((_doc(snap, refs) for _, _, snap in rows), version=0)
    return PastIndex(index=index, revision_ids={code: rid for rid, code, _ in rows})


def search_past(
    session: Session,
    live: SearchIndex,
    cache: PastIndexes,
    params: SearchParams,
    *,
    release: str | None,
    as_of: date | None,
) -> IndicatorPage:
    """Search and browse a release or the catalogue at the end of a day, as ``search`` does today's."""
    check_one_of(release, as_of)
    if release is not None:
        key: tuple[str, ...] = ("release", require_release(session, release).name)
    else:
        assert as_of is not None
        key = ("as_of", as_of.isoformat(), str(indicator_repo.current_change_seq(session)))
    past = cache.get_or_build(key, lambda: _build_past_index(session, live, release=release, as_of=as_of))
    try:
        page = past.index.search(
            params.q, filters=search_filters(Refs(session), params), limit=params.limit, cursor=params.cursor
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(field="cursor", message=str(exc))]) from exc
    found = repo.revisions_by_ids(session, [past.revision_ids[h.code] for h in page.hits])
    ordered = [found[past.revision_ids[h.code]] for h in page.hits]
    return IndicatorPage(
        items=_views(session, ordered), total=page.total, next_cursor=page.next_cursor, facets=page.facets
    )
