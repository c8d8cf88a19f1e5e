"""Hold the database's write lock from another connection, as a long import does; reads still pass."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

# What every catalogue write takes on PostgreSQL: the change counter's row, the audit chain's head, and
# (bookkeeping) the key table. EXCLUSIVE mode blocks INSERT/UPDATE/DELETE and lets SELECT through.
PG_WRITE_TABLES = "catalog_state, audit_head, api_key"


@contextmanager
def write_lock_held(url: str) -> Iterator[None]:
    """SQLite: BEGIN IMMEDIATE (the one write lock). PostgreSQL: the tables every write touches, locked."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        pg.execute(f"LOCK TABLE {PG_WRITE_TABLES} IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()
