"""audit trail

Revision ID: e2b8d4f6a013
Revises: d1a7c3e5f902
Create Date: 2026-11-28 04:40:00

``audit_entry`` is append-only at the database: triggers refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL) whoever sends them. ``audit_head`` holds the newest entry of the hash chain; it may only
move forward and cannot be deleted.

Never alter ``audit_entry`` with ``batch_alter_table`` on SQLite: it rebuilds the table (copy, drop,
rename), which drops these triggers; re-create them in the same migration if it ever must.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "e2b8d4f6a013"
down_revision = "d1a7c3e5f902"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64  # prev_hash of the first entry; service.audit.chain.GENESIS_HASH

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
    BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
    BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: DELETE refused'); END""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END""",
    """CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
    WHEN NEW.id <> OLD.id OR NEW.last_id < OLD.last_id
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END""",
)

_POSTGRES_DDL = (
    """CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE TRIGGER audit_entry_no_update_delete BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()""",
    """CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()""",
    """CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.id = OLD.id AND NEW.last_id >= OLD.last_id THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()""",
    """CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only()""",
)


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("entity_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_entity", ["entity_type", "entity_id", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_actor", ["actor", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_role", ["role", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_key_id", ["key_id", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_action", ["action", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_route", ["route", "id"], unique=False)
        batch_op.create_index("ix_audit_entry_request_id", ["request_id"], unique=False)
        batch_op.create_index("ix_audit_entry_at", ["at"], unique=False)

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": GENESIS_HASH, "updated_at": None}])

    ddl = _POSTGRES_DDL if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in ddl:
        op.execute(statement)


def downgrade() -> None:
    # Dropping the tables destroys the trail; the triggers go with them.
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("audit_head")
        op.drop_table("audit_entry")
        op.execute("DROP FUNCTION audit_head_forward_only()")
        op.execute("DROP FUNCTION audit_entry_append_only()")
        return
    op.drop_table("audit_head")
    op.drop_table("audit_entry")
