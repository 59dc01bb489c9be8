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
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flows import crockford
from storage import envelope, sealing, tables
from storage.config import StorageSettings, is_within
from storage.engine import checkpoint, create_engine, sqlite_foreign_keys_off
from storage.errors import SecretsError, StorageError, UnknownCase
from storage.keys import ServerSecrets, load_server_secrets
from storage.keystore import CaseKeyStore
from storage.migrate import upgrade
from storage.policy import ReceiptPolicy, RetentionPolicy
from storage.receipt_book import ReceiptBook
from storage.records import CaseInfo, Conversation, OutboxItem, Reply, SealedMessage
from storage.sealing import CommissionPublicKey

log = logging.getLogger(__name__)

STATUS_OPEN = "open"
# The one status the store understands: retention counts from the moment a case closes.
STATUS_CLOSED = "closed"
# A key written to the key store whose case row never followed (a crash in between).
ORPHAN_KEY_GRACE = timedelta(days=1)
CASE_KEY_CACHE = 1024
DEFAULT_RETENTION = RetentionPolicy()
DEFAULT_RECEIPTS = ReceiptPolicy()
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
_PSEUDONYM = re.compile(r"[0-9a-f]{64}\Z")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _label(value: str, what: str) -> str:
    """Labels are the only free strings stored in clear, so they may not carry content."""
    if not _LABEL.match(value):
        raise ValueError(f"{what} must be a short identifier")
    return value


def _pseudonym(value: str) -> str:
    """Refuse anything but a pseudonym, so a raw identity can never reach a column."""
    if not _PSEUDONYM.match(value):
        raise ValueError("expected a pseudonym from Store.pseudonym()")
    return value


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
        # Where the secrets came from, to follow `keys rotate` without a restart.
        self._secrets_file: Path | None = None
        self._secrets_stamp: int | None = None

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

    async def save_conversation(self, pseudonym: str, state: dict[str, Any]) -> str:
        """Store the state; the first save creates the case."""
        _pseudonym(pseudonym)
        conv = tables.conversations
        async with self._engine.connect() as conn:
            case_id = await conn.scalar(
                sa.select(conv.c.case_id).where(conv.c.pseudonym == pseudonym)
            )
        if case_id is not None:
            key = await self._case_key(case_id)
            if key is not None:
                await self._update_conversation(pseudonym, case_id, key, state)
                return str(case_id)
            await self.erase_case(case_id)
        return await self._create_case(pseudonym, state)

    def _conversation_values(
        self, pseudonym: str, case_id: str, key: bytes, state: dict[str, Any]
    ) -> dict[str, Any]:
        plain = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
        return {
            "state": envelope.encrypt(
                key, plain, purpose="state", case_id=case_id, context=pseudonym
            ),
            "updated_at": self._now(),
        }

    async def _update_conversation(
        self, pseudonym: str, case_id: str, key: bytes, state: dict[str, Any]
    ) -> None:
        values = self._conversation_values(pseudonym, case_id, key, state)
        conv = tables.conversations
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(conv)
                .where(conv.c.pseudonym == pseudonym, conv.c.case_id == case_id)
                .values(**values)
            )
            await self._touch(conn, case_id)

    async def _create_case(self, pseudonym: str, state: dict[str, Any]) -> str:
        case_id = _new_case_id()
        now = self._now()
        key = envelope.new_key()
        wrapped = envelope.wrap_case_key(self._secrets.kek, case_id, key)
        # The key goes first, so a case row never exists without its key.
        await asyncio.to_thread(self._keystore.put, case_id, wrapped, now)
        values = self._conversation_values(pseudonym, case_id, key, state)
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
            return await self.save_conversation(pseudonym, state)
        self._keys[case_id] = key
        log.debug("case.created case=%s", case_id)
        return case_id

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
        details = _details(key, case_id, row.details)
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

    async def append_reply(self, case_id: str, text: str) -> str:
        key = await self._require_key(case_id)
        reply_id = _new_id()
        blob = envelope.encrypt(
            key, text.encode(), purpose="reply", case_id=case_id, context=reply_id
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(tables.replies).values(
                    id=reply_id, case_id=case_id, text=blob, created_at=self._now()
                )
            )
            await self._touch(conn, case_id)
        return reply_id

    async def replies(self, case_id: str) -> list[Reply]:
        key = await self._require_key(case_id)
        rows = await self._case_rows(tables.replies, case_id)
        return [
            Reply(
                id=row.id,
                text=envelope.decrypt(
                    key, row.text, purpose="reply", case_id=case_id, context=row.id
                ).decode(),
                created_at=row.created_at,
            )
            for row in rows
        ]

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
        values = self._conversation_values(pseudonym, case_id, key, state)
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
            ):
                found = await conn.scalar(
                    sa.select(sa.func.count()).select_from(table).where(table.c.case_id == case_id)
                )
                if found:
                    return False
        return True

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
                for table in (tables.events, tables.receipt_failures):
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
        expired_condition = sa.or_(
            sa.and_(
                cases.c.closed_at.is_not(None),
                cases.c.closed_at < closed_cutoff,
                cases.c.last_activity_at < closed_cutoff,
            ),
            cases.c.last_activity_at < active_cutoff,
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
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.delete(failures).where(failures.c.at < now - self._receipts.window)
            )
            await conn.execute(sa.delete(events).where(events.c.at < active_cutoff))
            known = set(await conn.scalars(sa.select(tables.cases.c.id)))
        stale = await asyncio.to_thread(
            self._keystore.case_ids_created_before, now - ORPHAN_KEY_GRACE
        )
        for case_id in stale:
            if case_id not in known:
                await asyncio.to_thread(self._keystore.delete, case_id)
        await self._checkpoint()

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


