"""The suggestion engine's text index: field-weighted BM25 postings in numpy CSR segments.

Target texts are long (a sentence or a paragraph) and every word is optional, so retrieval is a plain
disjunctive BM25 over the query's terms — not the search index's "most units must match" semantics.
The analysis is the search index's (``service.search.text.Analyzer``: jieba words of 3+ characters,
character bigrams, synonyms at query time), so the two agree on what a word is.

Fields and weights: name >> keywords > sector > department > definition > level 2. Sector and
department text are indexed on purpose: the words of a project's sector or department (残疾人, 林业有害
生物) appear in the target text while the indicator names are terse (签约康复人数).

A segment stores, per term, the doc ids and the saturated field-weighted tf (k1 = 1.2), computed once at
build; idf is applied at query time from the statistics of the epoch (the main segment's build). New
docs go into small delta segments with the epoch's average lengths; ``merge`` folds segments together by
copying postings, never re-analysing text.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.search.text import Analyzer, idf

Int32Array = NDArray[np.int32]
Int64Array = NDArray[np.int64]
Float32Array = NDArray[np.float32]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

FIELDS = ("name", "keywords", "level2", "sector", "department", "definition")
FIELD_WEIGHTS = np.array([3.0, 2.0, 0.3, 1.0, 0.8, 0.5], dtype=np.float32)
FIELD_B = np.array([0.6, 0.5, 0.3, 0.3, 0.3, 0.75], dtype=np.float32)
# Definitions get bigrams only (long, mostly unique, lowest weight): jieba there would double the build.
FIELD_FULL = (True, True, True, True, True, False)
DEFAULT_AVGLEN = np.array([12.0, 8.0, 5.0, 8.0, 8.0, 40.0], dtype=np.float32)
K1 = 1.2
_BUILD_CHUNK = 16384


@dataclass(frozen=True, eq=False)
class Segment:
    """Term -> (doc ids, saturated weights), CSR; term ids follow the dict's insertion order."""

    terms: dict[str, int]
    offsets: Int64Array
    docs: Int32Array
    sats: Float32Array

    @property
    def size(self) -> int:
        return len(self.docs)

    def df(self, term: str) -> int:
        tid = self.terms.get(term)
        return 0 if tid is None else int(self.offsets[tid + 1] - self.offsets[tid])

    def postings(self, term: str) -> tuple[Int32Array, Float32Array] | None:
        tid = self.terms.get(term)
        if tid is None:
            return None
        lo, hi = int(self.offsets[tid]), int(self.offsets[tid + 1])
        if hi <= lo:
            return None
        return self.docs[lo:hi], self.sats[lo:hi]


def empty_segment() -> Segment:
    return Segment({}, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))


