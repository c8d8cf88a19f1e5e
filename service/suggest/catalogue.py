"""The suggestion engine's in-memory snapshot of the catalogue, kept fresh incrementally.

Readers take the current ``Snapshot`` reference and never wait. Writers:

* ``replace_all`` builds a complete new snapshot *without* holding the writer lock and swaps it in, so
  the service keeps answering (and keeps applying small upserts to the old snapshot) during a rebuild;
  the swapped-in snapshot carries the change counter it was built at, so whatever was upserted into
  the old one meanwhile is fetched again by the next ``refresh`` (the database is the source of truth);
* ``upsert`` / ``delete`` (driven by the catalogue change counter, as the search index is) add a small
  delta segment and tombstone replaced ids; deltas are merged, and once they or the tombstones pass a
  share of the main segment everything is compacted by copying postings (never re-analysing text).

Retired indicators are not in the engine at all.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from service.search.text import Analyzer, compact
from service.suggest.dimensions import CORE_DIMENSIONS, dimension_of
from service.suggest.index import (
    BoolArray,
    Float32Array,
    FloatArray,
    Int32Array,
    Int64Array,
    Segment,
    SegmentBuilder,
    average_lengths,
    empty_segment,
    merge,
)
from service.suggest.units import infer_family

Int8Array = NDArray[np.int8]

RETIRED = "retired"
# Compaction thresholds: delta postings or dead ids beyond this share of the main segment / of all ids.
DELTA_SHARE = 0.25
DEAD_SHARE = 0.25
MIN_COMPACT_POSTINGS = 20_000
MAX_DELTAS = 8
# Commonness shortlist per dimension (filler defaults), refreshed at every build and compaction.
COMMON_PER_DIMENSION = 12
_SECTOR_SPLIT = re.compile(r"^(?P<parent>[^()]+)\((?P<child>.+)\)$")
_FIELD_SPLIT = re.compile(r"[(（/／]")
# A name the catalogue uses in this many sector families or more is generic (群众满意度, 资金到位率):
# computed from the data at every write, never from a list of names.
GENERIC_FIELDS = 3
GENERIC_FIELD_LABEL = "通用"


@dataclass(frozen=True)
class SuggestDoc:
    """What the engine keeps of one indicator (enough to answer without reading the database)."""

    code: str
    name: str
    kind: str = "sector"
    status: str = "standard"
    level1: str = ""
    level2: str | None = None
    raw_level2: str | None = None
    sector: str | None = None
    sector_code: str | None = None
    sector_root: str | None = None
    department: str | None = None
    department_code: str | None = None
    unit: str | None = None
    comparator: str | None = None
    value: float | str | None = None
    raw_value: str | None = None
    keywords: tuple[str, ...] = ()
    definition: str = ""

    def texts(self) -> tuple[str, ...]:
        """Field texts in ``service.suggest.index.FIELDS`` order."""
        return (
            self.name,
            " ".join(self.keywords),
            self.level2 or "",
            self.sector or "",
            self.department or "",
            self.definition,
        )


def sector_root_of(name: str | None) -> str | None:
    """The top of a sector label: 教育(学生资助) → 教育; a plain label is its own root."""
    if not name:
        return None
    m = _SECTOR_SPLIT.match(name)
    return m.group("parent").strip() if m else name


def field_of(name: str | None) -> str | None:
    """The sector family (行业领域) of a sector label: the text before its first bracket or slash.

    城市管理/生态环境(大气) → 城市管理, 教育(学生资助) → 教育; a plain label is its own family.
    """
    if not name:
        return None
    return _FIELD_SPLIT.split(name, maxsplit=1)[0].strip() or None


class Labels:
    """Label -> small int, shared by the snapshots of one build (grows under the writer lock only)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []

    def id(self, label: str | None) -> int:
        if not label:
            return -1
        found = self.ids.get(label)
        if found is None:
            found = len(self.names)
            self.names.append(label)
            self.ids[label] = found
        return found

    def get(self, label: str | None) -> int:
        return self.ids.get(label, -1) if label else -1


