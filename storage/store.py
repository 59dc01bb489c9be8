"""The case store: pseudonymous, encrypted, and blind to what a conversation means.

Everything the bot must read back (conversation state, what describes the case, replies)
is encrypted with the case's own data key, so destroying the key (erasure) makes every copy
unreadable, backups included. What a person writes for the commission is sealed to the
commission's public key and wrapped once more with that data key; its staff-room delivery
copy, when a staff room exists, has a key of its own, destroyed once delivered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flows import crockford
from storage import envelope, sealing, statistics, tables
from storage.check_ins import CheckIn, CheckInBook, cases_waiting
from storage.config import StorageSettings, is_within
from storage.engine import checkpoint, create_engine, sqlite_foreign_keys_off
from storage.errors import SecretsError, StorageError, UnknownCase
from storage.keys import ServerSecrets, load_server_secrets
from storage.keystore import CaseKeyStore
from storage.migrate import upgrade
from storage.policy import ReceiptPolicy, RetentionPolicy
from storage.receipt_book import ReceiptBook
from storage.records import (
    Address,
    CaseFile,
    CaseInfo,
    Conversation,
    Note,
    OutboxItem,
    Reply,
    SealedMessage,
    StaffEvent,
    StatisticsRow,
)
from storage.sealing import CommissionPublicKey

log = logging.getLogger(__name__)

STATUS_OPEN = "open"
# A commission member acknowledged the case: no more reminders.
STATUS_IN_PROGRESS = "in_progress"
# Retention counts from the moment a case closes.
STATUS_CLOSED = "closed"
STATUSES = (STATUS_OPEN, STATUS_IN_PROGRESS, STATUS_CLOSED)
# The yearly report's closing fields and the labels each accepts (the Var council's table).
CLOSING_FIELDS: Mapping[str, frozenset[str]] = {
    "sex": frozenset({"female", "male", "unknown"}),
    "practice": frozenset({"salaried", "self_employed", "mixed", "retired", "student", "unknown"}),
    "age_band": frozenset({"under_50", "50_60", "over_60", "unknown"}),
    "origin": frozenset({"own_request", "reported", "unknown"}),
    "motive": frozenset({"psychiatric", "other_illness", "not_ill", "unknown"}),
    "help": frozenset({"financial", "not_financial", "both", "none"}),
    "outcome": frozenset(
        {
            "return_to_work",
            "invalidity",
            "long_sick_leave",
            "retirement",
            "liquidation",
            "death",
            "lost_to_follow_up",
            "ongoing_elsewhere",
            "other",
        }
    ),
}
# A key written to the key store whose case row never followed (a crash in between).
ORPHAN_KEY_GRACE = timedelta(days=1)
CASE_KEY_CACHE = 1024
CALENDAR_FRESH_SECONDS = 30.0
DEFAULT_RETENTION = RetentionPolicy()
DEFAULT_RECEIPTS = ReceiptPolicy()
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
_PSEUDONYM = re.compile(r"[0-9a-f]{64}\Z")
_EVENT_ID = re.compile(r"\$[A-Za-z0-9_.:+/=-]{1,254}\Z")
_HOURS = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]-(?:[01][0-9]|2[0-3]):[0-5][0-9]\Z")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _matching(pattern: re.Pattern[str], value: str, refusal: str) -> str:
    if not pattern.match(value):
        raise ValueError(refusal)
    return value


def _label(value: str, what: str) -> str:
    """Labels are the only free strings stored in clear, so they may not carry content."""
    return _matching(_LABEL, value, f"{what} must be a short identifier")


def _pseudonym(value: str) -> str:
    """Refuse anything but a pseudonym, so a raw identity can never reach a column."""
    return _matching(_PSEUDONYM, value, "expected a pseudonym from Store.pseudonym()")


def _status(value: str) -> str:
    if value not in STATUSES:
        raise ValueError("unknown case status")
    return value


def _closing(fields: Mapping[str, str]) -> dict[str, str]:
    """Every closing field, each one of its labels: the report counts nothing else."""
    if set(fields) != set(CLOSING_FIELDS):
        raise ValueError("closing needs exactly the fields " + ", ".join(CLOSING_FIELDS))
    for name, value in fields.items():
        if value not in CLOSING_FIELDS[name]:
            raise ValueError(f"closing field {name} has no such label")
    return dict(fields)


def _hours(value: str) -> str:
    """Opening hours "HH:MM-HH:MM", the start before the end."""
    if not _HOURS.match(value) or value[:5] >= value[6:]:
        raise ValueError("hours must read HH:MM-HH:MM, the start before the end")
    return value


def _event_id(value: str) -> str:
    """A Matrix event id: the one clear value in the console's rows that is not a label."""
    return _matching(_EVENT_ID, value, "expected a Matrix event id")


def _day(value: date) -> str:
    if isinstance(value, datetime):
        raise ValueError("expected a day, not a time")
    return value.isoformat()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class _Reach(NamedTuple):
    """A conversation's address as the channel gave it, before it goes under the case key."""

    channel: str
    address: str


def _new_case_id() -> str:
    return crockford.encode(secrets.randbits(80), 16).lower()


def _new_id() -> str:
    return secrets.token_hex(16)


