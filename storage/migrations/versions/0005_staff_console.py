"""The commission's console: case work, staff-room links, notes, staff actions, daily marks,
calendar exceptions; conversations learn their address, replies their replay guard.

Revision ID: 0005
Revises: 0004

Every new column starts empty: nothing written before this revision has an address, a note
or a deadline to carry over, so no value needs the keys a migration never holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.String(32)
LABEL = sa.String(64)
HASH = sa.String(64)


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=f"fk_{table}_case_id_cases")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("address", sa.LargeBinary))
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("dedup_hash", HASH))
        batch.create_unique_constraint("uq_replies_dedup_hash", ["dedup_hash"])
    with op.batch_alter_table("statistics") as batch:
        batch.add_column(sa.Column("closing", sa.JSON))

    op.create_table(
        "case_work",
        sa.Column("case_id", ID),
        sa.Column("thread_root", sa.String(255)),
        sa.Column("acknowledge_by", sa.DateTime),
        sa.Column("acknowledged_at", sa.DateTime),
        sa.Column("next_reminder_at", sa.DateTime),
        sa.Column("reminders_sent", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("work", sa.LargeBinary),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_work"),
        _case_fk("case_work"),
    )
    op.create_index("ix_case_work_next_reminder_at", "case_work", ["next_reminder_at"])

    op.create_table(
        "staff_events",
        sa.Column("event_hash", HASH),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("kind", LABEL, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("event_hash", name="pk_staff_events"),
        _case_fk("staff_events"),
    )
    op.create_index("ix_staff_events_case_id", "staff_events", ["case_id"])

    op.create_table(
        "case_notes",
        sa.Column("id", ID),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("text", sa.LargeBinary, nullable=False),
        sa.Column("dedup_hash", HASH, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_notes"),
        sa.UniqueConstraint("dedup_hash", name="uq_case_notes_dedup_hash"),
        _case_fk("case_notes"),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])

    op.create_table(
        "staff_actions",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("action", LABEL, nullable=False),
        sa.Column("case_id", ID),
        sa.Column("member_hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_actions"),
    )
    op.create_index("ix_staff_actions_at", "staff_actions", ["at"])
    op.create_index("ix_staff_actions_case_id", "staff_actions", ["case_id"])

    op.create_table(
        "schedule_marks",
        sa.Column("name_hash", HASH),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("name_hash", name="pk_schedule_marks"),
    )

    op.create_table(
        "calendar_days",
        sa.Column("day", sa.String(10)),
        sa.Column("hours", sa.String(11)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_calendar_days"),
    )


def downgrade() -> None:
    for table in (
        "calendar_days",
        "schedule_marks",
        "staff_actions",
        "case_notes",
        "staff_events",
        "case_work",
    ):
        op.drop_table(table)
    with op.batch_alter_table("statistics") as batch:
        batch.drop_column("closing")
    with op.batch_alter_table("replies") as batch:
        batch.drop_constraint("uq_replies_dedup_hash", type_="unique")
        batch.drop_column("dedup_hash")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("address")
