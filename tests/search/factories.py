"""Small typed factories: the seed library as IndexDocs."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from service.search.index import IndexDoc

SEED = Path(__file__).resolve().parents[2] / "loaders" / "seed" / "seed_indicators.jsonl"
KINDS = ("sector", "common", "department_duty", "department_strategic")
STATUSES = ("standard", "standard", "standard", "draft", "superseded")


@functools.cache
def seed_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]


def category_id(level1: str, level2: str = "") -> int:
    """Made-up category node ids: level-1 nodes 1.., level-2 nodes 1000.."""
    rows = seed_rows()
    if not level2:
        return 1 + sorted({r["level1"] for r in rows}).index(level1)
    return 1000 + sorted({(r["level1"], r["level2"]) for r in rows}).index((level1, level2))


def seed_docs() -> list[IndexDoc]:
    """Seed indicators with fake codes; kind, status, department, bases and category ids are made up
    deterministically so that every filter has something to bite on."""
    docs = []
    for i, r in enumerate(seed_rows()):
        l1, l2 = r["level1"], r["level2"]
        cats = [category_id(l1)]
        if l2:
            cats.append(category_id(l1, l2))
        docs.append(
            IndexDoc(
                code=f"S-{i:05d}",
                name=r["name"],
                definition=r.get("definition") or "",
                level1=l1,
                level2=l2,
                sector=r["sector"],
                department=f"部门{i % 7}",
                kind=KINDS[i % len(KINDS)],
                status=STATUSES[i % len(STATUSES)],
                bases=tuple(f"B{j}" for j in range(i % 3)),
                category_ids=tuple(cats),
            )
        )
    return docs