class Store:
    def __init__(
        self,
        engine: AsyncEngine,
        secrets_: ServerSecrets,
        keystore: CaseKeyStore,
        *,
        retention: RetentionPolicy,
        receipts: ReceiptPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._secrets = secrets_
        self._keystore = keystore
        self._retention = retention
        self._receipts = receipts
        self._clock = clock
        self._sqlite = engine.dialect.name == "sqlite"
        self._keys: OrderedDict[str, bytes] = OrderedDict()
        self._receipt_book = ReceiptBook(
            engine, secrets_.hmac_key, receipts, clock=self._now, audit=self.record_event
        )
        self._check_ins = CheckInBook(engine, clock=self._now)
        # Where the secrets came from, to follow `keys rotate` without a restart.
        self._secrets_file: Path | None = None
        self._secrets_stamp: int | None = None
        # The calendar's exceptions, read at every turn and changed a few times a year.
        self._calendar: tuple[float, dict[date, str | None]] | None = None
        self._calendar_changes = 0

    @classmethod
    async def open(
        cls,
        database_url: str,
        secrets: ServerSecrets,
        *,
        case_keys_file: Path,
        retention: RetentionPolicy = DEFAULT_RETENTION,
        receipts: ReceiptPolicy = DEFAULT_RECEIPTS,
        clock: Callable[[], datetime] = utcnow,
    ) -> Store:
        """Connect, migrate to the newest schema, and check the key store matches."""
        keystore = await asyncio.to_thread(CaseKeyStore, case_keys_file)
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn, sqlite_foreign_keys_off(conn), conn.begin():
                await conn.run_sync(upgrade)
                await cls._bind_keystore(conn, keystore.id)
        except BaseException:
            await engine.dispose()
            await asyncio.to_thread(keystore.close)
            raise
        return cls(engine, secrets, keystore, retention=retention, receipts=receipts, clock=clock)

    @staticmethod
    async def _bind_keystore(conn: AsyncConnection, keystore_id: str) -> None:
        # A key store from elsewhere would make every case look erased: refuse instead.
        meta = tables.store_meta
        found = await conn.scalar(sa.select(meta.c.value).where(meta.c.name == "keystore_id"))
        if found is None:
            await conn.execute(sa.insert(meta).values(name="keystore_id", value=keystore_id))
        elif found != keystore_id:
            raise StorageError("the case key store does not belong to this database")

    @property
    def retention(self) -> RetentionPolicy:
        """How long cases are kept, for the console to tell the members."""
        return self._retention

    async def close(self) -> None:
        await self._engine.dispose()
        await asyncio.to_thread(self._keystore.close)
        self._keys.clear()

    # -- identities -------------------------------------------------------------------

    def pseudonym(self, channel: str, identity: str) -> str:
        message = b"\x00".join(
            [b"entraide/pseudonym", _label(channel, "channel").encode(), identity.encode()]
        )
        return hmac.new(self._secrets.hmac_key, message, hashlib.sha256).hexdigest()

    # -- keys -------------------------------------------------------------------------

    async def _case_key(self, case_id: str) -> bytes | None:
        key = self._keys.get(case_id)
        if key is not None:
            self._keys.move_to_end(case_id)
            return key
        wrapped = await asyncio.to_thread(self._keystore.get, case_id)
        if wrapped is None:
            return None
        key = envelope.unwrap_case_key(self._secrets.kek, case_id, wrapped)
        self._keys[case_id] = key
        if len(self._keys) > CASE_KEY_CACHE:
            self._keys.popitem(last=False)
        return key

    async def _require_key(self, case_id: str) -> bytes:
        key = await self._case_key(case_id)
        if key is None:
            raise UnknownCase("no such case")
        return key

    # -- conversations ----------------------------------------------------------------

    async def load_conversation(self, pseudonym: str) -> Conversation | None:
        _pseudonym(pseudonym)
        conv = tables.conversations
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(conv).where(conv.c.pseudonym == pseudonym))).first()
        if row is None:
            return None
        key = await self._case_key(row.case_id)
        if key is None:
            # The key store belongs to this database (checked at open), so a missing key means
            # the case was erased and these rows came back with a restored copy.
            await self.erase_case(row.case_id)
            return None
        state = envelope.decrypt(
            key, row.state, purpose="state", case_id=row.case_id, context=pseudonym
        )
        return Conversation(row.case_id, json.loads(state))

    async def save_conversation(
        self,
        pseudonym: str,
        state: dict[str, Any],
        *,
        channel: str | None = None,
        address: str | None = None,
    ) -> str:
        """Store the state, and the address the channel answers on when one is given (None
        keeps the stored one); the first save creates the case."""
        _pseudonym(pseudonym)
        reach = None
        if address is not None:
            if channel is None:
                raise ValueError("an address needs its channel")
            reach = _Reach(_label(channel, "channel"), address)
        return await self._save(pseudonym, state, reach)

    async def _save(self, pseudonym: str, state: dict[str, Any], reach: _Reach | None) -> str:
        conv = tables.conversations
        async with self._engine.connect() as conn:
            case_id = await conn.scalar(
                sa.select(conv.c.case_id).where(conv.c.pseudonym == pseudonym)
            )
        if case_id is not None:
            key = await self._case_key(case_id)
            if key is not None:
                await self._update_conversation(pseudonym, case_id, key, state, reach)
                return str(case_id)
            await self.erase_case(case_id)
        return await self._create_case(pseudonym, state, reach)

    def _conversation_values(
        self,
        pseudonym: str,
        case_id: str,
        key: bytes,
        state: dict[str, Any],
        reach: _Reach | None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "state": envelope.encrypt(
                key, _json(state), purpose="state", case_id=case_id, context=pseudonym
            ),
            "updated_at": self._now(),
        }
        if reach is not None:
            values["address"] = envelope.encrypt(
                key,
                _json({"channel": reach.channel, "address": reach.address}),
                purpose="address",
                case_id=case_id,
                context=pseudonym,
            )
        return values

    async def _update_conversation(
        self,
        pseudonym: str,
        case_id: str,
        key: bytes,
        state: dict[str, Any],
        reach: _Reach | None,
    ) -> None:
        values = self._conversation_values(pseudonym, case_id, key, state, reach)
        conv = tables.conversations
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(conv)
                .where(conv.c.pseudonym == pseudonym, conv.c.case_id == case_id)
                .values(**values)
            )
            await self._touch(conn, case_id)

    async def _create_case(
        self, pseudonym: str, state: dict[str, Any], reach: _Reach | None
    ) -> str:
        case_id = _new_case_id()
        now = self._now()
        key = envelope.new_key()
        wrapped = envelope.wrap_case_key(self._secrets.kek, case_id, key)
        # The key goes first, so a case row never exists without its key.
        await asyncio.to_thread(self._keystore.put, case_id, wrapped, now)
        values = self._conversation_values(pseudonym, case_id, key, state, reach)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sa.insert(tables.cases).values(
                        id=case_id,
                        status=STATUS_OPEN,
                        created_at=now,
                        last_activity_at=now,
                    )
                )
                await conn.execute(
                    sa.insert(tables.conversations).values(
                        pseudonym=pseudonym, case_id=case_id, **values
                    )
                )
        except IntegrityError:
            # Another task created this conversation first: drop our key and save into theirs.
            await asyncio.to_thread(self._keystore.delete, case_id)
            return await self._save(pseudonym, state, reach)
        self._keys[case_id] = key
        log.debug("case.created case=%s", case_id)
        return case_id

    async def _reach(self, pseudonym: str, case_id: str) -> _Reach | None:
        key = await self._require_key(case_id)
        conv = tables.conversations
        async with self._engine.connect() as conn:
            blob = await conn.scalar(sa.select(conv.c.address).where(conv.c.pseudonym == pseudonym))
        return None if blob is None else _read_reach(key, case_id, pseudonym, blob)

    async def addresses(self, case_id: str) -> list[Address]:
        """Where the case's person can be reached, the newest conversation first."""
        key = await self._require_key(case_id)
        async with self._engine.connect() as conn:
            return await _addresses(conn, key, case_id)

    async def case_of(self, pseudonym: str) -> str | None:
        """The case of this conversation, while its key lives."""
        _pseudonym(pseudonym)
        conv = tables.conversations
        async with self._engine.connect() as conn:
            case_id = await conn.scalar(
                sa.select(conv.c.case_id).where(conv.c.pseudonym == pseudonym)
            )
        if case_id is None or await self._case_key(case_id) is None:
            return None
        return str(case_id)

    async def _touch(self, conn: AsyncConnection, case_id: str) -> None:
        await conn.execute(
            sa.update(tables.cases)
            .where(tables.cases.c.id == case_id)
            .values(last_activity_at=self._now())
        )

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return now

    # -- cases ------------------------------------------------------------------------

    @asynccontextmanager
    async def writes_for(self, pseudonym: str) -> AsyncIterator[CaseWrites | None]:
        """The writes to this person's case, in one transaction (None: no case yet)."""
        _pseudonym(pseudonym)
        conv = tables.conversations
        async with self._engine.begin() as conn:
            case_id = await conn.scalar(
                sa.select(conv.c.case_id).where(conv.c.pseudonym == pseudonym)
            )
            key = None if case_id is None else await self._case_key(case_id)
            yield None if case_id is None or key is None else CaseWrites(self, conn, case_id, key)

    @asynccontextmanager
    async def _writes(self, case_id: str) -> AsyncIterator[CaseWrites]:
        key = await self._require_key(case_id)
        async with self._engine.begin() as conn:
            yield CaseWrites(self, conn, case_id, key)

    async def update_case(
        self,
        case_id: str,
        *,
        persona: str | None = None,
        level: int | None = None,
        status: str | None = None,
        categories: Sequence[str] | None = None,
    ) -> None:
        async with self._writes(case_id) as case:
            await case.update(persona=persona, level=level, status=status, categories=categories)

    async def get_case(self, case_id: str) -> CaseInfo | None:
        cases = tables.cases
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(cases).where(cases.c.id == case_id))).first()
        key = None if row is None else await self._case_key(case_id)
        if row is None or key is None:
            return None
        details = _opened(key, case_id, row.details, "details")
        return CaseInfo(
            case_id=row.id,
            persona=details.get("persona"),
            level=details.get("level"),
            status=row.status,
            categories=tuple(details.get("categories", ())),
            created_at=row.created_at,
            last_activity_at=row.last_activity_at,
            closed_at=row.closed_at,
        )

    def _keyed_hash(self, purpose: str, value: str) -> str:
        message = b"entraide/" + purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._secrets.hmac_key, message, hashlib.sha256).hexdigest()

    def _insert_once(self, table: sa.Table, values: dict[str, Any]) -> sa.Insert:
        """An insert that a unique key turns into nothing (rowcount 0) instead of an error,
        so a replay does not abort the rest of its transaction."""
        insert = sqlite_insert if self._sqlite else postgresql_insert
        return insert(table).values(**values).on_conflict_do_nothing()

    # -- the sealed mailbox and the commission's replies --------------------------------

    async def seal_for_commission(
        self, case_id: str, kind: str, payload: bytes, *, dedup_key: str | None = None
    ) -> bool:
        """False when this dedup key was already sealed (a replayed turn)."""
        async with self._writes(case_id) as case:
            return await case.seal(kind, payload, dedup_key=dedup_key)

    def follow_secrets_file(self, path: Path) -> None:
        """Seal to the commission key the secrets file names now: after `keys rotate` the
        running bot seals to the new key at once, without a restart."""
        self._secrets_file = path
        self._secrets_stamp = path.stat().st_mtime_ns

    def _commission_key(self) -> CommissionPublicKey:
        path = self._secrets_file
        if path is not None:
            stamp = path.stat().st_mtime_ns
            if stamp != self._secrets_stamp:
                fresh = load_server_secrets(path)
                # Only the commission's keys may change under a running store; the other
                # secrets belong to this database and stay.
                self._secrets = replace(
                    self._secrets,
                    commission_keys=fresh.commission_keys,
                    current_key_id=fresh.current_key_id,
                )
                self._secrets_stamp = stamp
        return self._secrets.current_commission_key

    def _sealed_row(
        self, key: bytes, case_id: str, kind: str, payload: bytes, dedup_key: str | None
    ) -> dict[str, Any]:
        public_key = self._commission_key()
        message_id = _new_id()
        sealed = sealing.seal(
            public_key, payload, case_id=case_id, message_id=message_id, kind=_label(kind, "kind")
        )
        wrapped = envelope.encrypt(
            key, sealed, purpose="sealed", case_id=case_id, context=message_id
        )
        return {
            "id": message_id,
            "case_id": case_id,
            "kind": kind,
            "key_id": public_key.key_id,
            "format_version": sealing.FORMAT_VERSION,
            "suite": public_key.suite,
            "ciphertext": wrapped,
            "dedup_hash": None if dedup_key is None else self._keyed_hash("sealed", dedup_key),
            "created_at": self._now(),
        }

    async def _case_rows(self, table: sa.Table, case_id: str) -> list[sa.Row[Any]]:
        """Every row of ``table`` about the case, oldest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(table)
                .where(table.c.case_id == case_id)
                .order_by(table.c.created_at, table.c.id)
            )
            return list(result.all())

    async def sealed_messages(self, case_id: str) -> list[SealedMessage]:
        key = await self._require_key(case_id)
        rows = await self._case_rows(tables.sealed_messages, case_id)
        return [
            SealedMessage(
                id=row.id,
                case_id=case_id,
                kind=row.kind,
                key_id=row.key_id,
                format_version=row.format_version,
                suite=row.suite,
                ciphertext=envelope.decrypt(
                    key, row.ciphertext, purpose="sealed", case_id=case_id, context=row.id
                ),
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def cases_sealed_since(self, since: datetime) -> list[str]:
        """The cases that received a sealed message at or after ``since``, oldest first."""
        sealed = tables.sealed_messages
        first = sa.func.min(sealed.c.created_at)
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(sealed.c.case_id)
                .where(sealed.c.created_at >= since)
                .group_by(sealed.c.case_id)
                .order_by(first, sealed.c.case_id)
            )
            return list(result.scalars())

    async def append_reply(
        self, case_id: str, text: str, *, dedup_key: str | None = None
    ) -> str | None:
        """The reply's id; None when this dedup key was already relayed."""
        async with self._writes(case_id) as case:
            return await case.append_reply(text, dedup_key=dedup_key)

    async def replies(self, case_id: str) -> list[Reply]:
        return [Reply(*text) for text in await self._texts(tables.replies, "reply", case_id)]

    async def _texts(
        self, table: sa.Table, purpose: str, case_id: str
    ) -> list[tuple[str, str, datetime]]:
        """(id, text, created_at) of the case's replies or notes, oldest first."""
        key = await self._require_key(case_id)
        return [
            (
                row.id,
                envelope.decrypt(
                    key, row.text, purpose=purpose, case_id=case_id, context=row.id
                ).decode(),
                row.created_at,
            )
            for row in await self._case_rows(table, case_id)
        ]

    # -- the commission's console ------------------------------------------------------

    async def case_file(self, case_id: str) -> CaseFile | None:
        """None once the case key is gone."""
        files = await self._case_files(tables.cases.c.id == case_id)
        return files[0] if files else None

    async def open_case_files(self) -> list[CaseFile]:
        """Every case not closed, the most urgent first: by level (none last), then by
        acknowledgement deadline (none last), then oldest first."""
        files = await self._case_files(tables.cases.c.status != STATUS_CLOSED)
        never = datetime.max.replace(tzinfo=UTC)
        return sorted(
            files,
            key=lambda file: (
                file.level is None,
                -(file.level or 0),
                file.acknowledge_by or never,
                file.created_at,
            ),
        )

    async def overdue_cases(self, now: datetime) -> list[CaseFile]:
        """Cases nobody acknowledged whose next reminder is due."""
        work = tables.case_work
        return await self._case_files(
            sa.and_(
                tables.cases.c.status != STATUS_CLOSED,
                work.c.acknowledged_at.is_(None),
                work.c.next_reminder_at <= now,
            )
        )

    async def _case_files(self, condition: sa.ColumnElement[bool]) -> list[CaseFile]:
        cases, work = tables.cases, tables.case_work
        query = (
            sa.select(
                cases,
                work.c.thread_root,
                work.c.acknowledge_by,
                work.c.acknowledged_at,
                work.c.reminders_sent,
                work.c.work,
            )
            .select_from(cases.outerjoin(work))
            .where(condition)
            .order_by(cases.c.created_at, cases.c.id)
        )
        files = []
        async with self._engine.connect() as conn:
            for row in (await conn.execute(query)).all():
                key = await self._case_key(row.id)
                if key is not None:
                    files.append(await _case_file(conn, key, row))
        return files

    async def set_thread_root(self, case_id: str, event_id: str) -> None:
        async with self._writes(case_id) as case:
            await case.set_thread_root(event_id)

    async def acknowledge(self, case_id: str, member: str) -> bool:
        """False when a member already acknowledged the case."""
        async with self._writes(case_id) as case:
            return await case.acknowledge(member)

    async def unacknowledge(self, case_id: str, member: str) -> bool:
        """False when nobody had acknowledged the case."""
        async with self._writes(case_id) as case:
            return await case.unacknowledge(member)

    async def assign(self, case_id: str, member: str | None, by: str) -> None:
        async with self._writes(case_id) as case:
            await case.assign(member, by)

    async def set_status(self, case_id: str, status: str, member: str) -> None:
        async with self._writes(case_id) as case:
            await case.set_status(status, member)

    async def close_case(self, case_id: str, closing: Mapping[str, str], member: str) -> None:
        async with self._writes(case_id) as case:
            await case.close(closing, member)

    async def reopen(self, case_id: str, member: str) -> None:
        async with self._writes(case_id) as case:
            await case.reopen(member)

    async def record_reminder(
        self, case_id: str, number: int, next_at: datetime, payload: dict[str, Any]
    ) -> bool:
        """False when this reminder was already queued (another run of the job)."""
        async with self._writes(case_id) as case:
            return await case.record_reminder(number, next_at, payload)

    def _event_hash(self, event_id: str) -> str:
        return self._keyed_hash("staff-event", event_id)

    async def link_staff_event(self, event_id: str, case_id: str, kind: str) -> None:
        """Ties a staff-room event to its case; linking it again changes nothing."""
        async with self._writes(case_id) as case:
            await case.link_staff_event(event_id, kind)

    async def staff_event(self, event_id: str) -> StaffEvent | None:
        table = tables.staff_events
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(table).where(table.c.event_hash == self._event_hash(event_id))
                )
            ).first()
        return None if row is None else StaffEvent(row.case_id, row.kind, row.at)

    async def add_note(self, case_id: str, text: str, *, dedup_key: str) -> bool:
        """False when this dedup key was already noted."""
        async with self._writes(case_id) as case:
            return await case.add_note(text, dedup_key=dedup_key)

    async def notes(self, case_id: str) -> list[Note]:
        return [Note(*text) for text in await self._texts(tables.case_notes, "note", case_id)]

    def member_hash(self, member: str) -> str:
        """What the audit trail keeps of a staff member: an operator who knows the list of
        members can tell which one acted; the table alone names nobody."""
        return self._keyed_hash("staff-member", member)

    def _staff_action_row(self, action: str, case_id: str | None, member: str) -> sa.Insert:
        return sa.insert(tables.staff_actions).values(
            at=self._now(),
            action=_label(action, "action"),
            case_id=case_id,
            member_hash=self.member_hash(member),
        )

    async def record_staff_action(self, action: str, case_id: str | None, member: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(self._staff_action_row(action, case_id, member))

    async def staff_actions(self, case_id: str) -> list[tuple[datetime, str, str]]:
        """(at, action, member hash), oldest first."""
        table = tables.staff_actions
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(table.c.at, table.c.action, table.c.member_hash)
                .where(table.c.case_id == case_id)
                .order_by(table.c.at, table.c.id)
            )
            return [(row.at, row.action, row.member_hash) for row in rows]

    # -- the console's daily jobs and calendar ----------------------------------------

    async def done(self, name: str) -> bool:
        """Whether the job run ``name`` (e.g. "digest:2026-03-02") was marked done."""
        table = tables.schedule_marks
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                sa.select(table.c.at).where(table.c.name_hash == self._keyed_hash("mark", name))
            )
        return found is not None

    async def mark_done(self, name: str) -> None:
        row = {"name_hash": self._keyed_hash("mark", name), "at": self._now()}
        async with self._engine.begin() as conn:
            await conn.execute(self._insert_once(tables.schedule_marks, row))

    async def set_calendar_day(self, day: date, hours: str | None) -> None:
        """None closes the council that day; "HH:MM-HH:MM" opens it then."""
        row = {
            "day": _day(day),
            "hours": None if hours is None else _hours(hours),
            "updated_at": self._now(),
        }
        table = tables.calendar_days
        async with self._calendar_change(), self._engine.begin() as conn:
            await conn.execute(sa.delete(table).where(table.c.day == row["day"]))
            await conn.execute(sa.insert(table).values(row))

    async def clear_calendar_day(self, day: date) -> None:
        table = tables.calendar_days
        async with self._calendar_change(), self._engine.begin() as conn:
            await conn.execute(sa.delete(table).where(table.c.day == _day(day)))

    @asynccontextmanager
    async def _calendar_change(self) -> AsyncIterator[None]:
        """A read that overlaps a change does not keep what it read."""
        self._calendar_changes += 1
        self._calendar = None
        try:
            yield
        finally:
            self._calendar_changes += 1
            self._calendar = None

    async def calendar_days(self) -> dict[date, str | None]:
        """Kept for CALENDAR_FRESH_SECONDS: every turn asks, and on SQLite each question
        waits for the one connection. A change made through this store is seen at once;
        one made by another process within that time."""
        now = time.monotonic()
        if self._calendar is not None and now - self._calendar[0] < CALENDAR_FRESH_SECONDS:
            return dict(self._calendar[1])
        changes = self._calendar_changes
        table = tables.calendar_days
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(table.c.day, table.c.hours))
            days = {date.fromisoformat(row.day): row.hours for row in rows}
        if changes == self._calendar_changes:
            self._calendar = (now, days)
        return dict(days)

    # -- appointments -----------------------------------------------------------------

    async def book_slot(self, case_id: str, slot_id: str) -> bool:
        """True when the slot is now this case's (also when it already was); False if taken."""
        async with self._writes(case_id) as case:
            return await case.book_slot(slot_id)

    async def cancel_booking(self, case_id: str, slot_id: str | None = None) -> None:
        async with self._writes(case_id) as case:
            await case.cancel_booking(slot_id)

    async def bookings(self, case_id: str) -> list[str]:
        key = await self._require_key(case_id)
        async with self._engine.connect() as conn:
            return await _bookings(conn, key, case_id)

    def _slot_hash(self, slot_id: str) -> str:
        return self._keyed_hash("slot", _label(slot_id, "slot id"))

    async def all_bookings(self) -> list[tuple[str, str]]:
        """(case id, slot id) of every booking whose case key lives, by slot."""
        table = tables.bookings
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(table))).all()
        found = []
        for row in rows:
            key = await self._case_key(row.case_id)
            if key is not None:
                found.append((row.case_id, _slot(key, row.case_id, row)))
        return sorted(found, key=lambda booking: (booking[1], booking[0]))

    async def taken_slots(self, candidates: Iterable[str]) -> set[str]:
        """Which of these slot ids are booked; the table holds only their keyed hashes."""
        by_hash = {self._slot_hash(slot_id): slot_id for slot_id in candidates}
        table = tables.bookings
        async with self._engine.connect() as conn:
            found = await conn.scalars(
                sa.select(table.c.slot_hash).where(table.c.slot_hash.in_(list(by_hash)))
            )
            return {by_hash[slot_hash] for slot_hash in found}

    # -- outbox -----------------------------------------------------------------------

    async def enqueue(
        self, case_id: str, kind: str, payload: dict[str, Any], *, dedup_key: str
    ) -> bool:
        """False when this dedup key was already enqueued (a replayed turn)."""
        async with self._writes(case_id) as case:
            return await case.enqueue(kind, payload, dedup_key=dedup_key)

    def _wrap_item_key(self, case_id: str, item_id: str, key: bytes) -> bytes:
        return envelope.encrypt(
            self._secrets.kek, key, purpose="item-key", case_id=case_id, context=item_id
        )

    async def _item_key(self, case_id: str, item_id: str) -> bytes | None:
        wrapped = await asyncio.to_thread(self._keystore.get_item, item_id)
        if wrapped is None:
            return None
        return envelope.decrypt(
            self._secrets.kek, wrapped, purpose="item-key", case_id=case_id, context=item_id
        )

    async def pending_outbox(self, limit: int = 50) -> list[OutboxItem]:
        table = tables.outbox
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(table)
                    .where(table.c.delivered_at.is_(None), table.c.payload.is_not(None))
                    .order_by(table.c.created_at, table.c.id)
                    .limit(limit)
                )
            ).all()
        items = []
        for row in rows:
            key = await self._item_key(row.case_id, row.id)
            if key is None:
                continue
            padded = envelope.decrypt(
                key, row.payload, purpose="outbox", case_id=row.case_id, context=row.id
            )
            payload = json.loads(sealing.unpad(padded))
            items.append(OutboxItem(row.id, row.case_id, row.kind, payload, row.created_at))
        return items

    async def mark_delivered(self, item_id: str) -> None:
        """The copy's key is destroyed, which shreds the payload in every copy of the
        database; the row stays so a replay is still caught."""
        await asyncio.to_thread(self._keystore.delete_items, [item_id])
        table = tables.outbox
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(table)
                .where(table.c.id == item_id)
                .values(delivered_at=self._now(), payload=None)
            )

    # -- receipts ---------------------------------------------------------------------

    async def issue_receipt(self, case_id: str) -> str:
        """A new code for the case (replacing any earlier one); shown once, stored as a hash."""
        if await self.get_case(case_id) is None:
            raise UnknownCase("no such case")
        return await self._receipt_book.issue(case_id)

    async def redeem_receipt(self, code: str, pseudonym: str) -> str | None:
        """The case id, after linking this pseudonym to it; None for a wrong code.

        Raises ReceiptThrottled, as ReceiptBook.redeem says.
        """
        case_id = await self._receipt_book.redeem(code, _pseudonym(pseudonym))
        if case_id is None:
            return None
        await self._link(pseudonym, case_id)
        await self.record_event("receipt.redeemed", pseudonym=pseudonym, case_id=case_id)
        return case_id

    async def _link(self, pseudonym: str, case_id: str) -> None:
        """Attach this conversation to ``case_id``, carrying its state over to the case key."""
        key = await self._require_key(case_id)
        current = await self.load_conversation(pseudonym)
        if current is not None and current.case_id == case_id:
            return
        state = {} if current is None else current.state
        # The conversation goes on where it is: its address moves over with it.
        reach = None if current is None else await self._reach(pseudonym, current.case_id)
        values = self._conversation_values(pseudonym, case_id, key, state, reach)
        conv = tables.conversations
        async with self._engine.begin() as conn:
            if current is None:
                await conn.execute(
                    sa.insert(conv).values(pseudonym=pseudonym, case_id=case_id, **values)
                )
            else:
                await conn.execute(
                    sa.update(conv)
                    .where(conv.c.pseudonym == pseudonym)
                    .values(case_id=case_id, **values)
                )
            await self._touch(conn, case_id)
        if current is not None and await self._is_empty_shell(current.case_id):
            await self.erase_case(current.case_id)

    async def _is_empty_shell(self, case_id: str) -> bool:
        """A case that only ever held a conversation, now moved elsewhere."""
        async with self._engine.connect() as conn:
            for table in (
                tables.conversations,
                tables.sealed_messages,
                tables.replies,
                tables.bookings,
                tables.outbox,
                tables.case_work,
                tables.case_notes,
                tables.staff_events,
                tables.staff_actions,
            ):
                found = await conn.scalar(
                    sa.select(sa.func.count()).select_from(table).where(table.c.case_id == case_id)
                )
                if found:
                    return False
        return True

    # -- check-ins (storage/check_ins.py) -----------------------------------------------

    async def schedule_check_in(self, pseudonym: str, channel: str, due: date) -> str:
        """A check-in of this conversation on ``due``, in place of any still to come."""
        return await self._check_ins.schedule(
            _pseudonym(pseudonym), _label(channel, "channel"), _day(due)
        )

    async def stop_check_ins(self, pseudonym: str) -> int:
        return await self._check_ins.stop(_pseudonym(pseudonym))

    async def check_ins(self, pseudonym: str) -> list[CheckIn]:
        return await self._check_ins.of(_pseudonym(pseudonym))

    async def due_check_ins(self, today: date) -> list[CheckIn]:
        return await self._check_ins.due(_day(today))

    async def move_check_in(self, check_in: str, was: str, becomes: str) -> bool:
        """Compare-and-set on the check-in's status (storage/check_ins.py lists the moves)."""
        return await self._check_ins.move(check_in, was, becomes)

    async def expire_check_ins(self, due_before: date) -> int:
        return await self._check_ins.expire(_day(due_before))

    # -- erasure and retention ----------------------------------------------------------

    async def erase_case(self, case_id: str) -> None:
        """Destroy the case key first (crypto-shredding), then every row about the case."""
        await asyncio.to_thread(self._keystore.delete, case_id)
        self._keys.pop(case_id, None)
        async with self._engine.begin() as conn:
            conv = tables.conversations
            pseudonyms = list(
                await conn.scalars(sa.select(conv.c.pseudonym).where(conv.c.case_id == case_id))
            )
            for table in reversed(tables.metadata.sorted_tables):
                if "case_id" in table.c:
                    await conn.execute(sa.delete(table).where(table.c.case_id == case_id))
            if pseudonyms:
                for table in (tables.events, tables.receipt_failures, tables.check_ins):
                    await conn.execute(sa.delete(table).where(table.c.pseudonym.in_(pseudonyms)))
            await conn.execute(sa.delete(tables.cases).where(tables.cases.c.id == case_id))
            await conn.execute(
                sa.insert(tables.events).values(at=self._now(), event_type="case.erased")
            )
        await self._checkpoint()
        log.debug("case.erased case=%s", case_id)

    async def _checkpoint(self) -> None:
        if self._sqlite:
            await checkpoint(self._engine)

    async def purge_expired(self) -> int:
        """Erase every case past its retention; returns how many were erased."""
        now = self._now()
        cases = tables.cases
        closed_cutoff = now - self._retention.closed_case_ttl
        active_cutoff = now - self._retention.active_case_ttl
        expired_condition = sa.and_(
            sa.or_(
                sa.and_(
                    cases.c.closed_at.is_not(None),
                    cases.c.closed_at < closed_cutoff,
                    cases.c.last_activity_at < closed_cutoff,
                ),
                cases.c.last_activity_at < active_cutoff,
            ),
            # The person asked to be written to again: the case waits for that day.
            cases.c.id.not_in(cases_waiting()),
        )
        async with self._engine.connect() as conn:
            expired = list(await conn.scalars(sa.select(cases.c.id).where(expired_condition)))
        for case_id in expired:
            await self.erase_case(case_id)
        await self._shred_undelivered(now - self._retention.undelivered_copy_ttl)
        await self._purge_traces(now, active_cutoff)
        return len(expired)

    async def _shred_undelivered(self, cutoff: datetime) -> None:
        """Delivery copies nobody delivered in time, and the keys of copies whose row never
        followed (a crash in between), lose their key and with it their payload."""
        stale = await asyncio.to_thread(self._keystore.item_ids_created_before, cutoff)
        if not stale:
            return
        await asyncio.to_thread(self._keystore.delete_items, stale)
        outbox = tables.outbox
        async with self._engine.begin() as conn:
            await conn.execute(sa.update(outbox).where(outbox.c.id.in_(stale)).values(payload=None))

    async def _purge_traces(self, now: datetime, active_cutoff: datetime) -> None:
        failures, events = tables.receipt_failures, tables.events
        actions, marks, days = tables.staff_actions, tables.schedule_marks, tables.calendar_days
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.delete(failures).where(failures.c.at < now - self._receipts.window)
            )
            await conn.execute(sa.delete(events).where(events.c.at < active_cutoff))
            await conn.execute(sa.delete(actions).where(actions.c.at < active_cutoff))
            await conn.execute(sa.delete(marks).where(marks.c.at < active_cutoff))
            # A day gone by opens or closes no slot (a day's margin for the local time zone).
            yesterday = (now - timedelta(days=1)).date().isoformat()
            await conn.execute(sa.delete(days).where(days.c.day < yesterday))
            known = set(await conn.scalars(sa.select(tables.cases.c.id)))
        stale = await asyncio.to_thread(
            self._keystore.case_ids_created_before, now - ORPHAN_KEY_GRACE
        )
        for case_id in stale:
            if case_id not in known:
                await asyncio.to_thread(self._keystore.delete, case_id)
        await self._checkpoint()

    # -- the yearly report (storage/statistics.py) --------------------------------------

    async def yearly_statistics(self, year: int) -> list[StatisticsRow]:
        """The lines of the cases created in ``year``: what the yearly report counts."""
        async with self._engine.connect() as conn:
            return await statistics.yearly(conn, year)

    async def statistics_years(self) -> list[int]:
        async with self._engine.connect() as conn:
            return await statistics.years(conn)

    # -- audit ------------------------------------------------------------------------

    async def record_event(
        self, event_type: str, pseudonym: str | None = None, case_id: str | None = None
    ) -> None:
        """An audit line: what happened, to which pseudonym or case, never any content."""
        async with self._engine.begin() as conn:
            await conn.execute(self._event_row(event_type, pseudonym=pseudonym, case_id=case_id))

    def _event_row(
        self, event_type: str, *, pseudonym: str | None, case_id: str | None
    ) -> sa.Insert:
        if pseudonym is not None:
            _pseudonym(pseudonym)
        return sa.insert(tables.events).values(
            at=self._now(),
            event_type=_label(event_type, "event type"),
            pseudonym=pseudonym,
            case_id=case_id,
        )


