"""Chinese text analysis for the indicator search index.

Text is normalised (NFKC, lower case; everything that is not a CJK character, a Latin letter or a
digit is a separator) and split into *runs*: maximal CJK runs and Latin/digit runs. A CJK run is cut
by jieba (precise mode, no HMM) only to find word boundaries; what is indexed is:

* **bigrams** of every CJK run — the matching backbone: a query matches a doc when the doc holds
  the query's bigrams, so 接种 is found inside 适龄儿童疫苗接种率 whatever jieba made of the name;
* **jieba words of three or more characters** (``cut_for_search`` style: the word and its 2/3-char
  dictionary sub-words) — they add score for whole-word matches (满意度, 接种率, 农村公路); a
  two-character word *is* a bigram, so it is counted once;
* **unigrams** (single CJK characters) — only so that one-character queries (率, 水) work. The index
  adds them for the short fields only (name, keywords, labels), not for definitions, which keeps the
  postings small and keeps a query 率 from matching every formula that mentions a rate;
* Latin/digit runs as whole tokens (pqi, pm2, gb).

Definitions get a light analysis (``words=False``: bigrams and Latin tokens, no jieba): they are long,
mostly unique and weigh least, so jieba there would double the build time for almost nothing.

Stand-alone stop words (的, 和, 与, 及, 是否 …, as jieba segments them) split a run, so 培训的满意度 and
培训满意度 give the same bigrams and no bigram straddles 的.
"""

from __future__ import annotations

import functools
import logging
import math
import operator
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jieba

DEFAULT_SYNONYMS_PATH = Path(__file__).with_name("synonyms.txt")

# Weight of terms that come only from a synonym rewrite, relative to the words typed.
SYNONYM_WEIGHT = 0.6
# At most this many synonym rewrites of one query (each rewrite costs a coverage pass).
MAX_VARIANTS = 8
# User words longer than this are not added to jieba: a whole indicator name as one dictionary word
# would hide its inner words from segmentation, and bigrams already give recall for long phrases.
DEFAULT_MAX_USER_WORD_LEN = 8

STOP_WORDS: frozenset[str] = frozenset(
    "的 地 得 了 着 和 与 及 以及 或 或者 是否 是 等 之 对 在 为 并 其 把 被 将 从 由 于 及其 关于 有关".split()
)

_CJK_CLASS = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_RUN_RE = re.compile(f"[{_CJK_CLASS}]+|[a-z0-9]+")
_SYNONYM_SPLIT = re.compile(r"[\s,，、;；]+")


