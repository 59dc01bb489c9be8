"""What describes a person goes under the case key; slots become keyed hashes; statistics
apart; sealed messages carry their own replay guard.

Revision ID: 0004
Revises: 0003

A migration never holds the server's keys (they live outside the database), so nothing
written in clear before this revision can be encrypted or hashed here: the clear persona,
level and categories are dropped (the conversation state, under the case key, still holds
them), and so are bookings by clear slot id. Undelivered outbox payloads were under the case
key, not a key of their own, so they are dropped too rather than left outside the shredding.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(32)
LABEL = sa.String(64)


def upgrade() -> None:
    # Never written by the bot: a channel answers on the identity it was given.
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("address")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("persona")
        batch.drop_column("level")
        batch.drop_column("categories")
        batch.add_column(sa.Column("details", sa.LargeBinary))

    with op.batch_alter_table("sealed_messages") as batch:
        batch.add_column(sa.Column("dedup_hash", sa.String(64)))
        batch.create_unique_constraint("uq_sealed_messages_dedup_hash", ["dedup_hash"])

    op.drop_table("bookings")
    op.create_table(
        "bookings",
        sa.Column("slot_hash", sa.String(64)),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("slot", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("slot_hash", name="pk_bookings"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_bookings_case_id_cases"),
    )
    op.create_index("ix_bookings_case_id", "bookings", ["case_id"])

    op.execute(sa.text("UPDATE outbox SET payload = NULL"))

    op.create_table(
        "statistics",
        sa.Column("tag", sa.String(64)),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("persona", LABEL),
        sa.Column("level", sa.SmallInteger),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("tag", name="pk_statistics"),
    )


def downgrade() -> None:
    op.drop_table("statistics")
    op.drop_table("bookings")
    op.create_table(
        "bookings",
        sa.Column("slot_id", LABEL),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("slot_id", name="pk_bookings"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_bookings_case_id_cases"),
    )
    op.create_index("ix_bookings_case_id", "bookings", ["case_id"])
    with op.batch_alter_table("sealed_messages") as batch:
        batch.drop_constraint("uq_sealed_messages_dedup_hash", type_="unique")
        batch.drop_column("dedup_hash")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("details")
        batch.add_column(sa.Column("persona", LABEL))
        batch.add_column(sa.Column("level", sa.SmallInteger))
        batch.add_column(sa.Column("categories", sa.JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("address", sa.LargeBinary))