def _read_reach(key: bytes, case_id: str, pseudonym: str, blob: bytes) -> _Reach:
    plain = envelope.decrypt(key, blob, purpose="address", case_id=case_id, context=pseudonym)
    reach = json.loads(plain)
    return _Reach(reach["channel"], reach["address"])


async def _addresses(conn: AsyncConnection, key: bytes, case_id: str) -> list[Address]:
    conv = tables.conversations
    rows = await conn.execute(
        sa.select(conv.c.pseudonym, conv.c.address)
        .where(conv.c.case_id == case_id, conv.c.address.is_not(None))
        .order_by(conv.c.updated_at.desc(), conv.c.pseudonym)
    )
    return [
        Address(row.pseudonym, *_read_reach(key, case_id, row.pseudonym, row.address))
        for row in rows
    ]


def _opened(key: bytes, case_id: str, blob: bytes | None, purpose: str) -> dict[str, Any]:
    """A dict kept under the case key in the case's own row ("details", "work")."""
    if blob is None:
        return {}
    opened: dict[str, Any] = json.loads(
        envelope.decrypt(key, blob, purpose=purpose, case_id=case_id)
    )
    return opened


def _slot(key: bytes, case_id: str, row: sa.Row[Any]) -> str:
    return envelope.decrypt(
        key, row.slot, purpose="slot", case_id=case_id, context=row.slot_hash
    ).decode()