class SegmentBuilder:
    """Analyses each distinct field text once (labels and common names repeat a lot), then numpy."""

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self.vocab: dict[str, int] = {}
        self._memo: dict[tuple[str, bool], int] = {}
        # Flat C arrays: millions of Python ints would triple the build's peak memory.
        self._tids = array("i")
        self._tfs = array("f")
        self._ends = array("q", [0, 0])  # text i spans [_ends[i], _ends[i + 1]); text 0 is ""
        self._lens = array("i", [0])

    def _text_id(self, text: str, full: bool) -> int:
        if not text:
            return 0
        key = (text, full)
        tid = self._memo.get(key)
        if tid is None:
            counts = Counter(self._analyzer.index_terms(text, unigrams=False, words=full))
            vocab = self.vocab
            for term in counts:
                if term not in vocab:
                    vocab[term] = len(vocab)
            self._tids.extend(map(vocab.__getitem__, counts))
            self._tfs.extend(map(float, counts.values()))
            tid = len(self._ends) - 1
            self._ends.append(len(self._tids))
            self._lens.append(len(text))
            self._memo[key] = tid
        return tid

    def build(
        self, texts: Sequence[Sequence[str]], *, first_id: int, avglen: Float32Array | None
    ) -> tuple[Segment, Int32Array, Float32Array]:
        """Segment for docs ``first_id ..`` given each doc's field texts (in ``FIELDS`` order).

        Returns (segment, field lengths (fields x docs), the average lengths used).
        """
        n = len(texts)
        tix = np.zeros((len(FIELDS), n), np.int64)
        for f in range(len(FIELDS)):
            full = FIELD_FULL[f]
            tix[f] = [self._text_id(t[f], full) for t in texts]
        ends = np.array(self._ends, np.int64)
        starts, counts = ends[:-1], np.diff(ends)
        tids = np.array(self._tids, np.int64)
        tfs = np.array(self._tfs, np.float32)
        lens = np.array(self._lens, np.int32)
        field_len = lens[tix]
        if avglen is None:
            avglen = average_lengths(field_len)
        parts = [
            _chunk(tix[:, c0 : c0 + _BUILD_CHUNK], first_id + c0, starts, counts, tids, tfs, lens, avglen)
            for c0 in range(0, n, _BUILD_CHUNK)
        ]
        ptids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        pdocs = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
        psats = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.float32)
        return _csr(self.vocab, ptids, pdocs, psats), field_len, avglen


def _chunk(
    tix: Int64Array,
    doc0: int,
    starts: Int64Array,
    counts: Int64Array,
    tids: Int64Array,
    tfs: Float32Array,
    lens: Int32Array,
    avglen: Float32Array,
) -> tuple[Int64Array, Int32Array, Float32Array]:
    """Postings of a chunk of docs, one per (term, doc), sorted by (term, doc)."""
    m = tix.shape[1]
    doc_ids = np.arange(doc0, doc0 + m, dtype=np.int64)
    e_tid, e_doc, e_sat = [], [], []
    for f in range(len(FIELDS)):
        t = tix[f]
        cnt = counts[t]
        total = int(cnt.sum())
        if not total:
            continue
        # Ragged gather of every term of every doc's text, without a Python loop.
        pos = np.arange(total, dtype=np.int64) + np.repeat(starts[t] - (np.cumsum(cnt) - cnt), cnt)
        tf = tfs[pos]
        flen = np.repeat(lens[t], cnt).astype(np.float32)
        norm = K1 * (1.0 - FIELD_B[f] + FIELD_B[f] * flen / avglen[f])
        e_sat.append((FIELD_WEIGHTS[f] * tf * (K1 + 1.0) / (tf + norm)).astype(np.float32))
        e_tid.append(tids[pos])
        e_doc.append(np.repeat(doc_ids, cnt))
    if not e_tid:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)
    key = (np.concatenate(e_tid) << 32) | np.concatenate(e_doc)
    perm = np.argsort(key, kind="stable")
    key = key[perm]
    new = np.ones(len(key), np.bool_)
    new[1:] = key[1:] != key[:-1]
    first = np.flatnonzero(new)
    sats = np.add.reduceat(np.concatenate(e_sat)[perm], first)  # a term in several fields: one posting
    return key[first] >> 32, (key[first] & 0xFFFFFFFF).astype(np.int32), sats.astype(np.float32)


def _csr(vocab: dict[str, int], tids: Int64Array, docs: Int32Array, sats: Float32Array) -> Segment:
    """Postings (any order) into CSR by term id, docs ascending within a term."""
    order = np.lexsort((docs, tids))
    offsets = np.zeros(len(vocab) + 1, np.int64)
    np.cumsum(np.bincount(tids, minlength=len(vocab)), out=offsets[1:])
    return Segment(dict(vocab), offsets, docs[order].astype(np.int32), sats[order].astype(np.float32))


def average_lengths(field_len: Int32Array) -> Float32Array:
    avg = DEFAULT_AVGLEN.copy()
    for f in range(len(FIELDS)):
        present = field_len[f][field_len[f] > 0]
        if len(present):
            avg[f] = float(present.mean())
    return avg


