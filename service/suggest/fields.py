"""The target's 行业领域 (sector family), inferred from the catalogue's own vocabulary.

Evidence, strongest first:

* the caller's sector (or a sector code, or a family name): it wins, confidence 1;
* the caller's department: the family most of its catalogue rows belong to (share = confidence);
* the text: a family name written in it (教育, 水利, 卫生健康 — the catalogue's own sector labels), and
  the families of the indicators its words match best (BM25 over names, keywords, sector, department and
  definition, the same retrieval the ranking uses). Generic rows (kind 共性, a 通用 family, a name many
  families use) say nothing about a field and are left out of the vote.

Confidence is the top family's share of its own and the runner-up's evidence (0.5: a tie, 1: no rival). The ranking keeps
other families' indicators out only when they are generic or match strongly (see ``ranking``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.suggest.catalogue import GENERIC_FIELD_LABEL, GENERIC_FIELDS, Snapshot, field_of
from service.suggest.index import FloatArray

__all__ = ["FieldGuess", "generic_mask", "infer_field", "is_generic"]

VOTE_DOCS = 30  # best text matches shown as evidence
SMOOTHING = 2.0  # pseudo-docs of the prior in P(family | term): one odd posting is not a field
MIN_VOTE = 0.5  # less evidence than this is no evidence
VOTE_TERMS = 24  # highest-idf terms of the text that vote
VOTE_DF_MIN = 200  # terms in at most max(this, VOTE_DF_SHARE of the rows) vote
VOTE_DF_SHARE = 0.005
MENTION_SHARE = 1.0  # a family name in the text counts like the best match's whole vote
MIN_FIELD_LABEL = 2  # one-character family names (若有) would match by chance
CONFIDENT = 0.6  # below this share, the runners-up stay allowed too
RUNNER_UP = 0.5  # a family with at least this share of the top vote is allowed when unsure


@dataclass(frozen=True)
class FieldGuess:
    """The target's family: id in ``vocab.fields`` (-1 none), its label, confidence and evidence."""

    field: int
    name: str | None
    confidence: float
    source: str  # given | department | text | none
    evidence: tuple[str, ...]
    allowed: frozenset[int]  # families whose indicators may enter the list (empty: no filter)
    sector: str | None = None  # the most used sector label of the family (for drafts)

    @property
    def label(self) -> str:
        if self.confidence >= 0.8:
            return "高"
        if self.confidence >= CONFIDENT:
            return "中"
        return "低"


NONE = FieldGuess(-1, None, 0.0, "none", (), frozenset())


def is_generic(snap: Snapshot, i: int) -> bool:
    """Kind 共性, a 通用 family, or a name the catalogue uses in many families (from the data)."""
    return bool(snap.generic[i]) or snap.vocab.name_spread(snap.names[i]) >= GENERIC_FIELDS


def _top_sector(snap: Snapshot, fid: int) -> str | None:
    found = snap.vocab.field_sectors.get(fid)
    if not found:
        return None
    plain = snap.vocab.fields.names[fid]
    if found.get(plain, 0) > 0:
        return plain  # the family's own label (水利) rather than one programme of it (水利(水土保持))
    best = max(((n, s) for s, n in found.items() if n > 0), default=None)
    return best[1] if best else None


def _given(snap: Snapshot, sector: str) -> FieldGuess | None:
    name = field_of(snap.vocab.sector_codes.get(sector, sector))
    fid = snap.vocab.fields.get(name)
    if fid < 0:
        return None
    exact = sector if snap.vocab.sectors.get(sector) >= 0 else _top_sector(snap, fid)
    return FieldGuess(fid, name, 1.0, "given", (f"调用方给出行业领域:{sector}",), frozenset({fid}), exact)


def _from_department(snap: Snapshot, department: int, name: str | None) -> FieldGuess | None:
    counts = snap.vocab.department_fields.get(department)
    if not counts:
        return None
    total = sum(n for n in counts.values() if n > 0)
    fid, n = max(counts.items(), key=lambda x: (x[1], -x[0]))
    if total <= 0 or n <= 0:
        return None
    share = n / total
    label = snap.vocab.fields.names[fid]
    evidence = (f"部门{name}的目录指标{n}/{total}条属于{label}",)
    allowed = frozenset(f for f, c in counts.items() if c > 0 and c >= RUNNER_UP * n) if share < CONFIDENT else frozenset({fid})
    return FieldGuess(fid, label, round(share, 3), "department", evidence, allowed, _top_sector(snap, fid))


DEPARTMENT_NAME_CONFIDENCE = 0.9


def _named_in(snap: Snapshot, department_name: str) -> FieldGuess | None:
    """A family whose name the department's name contains (水利局 → 水利, 卫生健康委员会 → 卫生健康)."""
    best = -1
    for fid, label in enumerate(snap.vocab.fields.names):
        if len(label) >= MIN_FIELD_LABEL and label != GENERIC_FIELD_LABEL and label in department_name:
            if best < 0 or len(label) > len(snap.vocab.fields.names[best]):
                best = fid
    if best < 0:
        return None
    label = snap.vocab.fields.names[best]
    return FieldGuess(
        best,
        label,
        DEPARTMENT_NAME_CONFIDENCE,
        "department",
        (f"部门名称含行业领域:{department_name}",),
        frozenset({best}),
        _top_sector(snap, best),
    )


