"""In-memory Chinese full-text and faceted index of the indicator catalogue.

The database is the source of truth; the index keeps only what search needs and answers with codes.

Layout
------
* Every doc gets an integer id (never reused). Per-doc attributes are integer-coded numpy arrays
  (facets are ``np.bincount``, filters are boolean masks).
* Text lives in *segments*: CSR posting lists (term -> doc ids, a precomputed BM25 field-weighted
  score part, a bitmask of the fields holding the term). ``replace_all`` builds one main segment;
  ``upsert`` builds a small segment for the new docs and tombstones the replaced ids. Small
  segments are merged log-structured (a new segment is merged into the previous one while it is at
  least 1/MERGE_FACTOR of its size); when the deltas or the tombstones grow past a quarter of the
  main segment everything is merged into a new main segment (an O(postings) scatter, no re-analysis).
* A search works on an immutable ``_Snapshot``; writers build a new snapshot under a lock and swap
  the reference, so searches never wait and never see half an update.

Ranking
-------
Per-field BM25 (k1=1.2) summed with field weights (name >> keywords > level2/sector > department >
level1 > definition); the saturated part is computed at index time, the idf at query time.
Collection statistics (N, df, average lengths) are frozen in a ``_Stats`` epoch that only changes on
``replace_all`` or a main merge: an upsert never changes the score of another doc, which is what
keeps keyset cursors exact while the catalogue changes.

Matching: the query's *units* (its bigrams, lone characters, Latin tokens) must all be present
(3 units or fewer) or 75 % of them (more units); a doc may satisfy the query as typed or one of its
synonym rewrites. Only if no doc qualifies does the query fall back to "any unit" (OR). Partial
matches are scaled by coverage². Name boosts: the name contains the query, starts with it, equals it.

Facets are disjunctive: a field's counts apply every filter except that field's own, so the UI can
show the alternatives to a selected value. Empty values are not counted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from service.search.text import Analyzer, QueryAnalysis, QueryVariant, compact, idf

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Int32Array = NDArray[np.int32]
BoolArray = NDArray[np.bool_]

# Text fields in posting-bit order (bit i = FIELDS[i]).
FIELDS = ("name", "keywords", "level1", "level2", "sector", "department", "definition")
_NAME_BIT = 1
FIELD_WEIGHTS = np.array([5.0, 2.5, 0.6, 1.2, 1.2, 0.8, 0.5], dtype=np.float32)
# Length normalisation: full for free text, mild for short labels.
FIELD_B = np.array([0.75, 0.5, 0.3, 0.3, 0.3, 0.3, 0.75], dtype=np.float32)
# Definitions are long; their single characters would only make one-character queries noisy.
_FIELD_UNIGRAMS = (True, True, True, True, True, True, False)
# Average field lengths (characters) assumed before any doc has been indexed.
_DEFAULT_AVGLEN = (12.0, 8.0, 5.0, 5.0, 8.0, 8.0, 40.0)
K1 = 1.2

ATTR_FIELDS = ("kind", "sector", "department", "level1", "level2", "status")
MULTI_FIELDS = ("basis", "category")
FILTER_FIELDS = ATTR_FIELDS + MULTI_FIELDS
DEFAULT_FACETS = ATTR_FIELDS
MAX_FACET_VALUES = 50

# Name boosts, in units of the query's idf mass (sum of idf of the typed query's terms).
BOOST_CONTAINS = 4.0
BOOST_PREFIX = 1.0
BOOST_EXACT = 10.0

MERGE_FACTOR = 4
MAIN_MERGE_RATIO = 0.25
# Below this many delta postings a main merge is not worth it, whatever the ratio.
MAIN_MERGE_MIN_POSTINGS = 50_000
_BUILD_CHUNK = 8192
_CURSOR_TAG = "c1"


@dataclass(frozen=True)
class IndexDoc:
    """What the index needs of one indicator."""

    code: str
    name: str
    keywords: tuple[str, ...] = ()
    definition: str = ""
    level1: str = ""  # category labels (for text and facets)
    level2: str = ""
    sector: str = ""
    department: str = ""
    kind: str = ""
    status: str = ""
    bases: tuple[str, ...] = ()  # legal-basis ids (strings) linked to the indicator, for the `basis` filter
    category_ids: tuple[int, ...] = ()  # every category node id on the path (level1 and level2)


@dataclass(frozen=True)
class SearchHit:
    code: str
    score: float


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    total: int
    next_cursor: str | None
    facets: dict[str, dict[str, int]]


# --------------------------------------------------------------------------------------------------
# Segments


@dataclass(frozen=True, eq=False)
class _Segment:
    """Term -> postings in CSR form. Term ids are 0..T-1 in the dict's insertion order."""

    terms: dict[str, int]
    offsets: IntArray
    docs: Int32Array
    sats: NDArray[np.float32]  # sum over fields of weight * saturated tf
    bits: NDArray[np.uint8]  # fields holding the term

    @property
    def size(self) -> int:
        return len(self.docs)

    def span(self, term: str) -> tuple[int, int] | None:
        tid = self.terms.get(term)
        if tid is None:
            return None
        lo, hi = int(self.offsets[tid]), int(self.offsets[tid + 1])
        return (lo, hi) if hi > lo else None

    def tid_per_posting(self) -> IntArray:
        return np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.offsets))


