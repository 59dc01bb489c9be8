"""Receipts bound to their case: a MAC over (code_hash, hash_label, case_id).

Revision ID: 0003
Revises: 0001

Receipts written before this revision carry no MAC and nothing here can compute one (the
key lives outside the database), so they are deleted: a row that cannot be authenticated
would be refused anyway, and keeping it would leave a code that looks valid but never opens.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM receipts"))
    with op.batch_alter_table("receipts") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.drop_column("mac")
