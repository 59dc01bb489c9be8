"""Test helpers for the store: a clock moved by hand and a cheap receipt policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import ReceiptPolicy
from storage.policy import TEST_ARGON2_COST

CHEAP_RECEIPTS = ReceiptPolicy(hash_cost=TEST_ARGON2_COST)


class FakeClock:
    """A clock the test moves by hand, so retention and throttling need no waiting."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
