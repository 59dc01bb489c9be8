"""The yearly report's columns: how a case came, where it was sent, how its delays went.

Revision ID: 0008
Revises: 0007

Lines written before this revision are found only through their case key, which a migration
never holds: they keep the new columns empty (and ``reached_commission`` false) until their
case is next counted. ``case_work.alerted_at`` starts empty the same way; an acknowledgement
of such a case counts from the case's creation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LABEL = sa.String(64)
DELAYS = ("acknowledged_within", "first_reply_within", "follow_up")


def upgrade() -> None:
    with op.batch_alter_table("statistics") as batch:
        batch.add_column(sa.Column("channel", LABEL))
        batch.add_column(sa.Column("routes", sa.JSON))
        batch.add_column(sa.Column("score_bands", sa.JSON))
        batch.add_column(
            sa.Column("reached_commission", sa.Boolean, nullable=False, server_default=sa.false())
        )
        for name in DELAYS:
            batch.add_column(sa.Column(name, LABEL))
    with op.batch_alter_table("case_work") as batch:
        batch.add_column(sa.Column("alerted_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("case_work") as batch:
        batch.drop_column("alerted_at")
    with op.batch_alter_table("statistics") as batch:
        for name in reversed(DELAYS):
            batch.drop_column(name)
        for name in ("reached_commission", "score_bands", "routes", "channel"):
            batch.drop_column(name)
