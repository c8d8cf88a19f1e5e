"""Change set benchmark: a new edition of GB 5749 over N indicators resting on it, then apply.

    .venv/bin/python -m bench.change_set_bench --n 10000 [--database-url URL] [--revise-sample 200]

Builds a catalogue (schema + legal bases, no seed) with N synthetic indicators whose basis is
GB 5749-2022, records GB 5749-2027 (opens a change set of N rebase items), settles every item and
times the apply (one transaction). ``--revise-sample`` also times ``indicators.service.revise`` on a
few indicators, the per-item path the batched apply replaces. Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

OLD_DOC_NO = "GB 5749-2022"


def build_catalogue(url: str, n: int, *, seed: bool = False) -> Engine:
    """A catalogue with ``n`` synthetic indicators on GB 5749-2022 (第4.1条); returns its engine."""
    from bench.generate import generate_indicators
    from loaders.readers import Format, read_records
    from service.bootstrap import prepare_database, seed_bytes
    from service.db import make_engine
    from service.imports.service import import_records
    from service.legal_bases.service import load_seed_bases

    engine = make_engine(url)
    prepare_database(engine, seed=seed)
    with Session(engine) as session:
        if not seed:
            lines = seed_bytes("legal_bases.jsonl").decode().splitlines()
            load_seed_bases(session, [json.loads(x) for x in lines if x.strip()])
        rows = []
        for i, row in enumerate(generate_indicators(n, seed=7)):
            row.update(
                basis=f"{OLD_DOC_NO}《生活饮用水卫生标准》", basis_clause="第4.1条", code=f"SW-{i:06d}"
            )
            rows.append(row)
        data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode("utf-8")
        report = import_records(session, read_records(data, Format.ndjson))
        session.commit()
    assert report.created == n, report.as_dict()
    return engine


def old_basis_id(engine: Engine) -> int:
    from service.legal_bases import repository as basis_repo

    with Session(engine) as session:
        basis = next(b for b in basis_repo.all_bases(session) if b.doc_no == OLD_DOC_NO)
        assert basis.id is not None
        return basis.id


def open_and_settle(engine: Engine, *, effective_on: date = date(2027, 1, 1)) -> tuple[int, dict[str, float]]:
    """Record GB 5749-2027 (opens the change set) and accept every item; returns (id, timings)."""
    from graph.embedded import EmbeddedGraphStore
    from service.change_sets import service
    from service.change_sets.schemas import Decision, EditionIn, SettleIn

    basis_id = old_basis_id(engine)
    edition = EditionIn(
        doc_no="GB 5749-2027", title="生活饮用水卫生标准", effective_on=effective_on, summary="浑浊度限值收紧"
    )
    t0 = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        out = service.record_edition(session, basis_id, edition, EmbeddedGraphStore(engine))
        session.commit()
    t_open = time.perf_counter() - t0
    t1 = time.perf_counter()
    with Session(engine) as session:
        service.settle(session, out.change_set.id, SettleIn(decision=Decision.accepted, items="all"))
        session.commit()
    t_settle = time.perf_counter() - t1
    return out.change_set.id, {"open_s": round(t_open, 2), "settle_s": round(t_settle, 2)}


def apply(engine: Engine, change_set_id: int) -> dict[str, Any]:
    from service.change_sets import service

    t0 = time.perf_counter()
    with Session(engine) as session:
        out = service.apply(session, change_set_id)
        session.commit()
    return {"apply_s": round(time.perf_counter() - t0, 2), "applied": out.applied, "revised": out.revised}


def time_revise(engine: Engine, sample: int) -> float:
    """Seconds per indicator through ``revise`` (rolled back): the per-item path, for comparison."""
    from service.indicators import repository as indicator_repo
    from service.indicators.service import revise
    from service.versions.service import Provenance

    with Session(engine) as session:
        inds = indicator_repo.get_many_by_codes(session, [f"SW-{i:06d}" for i in range(sample)])
        t0 = time.perf_counter()
        for ind in inds:
            revise(
                session, ind, {"basis": "GB 5749-2027", "basis_clause": "第4.1条"}, Provenance(reason="bench")
            )
        elapsed = time.perf_counter() - t0
        session.rollback()
    return elapsed / max(1, len(inds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--revise-sample", type=int, default=200)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='bench-cs-')}/bench.db"
    t0 = time.perf_counter()
    engine = build_catalogue(url, args.n)
    result: dict[str, Any] = {"n": args.n, "build_s": round(time.perf_counter() - t0, 2)}
    if args.revise_sample:
        per_item = time_revise(engine, min(args.revise_sample, args.n))
        result["revise_ms_per_item"] = round(per_item * 1000, 1)
        result["revise_projected_s"] = round(per_item * args.n, 1)
    change_set_id, timings = open_and_settle(engine)
    result.update(timings)
    result.update(apply(engine, change_set_id))
    engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
