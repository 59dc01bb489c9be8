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
