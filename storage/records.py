"""The plain values the store hands back; none of them is tied to a database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Conversation:
    case_id: str
    state: dict[str, Any]


@dataclass(frozen=True)
class CaseInfo:
    case_id: str
    persona: str | None
    level: int | None
    status: str
    categories: tuple[str, ...]
    created_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class SealedMessage:
    """What only the commission can open; ``ciphertext`` is the HPKE output (enc || ct)."""

    id: str
    case_id: str
    kind: str
    key_id: str
    format_version: int
    suite: str
    ciphertext: bytes = field(repr=False)
    created_at: datetime


@dataclass(frozen=True)
class Reply:
    id: str
    text: str = field(repr=False)
    created_at: datetime


@dataclass(frozen=True)
class OutboxItem:
    id: str
    case_id: str
    kind: str
    payload: dict[str, Any] = field(repr=False)
    created_at: datetime
