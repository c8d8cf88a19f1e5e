"""Benchmark of the search index: build time, memory, query latency, upsert cost.

``python -m bench.search_bench [--n 100000] [--queries 1000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import functools
import gc
import random
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.generate import generate_indicators
from service.search.index import IndexDoc, SearchIndex, SearchPage
from service.search.text import Analyzer

STATUSES = ("standard",) * 17 + ("draft", "proposed", "superseded")


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return float("nan")
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of the process so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def to_index_docs(rows: Iterable[Mapping[str, Any]], *, seed: int = 0) -> list[IndexDoc]:
    """Map generated import rows to IndexDocs; category ids and statuses are made up consistently."""
    rng = random.Random(seed)
    category_ids: dict[str, int] = {}
    docs = []
    for r in rows:
        l1, l2 = r["level1"], r["level2"]
        ids = [category_ids.setdefault(l1, len(category_ids) + 1)]
        if l2:
            ids.append(category_ids.setdefault(f"{l1}/{l2}", len(category_ids) + 1))
        basis = r.get("basis") or ""
        docs.append(
            IndexDoc(
                code=r["code"],
                name=r["name"],
                keywords=tuple(r.get("keywords") or ()),
                definition=r.get("definition") or "",
                level1=l1,
                level2=l2,
                sector=r["sector"],
                department=r["department"],
                kind=r["kind"],
                status=rng.choice(STATUSES),
                bases=(basis.split(" ", 1)[0],) if basis else (),
                category_ids=tuple(ids),
            )
        )
    return docs


@dataclass
class QueryCase:
    group: str
    q: str | None
    filters: dict[str, str | Sequence[str]] = field(default_factory=dict)
    pages: int = 1


def make_queries(docs: Sequence[IndexDoc], n: int, *, seed: int = 0) -> list[QueryCase]:
    """A realistic mix: short words, common metrics, synonyms, rare names, fragments, filters, paging."""
    rng = random.Random(seed)
    one_char = ["率", "数", "水", "路", "林", "学", "费", "医"]
    two_char = [
        "培训",
        "资金",
        "疫苗",
        "公路",
        "农村",
        "养护",
        "学生",
        "补助",
        "垃圾",
        "验收",
        "预算",
        "就业",
    ]
    common = [
        "满意度",
        "完成率",
        "覆盖率",
        "合格率",
        "到位率",
        "执行率",
        "群众满意度",
        "预算执行率",
        "及时率",
    ]
    synonyms = ["满意率", "达标率", "经费到位率", "乡村公路", "免疫率", "准时率", "新改建农村公路里程"]
    sectors = sorted({d.sector for d in docs})
    level1s = ["产出指标", "效益指标", "满意度指标", "成本指标"]
    bases = sorted({b for d in docs for b in d.bases})
    cases: list[QueryCase] = []
    while len(cases) < n:
        roll = rng.random()
        doc = rng.choice(docs)
        if roll < 0.10:
            cases.append(QueryCase("1-char", rng.choice(one_char)))
        elif roll < 0.22:
            cases.append(QueryCase("2-char word", rng.choice(two_char)))
        elif roll < 0.37:
            cases.append(QueryCase("common metric", rng.choice(common)))
        elif roll < 0.45:
            cases.append(QueryCase("synonym", rng.choice(synonyms)))
        elif roll < 0.57:
            cases.append(QueryCase("full name", doc.name))
        elif roll < 0.67:
            name = doc.name
            k = min(len(name), rng.randint(3, 6))
            start = rng.randint(0, len(name) - k)
            cases.append(QueryCase("name fragment", name[start : start + k]))
        elif roll < 0.82:
            filters: dict[str, str | Sequence[str]] = {"sector": rng.choice(sectors)}
            if rng.random() < 0.5:
                filters["level1"] = rng.choice(level1s)
            if rng.random() < 0.3:
                filters["kind"] = ["sector", "common"]
            if rng.random() < 0.2 and bases:
                filters["basis"] = rng.choice(bases)
            cases.append(QueryCase("text + filters", rng.choice(common + two_char), filters))
        elif roll < 0.90:
            cases.append(
                QueryCase("browse + filters", None, {"sector": rng.choice(sectors), "status": "standard"})
            )
        else:
            cases.append(QueryCase("paging x3", rng.choice(common + one_char), pages=3))
    return cases


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def timed(fn: Callable[[], object]) -> float:
    """Wall time of one call, in milliseconds."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def run(n: int, n_queries: int, seed: int) -> None:
    """Build, query and upsert; print a table."""
    rss0 = rss_mb()
    t0 = time.perf_counter()
    rows = list(generate_indicators(n, seed=seed))
    docs = to_index_docs(rows, seed=seed)
    del rows
    t_gen = time.perf_counter() - t0
    gc.collect()
    rss_docs = rss_mb()

    t0 = time.perf_counter()
    words = {d.name for d in docs} | {k for d in docs for k in d.keywords}
    words |= {d.sector for d in docs} | {d.department for d in docs}
    analyzer = Analyzer(user_words=words)
    analyzer.index_terms("预热")  # loads jieba and adds the user words
    t_dict = time.perf_counter() - t0
    gc.collect()
    rss_dict = rss_mb()

    index = SearchIndex(analyzer)
    t0 = time.perf_counter()
    index.replace_all(docs, version=1)
    t_build = time.perf_counter() - t0
    gc.collect()
    rss_index = rss_mb()
    info = index.info()

    cases = make_queries(docs, n_queries, seed=seed)
    for c in cases[:50]:  # warm the query memo and numpy code paths
        index.search(c.q, filters=c.filters)
    per_group: dict[str, list[float]] = {}
    all_ms: list[float] = []
    totals: dict[str, list[int]] = {}
    for c in cases:
        cursor: str | None = None
        for _ in range(c.pages):
            page: SearchPage | None = None

            def one(c: QueryCase = c, cursor: str | None = cursor) -> None:
                nonlocal page
                page = index.search(c.q, filters=c.filters, limit=20, cursor=cursor)

            ms = timed(one)
            per_group.setdefault(c.group, []).append(ms)
            all_ms.append(ms)
            assert page is not None
            totals.setdefault(c.group, []).append(page.total)
            cursor = page.next_cursor
            if cursor is None:
                break

    # Upserts: one doc at a time (edit of an existing indicator), then a batch of 1000 new docs.
    rng = random.Random(seed + 1)
    single: list[float] = []
    for i in range(300):
        d = rng.choice(docs)
        edited = replace(d, name=d.name + "(修订)", definition=f"第{i}次修订。{d.definition}")
        single.append(timed(functools.partial(index.upsert, [edited], version=2 + i)))
    batch = [replace(d, code=f"NEW{i:07d}") for i, d in enumerate(rng.sample(docs, 1000))]
    t_batch = timed(lambda: index.upsert(batch, version=10_000))
    after_upserts = [timed(functools.partial(index.search, c.q, filters=c.filters)) for c in cases[:300]]

    print(f"\nsearch index benchmark: n={n:,} docs, {len(all_ms)} searches ({n_queries} query cases)")
    print(f"  generate docs            {t_gen:8.2f} s   (rss +{rss_docs - rss0:.0f} MiB for the IndexDocs)")
    print(
        f"  jieba dict + user words  {t_dict:8.2f} s   ({len(words):,} candidate words; rss +{rss_dict - rss_docs:.0f} MiB)"
    )
    print(
        f"  replace_all (build)      {t_build:8.2f} s   (rss +{rss_index - rss_dict:.0f} MiB for the index)"
    )
    print(
        f"  rss after build          {rss_index:8.0f} MiB (whole process); peak so far {peak_rss_mb():.0f} MiB"
    )
    print(f"  index                    {info}")
    print()
    print(f"  {'query group':<18}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'median hits':>13}")
    for group in sorted(per_group):
        v = per_group[group]
        print(
            f"  {group:<18}{len(v):>7}{statistics.median(v):>9.2f}{percentile(v, 99):>9.2f}{max(v):>9.2f}"
            f"{statistics.median(totals[group]):>13.0f}"
        )
    print(
        f"  {'ALL':<18}{len(all_ms):>7}{statistics.median(all_ms):>9.2f}{percentile(all_ms, 99):>9.2f}"
        f"{max(all_ms):>9.2f}"
    )
    print()
    print(
        f"  upsert 1 doc             p50 {statistics.median(single):.2f} ms, p99 {percentile(single, 99):.2f} ms, "
        f"max {max(single):.1f} ms (includes amortised segment merges)"
    )
    print(f"  upsert 1000 new docs     {t_batch:.0f} ms")
    print(
        f"  search after upserts     p50 {statistics.median(after_upserts):.2f} ms, "
        f"p99 {percentile(after_upserts, 99):.2f} ms; index {index.info()}"
    )
    print(f"  peak rss                 {peak_rss_mb():.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description="search index benchmark")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.n, args.queries, args.seed)


if __name__ == "__main__":
    main()
