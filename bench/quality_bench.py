"""Quality lint benchmark: ``GET /v1/quality`` work on a large SQLite catalogue, without HTTP.

    .venv/bin/python -m bench.quality_bench --n 100000

Setup (not measured): N generated indicators (``bench/generate.py``: real catalogues repeat names a
lot) imported with the seed legal bases, as ``bench.versions_bench`` builds them. Measured: the whole
report of today's catalogue (service call: read + every check), the report as of today (from revision
snapshots), each check alone over rows already read, and the near-duplicate search over N *distinct*
names (the worst case for blocking: every name its own key, big shared prefixes and suffixes).
Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlmodel import Session

OBJECTS = ("群众", "学生", "企业", "农户", "居民", "职工", "患者", "游客")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def distinct_names(n: int) -> list[str]:
    """N distinct generated names: each seed name also with an object in front (学生 + 体检覆盖率)."""
    from bench.generate import generate_indicators

    rng = random.Random(1)
    names: set[str] = set()
    for row in generate_indicators(4 * n, seed=3):
        names.update((row["name"], rng.choice(OBJECTS) + row["name"]))
        if len(names) >= n:
            break
    return sorted(names)[:n]


def run(n: int) -> list[tuple[str, str]]:
    from bench.versions_bench import build_catalogue
    from service.quality import repository as repo
    from service.quality import service
    from service.quality.service import DEFAULT_STATUSES, QualityParams

    out: list[tuple[str, str]] = []
    params = QualityParams()
    statuses = [s.value for s in DEFAULT_STATUSES]
    with tempfile.TemporaryDirectory() as folder:
        engine = build_catalogue(n, folder)
        with Session(engine) as session:
            seconds, report = _timed(lambda: service.catalogue_quality(session, params))
            out.append(
                (f"report, today's catalogue ({report.totals.indicators} indicators)", f"{seconds:.2f} s")
            )
            seconds, past = _timed(lambda: service.catalogue_quality(session, params, as_of=date.today()))
            out.append(("report, as of today (revision snapshots)", f"{seconds:.2f} s"))
            seconds, rows = _timed(lambda: repo.current_rows(session, statuses))
            out.append(("read rows", f"{seconds:.2f} s"))
            seconds, links = _timed(lambda: repo.current_links(session, statuses))
            out.append(("read basis links", f"{seconds:.2f} s"))
        engine.dispose()
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("without_basis + repealed_basis", lambda: (service.without_basis(rows, links, limit=50),
                                                    service.repealed_basis(rows, links, limit=50))),
        ("qualitative_share", lambda: service.qualitative_share(rows, threshold=0.3, limit=50)),
        ("duplicate_clusters (0.9)", lambda: service.duplicate_clusters(rows, min_similarity=0.9, limit=50)),
        ("inconsistent_units", lambda: service.inconsistent_units(rows, limit=50)),
        ("unit_value_mismatch", lambda: service.unit_value_mismatch(rows, limit=50)),
    ]  # fmt: skip
    for name, check in checks:
        seconds, _ = _timed(check)
        out.append((name, f"{seconds:.2f} s"))
    out.append(
        (
            "findings",
            f"{report.duplicate_clusters.count} clusters, {report.inconsistent_units.count} inconsistent "
            f"units, {report.unit_value_mismatch.count} unit/value, {report.without_basis.count} without basis",
        )
    )
    out.append(("distinct names in the catalogue", str(len({service.name_key(r.name) for r in rows}))))
    names = distinct_names(n)
    keys = sorted({service.name_key(x) for x in names})
    for threshold in (0.9, 0.75):
        start = time.perf_counter()
        pairs = set(service.similar_pairs(keys, threshold))
        seconds = time.perf_counter() - start
        out.append(
            (
                f"similar pairs over {len(keys)} distinct names at {threshold}",
                f"{seconds:.2f} s ({len(pairs)} pairs)",
            )
        )
    assert past.totals.indicators == report.totals.indicators
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    rows = run(args.n)
    print("| measurement | result |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
