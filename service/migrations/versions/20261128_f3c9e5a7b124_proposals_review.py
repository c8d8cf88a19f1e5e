"""proposals and review

Revision ID: f3c9e5a7b124
Revises: e2b8d4f6a013
Create Date: 2026-11-28 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "f3c9e5a7b124"
down_revision = "e2b8d4f6a013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("department_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("proposer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("proposer_key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_set_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("decision_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_set_id"], ["change_set.id"], name=op.f("fk_proposal_change_set_id_change_set")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
    )
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_change_set_id"), ["change_set_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_department_code"), ["department_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_proposer"), ["proposer"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_state"), ["state"], unique=False)

    op.create_table(
        "proposal_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("indicator_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_proposal_item_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_item")),
        sa.UniqueConstraint("proposal_id", "seq", name="uq_proposal_item_proposal_seq"),
    )
    with op.batch_alter_table("proposal_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_item_indicator_code"), ["indicator_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_item_proposal_id"), ["proposal_id"], unique=False)

    op.create_table(
        "proposal_reviewer",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("assigned_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_proposal_reviewer_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("proposal_id", "reviewer", name=op.f("pk_proposal_reviewer")),
    )
    with op.batch_alter_table("proposal_reviewer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_reviewer_reviewer"), ["reviewer"], unique=False)

    op.create_table(
        "proposal_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["proposal_item.id"], name=op.f("fk_proposal_comment_item_id_proposal_item")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["proposal_comment.id"],
            name=op.f("fk_proposal_comment_parent_id_proposal_comment"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_proposal_comment_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_comment")),
    )
    with op.batch_alter_table("proposal_comment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_comment_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_comment_proposal_id"), ["proposal_id"], unique=False)

    # A plain column (ALTER TABLE … ADD COLUMN): SQLite keeps the table and the rows pointing at it.
    with op.batch_alter_table("change_set", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposal_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_change_set_proposal_id"), ["proposal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("change_set", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_set_proposal_id"))
        batch_op.drop_column("proposal_id")
    op.drop_table("proposal_comment")
    op.drop_table("proposal_reviewer")
    op.drop_table("proposal_item")
    op.drop_table("proposal")
