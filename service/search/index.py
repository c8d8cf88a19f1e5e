"""In-memory Chinese full-text and faceted index of the indicator catalogue.

The database is the source of truth; the index keeps only what search needs and answers with codes.

Layout
------
* Every doc gets an integer id (never reused; only a compaction renumbers). Per-doc attributes are
  integer-coded numpy arrays (facets are ``np.bincount``, filters are boolean masks).
* Text lives in *segments*: CSR posting lists (term -> doc ids, a precomputed BM25 field-weighted
  score part, a bitmask of the fields holding the term). ``replace_all`` builds one main segment;
  ``upsert`` builds a small segment for the new docs and tombstones the replaced ids. Small
  segments are merged log-structured (a new segment is merged into the previous one while it is at
  least 1/MERGE_FACTOR of its size). When the deltas or the tombstones grow past a quarter of the
  main segment the index is *compacted*: dead ids are dropped, docs renumbered and all segments
  merged into a new main one (postings are copied, never re-analysed), in a new statistics epoch.
* A search works on an immutable ``_Snapshot``; writers build a new snapshot under a lock and swap
  the reference, so searches never wait and never see half an update.

Ranking
-------
Per-field BM25 (k1=1.2) summed with field weights (name >> keywords > level2/sector > department >
level1 > definition); the saturated part is computed at index time, the idf at query time.
Collection statistics (N, df, average lengths) are frozen in a ``_Stats`` epoch that only changes on
``replace_all`` or a compaction: an upsert never changes the score of another doc, which is what
keeps keyset cursors exact while the catalogue changes. (A cursor that spans a compaction, or that is
replayed on another worker process with other statistics, is still accepted; at worst a doc near
the page boundary repeats or is skipped.)

Matching: the query's *units* (its bigrams, lone characters, Latin tokens) must all be present
(3 units or fewer) or 75 % of them (more units); a doc may satisfy the query as typed or one of its
synonym rewrites. Only if no doc qualifies does the query fall back to "any unit" (OR); that
decision ignores filters, so filters only ever narrow one fixed matching set. Partial
matches are scaled by coverage². Name boosts: the name contains the query, starts with it, equals it.

Facets are disjunctive: a field's counts apply every filter except that field's own, so the UI can
show the alternatives to a selected value. Empty values are not counted.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import ctypes.util
import hashlib
import json
import math
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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
# Full analysis (jieba words + bigrams + unigrams) for the short fields. Definitions get bigrams
# only: they are long, mostly unique and weigh least, so jieba there would double the build time for
# nothing, and their single characters would only make one-character queries noisy.
_FIELD_FULL = (True, True, True, True, True, True, False)
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
# Below these a compaction is not worth it, whatever the ratio.
MAIN_MERGE_MIN_POSTINGS = 50_000
MIN_DEAD_DOCS = 64
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

    tids: Int32Array
    docs: Int32Array
    sats: NDArray[np.float32]
    bits: NDArray[np.uint8]


def _assemble(parts: list[_Part], vocab: dict[str, int]) -> _Segment:
    """Concatenate term-sorted parts into one CSR segment with a linear scatter (no global sort).

    Consumes ``parts`` (each is released once copied, which keeps the build's peak memory down).
    """
    n_terms = len(vocab)
    counts = np.zeros(n_terms, np.int64)
    for p in parts:
        counts += np.bincount(p.tids, minlength=n_terms)
    if n_terms and not counts.all():
        # Drop terms whose postings all died, renumbering the rest in order.
        keep = counts > 0
        new_id = np.cumsum(keep) - 1
        vocab = {t: int(new_id[i]) for t, i in vocab.items() if keep[i]}
        parts[:] = [_Part(new_id[p.tids].astype(np.int32), p.docs, p.sats, p.bits) for p in parts]
        counts = counts[keep]
        n_terms = len(vocab)
    offsets = np.zeros(n_terms + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    docs = np.empty(total, np.int32)
    sats = np.empty(total, np.float32)
    bits = np.empty(total, np.uint8)
    fill = offsets[:-1].copy()
    parts.reverse()
    while parts:
        p = parts.pop()
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
    return _Part((key >> 32).astype(np.int32), docs[perm], sats[perm], bits[perm])


def _merge_segments(
    segments: Sequence[_Segment], alive: BoolArray, *, remap: Int32Array | None = None
) -> _Segment:
    """Merge segments, dropping postings of dead docs (and renumbering docs through ``remap``).

    Scores are copied, never recomputed.
    """
    vocab: dict[str, int] = {}
    parts: list[_Part] = []
    for seg in segments:
        mapping = np.empty(len(seg.terms), np.int64)
        for term, tid in seg.terms.items():
            mapping[tid] = vocab.setdefault(term, len(vocab))
        keep = alive[seg.docs]
        tids = mapping[seg.tid_per_posting()[keep]]
        docs = seg.docs[keep] if remap is None else remap[seg.docs[keep]]
        if len(mapping) < 2 or bool((np.diff(mapping) > 0).all()):
            # Term order unchanged (always so for the first, i.e. the main, segment): no sort.
            parts.append(_Part(tids.astype(np.int32), docs, seg.sats[keep], seg.bits[keep]))
        else:
            parts.append(_sort_part(tids, docs, seg.sats[keep], seg.bits[keep]))
    return _assemble(parts, vocab)


def _add_tiered(deltas: list[_Segment], new: _Segment, alive: BoolArray) -> None:
    """Append ``new``; merge the newest two while the newer is not much smaller (log-structured)."""
    deltas.append(new)
    while len(deltas) >= 2 and deltas[-1].size * MERGE_FACTOR >= deltas[-2].size:
        deltas[-2:] = [_merge_segments(deltas[-2:], alive)]


def _needs_compaction(snap: _Snapshot) -> bool:
    delta_postings = sum(d.size for d in snap.deltas)
    dead = snap.n - snap.n_alive
    return delta_postings > max(MAIN_MERGE_RATIO * snap.main.size, MAIN_MERGE_MIN_POSTINGS) or dead > max(
        MAIN_MERGE_RATIO * snap.n_alive, MIN_DEAD_DOCS
    )


def _compact(snap: _Snapshot) -> _Snapshot:
    """One main segment, dead doc ids dropped everywhere, fresh statistics (a new epoch)."""
    keep = np.flatnonzero(snap.alive)
    remap = np.full(snap.n, -1, np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    main = _merge_segments(snap.segments, snap.alive, remap=remap)
    multi_docs, multi_vals = [], []
    for docs, vals in zip(snap.multi_docs, snap.multi_vals, strict=True):
        sel = snap.alive[docs]
        multi_docs.append(remap[docs[sel]])
        multi_vals.append(vals[sel])
    in_order = snap.alive[snap.sorted_ids]
    sorted_ids = remap[snap.sorted_ids[in_order]]
    rank = np.empty(len(keep), np.int32)
    rank[sorted_ids] = np.arange(len(keep), dtype=np.int32)
    field_len = snap.field_len[:, keep]
    alive = np.ones(len(keep), np.bool_)
    ids = keep.tolist()
    return _Snapshot(
        version=snap.version,
        stats=_stats_for(main, field_len, alive, snap.stats.epoch + 1),
        main=main,
        deltas=(),
        alive=alive,
        n_alive=len(keep),
        attrs=snap.attrs[:, keep],
        attr_labels=snap.attr_labels,
        multi_docs=tuple(multi_docs),
        multi_vals=tuple(multi_vals),
        multi_labels=snap.multi_labels,
        field_len=field_len,
        rank=rank,
        sorted_codes=snap.sorted_codes[in_order],
        sorted_ids=sorted_ids,
        codes=[snap.codes[i] for i in ids],
        names=[snap.names[i] for i in ids],
        name_len=snap.name_len[keep],
        name_head=snap.name_head[keep],
    )


class _SegmentBuilder:
    """Turns docs into one segment: each distinct field text is analysed once, the rest is numpy."""

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self.vocab: dict[str, int] = {}
        # (text, full analysis?) -> text id. Labels and common names repeat a lot across a catalogue
        # and jieba is by far the most expensive step of a build.
        self._memo: dict[tuple[str, bool], int] = {}
        # Flat C arrays, not lists: millions of Python ints would triple the build's peak memory.
        self._tids = array("i")
        self._tfs = array("i")
        self._ends = array("q", [0, 0])  # text i spans [_ends[i], _ends[i + 1]); text 0 is ""
        self._lens = array("i", [0])

    def _text_id(self, text: str, full: bool) -> int:
        if not text:
            return 0
        key = (text, full)
        tid = self._memo.get(key)
        if tid is None:
            counts = Counter(self._analyzer.index_terms(text, unigrams=full, words=full))
            vocab = self.vocab
            for term in counts:
                if term not in vocab:
                    vocab[term] = len(vocab)
            self._tids.extend(map(vocab.__getitem__, counts))
            self._tfs.extend(counts.values())
            tid = len(self._ends) - 1
            self._ends.append(len(self._tids))
            self._lens.append(len(text))
            self._memo[key] = tid
        return tid

    def build(
        self, docs: Sequence[IndexDoc], *, first_id: int, avglen: NDArray[np.float32] | None
    ) -> tuple[_Segment, Int32Array, NDArray[np.float32]]:
        """(segment, per-field lengths (fields x docs), average lengths used for the scores)."""
        n = len(docs)
        tix = np.zeros((len(FIELDS), n), np.int64)
        for f, getter in enumerate(_FIELD_GETTERS):
            full = _FIELD_FULL[f]
            tix[f] = [self._text_id(getter(d), full) for d in docs]
        ends = np.array(self._ends, np.int64)
        tables = _TextTables(
            starts=ends[:-1],
            counts=np.diff(ends),
            tids=np.array(self._tids, np.int64),
            tfs=np.array(self._tfs, np.float32),
            lens=np.array(self._lens, np.int32),
        )
        field_len = tables.lens[tix]
        if avglen is None:
            avglen = _average_lengths(field_len)
        parts = [
            _chunk_part(tix[:, c0 : c0 + _BUILD_CHUNK], first_id + c0, tables, avglen)
            for c0 in range(0, n, _BUILD_CHUNK)
        ]
        return _assemble(parts, self.vocab), field_len, avglen


@dataclass(frozen=True, eq=False)
class _TextTables:
    """Analysed distinct texts in CSR form."""

    starts: IntArray
    counts: IntArray
    tids: IntArray
    tfs: NDArray[np.float32]
    lens: Int32Array


def _chunk_part(tix: IntArray, doc0: int, tables: _TextTables, avglen: NDArray[np.float32]) -> _Part:
    """Postings of a chunk of docs: gather each field's text postings, score them, merge per doc."""
    m = tix.shape[1]
    doc_ids = np.arange(doc0, doc0 + m, dtype=np.int64)
    e_tid, e_doc, e_sat, e_bits = [], [], [], []
    for f in range(len(FIELDS)):
        t = tix[f]
        cnt = tables.counts[t]
        total = int(cnt.sum())
        if not total:
            continue
        # Ragged gather: positions of every term of every doc's text, without a Python loop.
        pos = np.arange(total, dtype=np.int64) + np.repeat(tables.starts[t] - (np.cumsum(cnt) - cnt), cnt)
        tf = tables.tfs[pos]
        flen = np.repeat(tables.lens[t], cnt).astype(np.float32)
        b = FIELD_B[f]
        norm = K1 * (1.0 - b + b * flen / avglen[f])
        e_sat.append((FIELD_WEIGHTS[f] * tf * (K1 + 1.0) / (tf + norm)).astype(np.float32))
        e_tid.append(tables.tids[pos])
        e_doc.append(np.repeat(doc_ids, cnt))
        e_bits.append(np.full(total, 1 << f, np.uint8))
    if not e_tid:
        return _Part(
            np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.uint8)
        )
    key = (np.concatenate(e_tid) << 32) | np.concatenate(e_doc)
    perm = np.argsort(key)
    key = key[perm]
    # A term in several fields of one doc becomes one posting: parts summed, field bits or-ed.
    new = np.ones(len(key), np.bool_)
    new[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(new)
    return _Part(
        (key[starts] >> 32).astype(np.int32),
        (key[starts] & 0xFFFFFFFF).astype(np.int32),
        np.add.reduceat(np.concatenate(e_sat)[perm], starts),
        np.bitwise_or.reduceat(np.concatenate(e_bits)[perm], starts),
    )


def _average_lengths(field_len: Int32Array) -> NDArray[np.float32]:
    avg = np.array(_DEFAULT_AVGLEN, np.float32)
    for f in range(len(FIELDS)):
        present = field_len[f][field_len[f] > 0]
        if len(present):
            avg[f] = float(present.mean())
    return avg


_MULTI_GETTERS: tuple[Callable[[IndexDoc], tuple[str, ...]], ...] = (
    lambda d: d.bases,
    lambda d: tuple(str(c) for c in d.category_ids),
)
_FIELD_GETTERS: tuple[Callable[[IndexDoc], str], ...] = (
    lambda d: d.name,
    lambda d: " ".join(d.keywords),
    lambda d: d.level1,
    lambda d: d.level2,
    lambda d: d.sector,
    lambda d: d.department,
    lambda d: d.definition,
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
    avg = _average_lengths(field_len[:, alive])
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
]:
    """Encode the new docs' attributes: (attrs, attr labels, multi docs, multi vals, multi labels)."""
    first = snap.n
    attrs = np.empty((len(ATTR_FIELDS), len(docs)), np.int32)
    attr_labels = []
    for i, name in enumerate(ATTR_FIELDS):
        labels, ids = snap.attr_labels[i].encode(getattr(d, name) or "" for d in docs)
        attrs[i] = ids
        attr_labels.append(labels)
    multi_docs, multi_vals, multi_labels = [], [], []
    for i, values_of in enumerate(_MULTI_GETTERS):
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
    return (
        np.concatenate((snap.attrs, attrs), axis=1),
        tuple(attr_labels),
        tuple(multi_docs),
        tuple(multi_vals),
        tuple(multi_labels),
    )


def _code_order(snap: _Snapshot, new_codes: Sequence[str]) -> tuple[NDArray[np.str_], Int32Array, Int32Array]:
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
    payload = json.dumps(
        [normalized_q, sorted((k, sorted(v)) for k, v in filters.items())], ensure_ascii=False
    )
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
        """The analyzer (e.g. to ``add_words`` for new indicator names)."""
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
            attrs, attr_labels, mdocs, mvals, mlabels = _doc_columns(items, base)
            alive = np.ones(len(items), np.bool_)
            main, field_len, _ = _SegmentBuilder(self._analyzer).build(items, first_id=0, avglen=None)
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
        _release_memory()

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
            segment, lens, _ = _SegmentBuilder(self._analyzer).build(
                items, first_id=first, avglen=snap.stats.avglen
            )
            field_len = np.concatenate((snap.field_len, lens), axis=1)
            attrs, attr_labels, mdocs, mvals, mlabels = _doc_columns(items, snap)
            sorted_codes, sorted_ids, rank = _code_order(snap, [d.code for d in items])
            new_names = [compact(d.name) for d in items]
            # Shared append-only lists: drop anything a failed earlier write may have left past n.
            codes, names = snap.codes, snap.names
            del codes[first:], names[first:]
            codes.extend(d.code for d in items)
            names.extend(new_names)
            deltas = list(snap.deltas)
            _add_tiered(deltas, segment, alive)
            updated = _Snapshot(
                version=max(snap.version, version),
                stats=snap.stats,
                main=snap.main,
                deltas=tuple(deltas),
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
            self._publish(updated, {d.code: first + i for i, d in enumerate(items)}, ())

    def delete(self, codes: Iterable[str], *, version: int) -> None:
        """Remove docs by code (unknown codes are ignored)."""
        with self._write_lock:
            snap = self._snap
            known = [c for c in dict.fromkeys(codes) if c in self._code_to_id]
            alive = snap.alive
            if known:
                alive = alive.copy()
                alive[[self._code_to_id[c] for c in known]] = False
            updated = _replace(
                snap, version=max(snap.version, version), alive=alive, n_alive=int(alive.sum())
            )
            self._publish(updated, {}, known)

    def _publish(self, snap: _Snapshot, added: Mapping[str, int], removed: Iterable[str]) -> None:
        """Swap in ``snap`` (compacted first if deltas or tombstones grew too large); writer lock held."""
        compacted = _needs_compaction(snap)
        if compacted:
            snap = _compact(snap)
            code_to_id = {c: i for i, c in enumerate(snap.codes)}
        else:
            code_to_id = self._code_to_id
            code_to_id.update(added)
            for c in removed:
                code_to_id.pop(c, None)
        self._code_to_id = code_to_id
        self._snap = snap
        if compacted:
            _release_memory()

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
            analysis = None  # nothing searchable (punctuation only): browse
        fingerprint = _fingerprint(analysis.normalized if analysis else "", wanted)
        after = _decode_cursor(cursor, fingerprint) if cursor else None

        masks = {k: _filter_mask(snap, k, v) for k, v in wanted.items()}
        filter_mask: BoolArray | None = None
        for m in masks.values():
            filter_mask = m if filter_mask is None else filter_mask & m

        score: FloatArray | None = None
        if analysis is None:
            base = snap.alive
        else:
            base, score = _match_and_score(snap, analysis)
        eligible = base if filter_mask is None else base & filter_mask
        idx = np.flatnonzero(eligible)
        total = len(idx)
        facets = _facets(snap, base, eligible, masks, facet_fields)

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


def _release_memory() -> None:
    """Give the build's freed heap back to the OS (glibc keeps it otherwise; RSS would stay ~2x)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to do
        pass


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
    snap: _Snapshot,
    base: BoolArray,
    eligible: BoolArray,
    masks: Mapping[str, BoolArray],
    fields: Sequence[str],
) -> dict[str, dict[str, int]]:
    """Disjunctive facet counts: every filter applies except the facet field's own."""
    out: dict[str, dict[str, int]] = {}
    eligible_ids: NDArray[np.intp] | None = None
    for fld in fields:
        if fld in masks:
            m = base
            for k, fm in masks.items():
                if k != fld:
                    m = m & fm
            ids = np.flatnonzero(m)
        else:
            if eligible_ids is None:
                eligible_ids = np.flatnonzero(eligible)
            ids = eligible_ids
        if fld in ATTR_FIELDS:
            i = ATTR_FIELDS.index(fld)
            labels = snap.attr_labels[i].labels
            counts = np.bincount(snap.attrs[i][ids], minlength=len(labels))
        else:
            i = MULTI_FIELDS.index(fld)
            labels = snap.multi_labels[i].labels
            hit = np.zeros(snap.n, np.bool_)
            hit[ids] = True
            counts = np.bincount(snap.multi_vals[i][hit[snap.multi_docs[i]]], minlength=len(labels))
        out[fld] = _top_labels(counts, labels)
    return out


def _top_labels(counts: IntArray, labels: tuple[str, ...]) -> dict[str, int]:
    """The MAX_FACET_VALUES most frequent non-empty labels, by count desc then label."""
    nz = np.flatnonzero(counts)
    if len(nz) > MAX_FACET_VALUES:
        # Keep everything tied with the 50th count so the label tie-break below stays exact.
        cut = np.partition(counts[nz], len(nz) - MAX_FACET_VALUES)[len(nz) - MAX_FACET_VALUES]
        nz = nz[counts[nz] >= cut]
    top = sorted((-int(counts[j]), labels[j]) for j in nz if labels[j])[:MAX_FACET_VALUES]
    return {label: -neg for neg, label in top}


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


def _match_and_score(snap: _Snapshot, analysis: QueryAnalysis) -> tuple[BoolArray, FloatArray]:
    """Matching docs (alive, before filters) and the final score of every doc id."""
    n = snap.n
    stats = snap.stats
    # BM25: sum of precomputed field parts times idf and variant weight, one bincount for all terms.
    doc_chunks: list[Int32Array] = []
    w_chunks: list[NDArray[np.float32]] = []
    for term, weight in analysis.weighted_terms().items():
        coef = np.float32(weight * stats.idf(term))
        for seg in snap.segments:
            span = seg.span(term)
            if span is not None:
                doc_chunks.append(seg.docs[span[0] : span[1]])
                w_chunks.append(seg.sats[span[0] : span[1]] * coef)
    bm25: FloatArray = np.zeros(n)
    if doc_chunks:
        weighted = np.bincount(np.concatenate(doc_chunks), weights=np.concatenate(w_chunks), minlength=n)
        bm25 = np.asarray(weighted, dtype=np.float64)  # already float64; typed for mypy

    # Unit counts per variant; strict match = all units (<= 3 units) or 75 % of them.
    cache: dict[str, tuple[Int32Array, Int32Array]] = {}
    counts: list[IntArray] = []
    name_docs: list[Int32Array] = []
    strict = np.zeros(n, np.bool_)
    for v in analysis.variants:
        postings = [cache.setdefault(u, _unit_postings(snap, u)) for u in v.units]
        units = len(v.units)
        cnt = np.bincount(np.concatenate([p[0] for p in postings]), minlength=n)
        strict |= cnt >= (units if units <= 3 else math.ceil(0.75 * units))
        counts.append(cnt)
        name_docs.append(np.concatenate([p[1] for p in postings]))
    strict &= snap.alive
    # The fallback is decided before filters, so that the matching set (and with it the
    # disjunctive facet counts) does not depend on which filters are applied.
    if strict.any():
        matched = strict
    else:
        matched = snap.alive.copy()
        matched &= np.logical_or.reduce(counts) if len(counts) > 1 else counts[0] > 0

    idx = np.flatnonzero(matched)
    coverage = np.zeros(len(idx))
    for v, cnt in zip(analysis.variants, counts, strict=True):
        np.maximum(coverage, cnt[idx] / len(v.units), out=coverage)
    boost = _name_boosts(snap, analysis, idx, name_docs)
    score = np.zeros(n)
    # Rounded so that cursors compare equal across platforms and summation-order noise.
    score[idx] = np.round(bm25[idx] * coverage * coverage + boost, 6)
    return matched, score


def _name_boosts(
    snap: _Snapshot, analysis: QueryAnalysis, idx: NDArray[np.intp], name_docs: list[Int32Array]
) -> FloatArray:
    """Boost for names containing / starting with / equal to the query (or a synonym rewrite)."""
    stats = snap.stats
    mass = sum(stats.idf(t) for t in analysis.variants[0].terms)
    boost = np.zeros(len(idx))
    for v, docs in zip(analysis.variants, name_docs, strict=True):
        units = len(v.units)
        if not len(docs):
            continue
        full = np.bincount(docs, minlength=snap.n)[idx] >= units
        cand = np.flatnonzero(full)  # positions in idx whose name holds every unit
        if not len(cand):
            continue
        level = _name_match_level(snap, v, idx[cand])
        b = mass * v.weight * _LEVEL_BOOST[level]
        boost[cand] = np.maximum(boost[cand], b)
    return boost


# Boost per name match level: 0 none, 1 contains, 2 starts with, 3 equals.
_LEVEL_BOOST = np.array(
    [0.0, BOOST_CONTAINS, BOOST_CONTAINS + BOOST_PREFIX, BOOST_CONTAINS + BOOST_PREFIX + BOOST_EXACT]
)


def _name_match_level(snap: _Snapshot, v: QueryVariant, ids: NDArray[np.intp]) -> NDArray[np.intp]:
    """Match level of the names of ``ids``, all of which hold every unit of ``v``."""
    text = v.text
    length = len(text)
    if len(v.units) <= 2:
        # Short queries match tens of thousands of names (率, 满意度); Python string tests would
        # dominate the search. Holding the one or two units of a query is taken as containing it
        # (exact for one unit; for two it misses only names with the halves apart), and the
        # two-character head and the length settle prefix and equality.
        head = snap.name_head[ids]
        prefix = np.strings.startswith(head, text) if length <= 2 else head == text[:2]
        exact = prefix & (snap.name_len[ids] == length)
        short: NDArray[np.intp] = 1 + prefix.astype(np.intp) + exact.astype(np.intp)
        return short
    names = snap.names
    levels: NDArray[np.intp] = np.fromiter(
        (
            3 if nm == text else 2 if nm.startswith(text) else 1 if text in nm else 0
            for nm in (names[i] for i in ids.tolist())
        ),
        np.intp,
        len(ids),
    )
    return levels