async def _bookings(conn: AsyncConnection, key: bytes, case_id: str) -> list[str]:
    table = tables.bookings
    rows = await conn.execute(sa.select(table).where(table.c.case_id == case_id))
    return sorted(_slot(key, case_id, row) for row in rows)


async def _case_file(conn: AsyncConnection, key: bytes, row: sa.Row[Any]) -> CaseFile:
    details = _opened(key, row.id, row.details, "details")
    work = _opened(key, row.id, row.work, "work")
    addresses = await _addresses(conn, key, row.id)
    return CaseFile(
        case_id=row.id,
        status=row.status,
        level=details.get("level"),
        persona=details.get("persona"),
        categories=tuple(details.get("categories", ())),
        summary=details.get("summary", {}),
        channel=addresses[0].channel if addresses else None,
        assignee=work.get("assignee"),
        acknowledged_at=row.acknowledged_at,
        acknowledge_by=row.acknowledge_by,
        # A case nobody worked on yet has no work row.
        reminders_sent=row.reminders_sent or 0,
        thread_root=row.thread_root,
        bookings=tuple(await _bookings(conn, key, row.id)),
        closing=work.get("closing", {}),
        created_at=row.created_at,
        last_activity_at=row.last_activity_at,
        closed_at=row.closed_at,
    )


