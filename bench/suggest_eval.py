"""Honest evaluation of indicator suggestions on a set of real targets (development or held-out).

``python -m bench.suggest_eval [--data tests/data/eval_dev.jsonl] [--verbose]``

1. A fresh SQLite catalogue is prepared exactly as the service prepares one
   (``service.bootstrap.prepare_database(engine, seed=True)``: migrations, category tree, the seed).
2. The gold indicators of every target are imported through the real import path
   (``service.imports.service.import_records``) with the target's ``sector`` and ``department`` and its
   ``source`` as provenance; the loader maps their levels as it maps any table. A row the loader refuses
   as written (a numeric comparator with a masked value such as "≤****000元") is imported without its
   comparator/value so that it still exists; the count is printed.
3. Each target text is sent to the suggestion service (``service.suggest.service.suggest``, the code the
   HTTP route calls) with the department and sector the file gives, as a user would, ``limit=10``. The same
   is done with the sector only and with the text only, to show what each signal contributes.
4. **A hit** is a suggested indicator whose code is one of the codes the import gave that target's own
   gold rows. Recall@k = hits in the top k / number of gold rows of the target (averaged over targets;
   a target with more than k gold rows cannot reach 1). "capped" divides by min(k, gold) instead.
   MRR = 1 / rank of the first hit in the top 10 (0 if none), averaged.
5. Baseline, on the same library: jieba (precise mode) tokens of the indicator names, Okapi BM25
   (k1 = 1.5, b = 0.75), query = the target text, ties by code.

Nothing here (or in the service) keys on the texts or gold names of a particular file; pass
``--data`` to evaluate another file built the same way.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jieba
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session, col

from loaders.readers import RawRecord
from service.bootstrap import prepare_database
from service.db import make_engine
from service.imports.service import import_records
from service.indicators.schemas import IndicatorDraft
from service.indicators.service import catalogue_words
from service.models import Indicator
from service.search.text import Analyzer, load_synonyms
from service.suggest.engine import SuggestEngine
from service.suggest.ranking import Weights
from service.suggest.schemas import SuggestRequest
from service.suggest.service import rebuild_engine, suggest

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval_dev.jsonl"
GOLD_FIELDS = ("name", "level1", "level2", "comparator", "value", "unit", "raw_value", "definition")
K_VALUES = (5, 10)


@dataclass
class Target:
    text: str
    department: str | None
    sector: str | None
    project: str
    gold: set[str]


@dataclass
class Library:
    session: Session
    targets: list[Target]
    fallback_rows: int
    indicators: list[tuple[str, str]]  # (code, name) of every non-retired indicator


def gold_record(row: int, ind: dict[str, Any], target: dict[str, Any]) -> tuple[RawRecord, bool]:
    """An import row for one gold indicator; True when it had to drop its comparator/value."""
    fields: dict[str, object] = {k: ind[k] for k in GOLD_FIELDS if ind.get(k) not in (None, "")}
    fields.update(
        sector=target.get("sector"), department=target.get("department"), source=target.get("source")
    )
    fields = {k: v for k, v in fields.items() if v not in (None, "")}
    try:
        IndicatorDraft.model_validate(fields)
    except ValidationError:
        return RawRecord(
            row=row, fields={k: v for k, v in fields.items() if k not in ("comparator", "value")}
        ), True
    return RawRecord(row=row, fields=fields), False


def load_library(data: Path, workdir: Path) -> Library:
    """Fresh seeded catalogue + the file's gold rows, imported through the real import path."""
    engine = make_engine(f"sqlite:///{workdir / 'eval.db'}")
    prepare_database(engine, seed=True)
    raw = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    records: list[RawRecord] = []
    owner: list[int] = []
    fallback = 0
    for t_index, target in enumerate(raw):
        for ind in target.get("indicators", []):
            rec, fell_back = gold_record(len(records) + 1, ind, target)
            records.append(rec)
            owner.append(t_index)
            fallback += fell_back
    session = Session(engine, expire_on_commit=False)
    report = import_records(session, records)
    session.commit()
    # Codes come back in row order for inserted rows; look every row up by its natural identity
    # instead, so that a row that matched an existing indicator is mapped too.
    by_key: dict[tuple[str, str | None], list[str]] = {}
    for code, name, source in session.execute(
        select(col(Indicator.code), col(Indicator.name), col(Indicator.source))
    ):
        by_key.setdefault((name, source), []).append(code)
    golds: list[set[str]] = [set() for _ in raw]
    for rec, t_index in zip(records, owner, strict=True):
        draft = IndicatorDraft.model_validate(rec.fields)
        golds[t_index].update(by_key.get((draft.name, draft.source), []))
    targets = [
        Target(
            text=t["target_text"],
            department=t.get("department"),
            sector=t.get("sector"),
            project=t.get("project", ""),
            gold=g,
        )
        for t, g in zip(raw, golds, strict=True)
        if g
    ]
    indicators = [
        (c, n)
        for c, n in session.execute(
            select(col(Indicator.code), col(Indicator.name)).where(col(Indicator.status) != "retired")
        )
    ]
    assert report.created + report.updated + report.unchanged == len(records)
    return Library(session, targets, fallback, indicators)


# --- baseline ---------------------------------------------------------------------------------------


