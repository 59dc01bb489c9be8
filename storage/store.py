"""The case store: pseudonymous, encrypted, and blind to what a conversation means.

Everything the bot must read back (conversation state, the address to answer on, replies,
outbox payloads) is encrypted with the case's own data key; what a person writes for the
commission is sealed to the commission's public key and wrapped once more with that data
key, so destroying the key (erasure) makes every copy unreadable, backups included.
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
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import envelope, sealing, tables
from storage.config import StorageSettings, is_within
from storage.engine import checkpoint, create_engine
from storage.errors import ReceiptThrottled, SecretsError, StorageError, UnknownCase
from storage.keys import ServerSecrets, load_server_secrets
from storage.keystore import CaseKeyStore
from storage.migrate import upgrade
from storage.policy import ReceiptPolicy, RetentionPolicy
from storage.receipts import hash_code, new_code, normalize, receipt_salt
from storage.records import CaseInfo, Conversation, OutboxItem, Reply, SealedMessage
from storage.sealing import CommissionPublicKey

log = logging.getLogger(__name__)

STATUS_OPEN = "open"
# The one status the store understands: retention counts from the moment a case closes.
STATUS_CLOSED = "closed"
# A key written to the key store whose case row never followed (a crash in between).
ORPHAN_KEY_GRACE = timedelta(days=1)
CASE_KEY_CACHE = 1024
THROTTLE_MEMORY = 10_000
DEFAULT_RETENTION = RetentionPolicy()
DEFAULT_RECEIPTS = ReceiptPolicy()
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
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
    value = secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(16))


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
        self._receipt_lock = asyncio.Lock()
        # Refusals already decided, so a flood of guesses costs no database work.
        self._throttled_until: dict[str | None, datetime] = {}
        self._receipt_salt = receipt_salt(secrets_.hmac_key)
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
            async with engine.begin() as conn:
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
        address = None
        if row.address is not None:
            address = envelope.decrypt(
                key, row.address, purpose="address", case_id=row.case_id, context=pseudonym
            ).decode()
        return Conversation(row.case_id, json.loads(state), address)

    async def save_conversation(
        self, pseudonym: str, state: dict[str, Any], *, address: str | None = None
    ) -> str:
        """Store the state (and the address when given); the first save creates the case."""
        _pseudonym(pseudonym)
        conv = tables.conversations
        async with self._engine.connect() as conn:
            case_id = await conn.scalar(
                sa.select(conv.c.case_id).where(conv.c.pseudonym == pseudonym)
            )
        if case_id is not None:
            key = await self._case_key(case_id)
            if key is not None:
                await self._update_conversation(pseudonym, case_id, key, state, address)
                return str(case_id)
            await self.erase_case(case_id)
        return await self._create_case(pseudonym, state, address)

    def _conversation_values(
        self, pseudonym: str, case_id: str, key: bytes, state: dict[str, Any], address: str | None
    ) -> dict[str, Any]:
        plain = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
        values: dict[str, Any] = {
            "state": envelope.encrypt(
                key, plain, purpose="state", case_id=case_id, context=pseudonym
            ),
            "updated_at": self._now(),
        }
        if address is not None:
            values["address"] = envelope.encrypt(
                key, address.encode(), purpose="address", case_id=case_id, context=pseudonym
            )
        return values

    async def _update_conversation(
        self, pseudonym: str, case_id: str, key: bytes, state: dict[str, Any], address: str | None
    ) -> None:
        values = self._conversation_values(pseudonym, case_id, key, state, address)
        conv = tables.conversations
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(conv)
                .where(conv.c.pseudonym == pseudonym, conv.c.case_id == case_id)
                .values(**values)
            )
            await self._touch(conn, case_id)

    async def _create_case(self, pseudonym: str, state: dict[str, Any], address: str | None) -> str:
        case_id = _new_case_id()
        now = self._now()
        key = envelope.new_key()
        wrapped = envelope.wrap_case_key(self._secrets.kek, case_id, key)
        # The key goes first, so a case row never exists without its key.
        await asyncio.to_thread(self._keystore.put, case_id, wrapped, now)
        values = self._conversation_values(pseudonym, case_id, key, state, address)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sa.insert(tables.cases).values(
                        id=case_id,
                        status=STATUS_OPEN,
                        categories=[],
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
            return await self.save_conversation(pseudonym, state, address=address)
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

    async def update_case(
        self,
        case_id: str,
        *,
        persona: str | None = None,
        level: int | None = None,
        status: str | None = None,
        categories: Sequence[str] | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if persona is not None:
            values["persona"] = _label(persona, "persona")
        if level is not None:
            values["level"] = int(level)
        if status is not None:
            values["status"] = _label(status, "status")
            values["closed_at"] = self._now() if status == STATUS_CLOSED else None
        if categories is not None:
            values["categories"] = sorted({_label(c, "category") for c in categories})
        cases = tables.cases
        async with self._engine.begin() as conn:
            if values:
                result = await conn.execute(
                    sa.update(cases)
                    .where(cases.c.id == case_id)
                    .values(**values, last_activity_at=self._now())
                )
                found = result.rowcount > 0
            else:
                exists = sa.select(cases.c.id).where(cases.c.id == case_id)
                found = await conn.scalar(exists) is not None
        if not found:
            raise UnknownCase("no such case")

    async def get_case(self, case_id: str) -> CaseInfo | None:
        cases = tables.cases
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(cases).where(cases.c.id == case_id))).first()
        if row is None:
            return None
        return CaseInfo(
            case_id=row.id,
            persona=row.persona,
            level=row.level,
            status=row.status,
            categories=tuple(row.categories),
            created_at=row.created_at,
            last_activity_at=row.last_activity_at,
            closed_at=row.closed_at,
        )

    # -- the sealed mailbox and the commission's replies --------------------------------

    async def seal_for_commission(self, case_id: str, kind: str, payload: bytes) -> str:
        key = await self._require_key(case_id)
        message_id, values = self._sealed_row(key, case_id, kind, payload)
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(tables.sealed_messages).values(**values))
            await self._touch(conn, case_id)
        return message_id

    async def seal_and_enqueue(
        self,
        case_id: str,
        kind: str,
        payload: bytes,
        delivery: dict[str, Any],
        *,
        dedup_key: str,
    ) -> bool:
        """The sealed record and its staff-room delivery in one transaction: a crash
        leaves both or neither, and a replayed turn (same dedup key) adds nothing."""
        key = await self._require_key(case_id)
        _, sealed = self._sealed_row(key, case_id, kind, payload)
        outbox = self._outbox_row(key, case_id, kind="sealed", payload=delivery,
                                  dedup_key=dedup_key)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(sa.insert(tables.outbox).values(**outbox))
                await conn.execute(sa.insert(tables.sealed_messages).values(**sealed))
                await self._touch(conn, case_id)
        except IntegrityError:
            return False
        return True

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
        self, key: bytes, case_id: str, kind: str, payload: bytes
    ) -> tuple[str, dict[str, Any]]:
        public_key = self._commission_key()
        message_id = _new_id()
        sealed = sealing.seal(
            public_key, payload, case_id=case_id, message_id=message_id, kind=_label(kind, "kind")
        )
        wrapped = envelope.encrypt(
            key, sealed, purpose="sealed", case_id=case_id, context=message_id
        )
        return message_id, {
            "id": message_id,
            "case_id": case_id,
            "kind": kind,
            "key_id": public_key.key_id,
            "format_version": sealing.FORMAT_VERSION,
            "suite": public_key.suite,
            "ciphertext": wrapped,
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
        table = tables.bookings
        _label(slot_id, "slot id")
        if await self.get_case(case_id) is None:
            raise UnknownCase("no such case")
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sa.insert(table).values(
                        slot_id=slot_id, case_id=case_id, created_at=self._now()
                    )
                )
        except IntegrityError:
            async with self._engine.connect() as conn:
                holder = await conn.scalar(
                    sa.select(table.c.case_id).where(table.c.slot_id == slot_id)
                )
            return holder == case_id
        return True

    async def cancel_booking(self, case_id: str, slot_id: str | None = None) -> None:
        table = tables.bookings
        condition = table.c.case_id == case_id
        if slot_id is not None:
            condition = condition & (table.c.slot_id == slot_id)
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(table).where(condition))

    async def bookings(self, case_id: str) -> list[str]:
        table = tables.bookings
        async with self._engine.connect() as conn:
            rows = await conn.scalars(
                sa.select(table.c.slot_id)
                .where(table.c.case_id == case_id)
                .order_by(table.c.slot_id)
            )
            return list(rows)

    async def taken_slots(self) -> set[str]:
        async with self._engine.connect() as conn:
            return set(await conn.scalars(sa.select(tables.bookings.c.slot_id)))

    # -- outbox -----------------------------------------------------------------------

    def _dedup_hash(self, dedup_key: str) -> str:
        message = b"entraide/outbox\x00" + dedup_key.encode()
        return hmac.new(self._secrets.hmac_key, message, hashlib.sha256).hexdigest()

    async def enqueue(
        self, case_id: str, kind: str, payload: dict[str, Any], *, dedup_key: str
    ) -> bool:
        """False when this dedup key was already enqueued (a replayed turn)."""
        key = await self._require_key(case_id)
        row = self._outbox_row(key, case_id, kind=kind, payload=payload, dedup_key=dedup_key)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(sa.insert(tables.outbox).values(**row))
        except IntegrityError:
            return False
        return True

    def _outbox_row(
        self, key: bytes, case_id: str, *, kind: str, payload: dict[str, Any], dedup_key: str
    ) -> dict[str, Any]:
        item_id = _new_id()
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return {
            "id": item_id,
            "case_id": case_id,
            "kind": _label(kind, "kind"),
            "dedup_hash": self._dedup_hash(dedup_key),
            "payload": envelope.encrypt(
                key, plain, purpose="outbox", case_id=case_id, context=item_id
            ),
            "created_at": self._now(),
        }

    async def pending_outbox(self, limit: int = 50) -> list[OutboxItem]:
        table = tables.outbox
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(table)
                    .where(table.c.delivered_at.is_(None))
                    .order_by(table.c.created_at, table.c.id)
                    .limit(limit)
                )
            ).all()
        items = []
        for row in rows:
            key = await self._case_key(row.case_id)
            if key is None or row.payload is None:
                continue
            plain = envelope.decrypt(
                key, row.payload, purpose="outbox", case_id=row.case_id, context=row.id
            )
            items.append(
                OutboxItem(row.id, row.case_id, row.kind, json.loads(plain), row.created_at)
            )
        return items

    async def mark_delivered(self, item_id: str) -> None:
        """The payload is dropped once delivered; the row stays so a replay is still caught."""
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
        code = new_code()
        canonical = normalize(code)
        assert canonical is not None
        cost = self._receipts.hash_cost
        digest = await asyncio.to_thread(hash_code, canonical, self._receipt_salt, cost)
        table = tables.receipts
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(table).where(table.c.case_id == case_id))
            await conn.execute(
                sa.insert(table).values(
                    code_hash=digest,
                    hash_label=cost.label(),
                    case_id=case_id,
                    created_at=self._now(),
                )
            )
        return code

    async def redeem_receipt(self, code: str, pseudonym: str) -> str | None:
        """The case id, after linking this pseudonym to it; None for a wrong code.

        Raises ReceiptThrottled, without looking at the code, once too many wrong codes came
        from this pseudonym or from everyone within the policy's window.
        """
        _pseudonym(pseudonym)
        async with self._receipt_lock:
            now = self._now()
            await self._check_throttle(pseudonym, now)
            case_id = await self._find_receipt(code)
            async with self._engine.begin() as conn:
                failures = tables.receipt_failures
                if case_id is None:
                    await conn.execute(sa.insert(failures).values(pseudonym=pseudonym, at=now))
                else:
                    await conn.execute(sa.delete(failures).where(failures.c.pseudonym == pseudonym))
            if case_id is None:
                await self.record_event("receipt.failed", pseudonym=pseudonym)
                return None
        await self._link(pseudonym, case_id)
        await self.record_event("receipt.redeemed", pseudonym=pseudonym, case_id=case_id)
        return case_id

    async def _check_throttle(self, pseudonym: str, now: datetime) -> None:
        for who in (pseudonym, None):
            until = self._throttled_until.get(who)
            if until is not None and until > now:
                raise ReceiptThrottled(until - now)
        if len(self._throttled_until) > THROTTLE_MEMORY:
            self._throttled_until = {
                who: until for who, until in self._throttled_until.items() if until > now
            }
        policy = self._receipts
        failures = tables.receipt_failures
        since = failures.c.at > now - policy.window
        checks = (
            (pseudonym, since & (failures.c.pseudonym == pseudonym), policy.failures_per_pseudonym),
            (None, since, policy.failures_global),
        )
        async with self._engine.connect() as conn:
            for who, condition, limit in checks:
                count = await conn.scalar(sa.select(sa.func.count()).where(condition)) or 0
                if count >= limit:
                    # When enough of the failures leave the window for one more try.
                    freed_at = await conn.scalar(
                        sa.select(failures.c.at)
                        .where(condition)
                        .order_by(failures.c.at)
                        .offset(count - limit)
                        .limit(1)
                    )
                    assert freed_at is not None
                    until = freed_at + policy.window
                    self._throttled_until[who] = until
                    raise ReceiptThrottled(max(until - now, timedelta(0)))

    async def _find_receipt(self, code: str) -> str | None:
        canonical = normalize(code)
        if canonical is None:
            return None
        table = tables.receipts
        async with self._engine.connect() as conn:
            labels = set(await conn.scalars(sa.select(table.c.hash_label).distinct()))
        current = self._receipts.hash_cost
        costs = [current] + [
            type(current).from_label(label) for label in labels if label != current.label()
        ]
        for cost in costs:
            digest = await asyncio.to_thread(hash_code, canonical, self._receipt_salt, cost)
            async with self._engine.connect() as conn:
                case_id = await conn.scalar(
                    sa.select(table.c.case_id).where(
                        table.c.code_hash == digest, table.c.hash_label == cost.label()
                    )
                )
            if case_id is not None:
                return str(case_id)
        return None

    async def _link(self, pseudonym: str, case_id: str) -> None:
        """Attach this conversation to ``case_id``, carrying its state over to the case key."""
        key = await self._require_key(case_id)
        current = await self.load_conversation(pseudonym)
        if current is not None and current.case_id == case_id:
            return
        state = {} if current is None else current.state
        address = None if current is None else current.address
        values = self._conversation_values(pseudonym, case_id, key, state, address)
        conv = tables.conversations
        async with self._engine.begin() as conn:
            if current is None:
                await conn.execute(
                    sa.insert(conv).values(pseudonym=pseudonym, case_id=case_id, **values)
                )
            else:
                values.setdefault("address", None)
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
        await self._purge_traces(now, active_cutoff)
        return len(expired)

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
        if pseudonym is not None:
            _pseudonym(pseudonym)
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(tables.events).values(
                    at=self._now(),
                    event_type=_label(event_type, "event type"),
                    pseudonym=pseudonym,
                    case_id=case_id,
                )
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