def _empty_segment() -> _Segment:
    return _Segment(
        {},
        np.zeros(1, np.int64),
        np.zeros(0, np.int32),
        np.zeros(0, np.float32),
        np.zeros(0, np.uint8),
    )


@dataclass(frozen=True, eq=False)
class _Part:
    """Postings sorted by term id (then doc id) against a shared vocabulary."""

    tids: IntArray
    docs: Int32Array
    sats: NDArray[np.float32]
    bits: NDArray[np.uint8]


def _assemble(parts: Sequence[_Part], vocab: dict[str, int]) -> _Segment:
    """Concatenate term-sorted parts into one CSR segment with a linear scatter (no global sort)."""
    n_terms = len(vocab)
    counts = np.zeros(n_terms, np.int64)
    for p in parts:
        counts += np.bincount(p.tids, minlength=n_terms)
    if n_terms and not counts.all():
        # Drop terms whose postings all died, renumbering the rest in order.
        keep = counts > 0
        new_id = np.cumsum(keep) - 1
        vocab = {t: int(new_id[i]) for t, i in vocab.items() if keep[i]}
        parts = [_Part(new_id[p.tids], p.docs, p.sats, p.bits) for p in parts]
        counts = counts[keep]
        n_terms = len(vocab)
    offsets = np.zeros(n_terms + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    docs = np.empty(total, np.int32)
    sats = np.empty(total, np.float32)
    bits = np.empty(total, np.uint8)
    fill = offsets[:-1].copy()
    for p in parts:
        m = len(p.tids)
        if not m:
            continue
        # Rank of each posting within its term inside this part (parts are sorted by term id).
        starts = np.flatnonzero(np.diff(p.tids)) + 1
        run_start = np.concatenate(([0], starts))
        run_len = np.diff(np.concatenate((run_start, [m])))
        within = np.arange(m, dtype=np.int64) - np.repeat(run_start, run_len)
        dest = fill[p.tids] + within
        docs[dest] = p.docs
        sats[dest] = p.sats
        bits[dest] = p.bits
        fill += np.bincount(p.tids, minlength=n_terms)
    return _Segment(vocab, offsets, docs, sats, bits)


def _sort_part(tids: IntArray, docs: Int32Array, sats: NDArray[np.float32], bits: NDArray[np.uint8]) -> _Part:
    """Sort postings by (term id, input position); np.sort of packed int64 keys beats argsort."""
    key = (tids << 32) | np.arange(len(tids), dtype=np.int64)
    key.sort()
    perm = key & 0xFFFFFFFF
    return _Part(key >> 32, docs[perm], sats[perm], bits[perm])


def _merge_segments(segments: Sequence[_Segment], alive: BoolArray) -> _Segment:
    """Merge segments, dropping postings of dead docs. Scores are copied, never recomputed."""
    vocab: dict[str, int] = {}
    parts: list[_Part] = []
    for seg in segments:
        mapping = np.empty(len(seg.terms), np.int64)
        for term, tid in seg.terms.items():
            mapping[tid] = vocab.setdefault(term, len(vocab))
        keep = alive[seg.docs]
        tids = mapping[seg.tid_per_posting()[keep]]
        parts.append(_sort_part(tids, seg.docs[keep], seg.sats[keep], seg.bits[keep]))
    return _assemble(parts, vocab)


class _SegmentBuilder:
    """Analyses docs chunk by chunk into term-sorted parts over one vocabulary."""

    def __init__(self, analyzer: Analyzer, avglen: NDArray[np.float32]) -> None:
        self._analyzer = analyzer
        self._avglen = avglen
        self.vocab: dict[str, int] = {}
        self.parts: list[_Part] = []
        # Memo per distinct (text, unigrams): catalogue labels and common names repeat a lot, and
        # jieba is by far the most expensive step of a build.
        self._memo: dict[tuple[str, bool], tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def _analyse(self, text: str, unigrams: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
        key = (text, unigrams)
        hit = self._memo.get(key)
        if hit is None:
            counts = Counter(self._analyzer.index_terms(text, unigrams=unigrams))
            vocab = self.vocab
            hit = (tuple(vocab.setdefault(t, len(vocab)) for t in counts), tuple(counts.values()))
            self._memo[key] = hit
        return hit

    def add(self, docs: Sequence[IndexDoc], *, first_id: int) -> None:
        for start in range(0, len(docs), _BUILD_CHUNK):
            self._add_chunk(docs[start : start + _BUILD_CHUNK], first_id + start)

    def _add_chunk(self, docs: Sequence[IndexDoc], first_id: int) -> None:
        tid_list: list[int] = []
        tf_list: list[int] = []
        blk_doc: list[int] = []
        blk_field: list[int] = []
        blk_len: list[int] = []
        blk_size: list[int] = []
        for j, doc in enumerate(docs):
            for f, text in enumerate(_field_texts(doc)):
                if not text:
                    continue
                tids, tfs = self._analyse(text, _FIELD_UNIGRAMS[f])
                if not tids:
                    continue
                tid_list.extend(tids)
                tf_list.extend(tfs)
                blk_doc.append(first_id + j)
                blk_field.append(f)
                blk_len.append(len(text))
                blk_size.append(len(tids))
        if not tid_list:
            return
        sizes = np.array(blk_size, np.int64)
        fld = np.repeat(np.array(blk_field, np.intp), sizes)
        flen = np.repeat(np.array(blk_len, np.float32), sizes)
        tf = np.array(tf_list, np.float32)
        b = FIELD_B[fld]
        norm = K1 * (1.0 - b + b * flen / self._avglen[fld])
        sat = (FIELD_WEIGHTS[fld] * tf * (K1 + 1.0) / (tf + norm)).astype(np.float32)
        bits = np.left_shift(1, fld).astype(np.uint8)
        docs_arr = np.repeat(np.array(blk_doc, np.int32), sizes)
        part = _sort_part(np.array(tid_list, np.int64), docs_arr, sat, bits)
        # A term found in several fields of one doc: one posting, parts summed, field bits or-ed.
        m = len(part.tids)
        new = np.ones(m, np.bool_)
        new[1:] = (part.tids[1:] != part.tids[:-1]) | (part.docs[1:] != part.docs[:-1])
        starts = np.flatnonzero(new)
        self.parts.append(
            _Part(
                part.tids[starts],
                part.docs[starts],
                np.add.reduceat(part.sats, starts),
                np.bitwise_or.reduceat(part.bits, starts),
            )
        )

    def build(self) -> _Segment:
        seg = _assemble(self.parts, self.vocab)
        self.parts = []
        self._memo.clear()
        return seg


def _field_texts(doc: IndexDoc) -> tuple[str, ...]:
    return (
        doc.name,
        " ".join(doc.keywords),
        doc.level1,
        doc.level2,
        doc.sector,
        doc.department,
        doc.definition,
    )


# --------------------------------------------------------------------------------------------------
# Snapshot


@dataclass(frozen=True, eq=False)
class _Stats:
    """Collection statistics of one epoch; frozen so that upserts leave other docs' scores alone."""

    n_docs: int
    avglen: NDArray[np.float32]
    terms: dict[str, int]
    df: IntArray
    epoch: int

    def idf(self, term: str) -> float:
        tid = self.terms.get(term)
        df = int(self.df[tid]) if tid is not None else 0
        return idf(max(self.n_docs, df), df)


def _stats_for(main: _Segment, field_len: Int32Array, alive: BoolArray, epoch: int) -> _Stats:
    avg = np.array(_DEFAULT_AVGLEN, np.float32)
    if alive.any():
        lens = field_len[:, alive]
        for f in range(len(FIELDS)):
            present = lens[f][lens[f] > 0]
            if len(present):
                avg[f] = float(present.mean())
    return _Stats(int(alive.sum()), avg, main.terms, np.diff(main.offsets), epoch)


@dataclass(frozen=True, eq=False)
class _Labels:
    """Value dictionary of one facet field: id -> label and label -> id (copied when it grows)."""

    labels: tuple[str, ...] = ()
    ids: dict[str, int] = field(default_factory=dict)

    def encode(self, values: Iterable[str]) -> tuple[_Labels, list[int]]:
        """Ids of ``values``; returns a grown copy when new labels appear (this one is shared)."""
        labels: list[str] | None = None
        ids = self.ids
        out: list[int] = []
        for v in values:
            i = ids.get(v)
            if i is None:
                if labels is None:
                    labels, ids = list(self.labels), dict(self.ids)
                i = len(labels)
                labels.append(v)
                ids[v] = i
            out.append(i)
        return (self if labels is None else _Labels(tuple(labels), ids)), out


@dataclass(frozen=True, eq=False)
class _Snapshot:
    version: int
    stats: _Stats
    main: _Segment
    deltas: tuple[_Segment, ...]
    alive: BoolArray
    n_alive: int
    attrs: Int32Array  # (len(ATTR_FIELDS), n)
    attr_labels: tuple[_Labels, ...]
    multi_docs: tuple[Int32Array, ...]  # per MULTI_FIELDS: doc id of each (doc, value) entry
    multi_vals: tuple[Int32Array, ...]
    multi_labels: tuple[_Labels, ...]
    field_len: Int32Array  # (len(FIELDS), n), for the statistics of the next epoch
    rank: Int32Array  # position of the doc's code in code order
    sorted_codes: NDArray[np.str_]
    sorted_ids: Int32Array
    codes: list[str]  # append-only, shared between snapshots of one build; read below n only
    names: list[str]  # compact names, same sharing rule
    name_len: Int32Array
    name_head: NDArray[np.str_]  # first two characters of the compact name

    @property
    def n(self) -> int:
        return len(self.alive)

    @property
    def segments(self) -> tuple[_Segment, ...]:
        return (self.main, *self.deltas)


def _empty_snapshot() -> _Snapshot:
    seg = _empty_segment()
    zeros_i32 = np.zeros(0, np.int32)
    return _Snapshot(
        version=0,
        stats=_stats_for(seg, np.zeros((len(FIELDS), 0), np.int32), np.zeros(0, np.bool_), 0),
        main=seg,
        deltas=(),
        alive=np.zeros(0, np.bool_),
        n_alive=0,
        attrs=np.zeros((len(ATTR_FIELDS), 0), np.int32),
        attr_labels=tuple(_Labels() for _ in ATTR_FIELDS),
        multi_docs=tuple(zeros_i32 for _ in MULTI_FIELDS),
        multi_vals=tuple(zeros_i32 for _ in MULTI_FIELDS),
        multi_labels=tuple(_Labels() for _ in MULTI_FIELDS),
        field_len=np.zeros((len(FIELDS), 0), np.int32),
        rank=zeros_i32,
        sorted_codes=np.zeros(0, "U1"),
        sorted_ids=zeros_i32,
        codes=[],
        names=[],
        name_len=zeros_i32,
        name_head=np.zeros(0, "U2"),
    )


def _dedupe(docs: Iterable[IndexDoc]) -> list[IndexDoc]:
    """Last doc wins per code, in first-seen order."""
    by_code: dict[str, IndexDoc] = {}
    for d in docs:
        by_code.pop(d.code, None)
        by_code[d.code] = d
    return list(by_code.values())


def _doc_columns(
    docs: Sequence[IndexDoc], snap: _Snapshot
) -> tuple[
    Int32Array,
    tuple[_Labels, ...],
    tuple[Int32Array, ...],
    tuple[Int32Array, ...],
    tuple[_Labels, ...],
    Int32Array,
]:
    """Encode the new docs' attributes: (attrs, attr labels, multi docs, multi vals, multi labels, lengths)."""
    first = snap.n
    attrs = np.empty((len(ATTR_FIELDS), len(docs)), np.int32)
    attr_labels = []
    for i, name in enumerate(ATTR_FIELDS):
        labels, ids = snap.attr_labels[i].encode(getattr(d, name) for d in docs)
        attrs[i] = ids
        attr_labels.append(labels)
    multi_docs, multi_vals, multi_labels = [], [], []
    for i, values_of in enumerate(
        (lambda d: d.bases, lambda d: tuple(str(c) for c in d.category_ids)),
    ):
        entry_docs: list[int] = []
        entry_vals: list[str] = []
        for j, d in enumerate(docs):
            vals = list(dict.fromkeys(values_of(d)))
            entry_docs.extend([first + j] * len(vals))
            entry_vals.extend(vals)
        labels, ids = snap.multi_labels[i].encode(entry_vals)
        multi_docs.append(np.concatenate((snap.multi_docs[i], np.array(entry_docs, np.int32))))
        multi_vals.append(np.concatenate((snap.multi_vals[i], np.array(ids, np.int32))))
        multi_labels.append(labels)
    lens = np.array([[len(t) for t in _field_texts(d)] for d in docs], np.int32).T.reshape(len(FIELDS), -1)
    return (
        np.concatenate((snap.attrs, attrs), axis=1),
        tuple(attr_labels),
        tuple(multi_docs),
        tuple(multi_vals),
        tuple(multi_labels),
        np.concatenate((snap.field_len, lens), axis=1),
    )


def _code_order(
    snap: _Snapshot, new_codes: Sequence[str]
) -> tuple[NDArray[np.str_], Int32Array, Int32Array]:
    """Insert new codes into the sorted code array; returns (sorted codes, sorted ids, rank per doc)."""
    first = snap.n
    new = np.array(new_codes, dtype=np.str_)
    order = np.argsort(new, kind="stable")
    new_sorted = new[order]
    old = snap.sorted_codes
    if new_sorted.dtype.itemsize > old.dtype.itemsize:
        old = old.astype(new_sorted.dtype)  # widen so np.insert does not truncate codes
    pos = np.searchsorted(old, new_sorted)
    sorted_codes = np.insert(old, pos, new_sorted)
    sorted_ids = np.insert(snap.sorted_ids, pos, (first + order).astype(np.int32))
    rank = np.empty(len(sorted_ids), np.int32)
    rank[sorted_ids] = np.arange(len(sorted_ids), dtype=np.int32)
    return sorted_codes, sorted_ids, rank


# --------------------------------------------------------------------------------------------------
# Cursor


def _fingerprint(normalized_q: str, filters: Mapping[str, list[str]]) -> str:
    payload = json.dumps([normalized_q, sorted((k, sorted(v)) for k, v in filters.items())], ensure_ascii=False)
    return hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()


def _encode_cursor(fingerprint: str, score: float, code: str) -> str:
    raw = json.dumps([_CURSOR_TAG, fingerprint, float(score).hex(), code], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, fp, score_hex, code = json.loads(raw)
        score = float.fromhex(score_hex)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as e:
        raise ValueError("malformed cursor") from e
    if tag != _CURSOR_TAG or not isinstance(code, str):
        raise ValueError("malformed cursor")
    if fp != fingerprint:
        raise ValueError("cursor belongs to another query or filter set")
    return score, code


# --------------------------------------------------------------------------------------------------
# Index


class SearchIndex:
    """Full-text + faceted search over the catalogue; one per process, created in the app lifespan.

    Searches are lock-free reads of the current snapshot; ``replace_all``/``upsert``/``delete``
    serialise on a writer lock and publish a new snapshot atomically.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self._write_lock = threading.Lock()
        self._snap = _empty_snapshot()
        self._code_to_id: dict[str, int] = {}  # writer-side; guarded by _write_lock

    # -- state ------------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The catalogue change counter the index reflects."""
        return self._snap.version

    def __len__(self) -> int:
        return self._snap.n_alive

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    def info(self) -> dict[str, Any]:
        """Sizes for health checks and benchmarks."""
        snap = self._snap
        return {
            "version": snap.version,
            "docs": snap.n_alive,
            "doc_ids": snap.n,
            "segments": len(snap.segments),
            "postings": sum(s.size for s in snap.segments),
            "terms_main": len(snap.main.terms),
            "stats_epoch": snap.stats.epoch,
        }

    # -- writes -----------------------------------------------------------------------------------

    def replace_all(self, docs: Iterable[IndexDoc], *, version: int) -> None:
        """Rebuild from scratch and swap atomically; starts a new statistics epoch."""
        items = _dedupe(docs)
        with self._write_lock:
            base = _empty_snapshot()
            attrs, attr_labels, mdocs, mvals, mlabels, field_len = _doc_columns(items, base)
            alive = np.ones(len(items), np.bool_)
            avglen = _stats_for(_empty_segment(), field_len, alive, 0).avglen
            builder = _SegmentBuilder(self._analyzer, avglen)
            builder.add(items, first_id=0)
            main = builder.build()
            codes = [d.code for d in items]
            names = [compact(d.name) for d in items]
            sorted_codes, sorted_ids, rank = _code_order(base, codes)
            snap = _Snapshot(
                version=version,
                stats=_stats_for(main, field_len, alive, self._snap.stats.epoch + 1),
                main=main,
                deltas=(),
                alive=alive,
                n_alive=len(items),
                attrs=attrs,
                attr_labels=attr_labels,
                multi_docs=mdocs,
                multi_vals=mvals,
                multi_labels=mlabels,
                field_len=field_len,
                rank=rank,
                sorted_codes=sorted_codes,
                sorted_ids=sorted_ids,
                codes=codes,
                names=names,
                name_len=np.array([len(n) for n in names], np.int32),
                name_head=np.array([n[:2] for n in names], dtype="U2"),
            )
            self._code_to_id = {c: i for i, c in enumerate(codes)}
            self._snap = snap

    def upsert(self, docs: Iterable[IndexDoc], *, version: int) -> None:
        """Add or replace docs by code; cost is proportional to the docs given (plus amortised merges)."""
        items = _dedupe(docs)
        with self._write_lock:
            snap = self._snap
            if not items:
                self._snap = _replace(snap, version=max(snap.version, version))
                return
            first = snap.n
            alive = np.concatenate((snap.alive, np.ones(len(items), np.bool_)))
            old_ids = [self._code_to_id[d.code] for d in items if d.code in self._code_to_id]
            alive[old_ids] = False
            builder = _SegmentBuilder(self._analyzer, snap.stats.avglen)
            builder.add(items, first_id=first)
            attrs, attr_labels, mdocs, mvals, mlabels, field_len = _doc_columns(items, snap)
            sorted_codes, sorted_ids, rank = _code_order(snap, [d.code for d in items])
            new_names = [compact(d.name) for d in items]
            # Shared append-only lists: drop anything a failed earlier write may have left past n.
            codes, names = snap.codes, snap.names
            del codes[first:], names[first:]
            codes.extend(d.code for d in items)
            names.extend(new_names)
            main, deltas, stats = self._merged(snap, builder.build(), alive, field_len)
            self._snap = _Snapshot(
                version=max(snap.version, version),
                stats=stats,
                main=main,
                deltas=deltas,
                alive=alive,
                n_alive=int(alive.sum()),
                attrs=attrs,
                attr_labels=attr_labels,
                multi_docs=mdocs,
                multi_vals=mvals,
                multi_labels=mlabels,
                field_len=field_len,
                rank=rank,
                sorted_codes=sorted_codes,
                sorted_ids=sorted_ids,
                codes=codes,
                names=names,
                name_len=np.concatenate((snap.name_len, np.array([len(n) for n in new_names], np.int32))),
                name_head=np.concatenate((snap.name_head, np.array([n[:2] for n in new_names], dtype="U2"))),
            )
            for i, d in enumerate(items):
                self._code_to_id[d.code] = first + i

    def delete(self, codes: Iterable[str], *, version: int) -> None:
        """Remove docs by code (unknown codes are ignored)."""
        with self._write_lock:
            snap = self._snap
            known = [c for c in dict.fromkeys(codes) if c in self._code_to_id]
            alive = snap.alive
            if known:
                alive = alive.copy()
                alive[[self._code_to_id[c] for c in known]] = False
            self._snap = _replace(snap, version=max(snap.version, version), alive=alive, n_alive=int(alive.sum()))
            for c in known:
                del self._code_to_id[c]

    def _merged(
        self, snap: _Snapshot, new: _Segment, alive: BoolArray, field_len: Int32Array
    ) -> tuple[_Segment, tuple[_Segment, ...], _Stats]:
        """Apply the merge policy after adding segment ``new``."""
        deltas = [*snap.deltas, new]
        while len(deltas) >= 2 and deltas[-1].size * MERGE_FACTOR >= deltas[-2].size:
            deltas[-2:] = [_merge_segments(deltas[-2:], alive)]
        delta_postings = sum(d.size for d in deltas)
        dead = len(alive) - int(alive.sum())
        threshold = MAIN_MERGE_RATIO * snap.main.size
        if delta_postings > max(threshold, MAIN_MERGE_MIN_POSTINGS) or (
            dead > MAIN_MERGE_RATIO * max(int(alive.sum()), 1) and delta_postings + snap.main.size > 0
        ):
            main = _merge_segments([snap.main, *deltas], alive)
            # New epoch: df and N now include the merged docs (scores of other docs may shift).
            return main, (), _stats_for(main, field_len, alive, snap.stats.epoch + 1)
        return snap.main, tuple(deltas), snap.stats

    # -- search -----------------------------------------------------------------------------------

    def search(
        self,
        q: str | None,
        *,
        filters: Mapping[str, str | Sequence[str]] | None = None,
        limit: int = 20,
        cursor: str | None = None,
        facet_fields: Sequence[str] = DEFAULT_FACETS,
    ) -> SearchPage:
        """One page of matching codes ordered by (score desc, code asc), with total and facets.

        Raises ValueError for an unknown filter or facet field, a non-positive limit, or a cursor
        that is malformed or was issued for a different query/filter set.
        """
        if limit < 1:
            raise ValueError("limit must be positive")
        for f in facet_fields:
            if f not in FILTER_FIELDS:
                raise ValueError(f"unknown facet field {f!r}")
        snap = self._snap
        wanted = _parse_filters(filters)
        analysis = self._analyzer.analyze_query(q) if q else None
        if analysis is not None and not analysis.variants:
            analysis = None if not analysis.normalized else analysis
        fingerprint = _fingerprint(analysis.normalized if analysis else "", wanted)
        after = _decode_cursor(cursor, fingerprint) if cursor else None

        masks = {k: _filter_mask(snap, k, v) for k, v in wanted.items()}
        filter_mask: BoolArray | None = None
        for m in masks.values():
            filter_mask = m if filter_mask is None else filter_mask & m

        score: FloatArray | None = None
        if analysis is None:
            base = snap.alive
        elif not analysis.variants:
            base = np.zeros(snap.n, np.bool_)  # nothing searchable in the query
        else:
            base, score = _match_and_score(snap, analysis, filter_mask)
        eligible = base if filter_mask is None else base & filter_mask
        idx = np.flatnonzero(eligible)
        total = len(idx)
        facets = _facets(snap, base, masks, facet_fields)

        scores = score[idx] if score is not None else np.zeros(len(idx))
        ranks = snap.rank[idx]
        if after is not None:
            s0, c0 = after
            r0 = int(np.searchsorted(snap.sorted_codes, c0, side="right"))
            keep = (scores < s0) | ((scores == s0) & (ranks >= r0))
            idx, scores, ranks = idx[keep], scores[keep], ranks[keep]
        order = _top(scores, ranks, limit)
        hits = [SearchHit(snap.codes[int(idx[i])], float(scores[i])) for i in order]
        next_cursor = None
        if len(idx) > limit and hits:
            next_cursor = _encode_cursor(fingerprint, hits[-1].score, hits[-1].code)
        return SearchPage(hits=hits, total=total, next_cursor=next_cursor, facets=facets)


def _replace(snap: _Snapshot, **changes: Any) -> _Snapshot:
    values = {f: getattr(snap, f) for f in snap.__dataclass_fields__}
    values.update(changes)
    return _Snapshot(**values)


def _parse_filters(filters: Mapping[str, str | Sequence[str]] | None) -> dict[str, list[str]]:
    """Validate keys; each value becomes a list of strings (an empty list means no constraint)."""
    out: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"unknown filter {key!r}; expected one of {', '.join(FILTER_FIELDS)}")
        values = [value] if isinstance(value, str | int) else list(value)
        if values:
            out[key] = [str(v) for v in values]
    return out


def _filter_mask(snap: _Snapshot, key: str, values: list[str]) -> BoolArray:
    if key in ATTR_FIELDS:
        i = ATTR_FIELDS.index(key)
        ids = [x for x in (snap.attr_labels[i].ids.get(v) for v in values) if x is not None]
        col = snap.attrs[i]
        if not ids:
            return np.zeros(snap.n, np.bool_)
        return col == ids[0] if len(ids) == 1 else np.isin(col, ids)
    i = MULTI_FIELDS.index(key)
    ids = [x for x in (snap.multi_labels[i].ids.get(v) for v in values) if x is not None]
    mask = np.zeros(snap.n, np.bool_)
    if ids:
        mask[snap.multi_docs[i][np.isin(snap.multi_vals[i], ids)]] = True
    return mask


def _facets(
    snap: _Snapshot, base: BoolArray, masks: Mapping[str, BoolArray], fields: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Disjunctive facet counts: every filter applies except the facet field's own."""
    out: dict[str, dict[str, int]] = {}
    with_all = base
    for fm in masks.values():
        with_all = with_all & fm
    for fld in fields:
        m = with_all
        if fld in masks:
            m = base
            for k, fm in masks.items():
                if k != fld:
                    m = m & fm
        if fld in ATTR_FIELDS:
            i = ATTR_FIELDS.index(fld)
            labels = snap.attr_labels[i].labels
            counts = np.bincount(snap.attrs[i][m], minlength=len(labels))
        else:
            i = MULTI_FIELDS.index(fld)
            labels = snap.multi_labels[i].labels
            counts = np.bincount(snap.multi_vals[i][m[snap.multi_docs[i]]], minlength=len(labels))
        nz = np.flatnonzero(counts)
        top = sorted(((-int(counts[j]), labels[j]) for j in nz if labels[j]))[:MAX_FACET_VALUES]
        out[fld] = {label: -neg for neg, label in top}
    return out


def _top(scores: FloatArray, ranks: Int32Array, k: int) -> NDArray[np.intp]:
    """Positions of the k best items by (score desc, rank asc), in that order; O(n) selection."""
    n = len(scores)
    if n > k:
        kth = np.partition(scores, n - k)[n - k]  # the k-th largest score
        above = np.flatnonzero(scores > kth)
        ties = np.flatnonzero(scores == kth)
        need = k - len(above)
        if len(ties) > need:
            ties = ties[np.argpartition(ranks[ties], need - 1)[:need]]
        sel = np.concatenate((above, ties))
    else:
        sel = np.arange(n)
    return sel[np.lexsort((ranks[sel], -scores[sel]))]


def _unit_postings(snap: _Snapshot, unit: str) -> tuple[Int32Array, Int32Array]:
    """(all docs, docs whose name holds it) for one unit, across segments."""
    docs: list[Int32Array] = []
    name_docs: list[Int32Array] = []
    for seg in snap.segments:
        span = seg.span(unit)
        if span is None:
            continue
        d = seg.docs[span[0] : span[1]]
        docs.append(d)
        name_docs.append(d[(seg.bits[span[0] : span[1]] & _NAME_BIT) != 0])
    if not docs:
        empty = np.zeros(0, np.int32)
        return empty, empty
    return np.concatenate(docs), np.concatenate(name_docs)


def _match_and_score(
    snap: _Snapshot, analysis: QueryAnalysis, filter_mask: BoolArray | None
) -> tuple[BoolArray, FloatArray]:
    """Matching docs (alive, before filters) and the final score of every doc id."""
    n = snap.n
    stats = snap.stats
    # BM25: sum of precomputed field parts times idf and variant weight, one bincount for all terms.
    doc_chunks: list[Int32Array] = []
    w_chunks: list[NDArray[np.float32]] = []
    for term, weight in analysis.weighted_terms().items():
        coef = weight * stats.idf(term)
        for seg in snap.segments:
            span = seg.span(term)
            if span is not None:
                doc_chunks.append(seg.docs[span[0] : span[1]])
                w_chunks.append(seg.sats[span[0] : span[1]] * np.float32(coef))
    if doc_chunks:
        bm25 = np.bincount(np.concatenate(doc_chunks), weights=np.concatenate(w_chunks), minlength=n)
    else:
        bm25 = np.zeros(n)

    # Coverage of each variant's units; strict match = all units (<=3) or 75 % of them.
    cache: dict[str, tuple[Int32Array, Int32Array]] = {}
    coverage = np.zeros(n)
    strict = np.zeros(n, np.bool_)
    name_full: list[BoolArray] = []
    for v in analysis.variants:
        postings = [cache.setdefault(u, _unit_postings(snap, u)) for u in v.units]
        units = len(v.units)
        cnt = np.bincount(np.concatenate([p[0] for p in postings]), minlength=n)
        need = units if units <= 3 else math.ceil(0.75 * units)
        strict |= cnt >= need
        np.maximum(coverage, cnt / units, out=coverage)
        name_cnt = np.bincount(np.concatenate([p[1] for p in postings]), minlength=n)
        name_full.append(name_cnt >= units)
    strict &= snap.alive
    probe = strict if filter_mask is None else strict & filter_mask
    matched = strict if probe.any() else (coverage > 0) & snap.alive

    idx = np.flatnonzero(matched)
    cov = coverage[idx]
    base_scores = bm25[idx] * cov * cov
    boost = _name_boosts(snap, analysis, idx, name_full)
    score = np.zeros(n)
    # Rounded so that cursors compare equal across platforms and summation-order noise.
    score[idx] = np.round(base_scores + boost, 6)
    return matched, score


def _name_boosts(
    snap: _Snapshot, analysis: QueryAnalysis, idx: NDArray[np.intp], name_full: list[BoolArray]
) -> FloatArray:
    """Boost for names containing / starting with / equal to the query (or a synonym rewrite)."""
    stats = snap.stats
    mass = sum(stats.idf(t) for t in analysis.variants[0].terms)
    boost = np.zeros(len(idx))
    for v, full in zip(analysis.variants, name_full, strict=True):
        cand = np.flatnonzero(full[idx])  # positions in idx whose name holds every unit
        if not len(cand):
            continue
        ids = idx[cand]
        contains, prefix, exact = _name_checks(snap, v, ids)
        b = mass * v.weight * (BOOST_CONTAINS * contains + BOOST_PREFIX * prefix + BOOST_EXACT * exact)
        boost[cand] = np.maximum(boost[cand], b)
    return boost


def _name_checks(
    snap: _Snapshot, v: QueryVariant, ids: NDArray[np.intp]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    text = v.text
    length = len(text)
    if len(v.units) == 1 and length <= 2:
        # One unit that is the whole query: holding it *is* containing the query; the head and
        # length arrays settle prefix/equality without touching Python strings (率 matches 60 %).
        contains = np.ones(len(ids))
        prefix = np.strings.startswith(snap.name_head[ids], text).astype(np.float64)
    else:
        names = snap.names
        lst = ids.tolist()
        contains = np.fromiter((text in names[i] for i in lst), np.float64, len(lst))
        prefix = np.fromiter((names[i].startswith(text) for i in lst), np.float64, len(lst))
    exact = prefix * (snap.name_len[ids] == length)
    return contains, prefix, exact