def merge(segments: Sequence[Segment], alive: BoolArray, remap: Int32Array | None = None) -> Segment:
    """One segment from several: postings of dead docs dropped, docs renumbered through ``remap``."""
    vocab: dict[str, int] = {}
    all_tids, all_docs, all_sats = [], [], []
    for seg in segments:
        mapping = np.empty(len(seg.terms), np.int64)
        for term, tid in seg.terms.items():
            mapping[tid] = vocab.setdefault(term, len(vocab))
        per_posting = np.repeat(np.arange(len(seg.terms), dtype=np.int64), np.diff(seg.offsets))
        keep = alive[seg.docs]
        all_tids.append(mapping[per_posting[keep]])
        docs = seg.docs[keep]
        all_docs.append(docs if remap is None else remap[docs])
        all_sats.append(seg.sats[keep])
    if not all_tids:
        return empty_segment()
    return _csr(vocab, np.concatenate(all_tids), np.concatenate(all_docs), np.concatenate(all_sats))


@dataclass(frozen=True)
class QueryPlan:
    """Query terms with their idf-weighted coefficients, split by document frequency.

    *Rare* terms generate candidates (their postings are gathered for every doc); *common* terms
    (df above ``common_df``: 满意, 提高 in a 100k catalogue) are scored only for the candidates
    found, by binary search in their postings — they separate good candidates but are too
    frequent to find them, and gathering them would cost most of a query.
    """

    rare: tuple[tuple[str, float], ...]
    common: tuple[tuple[str, float], ...]  # rarest first


def plan(
    segments: Sequence[Segment], weighted_terms: Mapping[str, float], *, n_docs: int, common_df: int
) -> QueryPlan:
    rare: list[tuple[str, int, float]] = []
    common: list[tuple[str, int, float]] = []
    for term, weight in weighted_terms.items():
        df = sum(seg.df(term) for seg in segments)
        if not df:
            continue
        # Deltas add docs after the epoch's N was fixed: never let df exceed N (negative idf).
        coef = idf(max(n_docs, df), df) * weight
        (common if df > common_df else rare).append((term, df, coef))
    common.sort(key=lambda t: t[1])  # rarest first: the order in which they may join the gathering
    return QueryPlan(tuple((t, c) for t, _, c in rare), tuple((t, c) for t, _, c in common))


def score_all(segments: Sequence[Segment], terms: Sequence[tuple[str, float]], n: int) -> FloatArray:
    """BM25 of every doc id < ``n`` over ``terms`` (dense; one bincount over their postings)."""
    doc_chunks: list[Int32Array] = []
    w_chunks: list[Float32Array] = []
    for term, coef in terms:
        c = np.float32(coef)
        for seg in segments:
            found = seg.postings(term)
            if found is not None:
                doc_chunks.append(found[0])
                w_chunks.append(found[1] * c)
    if not doc_chunks:
        return np.zeros(n)
    scores = np.bincount(np.concatenate(doc_chunks), weights=np.concatenate(w_chunks), minlength=n)
    return np.asarray(scores[:n], dtype=np.float64)


def score_some(
    segments: Sequence[Segment], terms: Sequence[tuple[str, float]], ids: Int64Array
) -> FloatArray:
    """BM25 over ``terms`` for the given doc ids only: a binary search per term and segment.

    Postings are sorted by doc within a term, so the cost is O(len(ids) · log df) per term.
    """
    out = np.zeros(len(ids))
    if not len(ids) or not terms:
        return out
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    for term, coef in terms:
        for seg in segments:
            found = seg.postings(term)
            if found is None:
                continue
            docs, sats = found
            pos = np.searchsorted(docs, sorted_ids)
            pos_ok = np.minimum(pos, len(docs) - 1)
            hit = docs[pos_ok] == sorted_ids
            out[order[hit]] += sats[pos_ok[hit]] * coef
    return out
