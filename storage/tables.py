"""The database schema. Every column holds ciphertext, a pseudonym, a random id, a keyed hash,
a time or a label."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

ID = sa.String(32)
PSEUDONYM = sa.String(64)
LABEL = sa.String(64)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Naive UTC in the database on every backend, aware UTC in Python."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("name", LABEL, primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("status", LABEL, nullable=False),
    # Persona, level and categories describe the person: under the case key, so that erasure
    # shreds them, dead tuples and backups included. Status and times stay clear for retention.
    sa.Column("details", sa.LargeBinary),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_activity_at", UTCDateTime, nullable=False, index=True),
    sa.Column("closed_at", UTCDateTime, index=True),
)


def _case_fk() -> sa.Column[str]:
    return sa.Column("case_id", ID, sa.ForeignKey("cases.id"), nullable=False, index=True)


conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("pseudonym", PSEUDONYM, primary_key=True),
    _case_fk(),
    sa.Column("state", sa.LargeBinary, nullable=False),
    # Where the channel answers this person (e.g. the Matrix room of the direct chat), under
    # the case key: the commission's replies reach the person without the room naming them.
    sa.Column("address", sa.LargeBinary),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

sealed_messages = sa.Table(
    "sealed_messages",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _case_fk(),
    sa.Column("kind", LABEL, nullable=False),
    sa.Column("key_id", LABEL, nullable=False),
    sa.Column("format_version", sa.SmallInteger, nullable=False),
    sa.Column("suite", LABEL, nullable=False),
    # HPKE ciphertext, itself wrapped with the case data key so that erasure reaches it.
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    # A replayed turn seals nothing twice, with or without a staff room to deliver to.
    sa.Column("dedup_hash", sa.String(64), unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

replies = sa.Table(
    "replies",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _case_fk(),
    sa.Column("text", sa.LargeBinary, nullable=False),
    # A staff-room command seen twice (a resent event) relays its reply once.
    sa.Column("dedup_hash", sa.String(64), unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

bookings = sa.Table(
    "bookings",
    metadata,
    # The primary key is what lets a slot be booked once, whatever the race; a keyed hash of
    # the slot id, so a database copy alone does not tell when anyone is expected.
    sa.Column("slot_hash", sa.String(64), primary_key=True),
    _case_fk(),
    # The slot id itself, under the case key, for the commission's view of the case.
    sa.Column("slot", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _case_fk(),
    sa.Column("kind", LABEL, nullable=False),
    sa.Column("dedup_hash", sa.String(64), nullable=False, unique=True),
    # Padded, under a key of its own in the key store; that key is destroyed on delivery (or
    # after RetentionPolicy.undelivered_copy_ttl), and with it every copy of the payload.
    sa.Column("payload", sa.LargeBinary),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, index=True),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("hash_label", LABEL, nullable=False),
    sa.Column("case_id", ID, sa.ForeignKey("cases.id"), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # HMAC over the other columns but created_at: a row re-pointed at another case is refused.
    sa.Column("mac", sa.String(64), nullable=False),
)

receipt_failures = sa.Table(
    "receipt_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pseudonym", PSEUDONYM, nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
)

statistics = sa.Table(
    "statistics",
    metadata,
    # What the yearly report counts, and nothing that leads back to a case: no case id, no
    # time finer than the month. The tag is a keyed hash under the case data key, so only a
    # living case finds its row again; once the key is destroyed the row belongs to no one.
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("persona", LABEL),
    sa.Column("level", sa.SmallInteger),
    sa.Column("categories", sa.JSON, nullable=False),
    # The closing fields of the yearly report, labels only (see store.CLOSING_FIELDS).
    sa.Column("closing", sa.JSON),
    # The channel kind, the directory ids the person was sent to, (instrument, band) pairs.
    sa.Column("channel", LABEL),
    sa.Column("routes", sa.JSON),
    sa.Column("score_bands", sa.JSON),
    sa.Column("reached_commission", sa.Boolean, nullable=False, server_default=sa.false()),
    # Delays as bands (records.DELAY_BANDS, FOLLOW_UP_BANDS), never as times.
    sa.Column("acknowledged_within", LABEL),
    sa.Column("first_reply_within", LABEL),
    sa.Column("follow_up", LABEL),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("event_type", LABEL, nullable=False),
    sa.Column("pseudonym", PSEUDONYM, index=True),
    # No foreign key: an audit line may name a case that is being created or erased.
    sa.Column("case_id", ID, index=True),
)

case_work = sa.Table(
    "case_work",
    metadata,
    # What the commission does with a case, one row per case, made on first use.
    sa.Column("case_id", ID, sa.ForeignKey("cases.id"), primary_key=True),
    # The staff-room event of the case card: the bot's own message, naming no one.
    sa.Column("thread_root", sa.String(255)),
    sa.Column("acknowledge_by", UTCDateTime),
    sa.Column("acknowledged_at", UTCDateTime),
    # When the case first reached the commission, where the report's delays start; it lives
    # here, with the case, and never in the statistics.
    sa.Column("alerted_at", UTCDateTime),
    sa.Column("next_reminder_at", UTCDateTime, index=True),
    # Compared and set in one statement, so two runs of the reminder job send one reminder.
    sa.Column("reminders_sent", sa.Integer, nullable=False, server_default=sa.text("0")),
    # The assignee (a member's Matrix id) and the closing fields, under the case key.
    sa.Column("work", sa.LargeBinary),
)

staff_events = sa.Table(
    "staff_events",
    metadata,
    # A keyed hash of the staff-room event id: a reaction or a thread message finds its case,
    # and a database copy alone cannot be matched against the room's history.
    sa.Column("event_hash", sa.String(64), primary_key=True),
    _case_fk(),
    sa.Column("kind", LABEL, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

case_notes = sa.Table(
    "case_notes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _case_fk(),
    # The commission's internal note, under the case key; never shown to the person.
    sa.Column("text", sa.LargeBinary, nullable=False),
    sa.Column("dedup_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

staff_actions = sa.Table(
    "staff_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("action", LABEL, nullable=False),
    # No foreign key: an action may concern no case (the calendar), or one being erased.
    sa.Column("case_id", ID, index=True),
    # A keyed hash of the member's Matrix id: who acted can be checked, not read.
    sa.Column("member_hash", sa.String(64), nullable=False),
)

schedule_marks = sa.Table(
    "schedule_marks",
    metadata,
    # A daily job's run (e.g. "digest:2026-03-02"), as a keyed hash: done once, restarts or not.
    sa.Column("name_hash", sa.String(64), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
)

calendar_days = sa.Table(
    "calendar_days",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    # NULL: the council is closed that day; "HH:MM-HH:MM": an extra opening.
    sa.Column("hours", sa.String(11)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

check_ins = sa.Table(
    "check_ins",
    metadata,
    # The opt-in check-ins (storage/check_ins.py): a random id, a day, a status, nothing of
    # the person's. The address and the scores stay with the conversation, under its key.
    sa.Column("id", ID, primary_key=True),
    # No foreign key: erasure deletes a case's conversations and their check-ins together.
    sa.Column("pseudonym", PSEUDONYM, nullable=False, index=True),
    sa.Column("channel", LABEL, nullable=False),
    sa.Column("due", sa.String(10), nullable=False, index=True),
    # Changed only by compare-and-set: scheduled, sent, answered, stopped or expired.
    sa.Column("status", LABEL, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
