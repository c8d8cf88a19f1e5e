"""Reference data: the category frameworks, the sector tree and departments.

``Refs`` is a per-unit-of-work cache of these small tables so that an import
of 100k rows resolves names to ids without a query per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin
from sqlmodel import Session

from loaders.levels import LevelMapping
from service.codes import code_key, key_map, resolve_code
from service.domain import CATEGORY_TREE, UNCLASSIFIED, Framework
from service.errors import NotFound
from service.models import Category, Department, Sector
from service.taxonomy import repository as repo

_SECTOR_SPLIT = re.compile(r"^(?P<parent>[^()]+)\((?P<child>.+)\)$")


@dataclass(frozen=True)
class CategoryNode:
    id: int
    framework: str
    level: int
    name: str
    parent_id: int | None
    level1: str
    level2: str | None


def category_path(framework: str, level1: str, level2: str | None) -> str:
    return "/".join(p for p in (framework, level1, level2) if p)


def ensure_category_tree(session: Session) -> None:
    """Create the seeded frameworks' nodes that are missing (idempotent)."""
    existing = {c.path for c in repo.all_categories(session)}
    sort = 0
    for framework, level1s in CATEGORY_TREE.items():
        for l1, l2s in level1s.items():
            sort += 1
            p1 = category_path(framework, l1, None)
            if p1 not in existing:
                repo.add_category(
                    session, Category(framework=framework, level=1, name=l1, path=p1, sort=sort)
                )
                existing.add(p1)
            parent = next(c for c in repo.all_categories(session) if c.path == p1)
            for l2 in l2s:
                sort += 1
                p2 = category_path(framework, l1, l2)
                if p2 not in existing:
                    repo.add_category(
                        session,
                        Category(
                            framework=framework, level=2, name=l2, parent_id=parent.id, path=p2, sort=sort
                        ),
                    )
                    existing.add(p2)


def initials(name: str, *, limit: int = 6) -> str:
    """Readable ASCII code from a Chinese name: pinyin initials (卫生健康 → WSJK)."""
    letters = "".join(
        p[0] for p in lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore") if p and p[0].isalnum()
    )
    return (letters.upper() or "X")[:limit]


