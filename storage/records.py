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


@dataclass(frozen=True)
class CaseFile:
    """What the commission's console shows and works on for one case."""

    case_id: str
    status: str
    level: int | None
    persona: str | None
    # The engine's facts, e.g. "need:psychological", "age:50_59", "screen:burnout", "crisis".
    categories: tuple[str, ...]
    # {"scores": [[instrument, score, band], ...], "routes": [directory ids...]}: the last alert.
    summary: dict[str, Any]
    # The channel kind of the newest conversation with an address ("matrix", "telegram"...).
    channel: str | None
    # A staff member's Matrix id.
    assignee: str | None
    acknowledged_at: datetime | None
    acknowledge_by: datetime | None
    reminders_sent: int
    # The event id of the case card in the staff room.
    thread_root: str | None
    # Slot ids "YYYY-MM-DDTHH:MM", in the deployment's local time.
    bookings: tuple[str, ...]
    closing: dict[str, str]
    created_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class Address:
    """Where a case's person can be reached: one of its conversations."""

    pseudonym: str
    channel: str
    # E.g. the Matrix room id of the direct chat.
    address: str = field(repr=False)


@dataclass(frozen=True)
class Note:
    id: str
    text: str = field(repr=False)
    created_at: datetime


@dataclass(frozen=True)
class StaffEvent:
    """A staff-room event the bot links to a case (its card, an alert, a note, a reply)."""

    case_id: str
    kind: str
    at: datetime


# How long something took, in the only precision the yearly report keeps.
DELAY_BANDS = ("under_1h", "1h_24h", "1d_7d", "over_7d")
FOLLOW_UP_BANDS = ("under_1_month", "1_3_months", "3_12_months", "over_12_months")


@dataclass(frozen=True)
class StatisticsRow:
    """One case's line in the yearly report: labels only, no time finer than the month, and
    nothing that leads back to the case or its person."""

    # "YYYY-MM" of the case's creation.
    month: str
    # "self", "relative", "colleague"... as the engine names them.
    persona: str | None
    # The level of response (1 veille, 2 à identifier, 3 urgence).
    level: int | None
    # The engine's facts, e.g. "need:financial", "practice:self_employed", "crisis".
    categories: tuple[str, ...]
    # The channel kind the person wrote on ("matrix", "telegram"), when known.
    channel: str | None
    # Directory ids of the lines the person was sent to.
    routes: tuple[str, ...]
    # (instrument, band) of each score of the last alert, e.g. ("phq9", "moderate").
    score_bands: tuple[tuple[str, str], ...]
    # Whether the case reached the commission (an alert, a message or a booking).
    reached_commission: bool
    # The seven closing fields (bot.staff.closing.FIELDS) once the case is closed, else {}.
    closing: dict[str, str]
    # DELAY_BANDS from the alert to the commission's acknowledgement, and to its first
    # reply; None until it happens.
    acknowledged_within: str | None
    first_reply_within: str | None
    # FOLLOW_UP_BANDS from the case's creation to its closing; None while it is open.
    follow_up: str | None
