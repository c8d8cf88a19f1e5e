"""Proposals benchmark: a department's whole table as one proposal, checked, reviewed and approved.

    .venv/bin/python -m bench.proposals_bench [--catalogue 10000] [--items 100 1000]

Setup (not measured): the seed plus ``--catalogue`` generated indicators in a fresh SQLite file, a
department, an editor, a steward and a reviewer key. Measured over in-process HTTP (the real routes,
access checks and audit trail): creating a proposal of N new indicators (generated rows, so the
duplicate check finds real neighbours), submitting it (every check, including the suggestion
engine's near-duplicate search per item), and approving it (one change set, N new indicators and
revisions). Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from bench.generate import generate_indicators
from loaders.readers import Format, read_records
from service.app import create_app
from service.auth.principal import Role
from service.auth.schemas import KeyIn
from service.auth.service import create_key
from service.bootstrap import prepare_database
from service.db import make_engine
from service.imports.service import import_records
from service.settings import Settings

DEPARTMENT = "BENCH"
BASIS = "皖政〔2016〕31号《安徽省人民政府关于进一步完善城乡义务教育经费保障机制的实施意见》"


def _catalogue(url: str, n: int) -> dict[str, str]:
    engine = make_engine(url)
    prepare_database(engine, seed=True)
    rows = "\n".join(json.dumps(r, ensure_ascii=False) for r in generate_indicators(n, seed=5))
    with Session(engine) as session:
        if n:
            import_records(session, read_records(rows.encode("utf-8"), Format.ndjson))

        def key(role: Role, owner: str, departments: list[str] | None = None) -> str:
            data = KeyIn(owner=owner, role=role, departments=departments or [])
            return create_key(session, data, created_by="bench").token

        session.commit()
        keys = {"admin": key(Role.admin, "bench-admin")}
        session.commit()
    engine.dispose()
    return keys


def _items(n: int) -> list[dict[str, Any]]:
    """New indicators named like the catalogue's (so the duplicate search has real neighbours), each
    complete and consistent, so that approval goes through."""
    out = []
    for i, row in enumerate(generate_indicators(n, seed=29)):
        fields = {
            "name": f"{row['name']}（提案{n}-{i}）", "kind": "分行业分领域", "sector": row.get("sector") or None,
            "level1": "产出指标", "level2": "数量指标", "comparator": "≥", "value": 10 + i % 90, "unit": "个",
            "definition": "按年度统计", "basis": BASIS,
        }  # fmt: skip
        out.append({"action": "create", "fields": {k: v for k, v in fields.items() if v is not None}})
    return out


def run(catalogue: int, sizes: list[int]) -> list[dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-proposals-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    keys = _catalogue(url, catalogue)
    results = []
    with TestClient(create_app(Settings(database_url=url, seed=True)), raise_server_exceptions=False) as c:
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        c.post("/v1/departments", json={"code": DEPARTMENT, "name": "基准测试厅"}, headers=admin)

        def mint(role: str, owner: str, departments: list[str] | None = None) -> dict[str, str]:
            body = {"owner": owner, "role": role, "departments": departments or []}
            return {"Authorization": f"Bearer {c.post('/v1/keys', json=body, headers=admin).json()['token']}"}

        editor = mint("editor", "bench-editor", [DEPARTMENT])
        steward = mint("steward", "bench-steward")
        reviewer = mint("reviewer", "bench-reviewer")
        for n in sizes:
            body = {"title": f"{n} 项指标", "department_code": DEPARTMENT, "items": _items(n)}
            t0 = time.perf_counter()
            r = c.post("/v1/proposals", json=body, headers=editor)
            t_create = time.perf_counter() - t0
            assert r.status_code == 201, r.text[:500]
            pid = r.json()["id"]
            t0 = time.perf_counter()
            r = c.post(f"/v1/proposals/{pid}/submit", headers=editor)
            t_submit = time.perf_counter() - t0
            assert r.status_code == 200, r.text[:500]
            counts = r.json()["counts"]
            c.post(f"/v1/proposals/{pid}/reviewers", json={"reviewers": ["bench-reviewer"]}, headers=steward)

            def decide(decision: str, pid: int = pid) -> Any:
                tag = c.get(f"/v1/proposals/{pid}", headers=reviewer).headers["etag"]
                return c.post(f"/v1/proposals/{pid}/decision", json={"decision": decision, "reason": "基准"},
                              headers={**reviewer, "If-Match": tag})  # fmt: skip

            assert decide("start_review").status_code == 200
            t0 = time.perf_counter()
            r = decide("approve")
            t_approve = time.perf_counter() - t0
            approved = r.status_code == 200
            results.append({
                "items": n, "create_s": t_create, "submit_s": t_submit, "approve_s": t_approve,
                "errors": counts["error"], "warnings": counts["warning"], "approved": approved,
            })  # fmt: skip
            print(results[-1] if approved else {**results[-1], "refused": r.json().get("detail")}, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalogue", type=int, default=10_000)
    parser.add_argument("--items", type=int, nargs="*", default=[100, 1000])
    args = parser.parse_args()
    rows = run(args.catalogue, args.items)
    print("| items | create (s) | submit: all checks (s) | approve: change set applied (s) | findings error / warning |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['items']} | {r['create_s']:.2f} | {r['submit_s']:.2f} | {r['approve_s']:.2f} | "
              f"{r['errors']} / {r['warnings']} |")  # fmt: skip


if __name__ == "__main__":
    main()