class Bm25Baseline:
    """Plain jieba + Okapi BM25 over indicator names."""

    def __init__(self, indicators: Sequence[tuple[str, str]], k1: float = 1.5, b: float = 0.75) -> None:
        jieba.setLogLevel(logging.WARNING)
        self.codes = [c for c, _ in indicators]
        self.docs = [Counter(self.tokens(n)) for _, n in indicators]
        self.lens = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lens) / max(1, len(self.lens))
        self.df = Counter(t for d in self.docs for t in d)
        self.k1, self.b = k1, b

    @staticmethod
    def tokens(text: str) -> list[str]:
        return [w for w in jieba.lcut(text) if re.search(r"\w", w)]

    def rank(self, text: str, k: int) -> list[str]:
        n = len(self.docs)
        q = self.tokens(text)
        scores = []
        for i, d in enumerate(self.docs):
            s = 0.0
            for t in q:
                tf = d.get(t)
                if tf:
                    idf = math.log(1 + (n - self.df[t] + 0.5) / (self.df[t] + 0.5))
                    s += (
                        idf
                        * tf
                        * (self.k1 + 1)
                        / (tf + self.k1 * (1 - self.b + self.b * self.lens[i] / self.avg))
                    )
            scores.append((-s, self.codes[i]))
        scores.sort()
        return [c for _, c in scores[:k]]


# --- metrics ---------------------------------------------------------------------------------------


@dataclass
class Scores:
    recall: dict[int, float]
    capped: dict[int, float]
    mrr: float


def score(ranked: Sequence[Sequence[str]], targets: Sequence[Target]) -> Scores:
    recall = dict.fromkeys(K_VALUES, 0.0)
    capped = dict.fromkeys(K_VALUES, 0.0)
    mrr = 0.0
    for codes, t in zip(ranked, targets, strict=True):
        for k in K_VALUES:
            hits = len(set(codes[:k]) & t.gold)
            recall[k] += hits / len(t.gold)
            capped[k] += hits / min(k, len(t.gold))
        first = next((r for r, c in enumerate(codes[:10], 1) if c in t.gold), None)
        mrr += 1 / first if first else 0.0
    n = max(1, len(targets))
    return Scores({k: v / n for k, v in recall.items()}, {k: v / n for k, v in capped.items()}, mrr / n)


Mode = Callable[[Target], SuggestRequest]
MODES: dict[str, Mode] = {
    "department + sector (as a user)": lambda t: SuggestRequest(
        text=t.text, department=t.department, sector=t.sector, limit=10
    ),
    "sector only": lambda t: SuggestRequest(text=t.text, sector=t.sector, limit=10),
    "text only": lambda t: SuggestRequest(text=t.text, limit=10),
}


def run_mode(lib: Library, engine: SuggestEngine, mode: Mode) -> tuple[list[list[str]], float]:
    ranked = []
    started = time.perf_counter()
    for t in lib.targets:
        res = suggest(lib.session, engine, mode(t))
        ranked.append([it.indicator.code for it in res.items])
    return ranked, (time.perf_counter() - started) / max(1, len(lib.targets))


def make_engine_for(lib: Library, weights: Weights | None = None) -> SuggestEngine:
    analyzer = Analyzer(user_words=catalogue_words(lib.session), synonyms=load_synonyms())
    engine = SuggestEngine(analyzer, weights=weights)
    rebuild_engine(lib.session, engine)
    return engine


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--verbose", action="store_true", help="per-target hits and the top suggestions")
    parser.add_argument(
        "--set", action="append", default=[], metavar="WEIGHT=VALUE", help="override a weight"
    )
    args = parser.parse_args(argv)
    weights = Weights()
    for item in args.set:
        key, value = item.split("=", 1)
        weights = replace(weights, **{key: type(getattr(weights, key))(value)})

    with tempfile.TemporaryDirectory() as tmp:
        lib = load_library(args.data, Path(tmp))
        gold_rows = sum(len(t.gold) for t in lib.targets)
        print(
            f"data: {args.data}  targets: {len(lib.targets)}  gold indicators: {gold_rows}  "
            f"library: {len(lib.indicators)} indicators (seed + gold)  "
            f"gold rows imported without comparator/value: {lib.fallback_rows}"
        )
        print("hit: a suggested indicator whose code is one of the target's own imported gold rows")
        print(
            "Recall@k = hits in top k / gold rows of the target; capped = / min(k, gold rows); "
            "MRR = 1/rank of the first hit in the top 10\n"
        )
        engine = make_engine_for(lib, weights)
        baseline = Bm25Baseline(lib.indicators)
        rows = [
            (
                "jieba + BM25 over names (baseline)",
                score([baseline.rank(t.text, 10) for t in lib.targets], lib.targets),
                None,
            )
        ]
        per_mode: dict[str, list[list[str]]] = {}
        for label, mode in MODES.items():
            ranked, latency = run_mode(lib, engine, mode)
            per_mode[label] = ranked
            rows.append((f"suggestions, {label}", score(ranked, lib.targets), latency))
        print("| method | R@5 | R@10 | MRR | R@5 capped | R@10 capped | ms/query |")
        print("|---|---|---|---|---|---|---|")
        for label, s, latency in rows:
            ms = f"{latency * 1000:.1f}" if latency is not None else "—"
            print(
                f"| {label} | {s.recall[5]:.3f} | {s.recall[10]:.3f} | {s.mrr:.3f} | "
                f"{s.capped[5]:.3f} | {s.capped[10]:.3f} | {ms} |"
            )
        if args.verbose:
            names = dict(lib.indicators)
            for label, ranked in per_mode.items():
                print(f"\n## {label}")
                for t, codes in zip(lib.targets, ranked, strict=True):
                    hits = [c in t.gold for c in codes]
                    print(
                        f"- {t.project[:40]} | gold {len(t.gold)} | hits@10 {sum(hits)} | "
                        + " ".join(
                            ("✔" if h else "·") + names[c][:14] for c, h in zip(codes, hits, strict=True)
                        )
                    )
        lib.session.close()


if __name__ == "__main__":
    main()