def _details(key: bytes, case_id: str, blob: bytes | None) -> dict[str, Any]:
    if blob is None:
        return {}
    plain = envelope.decrypt(key, blob, purpose="details", case_id=case_id)
    details: dict[str, Any] = json.loads(plain)
    return details


async def _bookings(conn: AsyncConnection, key: bytes, case_id: str) -> list[str]:
    table = tables.bookings
    rows = await conn.execute(
        sa.select(table.c.slot_hash, table.c.slot).where(table.c.case_id == case_id)
    )
    return sorted(
        envelope.decrypt(
            key, row.slot, purpose="slot", case_id=case_id, context=row.slot_hash
        ).decode()
        for row in rows
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
    ) -> None:
        """Changes what is given; the level only ever goes up, also when a person comes
        back to the case from a new conversation."""
        cases = tables.cases
        row = (
            await self._conn.execute(
                sa.select(cases.c.details, cases.c.created_at).where(cases.c.id == self.case_id)
            )
        ).first()
        if row is None:
            raise UnknownCase("no such case")
        now = self._store._now()
        values: dict[str, Any] = {"last_activity_at": now}
        if status is not None:
            values["status"] = _label(status, "status")
            values["closed_at"] = now if status == STATUS_CLOSED else None
        details = _details(self._key, self.case_id, row.details)
        if persona is not None:
            details["persona"] = _label(persona, "persona")
        if level is not None:
            details["level"] = max(int(level), details.get("level") or 0)
        if categories is not None:
            details["categories"] = sorted({_label(c, "category") for c in categories})
        if persona is not None or level is not None or categories is not None:
            plain = json.dumps(details, separators=(",", ":")).encode()
            values["details"] = envelope.encrypt(
                self._key, plain, purpose="details", case_id=self.case_id
            )
            await self._count(row.created_at, details)
        await self._conn.execute(sa.update(cases).where(cases.c.id == self.case_id).values(values))

    async def _count(self, created_at: datetime, details: dict[str, Any]) -> None:
        """The case's line in the statistics, found again only through the case key."""
        tag = hmac.new(self._key, b"entraide/statistics", hashlib.sha256).hexdigest()
        values = {
            "month": created_at.strftime("%Y-%m"),
            "persona": details.get("persona"),
            "level": details.get("level"),
            "categories": details.get("categories", []),
        }
        table = tables.statistics
        result = await self._conn.execute(sa.update(table).where(table.c.tag == tag).values(values))
        if result.rowcount == 0:
            await self._conn.execute(sa.insert(table).values(tag=tag, **values))

    async def seal(self, kind: str, payload: bytes, *, dedup_key: str | None = None) -> bool:
        """False when this dedup key was already sealed (a replayed turn)."""
        row = self._store._sealed_row(self._key, self.case_id, kind, payload, dedup_key)
        result = await self._conn.execute(self._store._insert_once(tables.sealed_messages, row))
        await self._store._touch(self._conn, self.case_id)
        return bool(result.rowcount)

    async def enqueue(self, kind: str, payload: dict[str, Any], *, dedup_key: str) -> bool:
        """A staff-room delivery copy, padded like a sealed message and under a key of its
        own; False when this dedup key was already enqueued (a replayed turn)."""
        store = self._store
        item_id = _new_id()
        item_key = envelope.new_key()
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
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
