"""Import benchmark: time and peak memory of importing N synthetic indicators, then search latency
through the real service path (index refresh + query + rows read from the database).

    .venv/bin/python -m bench.import_bench --sizes 10000 100000 [--database-url URL]

Each size runs in a fresh child process so peak RSS is that import's own. Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


QUERIES = ["满意度", "农村公路", "接种率", "接种", "完成率", "预算执行率", "覆盖率", "培训", "合格率", "群众满意度",
           "资金到位率", "水", "道路里程", "学生资助", "及时率", "监测", "检验检疫", "养老服务", "就业", "垃圾分类"]  # fmt: skip


def run_one(n: int, database_url: str | None) -> dict[str, float]:
    """Import n rows into an empty catalogue (schema + legal bases, no seed) and time searches."""
    from sqlmodel import Session

    from bench.generate import generate_indicators
    from loaders.readers import Format, read_records
    from service.app import build_index
    from service.bootstrap import prepare_database, seed_bytes
    from service.db import make_engine
    from service.imports.service import import_records
    from service.indicators.service import SearchParams, search
    from service.legal_bases.service import load_seed_bases

    tmp = tempfile.mkdtemp(prefix="bench-import-")
    url = database_url or f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    prepare_database(engine, seed=False)
    with Session(engine) as session:  # legal bases, so basis texts get linked as in production
        load_seed_bases(
            session,
            [json.loads(x) for x in seed_bytes("legal_bases.jsonl").decode().splitlines() if x.strip()],
        )
        session.commit()
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in generate_indicators(n)).encode("utf-8")
    rss_before = _peak_rss_mb()

    t0 = time.perf_counter()
    records = read_records(data, Format.ndjson)
    t_read = time.perf_counter() - t0
    with Session(engine) as session:
        report = import_records(session, records)
        session.commit()
    t_import = time.perf_counter() - t0
    rss_after_import = _peak_rss_mb()
    del records, data
    assert report.created == n, report.as_dict()

    t1 = time.perf_counter()
    with Session(engine) as session:
        index = build_index(session)
    t_index = time.perf_counter() - t1

    latencies = []
    with Session(engine) as session:
        for i in range(1000):
            q = QUERIES[i % len(QUERIES)]
            params = SearchParams(q=q, limit=20, sector=["交通运输(农村公路)"] if i % 5 == 0 else None)
            t = time.perf_counter()
            search(session, index, params)
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    return {
        "n": n,
        "read_s": round(t_read, 2),
        "import_s": round(t_import, 2),
        "index_build_s": round(t_index, 2),
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_import_mb": round(rss_after_import, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file per size")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_one(args.child, args.database_url)))
        return
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, "-m", "bench.import_bench", "--child", str(n)]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        out = subprocess.run(
            cmd, check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
