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

6. Trust measures (issue 15), over the 10 rows shown: **off-sector@10** = share of the shown items that are
   not gold, not generic (kind 共性 or a 通用 sector) and whose sector family (the sector text before its
   first bracket or slash) differs from the target's; **repeat-names@10** = share of items whose
   normalised name (``compact``) already appeared higher; **numbers-used** = share of the texts'
   quantities (baselines "由80%" left out) that became an item's proposed value; **drafts coverage** = share
   covered by an item or a draft. Shares are pooled over all targets.
7. **Calibration and k-fold by source.** The only thing fitted on labelled data is the confidence model
   (``service.suggest.calibration``: a logistic model over the ranking's evidence, whose floor hides rows).
   ``--calibrate`` fits it on the whole file and writes ``service/suggest/calibration.json`` (the shipped
   model); the development figures use that model (in-sample). The k-fold (``--folds``, default 5) groups
   targets by ``source`` (two targets of one page share a fold), fits the model on the other folds only and
   scores each fold's targets with it: the held-out figure the development figure must not flatter.

Nothing here (or in the service) keys on the texts or gold names of a particular file; pass
``--data`` to evaluate another file built the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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
from service.models import Indicator, Sector
from service.search.text import Analyzer, compact, load_synonyms
from service.suggest import calibration as calib
from service.suggest.engine import SuggestEngine
from service.suggest.extract import extract
from service.suggest.ranking import SuggestQuery, Weights
from service.suggest.schemas import SuggestRequest, SuggestResponse
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
    source: str = ""


@dataclass
class Library:
    session: Session
    targets: list[Target]
    fallback_rows: int
    indicators: list[tuple[str, str]]  # (code, name) of every non-retired indicator
    meta: list[tuple[str, str, str | None, str]]  # (code, name, sector, kind) of the same


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
            source=t.get("source") or t.get("project", ""),
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
    meta = [
        (c, n, s, k)
        for c, n, s, k in session.execute(
            select(col(Indicator.code), col(Indicator.name), col(Sector.name), col(Indicator.kind))
            .outerjoin(Sector, col(Sector.id) == col(Indicator.sector_id))
            .where(col(Indicator.status) != "retired")
        )
    ]
    return Library(session, targets, fallback, indicators, meta)


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
    off_sector: float = 0.0
    repeat_names: float = 0.0
    numbers_used: float = 0.0
    drafts_coverage: float = 0.0
    shown: float = 0.0  # items per target


@dataclass
class Answer:
    """What one suggestion call showed, kept for scoring."""

    codes: list[str]
    items: list[tuple[str, str, str | None, str]] = field(default_factory=list)  # code, name, sector, kind
    proposed_spans: set[tuple[int, int]] = field(default_factory=set)
    draft_spans: set[tuple[int, int]] = field(default_factory=set)


def answer_of(res: SuggestResponse) -> Answer:
    return Answer(
        codes=[it.indicator.code for it in res.items],
        items=[
            (it.indicator.code, it.indicator.name, it.indicator.sector, it.indicator.kind.value)
            for it in res.items
        ],
        proposed_spans={(it.proposed.span[0], it.proposed.span[1]) for it in res.items if it.proposed},
        draft_spans={(d.span[0], d.span[1]) for d in getattr(res, "drafts", ()) if d.span},
    )


GENERIC_FIELD_LABEL = "通用"


def field_of(sector: str | None) -> str | None:
    """The issue's sector family: the sector text before its first bracket or slash (kept apart from
    the engine's own function on purpose: the measure must not move with the code it measures)."""
    if not sector:
        return None
    return re.split(r"[(（/／]", sector, maxsplit=1)[0].strip() or None


def _generic(sector: str | None, kind: str) -> bool:
    return kind == "common" or field_of(sector) == GENERIC_FIELD_LABEL


def score(answers: Sequence[Answer], targets: Sequence[Target]) -> Scores:
    recall = dict.fromkeys(K_VALUES, 0.0)
    capped = dict.fromkeys(K_VALUES, 0.0)
    mrr = 0.0
    shown = off = repeats = 0
    quantities = used = covered = 0
    for a, t in zip(answers, targets, strict=True):
        codes = a.codes
        for k in K_VALUES:
            hits = len(set(codes[:k]) & t.gold)
            recall[k] += hits / len(t.gold)
            capped[k] += hits / min(k, len(t.gold))
        first = next((r for r, c in enumerate(codes[:10], 1) if c in t.gold), None)
        mrr += 1 / first if first else 0.0
        target_field = field_of(t.sector)
        seen: set[str] = set()
        for code, name, sector, kind in a.items[:10]:
            shown += 1
            if code not in t.gold and not _generic(sector, kind) and field_of(sector) != target_field:
                off += 1
            normal = compact(name)
            repeats += normal in seen
            seen.add(normal)
        for q in extract(t.text).quantities:
            if q.baseline:
                continue
            quantities += 1
            used += q.span in a.proposed_spans
            covered += q.span in a.proposed_spans or q.span in a.draft_spans
    n = max(1, len(targets))
    return Scores(
        {k: v / n for k, v in recall.items()},
        {k: v / n for k, v in capped.items()},
        mrr / n,
        off_sector=off / max(1, shown),
        repeat_names=repeats / max(1, shown),
        numbers_used=used / max(1, quantities),
        drafts_coverage=covered / max(1, quantities),
        shown=shown / n,
    )


def baseline_answer(codes: list[str], names: dict[str, tuple[str, str | None, str]]) -> Answer:
    return Answer(codes=codes, items=[(c, *names[c]) for c in codes])


Mode = Callable[[Target], SuggestRequest]
MODES: dict[str, Mode] = {
    "department + sector (as a user)": lambda t: SuggestRequest(
        text=t.text, department=t.department, sector=t.sector, limit=10
    ),
    "sector only": lambda t: SuggestRequest(text=t.text, sector=t.sector, limit=10),
    "text only": lambda t: SuggestRequest(text=t.text, limit=10),
}


def run_mode(
    lib: Library, engine: SuggestEngine, mode: Mode, targets: Sequence[Target] | None = None
) -> tuple[list[Answer], float]:
    answers = []
    chosen = lib.targets if targets is None else targets
    started = time.perf_counter()
    for t in chosen:
        answers.append(answer_of(suggest(lib.session, engine, mode(t))))
    return answers, (time.perf_counter() - started) / max(1, len(chosen))


def calibration_rows(
    engine: SuggestEngine, targets: Sequence[Target], mode: Mode
) -> list[tuple[list[list[float]], list[bool]]]:
    """Per target: the features of every row the list would show without a floor, and gold or not."""
    out = []
    for t in targets:
        req = mode(t)
        res = engine.suggest(
            SuggestQuery(
                text=req.text, department=req.department, sector=req.sector, limit=req.limit, apply_floor=False
            )
        )
        out.append(([list(s.features) for s in res.items], [s.doc.code in t.gold for s in res.items]))
    return out


def folds_of(targets: Sequence[Target], k: int) -> list[int]:
    """Fold of each target: its source's place in a hash order, so one page's targets stay together."""
    sources = sorted({t.source for t in targets}, key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    fold = {s: i % k for i, s in enumerate(sources)}
    return [fold[t.source] for t in targets]


def fit_on(rows: Sequence[tuple[list[list[float]], list[bool]]]) -> calib.Calibration:
    x = [f for feats, _ in rows for f in feats]
    y = [g for _, gold in rows for g in gold]
    return calib.fit(x, y)


def make_engine_for(lib: Library, weights: Weights | None = None) -> SuggestEngine:
    analyzer = Analyzer(user_words=catalogue_words(lib.session), synonyms=load_synonyms())
    engine = SuggestEngine(analyzer, weights=weights)
    rebuild_engine(lib.session, engine)
    return engine


def _row(label: str, s: Scores, latency: float | None) -> str:
    ms = f"{latency * 1000:.1f}" if latency is not None else "—"
    return (
        f"| {label} | {s.recall[5]:.3f} | {s.recall[10]:.3f} | {s.mrr:.3f} | {s.off_sector:.3f} | "
        f"{s.repeat_names:.3f} | {s.numbers_used:.3f} | {s.drafts_coverage:.3f} | {s.shown:.1f} | {ms} |"
    )


HEADER = (
    "| method | R@5 | R@10 | MRR | off-sector@10 | repeat-names@10 | numbers-used | drafts coverage | rows shown | ms/query |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def kfold(lib: Library, engine: SuggestEngine, k: int) -> dict[str, Scores]:
    """Each fold's targets scored with a confidence model fitted on the other folds only."""
    folds = folds_of(lib.targets, k)
    shipped = engine.calibration
    out: dict[str, Scores] = {}
    try:
        for label, mode in MODES.items():
            rows = calibration_rows(engine, lib.targets, mode)
            answers: list[Answer | None] = [None] * len(lib.targets)
            for f in range(k):
                train = [r for r, g in zip(rows, folds, strict=True) if g != f]
                engine.calibration = fit_on(train)
                held = [i for i, g in enumerate(folds) if g == f]
                got, _ = run_mode(lib, engine, mode, [lib.targets[i] for i in held])
                for i, a in zip(held, got, strict=True):
                    answers[i] = a
            out[label] = score([a for a in answers if a is not None], lib.targets)
    finally:
        engine.calibration = shipped
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--verbose", action="store_true", help="per-target hits and the top suggestions")
    parser.add_argument(
        "--set", action="append", default=[], metavar="WEIGHT=VALUE", help="override a weight"
    )
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold by source (0: skip)")
    parser.add_argument(
        "--calibrate", action="store_true", help="fit the confidence model on this file and write it"
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
        if args.calibrate:
            rows = calibration_rows(engine, lib.targets, MODES["text only"])
            rows += calibration_rows(engine, lib.targets, MODES["department + sector (as a user)"])
            fitted = fit_on(rows)
            fitted = replace(fitted, fitted_on={**fitted.fitted_on, "data": args.data.name})
            calib.PATH.write_text(fitted.to_json() + "\n", encoding="utf-8")
            engine.calibration = fitted
            print(f"calibration written to {calib.PATH} ({fitted.fitted_on})\n")
        baseline = Bm25Baseline(lib.indicators)
        meta = {c: (n, s, k) for c, n, s, k in lib.meta}
        rows_out = [
            (
                "jieba + BM25 over names (baseline)",
                score([baseline_answer(baseline.rank(t.text, 10), meta) for t in lib.targets], lib.targets),
                None,
            )
        ]
        per_mode: dict[str, list[Answer]] = {}
        for label, mode in MODES.items():
            answers, latency = run_mode(lib, engine, mode)
            per_mode[label] = answers
            rows_out.append((f"suggestions, {label}", score(answers, lib.targets), latency))
        print("### development set (shipped confidence model, fitted on this file: in-sample)\n")
        print(HEADER)
        for label, sc, latency in rows_out:
            print(_row(label, sc, latency))
        if args.folds > 1:
            n_sources = len({t.source for t in lib.targets})
            print(f"\n### {args.folds}-fold by source ({n_sources} sources; confidence model fitted on the other folds)\n")
            print(HEADER)
            for label, sc in kfold(lib, engine, args.folds).items():
                print(_row(f"suggestions, {label}", sc, None))
        if args.verbose:
            names = dict(lib.indicators)
            for label, ranked in per_mode.items():
                print(f"\n## {label}")
                for t, answer in zip(lib.targets, ranked, strict=True):
                    codes = answer.codes
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
