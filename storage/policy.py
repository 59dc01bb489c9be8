"""Tunable policies: how long cases are kept, how receipts are hashed and throttled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2.low_level import Type, hash_secret_raw

# The CNIL whistleblowing guidance: two months after closing when nothing follows,
# and no longer than needed for an active case (one year after its last message here).
CLOSED_CASE_TTL = timedelta(days=61)
ACTIVE_CASE_TTL = timedelta(days=365)
# A staff-room copy nobody delivered within a week is shredded: the sealed copy stays for
# the commission, and words should not wait on the server for a room that is gone.
UNDELIVERED_COPY_TTL = timedelta(days=7)


@dataclass(frozen=True)
class RetentionPolicy:
    closed_case_ttl: timedelta = CLOSED_CASE_TTL
    active_case_ttl: timedelta = ACTIVE_CASE_TTL
    undelivered_copy_ttl: timedelta = UNDELIVERED_COPY_TTL


@dataclass(frozen=True)
class Argon2Cost:
    """Argon2id parameters; the defaults are RFC 9106's second recommended option."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4

    def label(self) -> str:
        return f"argon2id:t={self.time_cost},m={self.memory_cost_kib},p={self.parallelism}"

    @classmethod
    def from_label(cls, label: str) -> Argon2Cost:
        name, _, params = label.partition(":")
        if name != "argon2id":
            raise ValueError("unknown hash label")
        values = dict(part.split("=", 1) for part in params.split(","))
        return cls(int(values["t"]), int(values["m"]), int(values["p"]))


# Cheap enough for thousands of hashes in a test run; never a default.
TEST_ARGON2_COST = Argon2Cost(time_cost=1, memory_cost_kib=8, parallelism=1)


@dataclass(frozen=True)
class ReceiptPolicy:
    """How receipt codes are hashed, and how wrong codes are slowed down.

    A pseudonym that sent ``failures_per_pseudonym`` wrong codes within ``window`` is
    refused until the oldest leaves the window. Everyone together shares
    ``hashes_per_minute`` Argon2 verifications (``hash_burst`` at once): pseudonyms cost
    nothing to create, so a flood from many of them must not lock honest people out; it
    only keeps them waiting for the next verification, a second or so, and cannot run the
    server out of memory or CPU. With 80-bit codes, a thousand guesses a minute would still
    need longer than the age of the universe to hit one.
    """

    hash_cost: Argon2Cost = Argon2Cost()
    failures_per_pseudonym: int = 4
    window: timedelta = timedelta(hours=1)
    hashes_per_minute: int = 60
    hash_burst: int = 10


def argon2id(secret: str, salt: bytes, cost: Argon2Cost) -> bytes:
    """A 32-byte Argon2id hash: the one KDF for passphrases and receipt codes."""
    return hash_secret_raw(
        secret.encode(),
        salt,
        time_cost=cost.time_cost,
        memory_cost=cost.memory_cost_kib,
        parallelism=cost.parallelism,
        hash_len=32,
        type=Type.ID,
    )
