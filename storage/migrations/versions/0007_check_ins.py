"""Opt-in check-ins: when to write to a person again, and where each one stands.

Revision ID: 0007
Revises: 0005

A new table, empty: nothing written before this revision asked for a check-in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_ins",
        sa.Column("id", sa.String(32)),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("due", sa.String(10), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_check_ins"),
    )
    op.create_index("ix_check_ins_pseudonym", "check_ins", ["pseudonym"])
    op.create_index("ix_check_ins_due", "check_ins", ["due"])


def downgrade() -> None:
    op.drop_table("check_ins")
