"""indicator value_max: the upper bound of a range value (90%~95%)

Revision ID: b5d1e7f3a820
Revises: f3c9e5a7b124
Create Date: 2026-12-08 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b5d1e7f3a820"
down_revision = "f3c9e5a7b124"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: every existing value is a single number or text.
    op.add_column("indicator", sa.Column("value_max", sa.Float(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), not a batch copy: copying the table would drop
    # it, which the revisions' foreign keys refuse once the catalogue has data.
    op.drop_column("indicator", "value_max")
