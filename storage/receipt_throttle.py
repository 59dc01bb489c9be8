"""What the receipt book remembers in memory about wrong codes, so a flood of guesses
costs neither Argon2 work nor database work."""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from datetime import datetime, timedelta

from storage.errors import ReceiptThrottled

# Enough for a busy server's hour; beyond it the oldest entries are forgotten first.
MEMORY = 10_000


class LockOuts:
    """Pseudonyms already found over their limit, and until when."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def refuse_if_locked(self, pseudonym: str, now: datetime) -> None:
        until = self._until.get(pseudonym)
        if until is not None and until > now:
            raise ReceiptThrottled(until - now)

    def lock(self, pseudonym: str, until: datetime, now: datetime) -> None:
        if len(self._until) >= MEMORY:
            self._until = {who: end for who, end in self._until.items() if end > now}
        self._until[pseudonym] = until


class WrongCodes:
    """Codes found wrong within ``window``: the same wrong code typed again, by anyone,
    is answered at once and counted once.

    Only keyed digests are kept, under a key that never leaves this process: a wrong code
    is often a real one mistyped, so it must not end up anywhere it could be read back.
    """

    def __init__(self, window: timedelta) -> None:
        self._window = window
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[bytes, datetime] = OrderedDict()

    def _digest(self, canonical: str) -> bytes:
        return hashlib.blake2b(canonical.encode(), key=self._key, digest_size=16).digest()

    def known(self, canonical: str, now: datetime) -> bool:
        seen_at = self._seen.get(self._digest(canonical))
        return seen_at is not None and seen_at > now - self._window

    def add(self, canonical: str, now: datetime) -> None:
        digest = self._digest(canonical)
        self._seen[digest] = now
        self._seen.move_to_end(digest)
        while len(self._seen) > MEMORY:
            self._seen.popitem(last=False)


class Brake:
    """A token bucket on Argon2 verifications for everyone together, on the store's clock.

    It refuses only until its next token, ``60 / per_minute`` seconds at most, so however
    many pseudonyms flood it, a person is kept waiting seconds and never locked out.
    """

    def __init__(self, per_minute: int, burst: int) -> None:
        self._per_second = per_minute / 60
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at: datetime | None = None

    def take(self, now: datetime) -> None:
        """Count one verification, or raise ReceiptThrottled with the wait for the next."""
        if self._at is not None and now > self._at:
            refill = (now - self._at).total_seconds() * self._per_second
            self._tokens = min(self._burst, self._tokens + refill)
        if self._at is None or now > self._at:
            self._at = now
        if self._tokens < 1:
            raise ReceiptThrottled(timedelta(seconds=(1 - self._tokens) / self._per_second))
        self._tokens -= 1
