"""SQL for backup and restore: every table read in primary-key order, written in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Integer, Table, bindparam, func, insert, select, text, update

CHUNK = 2000


def table_rows(conn: Connection, table: Table) -> Iterator[Sequence[Any]]:
    """Every row as a tuple in column order, ordered by primary key (streamed, not loaded at once)."""
    stmt = select(*table.columns).order_by(*table.primary_key.columns)
    result = conn.execution_options(yield_per=CHUNK).execute(stmt)
    for row in result:
        yield tuple(row)


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def primary_keys(conn: Connection, table: Table) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in conn.execute(select(*table.primary_key.columns))}


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start : start + CHUNK])


def update_rows(conn: Connection, table: Table, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """Set ``columns`` of existing rows, found by primary key (bound as ``pk_<name>``)."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    stmt = (
        update(table)
        .where(*(table.c[k] == bindparam(f"pk_{k}") for k in keys))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    params = [{**{f"pk_{k}": r[k] for k in keys}, **{f"v_{c}": r[c] for c in columns}} for r in rows]
    for start in range(0, len(params), CHUNK):
        conn.execute(stmt, params[start : start + CHUNK])


def reset_sequence(conn: Connection, table: Table) -> None:
    """PostgreSQL: the id sequence continues after the restored ids (SQLite does this by itself)."""
    if conn.dialect.name != "postgresql" or "id" not in table.c or not isinstance(table.c.id.type, Integer):
        return
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM \"{table.name}\""
        )
    )