@dataclass
class Vocabulary:
    """Label spaces of one build; dicts only grow, so older snapshots can still read them."""

    departments: Labels = field(default_factory=Labels)
    sectors: Labels = field(default_factory=Labels)  # sector names and sector roots share one space
    kinds: Labels = field(default_factory=Labels)
    families: Labels = field(default_factory=Labels)
    department_codes: dict[str, str] = field(default_factory=dict)  # code -> name
    sector_codes: dict[str, str] = field(default_factory=dict)
    name_counts: Counter[str] = field(default_factory=Counter)  # compact name -> live docs
    fields: Labels = field(default_factory=Labels)  # sector families (行业领域)
    # compact name -> live docs per sector family (-1: none): how widely a name is used.
    name_fields: dict[str, Counter[int]] = field(default_factory=dict)
    name_ids: dict[str, list[int]] = field(default_factory=dict)  # compact name -> doc ids (live or dead)
    # sector family -> live docs per department / per sector label: department → field, field → label.
    department_fields: dict[int, Counter[int]] = field(default_factory=dict)
    field_sectors: dict[int, Counter[str]] = field(default_factory=dict)
    spread: dict[str, int] = field(default_factory=dict)  # compact name -> families using it (live)
    common_ids: dict[str, int] = field(default_factory=dict)  # compact name -> a 共性 doc id (checked on read)

    def count(self, names: Sequence[str], fields: Sequence[int], departments: Sequence[int],
              sectors: Sequence[str | None], sign: int) -> None:
        """Add (sign 1) or remove (-1) live docs from the usage tables."""
        for name, fid, dep, sector in zip(names, fields, departments, sectors, strict=True):
            per_field = self.name_fields.setdefault(name, Counter())
            before = per_field[fid] > 0
            per_field[fid] += sign
            if fid >= 0 and before != (per_field[fid] > 0):
                self.spread[name] = self.spread.get(name, 0) + (1 if sign > 0 else -1)
            if dep >= 0 and fid >= 0:
                self.department_fields.setdefault(dep, Counter())[fid] += sign
            if fid >= 0 and sector:
                self.field_sectors.setdefault(fid, Counter())[sector] += sign

    def name_spread(self, name: str) -> int:
        """How many sector families use ``name`` (live docs)."""
        return self.spread.get(name, 0)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable view for readers; lists are shared append-only (read below ``n`` only)."""

    version: int
    epoch: int
    n: int
    docs: list[SuggestDoc]
    names: list[str]  # compact names
    alive: BoolArray
    n_alive: int
    segments: tuple[Segment, ...]  # main first
    stats_docs: int  # N of the epoch, for idf
    avglen: Float32Array
    field_len: Int32Array  # fields x n
    department: Int32Array
    sector: Int32Array
    sector_root: Int32Array
    kind: Int32Array
    dimension: Int8Array
    family: Int32Array
    sector_field: Int32Array  # sector family id (vocab.fields), -1 none
    generic: BoolArray  # kind 共性 or a 通用 family (names used widely are checked at query time)
    vocab: Vocabulary
    code_to_id: dict[str, int]  # shared, writer-updated; check id < n and alive
    common: dict[int, tuple[int, ...]]  # dimension -> doc ids, most common names first
    # Inverted label maps, built on first use per snapshot (never copied by ``replace``).
    _groups: dict[str, tuple[Int64Array, list[int]]] = field(default_factory=dict, init=False, repr=False)
    _priors: dict[int, FloatArray] = field(default_factory=dict, init=False, repr=False)

    def members(self, column: str, label: int) -> Int64Array:
        """Ids (live or dead) whose ``column`` ("department", "sector", …) holds ``label``, ascending."""
        found = self._groups.get(column)
        if found is None:
            values: Int32Array = getattr(self, column)
            order = np.argsort(values, kind="stable")
            top = int(values.max(initial=-1)) + 1
            offsets = np.searchsorted(values[order], np.arange(top + 1)).tolist()
            found = (order, offsets)
            self._groups[column] = found  # a benign race: two readers may both build it
        order, offsets = found
        if not 0 <= label < len(offsets) - 1:
            return order[:0]
        return order[offsets[label] : offsets[label + 1]]

    def field_prior(self, n_fields: int) -> FloatArray:
        """Share of live, non-generic docs per sector family (cached per snapshot)."""
        found = self._priors.get(n_fields)
        if found is None:
            fids = self.sector_field[self.alive & ~self.generic]
            fids = fids[fids >= 0]
            counts = np.bincount(fids, minlength=n_fields)[:n_fields].astype(np.float64)
            found = counts / max(1.0, float(counts.sum()))
            self._priors[n_fields] = found
        return found

    def live_id(self, code: str) -> int | None:
        i = self.code_to_id.get(code)
        if i is None or i >= self.n or not self.alive[i]:
            return None
        return i


def _columns(docs: Sequence[SuggestDoc], vocab: Vocabulary) -> dict[str, NDArray[Any]]:
    for d in docs:
        if d.department_code and d.department:
            vocab.department_codes[d.department_code] = d.department
        if d.sector_code and d.sector:
            vocab.sector_codes[d.sector_code] = d.sector
    return {
        "department": np.array([vocab.departments.id(d.department) for d in docs], np.int32),
        "sector": np.array([vocab.sectors.id(d.sector) for d in docs], np.int32),
        "sector_root": np.array([vocab.sectors.id(d.sector_root) for d in docs], np.int32),
        "kind": np.array([vocab.kinds.id(d.kind) for d in docs], np.int32),
        "dimension": np.array(
            [dimension_of(d.level1, d.level2, d.name, raw_level2=d.raw_level2) for d in docs], np.int8
        ),
        "family": np.array([vocab.families.id(infer_family(d.name, d.unit)) for d in docs], np.int32),
        "sector_field": np.array([vocab.fields.id(field_of(d.sector)) for d in docs], np.int32),
        "generic": np.array(
            [d.kind == "common" or field_of(d.sector) == GENERIC_FIELD_LABEL for d in docs], np.bool_
        ),
    }


def _register(vocab: Vocabulary, docs: Sequence[SuggestDoc], names: Sequence[str],
              cols: dict[str, NDArray[Any]], first: int) -> None:
    for k, name in enumerate(names):
        vocab.name_ids.setdefault(name, []).append(first + k)
        if docs[k].kind == "common":
            vocab.common_ids[name] = first + k
    vocab.count(names, cols["sector_field"].tolist(), cols["department"].tolist(), [d.sector for d in docs], 1)


def _common_lists(
    docs: Sequence[SuggestDoc], names: Sequence[str], alive: BoolArray, dims: Int8Array, counts: Counter[str]
) -> dict[int, tuple[int, ...]]:
    """Per core dimension, ids of live docs whose names the catalogue repeats most (common indicators)."""
    out: dict[int, tuple[int, ...]] = {}
    live = np.flatnonzero(alive)
    for dim in CORE_DIMENSIONS:
        ids = live[dims[live] == dim]
        if not len(ids):
            out[int(dim)] = ()
            continue
        freq = np.fromiter((counts[names[i]] for i in ids.tolist()), np.int64, len(ids))
        top = ids[np.argsort(-freq, kind="stable")[: COMMON_PER_DIMENSION * 4]]
        ranked = sorted(
            top.tolist(),
            key=lambda i: (-counts[names[i]], docs[i].kind != "common", len(names[i]), docs[i].code),
        )
        out[int(dim)] = tuple(ranked[:COMMON_PER_DIMENSION])
    return out


def build_snapshot(analyzer: Analyzer, docs: Iterable[SuggestDoc], *, version: int, epoch: int) -> Snapshot:
    """A complete snapshot from scratch (the retired are left out; the last doc per code wins)."""
    by_code: dict[str, SuggestDoc] = {}
    for d in docs:
        by_code.pop(d.code, None)
        if d.status != RETIRED:
            by_code[d.code] = d
    items = list(by_code.values())
    vocab = Vocabulary()
    cols = _columns(items, vocab)
    segment, field_len, avglen = SegmentBuilder(analyzer).build(
        [d.texts() for d in items], first_id=0, avglen=None
    )
    names = [compact(d.name) for d in items]
    vocab.name_counts.update(names)
    _register(vocab, items, names, cols, 0)
    alive = np.ones(len(items), np.bool_)
    return Snapshot(
        version=version,
        epoch=epoch,
        n=len(items),
        docs=items,
        names=names,
        alive=alive,
        n_alive=len(items),
        segments=(segment,),
        stats_docs=max(1, len(items)),
        avglen=avglen,
        field_len=field_len,
        vocab=vocab,
        code_to_id={d.code: i for i, d in enumerate(items)},
        common=_common_lists(items, names, alive, cols["dimension"], vocab.name_counts),
        department=cols["department"],
        sector=cols["sector"],
        sector_root=cols["sector_root"],
        kind=cols["kind"],
        dimension=cols["dimension"],
        family=cols["family"],
        sector_field=cols["sector_field"],
        generic=cols["generic"],
    )


class SnapshotStore:
    """The engine's catalogue snapshots: lock-free reads, serialised writes, atomic swaps."""

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self._write_lock = threading.Lock()
        self._snap = build_snapshot(analyzer, (), version=0, epoch=0)
        self._epochs = 0

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    @property
    def version(self) -> int:
        """The catalogue change counter the engine reflects."""
        return self._snap.version

    def __len__(self) -> int:
        return self._snap.n_alive

    def info(self) -> dict[str, Any]:
        snap = self._snap
        return {
            "version": snap.version,
            "docs": snap.n_alive,
            "doc_ids": snap.n,
            "segments": len(snap.segments),
            "postings": sum(s.size for s in snap.segments),
            "epoch": snap.epoch,
        }

    # -- writes -----------------------------------------------------------------------------------

    def replace_all(self, docs: Iterable[SuggestDoc], *, version: int) -> None:
        """Build a new snapshot off-lock, then swap it in (readers and small upserts never wait)."""
        with self._write_lock:
            self._epochs += 1
            epoch = self._epochs
        snap = build_snapshot(self._analyzer, docs, version=version, epoch=epoch)
        with self._write_lock:
            self._snap = snap

    def upsert(self, docs: Iterable[SuggestDoc], *, version: int) -> None:
        """Add or replace docs by code; a retired doc is removed. Cost follows the docs given."""
        items: dict[str, SuggestDoc] = {}
        for d in docs:
            items.pop(d.code, None)
            items[d.code] = d
        with self._write_lock:
            snap = self._snap
            retired = [c for c, d in items.items() if d.status == RETIRED]
            live = [d for d in items.values() if d.status != RETIRED]
            snap = self._tombstone(snap, [*retired, *(d.code for d in live)])
            if live:
                snap = self._append(snap, live)
            snap = replace(snap, version=max(snap.version, version))
            self._snap = self._maybe_compact(snap)

    def delete(self, codes: Iterable[str], *, version: int) -> None:
        """Remove docs by code (unknown codes are ignored)."""
        with self._write_lock:
            snap = self._tombstone(self._snap, list(codes))
            self._snap = self._maybe_compact(replace(snap, version=max(snap.version, version)))

    def _tombstone(self, snap: Snapshot, codes: Sequence[str]) -> Snapshot:
        ids = [i for i in (snap.live_id(c) for c in codes) if i is not None]
        if not ids:
            return snap
        alive = snap.alive.copy()
        alive[ids] = False
        for i in ids:
            snap.vocab.name_counts[snap.names[i]] -= 1
        snap.vocab.count(
            [snap.names[i] for i in ids],
            snap.sector_field[ids].tolist(),
            snap.department[ids].tolist(),
            [snap.docs[i].sector for i in ids],
            -1,
        )
        return replace(snap, alive=alive, n_alive=int(alive.sum()))

    def _append(self, snap: Snapshot, items: list[SuggestDoc]) -> Snapshot:
        first = snap.n
        cols = _columns(items, snap.vocab)
        segment, field_len, _ = SegmentBuilder(self._analyzer).build(
            [d.texts() for d in items], first_id=first, avglen=snap.avglen
        )
        docs, names = snap.docs, snap.names
        # Shared append-only lists: drop anything a failed earlier write may have left past n.
        del docs[first:], names[first:]
        docs.extend(items)
        new_names = [compact(d.name) for d in items]
        names.extend(new_names)
        snap.vocab.name_counts.update(new_names)
        _register(snap.vocab, items, new_names, cols, first)
        for i, d in enumerate(items):
            snap.code_to_id[d.code] = first + i
        deltas = [*snap.segments[1:], segment]
        if len(deltas) > MAX_DELTAS:
            deltas = [merge(deltas, np.ones(first + len(items), np.bool_))]
        grown = {k: np.concatenate((getattr(snap, k), v)) for k, v in cols.items()}
        return replace(
            snap,
            n=first + len(items),
            alive=np.concatenate((snap.alive, np.ones(len(items), np.bool_))),
            n_alive=snap.n_alive + len(items),
            segments=(snap.segments[0], *deltas),
            field_len=np.concatenate((snap.field_len, field_len), axis=1),
            department=grown["department"],
            sector=grown["sector"],
            sector_root=grown["sector_root"],
            kind=grown["kind"],
            dimension=grown["dimension"],
            family=grown["family"],
            sector_field=grown["sector_field"],
            generic=grown["generic"],
        )

    def _maybe_compact(self, snap: Snapshot) -> Snapshot:
        delta_postings = sum(s.size for s in snap.segments[1:])
        main = snap.segments[0].size
        dead = snap.n - snap.n_alive
        if delta_postings <= max(DELTA_SHARE * main, MIN_COMPACT_POSTINGS) and dead <= max(
            DEAD_SHARE * snap.n, 64
        ):
            return snap
        return self._compact(snap)

    def _compact(self, snap: Snapshot) -> Snapshot:
        """One main segment, dead ids dropped, fresh statistics (a new epoch)."""
        keep = np.flatnonzero(snap.alive)
        remap = np.full(snap.n, -1, np.int32)
        remap[keep] = np.arange(len(keep), dtype=np.int32)
        main = merge(snap.segments, snap.alive, remap) if len(keep) else empty_segment()
        ids = keep.tolist()
        docs = [snap.docs[i] for i in ids]
        names = [snap.names[i] for i in ids]
        field_len = snap.field_len[:, keep]
        alive = np.ones(len(keep), np.bool_)
        self._epochs += 1
        dims = snap.dimension[keep]
        name_ids: dict[str, list[int]] = {}
        common_ids: dict[str, int] = {}
        for k, name in enumerate(names):
            name_ids.setdefault(name, []).append(k)
            if docs[k].kind == "common":
                common_ids[name] = k
        # Older snapshots check ids read from these against their own n, alive and names.
        snap.vocab.name_ids, snap.vocab.common_ids = name_ids, common_ids
        return replace(
            snap,
            epoch=self._epochs,
            n=len(keep),
            docs=docs,
            names=names,
            alive=alive,
            n_alive=len(keep),
            segments=(main,),
            stats_docs=max(1, len(keep)),
            avglen=average_lengths(field_len),
            field_len=field_len,
            department=snap.department[keep],
            sector=snap.sector[keep],
            sector_root=snap.sector_root[keep],
            kind=snap.kind[keep],
            dimension=dims,
            family=snap.family[keep],
            sector_field=snap.sector_field[keep],
            generic=snap.generic[keep],
            code_to_id={d.code: i for i, d in enumerate(docs)},
            common=_common_lists(docs, names, alive, dims, snap.vocab.name_counts),
        )