def normalize(text: str) -> str:
    """NFKC + lower case; runs of CJK or Latin/digits separated by single spaces, punctuation dropped."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_RUN_RE.findall(folded))


def compact(text: str) -> str:
    """The normalised text without separators: the form used for name equality/containment boosts."""
    return normalize(text).replace(" ", "")


def _runs(normalized: str) -> list[tuple[str, bool]]:
    """(run, is_cjk) pairs of an already normalised string (runs are all-CJK or all-ASCII)."""
    return [(run, not run[0].isascii()) for run in _RUN_RE.findall(normalized)]


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _bigrams(run: str) -> list[str]:
    return list(map(operator.add, run, run[1:]))


def load_synonyms(path: Path | None = None) -> dict[str, list[str]]:
    """Read a synonym file (one group per line, space/comma separated, ``#`` comments).

    Returns every word (normalised) mapped to the other words of all groups it belongs to.
    """
    text = (path or DEFAULT_SYNONYMS_PATH).read_text(encoding="utf-8")
    groups: list[list[str]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        words = [compact(w) for w in _SYNONYM_SPLIT.split(line)]
        words = list(dict.fromkeys(w for w in words if w))
        if len(words) >= 2:
            groups.append(words)
    return _groups_to_table(groups)


def _groups_to_table(groups: Iterable[Sequence[str]]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for group in groups:
        for word in group:
            alts = table.setdefault(word, [])
            alts.extend(w for w in group if w != word and w not in alts)
    return table


@dataclass(frozen=True)
class QueryVariant:
    """The query as typed (weight 1) or one synonym rewrite of it (lower weight)."""

    text: str  # compact normalised form, for name boosts
    weight: float
    units: tuple[str, ...]  # what a doc must contain: bigrams, lone characters, Latin tokens
    terms: tuple[str, ...]  # what is scored: the units plus jieba words of 3+ characters


@dataclass(frozen=True)
class QueryAnalysis:
    """Result of :meth:`Analyzer.analyze_query`; ``variants[0]`` is the query as typed."""

    normalized: str
    variants: tuple[QueryVariant, ...]

    def weighted_terms(self) -> dict[str, float]:
        """Each scoring term with the highest weight of the variants that use it."""
        out: dict[str, float] = {}
        for v in self.variants:
            for t in v.terms:
                if out.get(t, 0.0) < v.weight:
                    out[t] = v.weight
        return out


class Analyzer:
    """Normalises and tokenises Chinese indicator text for indexing and querying.

    Each analyzer owns a private ``jieba.Tokenizer`` (so user words of one catalogue never leak into
    another analyzer or into code using the global jieba). The dictionary loads lazily on first use.
    jieba cuts (per CJK run) and query analyses are memoised; adding words clears the memos.
    """

    def __init__(
        self,
        user_words: Iterable[str] = (),
        synonyms: Mapping[str, Sequence[str]] | None = None,
        *,
        max_user_word_len: int = DEFAULT_MAX_USER_WORD_LEN,
        query_cache_size: int = 4096,
        run_cache_size: int = 65536,
    ) -> None:
        """``synonyms=None`` loads the project's ``synonyms.txt``; pass ``{}`` for none."""
        self._tokenizer = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._ready = False
        self._pending: list[str] = list(user_words)
        self._max_user_word_len = max_user_word_len
        table = load_synonyms() if synonyms is None else synonyms
        self._synonyms: dict[str, tuple[str, ...]] = {}
        for key, alts in table.items():
            k = compact(key)
            values = tuple(dict.fromkeys(a for a in (compact(x) for x in alts) if a and a != k))
            if k and values:
                self._synonyms[k] = values
        # Longest keys first so that 新改建 wins over 改建 inside the same query.
        self._synonym_keys = sorted(self._synonyms, key=lambda k: (-len(k), k))
        # jieba costs ~40 µs per run; runs repeat across names and definitions (common metric
        # phrases, text between punctuation), so cut results are memoised per run.
        self._cut = functools.lru_cache(maxsize=run_cache_size)(self._cut_uncached)
        self._cached_analyze_query = functools.lru_cache(maxsize=query_cache_size)(
            self._analyze_query_uncached
        )

    # -- dictionary -------------------------------------------------------------------------------

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            # jieba logs "Building prefix dict ..." at DEBUG on its module logger; keep it quiet.
            logging.getLogger("jieba").setLevel(logging.WARNING)
            self._tokenizer.initialize()
            self._add_words_locked(self._pending)
            self._pending = []
            self._ready = True

    def _add_words_locked(self, words: Iterable[str]) -> int:
        added = 0
        freq = self._tokenizer.FREQ
        for word in words:
            for run, is_cjk in _runs(normalize(word)):
                if is_cjk and 2 <= len(run) <= self._max_user_word_len and not freq.get(run):
                    self._tokenizer.add_word(run)
                    added += 1
        return added

    def add_words(self, words: Iterable[str]) -> int:
        """Add user words (indicator names, keywords, sector/department names); returns how many were new.

        Cheap when the words are already known. Clears the memos, so text indexed before and after
        may be segmented differently; matching does not depend on it (bigrams), only scores do.
        """
        words = list(words)
        with self._lock:
            if not self._ready:
                self._pending.extend(words)
                return 0
            added = self._add_words_locked(words)
        if added:
            self._cut.cache_clear()
            self._cached_analyze_query.cache_clear()
        return added

    # -- analysis ---------------------------------------------------------------------------------

    def _cut_uncached(self, run: str) -> tuple[str, ...]:
        # No HMM: it only guesses unknown words, which bigrams already cover, and doubles the cost.
        return tuple(self._tokenizer.cut(run, HMM=False))

    def _segments(self, normalized: str) -> tuple[list[str], list[str], list[str], list[str]]:
        """Split normalised text into (CJK sub-runs, Latin tokens, jieba words of 3+ chars, stop words)."""
        self._ensure_ready()
        sub_runs: list[str] = []
        latin: list[str] = []
        words: list[str] = []
        stops: list[str] = []
        freq = self._tokenizer.FREQ
        for run, is_cjk in _runs(normalized):
            if not is_cjk:
                latin.append(run)
                continue
            if len(run) == 1:
                if run in STOP_WORDS:
                    stops.append(run)
                else:
                    sub_runs.append(run)
                continue
            current: list[str] = []
            for tok in self._cut(run):
                if tok in STOP_WORDS:
                    stops.append(tok)
                    if current:
                        sub_runs.append("".join(current))
                        current = []
                    continue
                current.append(tok)
                n = len(tok)
                if n >= 3:
                    # cut_for_search: dictionary 3-grams inside long words, then the word itself
                    # (its 2-grams are bigrams already).
                    if n > 3:
                        words.extend(g for g in (tok[i : i + 3] for i in range(n - 2)) if freq.get(g))
                    words.append(tok)
            if current:
                sub_runs.append("".join(current))
        return sub_runs, latin, words, stops

    def index_terms(self, text: str, *, unigrams: bool = True, words: bool = True) -> list[str]:
        """Terms of ``text`` for the index, repeated as often as they occur (term frequency).

        ``unigrams=False`` leaves out single characters of multi-character runs; ``words=False``
        skips jieba (bigrams, lone characters and Latin tokens only; stop words are not split out,
        which only adds bigrams). The index uses both for long definitions. Not memoised: the index
        keeps its own per-build memo.
        """
        if not words:
            return self._light_terms(normalize(text), unigrams=unigrams)
        sub_runs, latin, jieba_words, stops = self._segments(normalize(text))
        terms: list[str] = [w for w in jieba_words if w not in STOP_WORDS]
        # Stop words split runs but are still indexed on their own, so that a query made only of
        # them (是否 finds the yes/no indicators) has something to match.
        terms.extend(s for s in stops if unigrams or len(s) > 1)
        for run in sub_runs:
            if len(run) == 1:
                terms.append(run)  # a lone character has no bigram: always keep it
                continue
            terms.extend(_bigrams(run))
            if unigrams:
                terms.extend(run)
        terms.extend(latin)
        return terms

    @staticmethod
    def _light_terms(normalized: str, *, unigrams: bool) -> list[str]:
        terms: list[str] = []
        for run, is_cjk in _runs(normalized):
            if not is_cjk or len(run) == 1:
                terms.append(run)
                continue
            terms.extend(_bigrams(run))
            if unigrams:
                terms.extend(run)
        return terms

    def _variant(self, normalized: str, weight: float) -> QueryVariant | None:
        sub_runs, latin, words, stops = self._segments(normalized)
        units: list[str] = []
        if not sub_runs and not latin:
            # The query is nothing but stop words: search for them as indexed (whole, on their own).
            units.extend(stops)
        for run in sub_runs:
            units.extend(_bigrams(run) if len(run) > 1 else [run])
        units.extend(latin)
        units = list(dict.fromkeys(units))
        if not units:
            return None
        terms = list(dict.fromkeys([*units, *(w for w in words if w not in STOP_WORDS)]))
        return QueryVariant(normalized.replace(" ", ""), weight, tuple(units), tuple(terms))

    def _rewrites(self, normalized: str) -> list[str]:
        """Single-substitution synonym rewrites of a normalised query (longest keys first)."""
        taken = [False] * len(normalized)
        out: list[str] = []
        for key in self._synonym_keys:
            start = normalized.find(key)
            while start >= 0:
                end = start + len(key)
                # Latin keys (km) must be whole tokens; CJK keys match anywhere.
                boundary_ok = not key[0].isascii() or (
                    (start == 0 or not _is_latin(normalized[start - 1]))
                    and (end == len(normalized) or not _is_latin(normalized[end]))
                )
                if boundary_ok and not any(taken[start:end]):
                    taken[start:end] = [True] * len(key)
                    out.extend(normalized[:start] + alt + normalized[end:] for alt in self._synonyms[key])
                start = normalized.find(key, start + 1)
        return out[:MAX_VARIANTS]

    def _analyze_query_uncached(self, q: str) -> QueryAnalysis:
        normalized = normalize(q)
        variants: list[QueryVariant] = []
        main = self._variant(normalized, 1.0)
        if main is not None:
            variants.append(main)
            for text in self._rewrites(normalized):
                v = self._variant(text, SYNONYM_WEIGHT)
                if v is not None and v.units != main.units:
                    variants.append(v)
        return QueryAnalysis(normalized, tuple(variants))

    def analyze_query(self, q: str) -> QueryAnalysis:
        """Full query analysis: the typed query and its synonym rewrites, each with units and terms."""
        return self._cached_analyze_query(q)

    def query_terms(self, q: str) -> list[str]:
        """Scoring terms of a query: those of the query as typed, then those only synonyms add."""
        return list(self.analyze_query(q).weighted_terms())


def idf(n_docs: int, df: int) -> float:
    """BM25 (Lucene) inverse document frequency, always positive."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
