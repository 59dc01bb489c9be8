"""The receipts table and its throttle: issuing a code for a case and finding the case
again from a code, without ever letting a guess, a flood or a forged row open a case."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from flows import receipt_code
from storage import tables
from storage.errors import ReceiptThrottled
from storage.policy import Argon2Cost, ReceiptPolicy
from storage.receipt_throttle import Brake, LockOuts, WrongCodes
from storage.receipts import hash_code, new_code, receipt_mac, receipt_mac_key, receipt_salt

log = logging.getLogger(__name__)

Audit = Callable[[str, str], Awaitable[None]]


class ReceiptBook:
    def __init__(
        self,
        engine: AsyncEngine,
        hmac_key: bytes,
        policy: ReceiptPolicy,
        *,
        clock: Callable[[], datetime],
        audit: Audit,
    ) -> None:
        self._engine = engine
        self._policy = policy
        self._clock = clock
        self._audit = audit
        self._salt = receipt_salt(hmac_key)
        self._mac_key = receipt_mac_key(hmac_key)
        # One verification at a time: Argon2 at full cost is the server's heaviest work.
        self._lock = asyncio.Lock()
        self._lock_outs = LockOuts()
        self._wrong_codes = WrongCodes(policy.window)
        self._brake = Brake(policy.hashes_per_minute, policy.hash_burst)

    async def issue(self, case_id: str) -> str:
        """A new code for the case, replacing any earlier one; the caller checked the case."""
        code = new_code()
        canonical = receipt_code.normalize(code)
        assert canonical is not None
        cost = self._policy.hash_cost
        digest = await asyncio.to_thread(hash_code, canonical, self._salt, cost)
        label = cost.label()
        table = tables.receipts
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(table).where(table.c.case_id == case_id))
            await conn.execute(
                sa.insert(table).values(
                    code_hash=digest,
                    hash_label=label,
                    case_id=case_id,
                    created_at=self._clock(),
                    mac=receipt_mac(self._mac_key, digest, label, case_id),
                )
            )
        return code

    async def redeem(self, code: str, pseudonym: str) -> str | None:
        """The case the code opens, or None; the pseudonym's failures are forgotten on success.

        Raises ReceiptThrottled when this pseudonym sent too many wrong codes lately (until
        the oldest leaves the window), or for a second or so when everyone together is
        over the brake's rate.
        """
        async with self._lock:
            now = self._clock()
            self._lock_outs.refuse_if_locked(pseudonym, now)
            canonical = receipt_code.normalize(code)
            if canonical is not None and self._wrong_codes.known(canonical, now):
                return None
            if canonical is not None:
                self._brake.take(now)
            await self._refuse_if_over_limit(pseudonym, now)
            case_id = None if canonical is None else await self._find(canonical, pseudonym)
            failures = tables.receipt_failures
            async with self._engine.begin() as conn:
                if case_id is None:
                    await conn.execute(sa.insert(failures).values(pseudonym=pseudonym, at=now))
                else:
                    await conn.execute(sa.delete(failures).where(failures.c.pseudonym == pseudonym))
            if case_id is None:
                if canonical is not None:
                    self._wrong_codes.add(canonical, now)
                await self._audit("receipt.failed", pseudonym)
            return case_id

    async def _refuse_if_over_limit(self, pseudonym: str, now: datetime) -> None:
        policy = self._policy
        failures = tables.receipt_failures
        recent = (failures.c.at > now - policy.window) & (failures.c.pseudonym == pseudonym)
        limit = policy.failures_per_pseudonym
        async with self._engine.connect() as conn:
            count = await conn.scalar(sa.select(sa.func.count()).where(recent)) or 0
            if count < limit:
                return
            # When enough of the failures leave the window for one more try.
            freed_at = await conn.scalar(
                sa.select(failures.c.at)
                .where(recent)
                .order_by(failures.c.at)
                .offset(count - limit)
                .limit(1)
            )
        assert freed_at is not None
        until = freed_at + policy.window
        self._lock_outs.lock(pseudonym, until, now)
        raise ReceiptThrottled(max(until - now, timedelta(0)))

    async def _find(self, canonical: str, pseudonym: str) -> str | None:
        table = tables.receipts
        async with self._engine.connect() as conn:
            labels = set(await conn.scalars(sa.select(table.c.hash_label).distinct()))
        current = self._policy.hash_cost
        costs = [current] + [
            Argon2Cost.from_label(label) for label in labels if label != current.label()
        ]
        for cost in costs:
            digest = await asyncio.to_thread(hash_code, canonical, self._salt, cost)
            label = cost.label()
            async with self._engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(table.c.case_id, table.c.mac).where(
                            table.c.code_hash == digest, table.c.hash_label == label
                        )
                    )
                ).first()
            if row is None:
                continue
            expected = receipt_mac(self._mac_key, digest, label, row.case_id)
            if hmac.compare_digest(expected, row.mac):
                return str(row.case_id)
            log.warning("receipt.tampered")
            await self._audit("receipt.tampered", pseudonym)
            return None
        return None
