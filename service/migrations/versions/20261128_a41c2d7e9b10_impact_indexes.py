"""covering indexes for impact queries; natural-key index on its column

Revision ID: a41c2d7e9b10
Revises: 3f8ac34e878c
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from alembic import op

revision = "a41c2d7e9b10"
down_revision = "3f8ac34e878c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_indicator_basis_basis_indicator", "indicator_basis", ["legal_basis_id", "indicator_id"]
    )
    op.create_index("ix_target_indicator_indicator_target", "target_indicator", ["indicator_id", "target_id"])
    # The (kind, name) index had taken the name of the natural_key column's index, leaving that column
    # unindexed; give each its own name.
    with op.batch_alter_table("indicator") as batch_op:
        batch_op.drop_index("ix_indicator_natural_key")
        batch_op.create_index("ix_indicator_kind_name", ["kind", "name"])
        batch_op.create_index("ix_indicator_natural_key", ["natural_key"])


def downgrade() -> None:
    with op.batch_alter_table("indicator") as batch_op:
        batch_op.drop_index("ix_indicator_natural_key")
        batch_op.drop_index("ix_indicator_kind_name")
        batch_op.create_index("ix_indicator_natural_key", ["kind", "name"])
    op.drop_index("ix_target_indicator_indicator_target", table_name="target_indicator")
    op.drop_index("ix_indicator_basis_basis_indicator", table_name="indicator_basis")
