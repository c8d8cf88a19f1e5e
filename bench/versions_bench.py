"""Versions benchmark: as-of reads, release publication and release diffs on a large SQLite catalogue.

    .venv/bin/python -m bench.versions_bench --n 100000 [--changed 0.10] [--reads 1000]

Setup (not measured): N generated indicators imported through ``import_records`` (revision 1 each),
then four more revisions per indicator written straight through Core (dated 2022…2025, the
indicator's head and notes kept consistent), release A; then ~``changed`` of the indicators get a
sixth revision (a third each MAJOR/MINOR/PATCH), 1 % are retired and 0.5 % are imported new;
release B. Measured: single-indicator reads as of a day and as of a release (service call, no HTTP),
publishing A and B, and the A→B diff (exact counts + added + retired + first page of 200 changed).
Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlmodel import Session, col

REVISIONS = 5
YEARS = (2021, 2022, 2023, 2024, 2025)  # revision k is valid from 1 January of YEARS[k - 1]


def _ms(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return round(statistics.median(samples), 2), round(samples[max(0, int(len(samples) * 0.99) - 1)], 2)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _import(engine: Engine, rows: list[dict[str, Any]]) -> None:
    from loaders.readers import Format, read_records
    from service.imports.service import import_records

    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode("utf-8")
    with Session(engine) as session:
        report = import_records(session, read_records(data, Format.ndjson))
        session.commit()
    assert report.created == len(rows), report.as_dict()


def build_catalogue(n: int, folder: str) -> Engine:
    """Schema, legal bases and n imported indicators (revision 1) in a fresh SQLite file."""
    from bench.generate import generate_indicators
    from service.bootstrap import prepare_database, seed_bytes
    from service.db import make_engine
    from service.legal_bases.service import load_seed_bases

    engine = make_engine(f"sqlite:///{folder}/bench.db")
    prepare_database(engine, seed=False)
    with Session(engine) as session:
        load_seed_bases(
            session,
            [json.loads(x) for x in seed_bytes("legal_bases.jsonl").decode().splitlines() if x.strip()],
        )
        session.commit()
    _import(engine, list(generate_indicators(n)))
    return engine


def add_history(engine: Engine) -> None:
    """Revisions 2…5 for every indicator (notes reworded each year), written through Core in chunks."""
    from service.models import Indicator, IndicatorRevision

    rev, ind = IndicatorRevision.__table__, Indicator.__table__  # type: ignore[attr-defined]
    start = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    with Session(engine) as session:
        # History starts in 2021: the import dated revision 1 today.
        session.execute(update(rev).values(valid_from=start, recorded_at=start))
        firsts = session.execute(
            select(rev.c.indicator_id, rev.c.code, rev.c.status, rev.c.snapshot).order_by(rev.c.indicator_id)
        ).all()
        for chunk in range(0, len(firsts), 5000):
            rows = []
            for iid, code, status, snap in firsts[chunk : chunk + 5000]:
                for number in range(2, REVISIONS + 1):
                    moment = datetime(YEARS[number - 1], 1, 1, tzinfo=UTC)
                    rows.append(
                        {
                            "indicator_id": iid, "code": code, "number": number, "change": "PATCH",
                            "status": status, "fields": ["notes"], "snapshot": {**snap, "notes": f"{YEARS[number - 1]} 年修订"},
                            "reason": "bench", "author": "bench", "valid_from": moment, "recorded_at": moment,
                            "change_seq": 0,
                        }
                    )  # fmt: skip
            session.execute(insert(rev), rows)
        session.execute(update(ind).values(revision=REVISIONS, notes=f"{YEARS[-1]} 年修订"))
        session.commit()


def change_some(engine: Engine, share: float, rng: random.Random) -> dict[str, int]:
    """A sixth revision for ``share`` of the indicators (MAJOR/MINOR/PATCH in turn), 1 % retired, 0.5 % new."""
    from bench.generate import generate_indicators
    from service.models import Indicator, IndicatorRevision

    rev, ind = IndicatorRevision.__table__, Indicator.__table__  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with Session(engine) as session:
        heads = session.execute(
            select(rev.c.indicator_id, rev.c.code, rev.c.snapshot).where(rev.c.number == REVISIONS)
        ).all()
        picked = rng.sample(heads, int(len(heads) * (share + 0.01)))
        n_changed = int(len(heads) * share)
        rows, columns = [], []
        for i, (iid, code, snap) in enumerate(picked):
            new, change, status = dict(snap), "", "standard"
            values: dict[str, Any] = {}
            if i >= n_changed:
                new["status"], values["status"], change, status = "retired", "retired", "MINOR", "retired"
            elif i % 3 == 0:
                new["unit"], values["unit"], change = "‰", "‰", "MAJOR"
            elif i % 3 == 1:
                new["value"], values["value"], values["value_num"], change = 42.0, "42", 42.0, "MINOR"
            else:
                new["keywords"], values["keywords"], change = ["基准"], ["基准"], "PATCH"
            fields = sorted(k for k in new if new.get(k) != snap.get(k))
            rows.append(
                {
                    "indicator_id": iid, "code": code, "number": REVISIONS + 1, "change": change,
                    "status": status, "fields": fields, "snapshot": new, "reason": "bench", "author": "bench",
                    "valid_from": now, "recorded_at": now, "change_seq": 0,
                }
            )  # fmt: skip
            columns.append({"_id": iid, "revision": REVISIONS + 1, **values})
        for start in range(0, len(rows), 5000):
            session.execute(insert(rev), rows[start : start + 5000])
        # One UPDATE per shape of change, each executed for many rows.
        for keys in {tuple(sorted(c)) for c in columns}:
            group = [c for c in columns if tuple(sorted(c)) == keys]
            stmt = update(ind).where(ind.c.id == bindparam("_id"))
            stmt = stmt.values({k: bindparam(k) for k in keys if k != "_id"})
            session.connection().execute(stmt, group)
        session.commit()
    added = list(generate_indicators(len(heads) // 200, seed=7))
    for row in added:
        row["name"] = f"{row['name']}(新增)"
    _import(engine, added)
    return {"changed": n_changed, "retired": len(picked) - n_changed, "added": len(added)}


def run(n: int, share: float, reads: int) -> list[tuple[str, str]]:
    from service.models import Indicator
    from service.releases.schemas import DiffSection, ReleaseDraft
    from service.releases.service import create_release, diff_releases
    from service.versions.service import indicator_at

    rng = random.Random(0)
    t_setup = time.perf_counter()
    folder = tempfile.mkdtemp(prefix="bench-versions-")
    engine = build_catalogue(n, folder)
    add_history(engine)
    out: list[tuple[str, str]] = [("indicators", f"{n:,}"), ("revisions per indicator", str(REVISIONS))]

    def publish(name: str) -> Any:
        with Session(engine) as session:
            rel = create_release(session, ReleaseDraft(name=name, effective_on=date(2026, 1, 1)))
            session.commit()
        return rel

    with Session(engine) as session:
        codes = list(session.execute(select(col(Indicator.code))).scalars())  # all of them are in release A
    t_a, rel_a = _timed(lambda: publish("2026.1"))
    made = change_some(engine, share, rng)
    t_b, rel_b = _timed(lambda: publish("2026.2"))
    out += [
        ("setup (import, history, changes, both releases)", f"{time.perf_counter() - t_setup:.1f} s"),
        (
            "publish release A (INSERT … SELECT, first release)",
            f"{t_a:.2f} s ({rel_a.indicator_count:,} items)",
        ),
        (
            "publish release B (INSERT … SELECT + exact counts vs A)",
            f"{t_b:.2f} s ({rel_b.indicator_count:,} items)",
        ),
        ("made between A and B", ", ".join(f"{k} {v:,}" for k, v in made.items())),
    ]

    sample = [rng.choice(codes) for _ in range(reads)]
    days = [
        date(rng.choice(YEARS) + rng.randint(0, 1), rng.randint(1, 12), rng.randint(1, 28)) for _ in sample
    ]
    as_of_ms, release_ms = [], []
    with Session(engine) as session:
        for code, day in zip(sample[:20], days[:20], strict=True):  # warm the page cache
            indicator_at(session, code, as_of=day, release=None)
        for code, day in zip(sample, days, strict=True):
            t = time.perf_counter()
            indicator_at(session, code, as_of=day, release=None)
            as_of_ms.append((time.perf_counter() - t) * 1000)
        for code in sample:
            t = time.perf_counter()
            indicator_at(session, code, as_of=None, release="2026.1")
            release_ms.append((time.perf_counter() - t) * 1000)
    p50, p99 = _ms(as_of_ms)
    out.append(
        (f"as-of read: indicator_at(as_of=day), {reads} random codes and days", f"p50 {p50} ms, p99 {p99} ms")
    )
    p50, p99 = _ms(release_ms)
    out.append((f"as-of read: indicator_at(release=A), {reads} random codes", f"p50 {p50} ms, p99 {p99} ms"))

    diffs = []
    for _ in range(3):
        with Session(engine) as session:
            t = time.perf_counter()
            diff = diff_releases(session, "2026.1", "2026.2", limit=200, cursor=None)
            diffs.append(time.perf_counter() - t)
    c = diff.counts
    out += [
        (
            "diff A→B: exact counts + added + retired + first 200 changed (best / median of 3)",
            f"{min(diffs):.2f} s / {statistics.median(diffs):.2f} s",
        ),
        (
            "diff counts",
            f"added {c.added:,}, retired {c.retired:,}, changed {c.changed:,} (MAJOR {c.major:,} / MINOR"
            f" {c.minor:,} / PATCH {c.patch:,}), unchanged {c.unchanged:,}",
        ),
    ]
    with Session(engine) as session:
        t = time.perf_counter()
        page2 = diff_releases(
            session, "2026.1", "2026.2", limit=200, cursor=diff.next_cursor, include=[DiffSection.changed]
        )
        t = time.perf_counter() - t
    out.append(
        (
            "diff A→B: second page of changed (include=changed)",
            f"{t:.2f} s ({len(page2.changed or [])} items)",
        )
    )
    out += past_search(engine)
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return out


def past_search(engine: Engine) -> list[tuple[str, str]]:
    """Search over release A: the first query builds the snapshot index, later ones reuse it."""
    from service.app import build_index
    from service.indicators.service import SearchParams
    from service.releases.service import PastIndexes, search_past

    with Session(engine) as session:
        live = build_index(session)
        cache = PastIndexes()
        t_build = time.perf_counter()
        search_past(session, live, cache, SearchParams(q="满意度"), release="2026.1", as_of=None)
        t_build = time.perf_counter() - t_build
        samples = []
        for q in ["满意度", "接种率", "预算执行率", "覆盖率", "培训", "农村公路", "完成率", "就业"] * 25:
            t = time.perf_counter()
            search_past(session, live, cache, SearchParams(q=q), release="2026.1", as_of=None)
            samples.append((time.perf_counter() - t) * 1000)
    p50, p99 = _ms(samples)
    return [
        ("search in release A: first query (builds the snapshot index)", f"{t_build:.2f} s"),
        ("search in release A: cached index, 200 queries", f"p50 {p50} ms, p99 {p99} ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument(
        "--changed", type=float, default=0.10, help="share of indicators revised between A and B"
    )
    parser.add_argument("--reads", type=int, default=1000)
    args = parser.parse_args()
    rows = run(args.n, args.changed, args.reads)
    print("| measurement | result |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
