"""code keys: indicator, department, sector codes and release names compare case- and width-insensitively

Revision ID: c0de5a1e0001
Revises: b5d1e7f3a820
Create Date: 2026-12-07 23:59:00

Each table gets ``code_key`` (``service.codes.code_key`` of its code; ``name_key`` of a release's
name) with a unique index, so ``zz-00006`` can no longer be stored next to ``ZZ-00006``.

A database written before this may already hold two codes that fold to one key. They are NOT
rewritten: codes are cited in revisions, the change feed, the append-only audit trail and by the
finance platform, so renaming one here would silently break those references, and refusing to
upgrade would take the service down over data that was legal when written. Instead the oldest
row (lowest id) takes the key, the younger ones keep ``code_key`` NULL (still reachable by their
exact code; the unique index admits several NULLs on SQLite and PostgreSQL), and the collisions
are logged here as a warning and listed by ``GET /v1/quality/code-collisions`` until a steward
retires or supersedes the duplicates.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
import sqlmodel
from alembic import op

from service.codes import code_key

revision = "c0de5a1e0001"
down_revision = "b5d1e7f3a820"
branch_labels = None
depends_on = None

# (table, the column users type, its key column)
TABLES = (
    ("indicator", "code", "code_key"),
    ("department", "code", "code_key"),
    ("sector", "code", "code_key"),
    ("release", "name", "name_key"),
)
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    conn = op.get_bind()
    for name, typed, key_column in TABLES:
        op.add_column(
            name, sa.Column(key_column, sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        table = sa.table(
            name,
            sa.column("id", sa.Integer()),
            sa.column(typed, sa.String()),
            sa.column(key_column, sa.String()),
        )
        owner: dict[str, str] = {}
        keyed: list[dict[str, object]] = []
        collisions: dict[str, list[str]] = {}
        for row_id, value in conn.execute(sa.select(table.c.id, table.c[typed]).order_by(table.c.id)):
            key = code_key(value)
            if key in owner:
                collisions.setdefault(key, [owner[key]]).append(value)
                continue
            owner[key] = value
            keyed.append({"_id": row_id, "_key": key})
        if keyed:
            conn.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("_id"))
                .values({key_column: sa.bindparam("_key")}),
                keyed,
            )
        for key, values in collisions.items():
            log.warning(
                "%s.%s: %s fold to the same key %s and are kept as they are; other spellings find %s, "
                "the others only as written. Retire or supersede the duplicates.",
                name, typed, ", ".join(repr(v) for v in values), key, values[0],
            )  # fmt: skip
        op.create_index(f"uq_{name}_{key_column}", name, [key_column], unique=True)


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), not a batch copy: copying the table would drop
    # it, which the revisions' foreign keys refuse once the catalogue has data.
    for name, _, key_column in TABLES:
        op.drop_index(f"uq_{name}_{key_column}", table_name=name)
        op.drop_column(name, key_column)
