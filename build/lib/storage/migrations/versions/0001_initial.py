"""Initial schema: cases, conversations, mailbox, replies, bookings, outbox, receipts, audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)
LABEL = sa.String(64)
PSEUDONYM = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("name", LABEL),
        sa.Column("value", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_store_meta"),
    )
    op.create_table(
        "cases",
        sa.Column("id", ID),
        sa.Column("persona", LABEL),
        sa.Column("level", sa.SmallInteger),
        sa.Column("status", LABEL, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_activity_at", sa.DateTime, nullable=False),
        sa.Column("closed_at", sa.DateTime),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_last_activity_at", "cases", ["last_activity_at"])
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])

    op.create_table(
        "conversations",
        sa.Column("pseudonym", PSEUDONYM),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("address", sa.LargeBinary),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", name="pk_conversations"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_conversations_case_id_cases"),
    )
    op.create_index("ix_conversations_case_id", "conversations", ["case_id"])

    op.create_table(
        "sealed_messages",
        sa.Column("id", ID),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("kind", LABEL, nullable=False),
        sa.Column("key_id", LABEL, nullable=False),
        sa.Column("format_version", sa.SmallInteger, nullable=False),
        sa.Column("suite", LABEL, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sealed_messages"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_sealed_messages_case_id_cases"),
    )
    op.create_index("ix_sealed_messages_case_id", "sealed_messages", ["case_id"])

    op.create_table(
        "replies",
        sa.Column("id", ID),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("text", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_replies"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_replies_case_id_cases"),
    )
    op.create_index("ix_replies_case_id", "replies", ["case_id"])

    op.create_table(
        "bookings",
        sa.Column("slot_id", LABEL),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("slot_id", name="pk_bookings"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_bookings_case_id_cases"),
    )
    op.create_index("ix_bookings_case_id", "bookings", ["case_id"])

    op.create_table(
        "outbox",
        sa.Column("id", ID),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("kind", LABEL, nullable=False),
        sa.Column("dedup_hash", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("delivered_at", sa.DateTime),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_outbox_case_id_cases"),
        sa.UniqueConstraint("dedup_hash", name="uq_outbox_dedup_hash"),
    )
    op.create_index("ix_outbox_case_id", "outbox", ["case_id"])
    op.create_index("ix_outbox_delivered_at", "outbox", ["delivered_at"])

    op.create_table(
        "receipts",
        sa.Column("code_hash", sa.String(64)),
        sa.Column("hash_label", LABEL, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_receipts"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_receipts_case_id_cases"),
        sa.UniqueConstraint("case_id", name="uq_receipts_case_id"),
    )

    op.create_table(
        "receipt_failures",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("pseudonym", PSEUDONYM, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_receipt_failures"),
    )
    op.create_index("ix_receipt_failures_pseudonym", "receipt_failures", ["pseudonym"])
    op.create_index("ix_receipt_failures_at", "receipt_failures", ["at"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("event_type", LABEL, nullable=False),
        sa.Column("pseudonym", PSEUDONYM),
        sa.Column("case_id", ID),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_pseudonym", "events", ["pseudonym"])
    op.create_index("ix_events_case_id", "events", ["case_id"])


def downgrade() -> None:
    for table in (
        "events",
        "receipt_failures",
        "receipts",
        "outbox",
        "bookings",
        "replies",
        "sealed_messages",
        "conversations",
        "cases",
        "store_meta",
    ):
        op.drop_table(table)