def _term_votes(snap: Snapshot, terms: Sequence[tuple[str, float]]) -> dict[int, float]:
    """Per family: sum over the query's terms of idf x log(lift), lift = P(family | term) / P(family).

    A term spread over the families as the catalogue is (满意度, 完成率) has lift ≈ 1 and votes for no
    one; a term concentrated in one family (饮水, 疫苗, 学生) votes for it. Generic rows are left out.
    """
    n_fields = len(snap.vocab.fields.names)
    if not n_fields:
        return {}
    prior = snap.field_prior(n_fields)
    ids_chunks: list[np.ndarray] = []
    term_chunks: list[np.ndarray] = []
    coefs: list[float] = []
    # The rarest terms carry the field (疫苗, 饮水); a term in thousands of rows has lift ≈ 1 and would
    # cost most of the vote's time at 100k rows.
    df_cap = max(VOTE_DF_MIN, int(VOTE_DF_SHARE * snap.n_alive))
    chosen = sorted(terms, key=lambda t: -t[1])[:VOTE_TERMS]
    for term, coef in chosen:
        if sum(seg.df(term) for seg in snap.segments) > df_cap:
            continue
        for seg in snap.segments:
            found = seg.postings(term)
            if found is not None:
                ids_chunks.append(found[0])
                term_chunks.append(np.full(len(found[0]), len(coefs), np.int32))
        coefs.append(coef)
    if not ids_chunks:
        return {}
    ids = np.concatenate(ids_chunks)
    which = np.concatenate(term_chunks)
    keep = ids < snap.n
    ids, which = ids[keep], which[keep]
    keep = snap.alive[ids] & ~snap.generic[ids]
    ids, which = ids[keep], which[keep]
    fids = snap.sector_field[ids]
    keep = fids >= 0
    fids, which = fids[keep], which[keep]
    # One bincount: postings per (term, family).
    counts = np.bincount(which * n_fields + fids, minlength=len(coefs) * n_fields)
    counts = counts[: len(coefs) * n_fields].reshape(len(coefs), n_fields).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    p = (counts + SMOOTHING * prior) / (totals + SMOOTHING)
    lift = np.log(np.maximum(p / np.maximum(prior, 1e-9), 1.0))
    lift[totals[:, 0] == 0] = 0.0
    votes = np.asarray(coefs) @ lift
    return {int(f): float(v) for f, v in enumerate(votes) if v > 0}


def _examples(snap: Snapshot, dense: FloatArray, matched: np.ndarray, fid: int) -> list[str]:
    """The names of the best matching non-generic rows of a family (shown as evidence)."""
    if not len(matched):
        return []
    k = min(len(matched), VOTE_DOCS)
    top = matched[np.argpartition(-dense[matched], k - 1)[:k]] if len(matched) > k else matched
    top = top[(snap.sector_field[top] == fid) & ~snap.generic[top]]
    top = top[np.argsort(-dense[top], kind="stable")[:3]]
    return [snap.docs[i].name for i in top.tolist()]


def generic_mask(snap: Snapshot, ids: np.ndarray) -> np.ndarray:
    """``is_generic`` for many ids at once."""
    spread = snap.vocab.spread
    names = snap.names
    wide = np.fromiter((spread.get(names[i], 0) >= GENERIC_FIELDS for i in ids.tolist()), np.bool_, len(ids))
    return np.asarray(snap.generic[ids] | wide, np.bool_)


def infer_field(
    snap: Snapshot,
    dense: FloatArray,
    matched: np.ndarray,
    text: str,
    terms: Sequence[tuple[str, float]],
    *,
    sector: str | None,
    department: int,
    department_name: str | None,
) -> FieldGuess:
    """The target's family from the caller's context, else from the text (see the module doc)."""
    if sector:
        found = _given(snap, sector)
        if found is not None:
            return found
    if department >= 0:
        found = _from_department(snap, department, department_name)
        if found is not None and found.confidence >= CONFIDENT:
            return found
    if department_name:
        found = _named_in(snap, department_name)
        if found is not None:
            return found
    votes = _term_votes(snap, terms)
    best_vote = max(votes.values(), default=0.0)
    mentions: list[int] = []
    for fid, label in enumerate(snap.vocab.fields.names):
        if len(label) >= MIN_FIELD_LABEL and label != GENERIC_FIELD_LABEL and label in text:
            mentions.append(fid)
    for fid in mentions:
        votes[fid] += MENTION_SHARE * (best_vote or 1.0)
    if not votes or max(votes.values()) < MIN_VOTE:
        return NONE
    ranked = sorted(votes.items(), key=lambda x: (-x[1], x[0]))
    fid, vote = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    # The margin over the runner-up: 1.0 when only one family has evidence, 0.5 for a tie.
    share = vote / (vote + runner_up)
    label = snap.vocab.fields.names[fid]
    evidence: list[str] = []
    if fid in mentions:
        evidence.append(f"文本提及:{label}")
    examples = _examples(snap, dense, matched, fid)
    if examples:
        evidence.append("相近指标:" + "、".join(examples))
    if share >= CONFIDENT:
        allowed = frozenset({fid})
    else:
        allowed = frozenset(f for f, v in votes.items() if v >= RUNNER_UP * vote)
    return FieldGuess(fid, label, round(share, 3), "text", tuple(evidence), allowed, _top_sector(snap, fid))