class CaseWrites:
    """One case's writes on one transaction: what a turn does to its case is kept whole, or
    not at all, and costs one connection."""

    def __init__(self, store: Store, conn: AsyncConnection, case_id: str, key: bytes) -> None:
        self._store = store
        self._conn = conn
        self.case_id = case_id
        self._key = key

    async def update(
        self,
        *,
        persona: str | None = None,
        level: int | None = None,
        status: str | None = None,
        categories: Sequence[str] | None = None,
        summary: dict[str, Any] | None = None,
        acknowledge_by: datetime | None = None,
    ) -> None:
        """Changes what is given; the level only ever goes up, also when a person comes
        back to the case from a new conversation, and the acknowledgement deadline only
        ever comes closer."""
        cases = tables.cases
        row = await self._case_row()
        now = self._store._now()
        values: dict[str, Any] = {"last_activity_at": now}
        if status is not None:
            values["status"] = _label(status, "status")
            values["closed_at"] = now if status == STATUS_CLOSED else None
        details = _opened(self._key, self.case_id, row.details, "details")
        if persona is not None:
            details["persona"] = _label(persona, "persona")
        if level is not None:
            details["level"] = max(int(level), details.get("level") or 0)
        if categories is not None:
            details["categories"] = sorted({_label(c, "category") for c in categories})
        if summary is not None:
            details["summary"] = summary
        if any(given is not None for given in (persona, level, categories, summary)):
            values["details"] = envelope.encrypt(
                self._key, _json(details), purpose="details", case_id=self.case_id
            )
            await self._count(row.created_at, details)
        await self._conn.execute(sa.update(cases).where(cases.c.id == self.case_id).values(values))
        if acknowledge_by is not None:
            await self._deadline(acknowledge_by)

    async def _case_row(self) -> sa.Row[Any]:
        cases = tables.cases
        row = (await self._conn.execute(sa.select(cases).where(cases.c.id == self.case_id))).first()
        if row is None:
            raise UnknownCase("no such case")
        return row

    def _statistics_tag(self) -> str:
        return hmac.new(self._key, b"entraide/statistics", hashlib.sha256).hexdigest()

    async def _count(self, created_at: datetime, details: dict[str, Any]) -> None:
        """The case's line in the statistics, found again only through the case key."""
        summary = details.get("summary", {})
        addresses = await _addresses(self._conn, self._key, self.case_id)
        values = {
            "month": statistics.month(created_at),
            "persona": details.get("persona"),
            "level": details.get("level"),
            "categories": details.get("categories", []),
            "channel": addresses[0].channel if addresses else None,
            "routes": [_label(route, "route") for route in statistics.routes(summary)],
            "score_bands": [
                [_label(instrument, "instrument"), _label(band, "band")]
                for instrument, band in statistics.score_bands(summary)
            ],
        }
        await statistics.write(self._conn, self._statistics_tag(), values)

    async def _counted(self) -> str:
        """The tag of the case's line, the line made first if the case has none yet."""
        tag = self._statistics_tag()
        if not await statistics.exists(self._conn, tag):
            await self._recount()
        return tag

    async def _recount(self) -> None:
        row = await self._case_row()
        await self._count(row.created_at, _opened(self._key, self.case_id, row.details, "details"))

    async def _reached(self) -> None:
        """The case reaches the commission (an alert, a sealed message, a booking): counted
        once, and the report's delays start from the first time."""
        work = await self._work()
        if work.alerted_at is not None:
            return
        await self._set_work(alerted_at=self._store._now())
        await statistics.set_values(self._conn, await self._counted(), reached_commission=True)

    async def _count_delay(self, column: str) -> None:
        """The band of the time since the case reached the commission (since its creation
        when it never was alerted), counted once."""
        start = (await self._work()).alerted_at or (await self._case_row()).created_at
        band = statistics.delay_band(max(self._store._now() - start, timedelta(0)))
        await statistics.set_once(self._conn, await self._counted(), column, band)

    async def seal(self, kind: str, payload: bytes, *, dedup_key: str | None = None) -> bool:
        """False when this dedup key was already sealed (a replayed turn)."""
        row = self._store._sealed_row(self._key, self.case_id, kind, payload, dedup_key)
        result = await self._conn.execute(self._store._insert_once(tables.sealed_messages, row))
        await self._store._touch(self._conn, self.case_id)
        if result.rowcount:
            await self._reached()
        return bool(result.rowcount)

    async def enqueue(self, kind: str, payload: dict[str, Any], *, dedup_key: str) -> bool:
        """A staff-room delivery copy, padded like a sealed message and under a key of its
        own; False when this dedup key was already enqueued (a replayed turn)."""
        store = self._store
        item_id = _new_id()
        item_key = envelope.new_key()
        plain = _json(payload)
        row = {
            "id": item_id,
            "case_id": self.case_id,
            "kind": _label(kind, "kind"),
            "dedup_hash": store._keyed_hash("outbox", dedup_key),
            "payload": envelope.encrypt(
                item_key,
                sealing.pad(plain),
                purpose="outbox",
                case_id=self.case_id,
                context=item_id,
            ),
            "created_at": store._now(),
        }
        wrapped = store._wrap_item_key(self.case_id, item_id, item_key)
        # The key goes first, so a payload never exists without the key that shreds it.
        await asyncio.to_thread(
            store._keystore.put_item, item_id, self.case_id, wrapped, store._now()
        )
        result = await self._conn.execute(store._insert_once(tables.outbox, row))
        if not result.rowcount:
            await asyncio.to_thread(store._keystore.delete_items, [item_id])
        return bool(result.rowcount)

    async def book_slot(self, slot_id: str) -> bool:
        """True when the slot is now this case's (also when it already was); False if taken."""
        slot_hash = self._store._slot_hash(slot_id)
        table = tables.bookings
        row = {
            "slot_hash": slot_hash,
            "case_id": self.case_id,
            "slot": envelope.encrypt(
                self._key,
                slot_id.encode(),
                purpose="slot",
                case_id=self.case_id,
                context=slot_hash,
            ),
            "created_at": self._store._now(),
        }
        if (await self._conn.execute(self._store._insert_once(table, row))).rowcount:
            await self._reached()
            return True
        holder = await self._conn.scalar(
            sa.select(table.c.case_id).where(table.c.slot_hash == slot_hash)
        )
        return bool(holder == self.case_id)

    async def cancel_booking(self, slot_id: str | None = None) -> bool:
        """True when something was cancelled; None cancels every booking of the case."""
        table = tables.bookings
        condition = table.c.case_id == self.case_id
        if slot_id is not None:
            condition = condition & (table.c.slot_hash == self._store._slot_hash(slot_id))
        result = await self._conn.execute(sa.delete(table).where(condition))
        return bool(result.rowcount)

    async def bookings(self) -> list[str]:
        return await _bookings(self._conn, self._key, self.case_id)

    async def record_event(self, event_type: str, pseudonym: str | None = None) -> None:
        await self._conn.execute(
            self._store._event_row(event_type, pseudonym=pseudonym, case_id=self.case_id)
        )

    # -- the commission's work on the case --------------------------------------------

    async def record_staff_action(self, action: str, member: str) -> None:
        await self._conn.execute(self._store._staff_action_row(action, self.case_id, member))

    async def append_reply(self, text: str, *, dedup_key: str | None = None) -> str | None:
        """The reply's id; None when this dedup key was already relayed."""
        dedup_hash = None if dedup_key is None else self._store._keyed_hash("reply", dedup_key)
        reply_id = await self._add_text(tables.replies, "reply", text, dedup_hash)
        if reply_id is not None:
            await self._count_delay("first_reply_within")
        return reply_id

    async def add_note(self, text: str, *, dedup_key: str) -> bool:
        """False when this dedup key was already noted (a staff-room event seen twice)."""
        dedup_hash = self._store._keyed_hash("note", dedup_key)
        return await self._add_text(tables.case_notes, "note", text, dedup_hash) is not None

    async def _add_text(
        self, table: sa.Table, purpose: str, text: str, dedup_hash: str | None
    ) -> str | None:
        store = self._store
        text_id = _new_id()
        row = {
            "id": text_id,
            "case_id": self.case_id,
            "text": envelope.encrypt(
                self._key, text.encode(), purpose=purpose, case_id=self.case_id, context=text_id
            ),
            "dedup_hash": dedup_hash,
            "created_at": store._now(),
        }
        if not (await self._conn.execute(store._insert_once(table, row))).rowcount:
            return None
        await store._touch(self._conn, self.case_id)
        return text_id

    async def link_staff_event(self, event_id: str, kind: str) -> None:
        row = {
            "event_hash": self._store._event_hash(event_id),
            "case_id": self.case_id,
            "kind": _label(kind, "kind"),
            "at": self._store._now(),
        }
        await self._conn.execute(self._store._insert_once(tables.staff_events, row))

    async def set_thread_root(self, event_id: str) -> None:
        await self._work()
        await self._set_work(thread_root=_event_id(event_id))

    async def acknowledge(self, member: str) -> bool:
        """False when a member already acknowledged the case."""
        work = await self._work()
        if work.acknowledged_at is not None:
            return False
        await self._set_work(acknowledged_at=self._store._now(), next_reminder_at=None)
        # The first acknowledgement counts, once: the report tells a council how soon a
        # person was first taken in hand, which an acknowledgement withdrawn by mistake, a
        # handover or a check-in that calls the commission again does not change.
        await self._count_delay("acknowledged_within")
        if (await self._case_row()).status != STATUS_CLOSED:
            await self.update(status=STATUS_IN_PROGRESS)
        await self.record_staff_action("acknowledged", member)
        return True

    async def unacknowledge(self, member: str) -> bool:
        """False when nobody had acknowledged the case; reminders start again, at once if
        the deadline has passed."""
        work = await self._work()
        if work.acknowledged_at is None:
            return False
        deadline = work.acknowledge_by
        due = None if deadline is None else max(deadline, self._store._now())
        await self._set_work(acknowledged_at=None, next_reminder_at=due)
        if (await self._case_row()).status != STATUS_CLOSED:
            await self.update(status=STATUS_OPEN)
        await self.record_staff_action("unacknowledged", member)
        return True

    async def assign(self, member: str | None, by: str) -> None:
        """``member`` takes the case over; None leaves it to nobody."""
        work = _opened(self._key, self.case_id, (await self._work()).work, "work")
        work["assignee"] = member
        await self._set_work_data(work)
        await self.record_staff_action("assigned" if member else "unassigned", by)

    async def set_status(self, status: str, member: str) -> None:
        await self._change_status(_status(status))
        await self.record_staff_action(f"status:{status}", member)

    async def close(self, closing: Mapping[str, str], member: str) -> None:
        """Closed, with the closing fields kept for the console and counted in the
        statistics (labels only)."""
        fields = _closing(closing)
        work = _opened(self._key, self.case_id, (await self._work()).work, "work")
        work["closing"] = fields
        await self._set_work_data(work)
        await self._change_status(STATUS_CLOSED)
        await self._recount()
        await self._count_closing(fields)
        await self.record_staff_action("closed", member)

    async def reopen(self, member: str) -> None:
        """Back in the queue: taken in hand again if a member had acknowledged it."""
        acknowledged = (await self._work()).acknowledged_at is not None
        await self._change_status(STATUS_IN_PROGRESS if acknowledged else STATUS_OPEN)
        await self.record_staff_action("reopened", member)

    async def record_reminder(
        self, number: int, next_at: datetime, payload: dict[str, Any]
    ) -> bool:
        """Reminder ``number`` is queued once: the count is compared and set in one
        statement, so a second run of the job (or a restart in between) finds it done."""
        work, cases = tables.case_work, tables.cases
        result = await self._conn.execute(
            sa.update(work)
            .where(
                work.c.case_id == self.case_id,
                work.c.reminders_sent == number - 1,
                work.c.acknowledged_at.is_(None),
                work.c.case_id.in_(sa.select(cases.c.id).where(cases.c.status != STATUS_CLOSED)),
            )
            .values(reminders_sent=number, next_reminder_at=next_at)
        )
        if not result.rowcount:
            return False
        await self.enqueue("reminder", payload, dedup_key=f"reminder:{self.case_id}:{number}")
        await self.record_event("case.reminded")
        return True

    async def call_again(self, deadline: datetime | None) -> None:
        """The person asks for the commission again (a check-in came out worse): a case
        acknowledged or closed goes back to the queue, to be acknowledged by ``deadline``."""
        if (await self._work()).acknowledged_at is not None:
            await self._set_work(acknowledged_at=None, acknowledge_by=None, next_reminder_at=None)
        if (await self._case_row()).status != STATUS_OPEN:
            await self._change_status(STATUS_OPEN)
        if deadline is not None:
            await self._deadline(deadline)

    async def _change_status(self, status: str) -> None:
        row = await self._case_row()
        await self.update(status=status)
        if status == STATUS_CLOSED:
            # As closed_at, the follow-up counts to the latest closing.
            follow_up = statistics.follow_up_band(self._store._now() - row.created_at)
            await statistics.set_values(self._conn, await self._counted(), follow_up=follow_up)
        elif row.status == STATUS_CLOSED:
            # The report counts the outcome and the length of closed cases only.
            await statistics.set_values(
                self._conn, self._statistics_tag(), closing=None, follow_up=None
            )

    async def _count_closing(self, closing: dict[str, str]) -> None:
        await statistics.set_values(self._conn, self._statistics_tag(), closing=closing)

    async def _deadline(self, deadline: datetime) -> None:
        """An alert: the case reaches the commission. Keeps the earlier deadline while
        nobody acknowledged the case; a deadline that comes closer brings the next reminder
        with it."""
        await self._reached()
        work = await self._work()
        if work.acknowledged_at is not None:
            return
        if work.acknowledge_by is not None and work.acknowledge_by <= deadline:
            return
        due = deadline if work.next_reminder_at is None else min(work.next_reminder_at, deadline)
        await self._set_work(acknowledge_by=deadline, next_reminder_at=due)

    async def _work(self) -> sa.Row[Any]:
        """The case's work row, made on first use, locked until this transaction ends."""
        table = tables.case_work
        await self._conn.execute(self._store._insert_once(table, {"case_id": self.case_id}))
        query = sa.select(table).where(table.c.case_id == self.case_id).with_for_update()
        return (await self._conn.execute(query)).one()

    async def _set_work(self, **values: Any) -> None:
        table = tables.case_work
        await self._conn.execute(
            sa.update(table).where(table.c.case_id == self.case_id).values(**values)
        )

    async def _set_work_data(self, work: dict[str, Any]) -> None:
        await self._set_work(
            work=envelope.encrypt(self._key, _json(work), purpose="work", case_id=self.case_id)
        )


async def open_store(
    settings: StorageSettings | None = None,
    *,
    retention: RetentionPolicy = DEFAULT_RETENTION,
    receipts: ReceiptPolicy = DEFAULT_RECEIPTS,
    clock: Callable[[], datetime] = utcnow,
) -> Store:
    """The store as configured by the environment (DATA_DIR, DATABASE_URL, SECRETS_FILE)."""
    settings = settings or StorageSettings.from_env()
    for path in (settings.secrets_file, settings.case_keys_file):
        if is_within(path, settings.data_dir):
            raise SecretsError("secrets and case keys must live outside the data directory")
    server_secrets = load_server_secrets(settings.secrets_file)
    store = await Store.open(
        settings.database_url,
        server_secrets,
        case_keys_file=settings.case_keys_file,
        retention=retention,
        receipts=receipts,
        clock=clock,
    )
    store.follow_secrets_file(settings.secrets_file)
    return store