class Refs:
    """Name ↔ id lookups for categories, sectors and departments within one session."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.categories: dict[int, CategoryNode] = {}
        self._by_path: dict[str, int] = {}
        rows = repo.all_categories(session)
        by_id = {c.id: c for c in rows}
        for c in rows:
            assert c.id is not None
            parent = by_id.get(c.parent_id) if c.parent_id else None
            level1 = parent.name if parent else c.name
            level2 = c.name if parent else None
            self.categories[c.id] = CategoryNode(
                c.id, c.framework, c.level, c.name, c.parent_id, level1, level2
            )
            self._by_path[c.path] = c.id
        # Codes and names compare by key (service/codes.py): "jyt", "JYT" and "ＪＹＴ" are one
        # department; a filter or cell in another spelling must not find nothing, or create a twin.
        self.sectors: dict[int, Sector] = {s.id: s for s in repo.all_sectors(session) if s.id is not None}
        self._sector_by_name = key_map((s.name, sid) for sid, s in sorted(self.sectors.items()))
        self._sector_by_code = {s.code: sid for sid, s in self.sectors.items()}
        self._sector_by_key = {s.code_key: sid for sid, s in self.sectors.items() if s.code_key}
        self.departments: dict[int, Department] = {
            d.id: d for d in repo.all_departments(session) if d.id is not None
        }
        self._dept_by_name = key_map((d.name, did) for did, d in sorted(self.departments.items()))
        self._dept_by_code = {d.code: did for did, d in self.departments.items()}
        self._dept_by_key = {d.code_key: did for did, d in self.departments.items() if d.code_key}
        # Codes created through this cache, so the caller can announce them to the graph outbox.
        self.new_sector_codes: list[str] = []
        self.new_department_codes: list[str] = []

    # --- categories -------------------------------------------------------
    def category_id(self, mapping: LevelMapping) -> int:
        path = category_path(mapping.framework, mapping.level1, mapping.level2)
        found = self._by_path.get(path)
        if found is not None:
            return found
        # A mapped level2 outside the seeded tree falls back to its level1 node.
        fallback = self._by_path.get(category_path(mapping.framework, mapping.level1, None))
        if fallback is not None:
            return fallback
        return self._by_path[category_path(Framework.unclassified, UNCLASSIFIED, None)]

    def category_by_labels(self, level1: str | None, level2: str | None) -> list[CategoryNode]:
        return [
            n
            for n in self.categories.values()
            if (level1 is None or n.level1 == level1) and (level2 is None or n.level2 == level2)
        ]

    # --- sectors ----------------------------------------------------------
    def sector_id(self, name_or_code: str | None, *, create: bool = True) -> int | None:
        if not name_or_code:
            return None
        found = self._sector_by_name.get(code_key(name_or_code)) or resolve_code(
            name_or_code, self._sector_by_code, self._sector_by_key
        )
        if found is not None or not create:
            return found
        parent_id = None
        base = initials(name_or_code)
        m = _SECTOR_SPLIT.match(name_or_code)
        if m:  # "卫生健康(妇幼/两癌筛查)" hangs under "卫生健康" and extends its code: WSJK → WSJKFYLA
            parent_id = self.sector_id(m.group("parent").strip(), create=True)
            assert parent_id is not None
            base = self.sectors[parent_id].code + initials(m.group("child"), limit=4)
        code = self._unique(base, self._sector_by_code, self._sector_by_key)
        sector = repo.add_sector(self._session, Sector(code=code, name=name_or_code, parent_id=parent_id))
        assert sector.id is not None
        assert sector.code_key is not None
        self.sectors[sector.id] = sector
        self._sector_by_name[code_key(sector.name)] = sector.id
        self._sector_by_code[sector.code] = sector.id
        self._sector_by_key[sector.code_key] = sector.id
        self.new_sector_codes.append(sector.code)
        return sector.id

    def sector_name(self, sector_id: int | None) -> str | None:
        return self.sectors[sector_id].name if sector_id in self.sectors else None

    # --- departments ------------------------------------------------------
    def department_code(self, department_id: int | None) -> str | None:
        """The code of a department by id (None for none): what the ownership rule compares."""
        dept = self.departments.get(department_id) if department_id is not None else None
        return dept.code if dept else None

    def owner_code(self, name_or_code: str | None) -> str | None:
        """The code a department named by name or code would be stored under (unknown: as given)."""
        found = self.department_id(name_or_code, create=False)
        return self.department_code(found) if found is not None else name_or_code

    def department_id(self, name_or_code: str | None, *, create: bool = True) -> int | None:
        if not name_or_code:
            return None
        found = resolve_code(name_or_code, self._dept_by_code, self._dept_by_key) or self._dept_by_name.get(
            code_key(name_or_code)
        )
        if found is not None or not create:
            return found
        code = self._unique(initials(name_or_code, limit=8), self._dept_by_code, self._dept_by_key)
        dept = repo.add_department(self._session, Department(code=code, name=name_or_code))
        assert dept.id is not None
        assert dept.code_key is not None
        self.departments[dept.id] = dept
        self._dept_by_name[code_key(dept.name)] = dept.id
        self._dept_by_code[dept.code] = dept.id
        self._dept_by_key[dept.code_key] = dept.id
        self.new_department_codes.append(dept.code)
        return dept.id

    @staticmethod
    def _unique(base: str, exact: dict[str, int], by_key: dict[str, int]) -> str:
        def taken(code: str) -> bool:
            return resolve_code(code, exact, by_key) is not None

        if not taken(base):
            return base
        n = 2
        while taken(f"{base}{n}"):
            n += 1
        return f"{base}{n}"


# --- read models for the API -------------------------------------------------
def category_tree(session: Session) -> list[dict[str, object]]:
    """The frameworks as nested nodes with indicator counts (level1 counts include children)."""
    refs = Refs(session)
    counts = repo.indicator_counts_by_category(session)
    frameworks: dict[str, list[dict[str, object]]] = {}
    level1_nodes: dict[int, dict[str, object]] = {}
    for node in sorted(refs.categories.values(), key=lambda n: (n.level, n.id)):
        entry: dict[str, object] = {
            "id": node.id,
            "name": node.name,
            "level": node.level,
            "count": counts.get(node.id, 0),
            "children": [],
        }
        if node.level == 1:
            level1_nodes[node.id] = entry
            frameworks.setdefault(node.framework, []).append(entry)
        elif node.parent_id in level1_nodes:
            parent = level1_nodes[node.parent_id]
            parent["children"].append(entry)  # type: ignore[attr-defined]
            parent["count"] = int(parent["count"]) + counts.get(node.id, 0)  # type: ignore[call-overload]
    return [{"framework": fw, "categories": nodes} for fw, nodes in frameworks.items()]


def sector_list(session: Session) -> list[dict[str, object]]:
    counts = repo.indicator_counts_by_sector(session)
    return [
        {
            "code": s.code,
            "name": s.name,
            "parent_id": s.parent_id,
            "id": s.id,
            "count": counts.get(s.id or 0, 0),
        }
        for s in repo.all_sectors(session)
    ]


def department_list(session: Session) -> list[dict[str, object]]:
    counts = repo.indicator_counts_by_department(session)
    return [
        {
            "code": d.code,
            "name": d.name,
            "parent_id": d.parent_id,
            "id": d.id,
            "count": counts.get(d.id or 0, 0),
        }
        for d in repo.all_departments(session)
    ]


def require_department(session: Session, code: str) -> Department:
    refs = Refs(session)
    did = refs.department_id(code, create=False)
    if did is None:
        raise NotFound(f"Department {code!r} does not exist")
    return refs.departments[did]
