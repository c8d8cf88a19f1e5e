"""A small but complete catalogue for the graph tests: the seed plus departments, duties, goals,
targets, relations, fund types and legal-basis links on both editions of GB 5749 and GB 3095.

Rows are written with SQLAlchemy Core (tests may; the application writes through its services).
``Catalogue`` records the generated ids the assertions need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, update

from graph.projection import (
    T_BASIS,
    T_DEPARTMENT,
    T_DUTY,
    T_GOAL,
    T_INDICATOR,
    T_INDICATOR_BASIS,
    T_INDICATOR_DUTY,
    T_INDICATOR_GOAL,
    T_OUTBOX,
    T_RELATION,
    T_TARGET,
    T_TARGET_INDICATOR,
)
from service.bootstrap import prepare_database
from service.db import make_engine
from service.models import utcnow

# Legal bases as the seed creates them (asserted in build_catalogue, so a seed change shows here).
GB5749_2022, GB5749_2006 = 1, 2
GB3095_2012, GB3095_1996, GB9137_88, GB3095_AMENDMENT = 3, 4, 5, 6

ON_2006 = ["WSJK-00001", "WSJK-00002", "WSJK-00003", "WSJK-00004", "WSJK-00005", "WSJK-00006",
           "SL-00002", "SL-00003", "STHJSWRF-00003"]  # fmt: skip
ON_2022 = ["WSJK-00007", "WSJK-00008", "WSJK-00009", "WSJK-00010", "STHJSWRF-00003", "STHJSWRF-00001"]
WATER_CHAIN = sorted(set(ON_2006) | set(ON_2022))
AIR = {"KJYXKY-00118": GB3095_1996, "KJYXKY-00130": GB3095_2012, "KJYXKY-00124": GB3095_AMENDMENT}

DEPARTMENTS = [  # code, name, parent code
    ("SLT", "水利厅", None),
    ("HBT", "生态环境厅", None),
    ("HBT-DQC", "生态环境厅大气环境处", "HBT"),
    ("WJW", "卫生健康委员会", None),
]
OWNERS = {
    "SL-00002": "SLT", "SL-00003": "SLT",
    "STHJSWRF-00001": "HBT", "STHJSWRF-00003": "HBT",
    **{f"WSJK-0000{i}": "WJW" for i in range(1, 6)},
    "KJYXKY-00118": "HBT-DQC", "KJYXKY-00130": "HBT-DQC",
}  # fmt: skip
FUNDS = {
    "SL-00002": ["一般公共预算"],
    "SL-00003": ["一般公共预算", "政府性基金预算"],
    "STHJSWRF-00001": ["国有资本经营预算"],
    "WSJK-00001": ["一般公共预算", "一般公共预算"],  # a duplicate in the data: one FUNDED_BY
}
RELATIONS = [("SL-00003", "WSJK-00001", "synonym"), ("STHJSWRF-00001", "SL-00003", "derived_from")]
TARGETS: list[tuple[str, str | None, int, str | None, list[tuple[str, str, str]]]] = [
    # external id, department, year, project, [(indicator, value, unit)]
    ("T-2024-SL-001", "SLT", 2024, "农村饮水安全巩固提升工程",
     [("SL-00003", "95", "%"), ("SL-00002", "1.2", "万亩"), ("STHJSWRF-00003", "100", "%"),
      ("STHJSWRF-00003", "99", "%")]),  # the same indicator twice: one USES, first row wins
    ("T-2024-WJ-002", "WJW", 2024, "城乡供水水质监测", [("WSJK-00001", "98", "%"), ("WSJK-00007", "100", "%")]),
    ("T-2023-XX-003", None, 2023, None, [("WSJK-00001", "90", "%"), ("KJYXKY-00118", "85", "%")]),
    ("T-2024-HB-004", "HBT", 2024, "大气污染防治", [("KJYXKY-00124", "80", "%"), ("KJYXKY-00130", "35", "μg/m³")]),
]  # fmt: skip


@dataclass
class Catalogue:
    """A built catalogue: where it is and the ids the tests refer to."""

    url: str
    duties: dict[str, int] = field(default_factory=dict)
    goals: dict[str, int] = field(default_factory=dict)

    def engine(self) -> Engine:
        return make_engine(self.url)


def indicator_ids(conn: Connection, codes: list[str]) -> dict[str, int]:
    rows = conn.execute(select(T_INDICATOR.c.code, T_INDICATOR.c.id).where(T_INDICATOR.c.code.in_(codes)))
    found = {r.code: r.id for r in rows}
    assert set(found) == set(codes), f"seed indicators missing: {set(codes) - set(found)}"
    return found


def build_catalogue(url: str) -> Catalogue:
    """Seed a fresh database at ``url`` and add the graph test rows."""
    engine = make_engine(url)
    try:
        prepare_database(engine, seed=True)
        with engine.begin() as conn:
            return _add_rows(conn, Catalogue(url=url))
    finally:
        engine.dispose()


def _add_rows(conn: Connection, cat: Catalogue) -> Catalogue:
    doc_nos = dict(conn.execute(select(T_BASIS.c.id, T_BASIS.c.doc_no)).all())
    assert doc_nos[GB5749_2022] == "GB 5749-2022"
    assert doc_nos[GB5749_2006] == "GB 5749-2006"
    assert doc_nos[GB3095_2012] == "GB 3095-2012"
    assert doc_nos[GB3095_1996] == "GB 3095-1996"
    assert (
        "修改单" in conn.execute(select(T_BASIS.c.title).where(T_BASIS.c.id == GB3095_AMENDMENT)).scalar_one()
    )

    dept: dict[str, int] = {}
    for code, name, parent in DEPARTMENTS:
        dept[code] = conn.execute(
            insert(T_DEPARTMENT)
            .values(code=code, name=name, parent_id=dept.get(parent or ""))
            .returning(T_DEPARTMENT.c.id)
        ).scalar_one()
    for key, department, name in [
        ("water", "SLT", "保障农村饮水安全"),
        ("resources", "SLT", "水资源统一监督管理"),  # no indicator measures it: a gap
        ("air", "HBT", "大气污染防治"),
    ]:
        cat.duties[key] = _insert_id(conn, T_DUTY, department_id=dept[department], name=name)
    for key, department, name in [
        ("tap_water", "SLT", "农村自来水普及率达到95%"),
        ("good_days", "HBT", "空气质量优良天数比例持续提升"),
        ("soil", "HBT", "土壤环境质量总体稳定"),  # a goal gap
    ]:
        cat.goals[key] = _insert_id(conn, T_GOAL, department_id=dept[department], name=name)

    ids = indicator_ids(conn, sorted(set(WATER_CHAIN) | set(AIR) | {c for r in RELATIONS for c in r[:2]}))
    basis_rows: list[dict[str, Any]] = [
        {"indicator_id": ids[c], "legal_basis_id": GB5749_2006, "clause": f"表1 第{n}项"}
        for n, c in enumerate(ON_2006, 1)
    ]
    basis_rows += [
        {"indicator_id": ids[c], "legal_basis_id": GB5749_2022, "clause": None if n % 2 else f"4.{n}"}
        for n, c in enumerate(ON_2022, 1)
    ]
    basis_rows += [{"indicator_id": ids[c], "legal_basis_id": b, "clause": None} for c, b in AIR.items()]
    conn.execute(insert(T_INDICATOR_BASIS), [{"note": None, **r} for r in basis_rows])
    conn.execute(
        insert(T_INDICATOR_DUTY),
        [
            {"indicator_id": ids["SL-00003"], "duty_id": cat.duties["water"]},
            {"indicator_id": ids["STHJSWRF-00003"], "duty_id": cat.duties["water"]},
            {"indicator_id": ids["KJYXKY-00118"], "duty_id": cat.duties["air"]},
            {"indicator_id": ids["KJYXKY-00130"], "duty_id": cat.duties["air"]},
        ],
    )
    conn.execute(
        insert(T_INDICATOR_GOAL),
        [
            {"indicator_id": ids["SL-00003"], "goal_id": cat.goals["tap_water"]},
            {"indicator_id": ids["KJYXKY-00130"], "goal_id": cat.goals["good_days"]},
        ],
    )
    for code, owner in OWNERS.items():
        conn.execute(
            update(T_INDICATOR).where(T_INDICATOR.c.id == ids[code]).values(department_id=dept[owner])
        )
    for code, funds in FUNDS.items():
        conn.execute(update(T_INDICATOR).where(T_INDICATOR.c.id == ids[code]).values(budget_types=funds))
    conn.execute(
        insert(T_RELATION), [{"from_id": ids[a], "to_id": ids[b], "kind": k} for a, b, k in RELATIONS]
    )
    for external_id, owner_code, year, project, uses in TARGETS:
        target_id = _insert_id(
            conn,
            T_TARGET,
            external_id=external_id,
            department_id=dept[owner_code] if owner_code else None,
            fiscal_year=year,
            project=project,
        )
        conn.execute(
            insert(T_TARGET_INDICATOR),
            [{"target_id": target_id, "indicator_id": ids[c], "value": v, "unit": u} for c, v, u in uses],
        )
    return cat


def _insert_id(conn: Connection, table: Table, **values: Any) -> int:
    for column in ("created_at", "updated_at"):
        if column in table.c:
            values.setdefault(column, utcnow())
    if "version" in table.c:
        values.setdefault("version", 1)
    return int(conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one())


def emit(conn: Connection, *events: tuple[str, str | int]) -> None:
    """Write outbox events, as the service does in the transaction of a change."""
    conn.execute(
        insert(T_OUTBOX), [{"entity": e, "entity_key": str(k), "created_at": utcnow()} for e, k in events]
    )


def indicator_row(code: str, name: str, *, category_id: int, **values: Any) -> dict[str, Any]:
    """Every NOT NULL column of ``indicator`` for a Core insert (Core applies no model defaults)."""
    now = utcnow()
    row: dict[str, Any] = {
        "code": code, "name": name, "kind": "sector", "category_id": category_id, "sector_id": None,
        "department_id": None, "budget_types": [], "keywords": [], "is_core": False, "horizon": "annual",
        "status": "standard", "natural_key": code, "version": 1, "change_seq": 0, "created_at": now,
        "updated_at": now,
    }  # fmt: skip
    row.update(values)
    return row
