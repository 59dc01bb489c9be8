"""What the engine says: channel-neutral bot messages, and what it asks the outside to do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Option:
    """One answer a person can pick; channels show it as a button or a numbered line."""

    id: str
    label: str


@dataclass(frozen=True)
class BotMessage:
    """One message to the person. ``question`` is set when the message waits for an answer."""

    text: str
    options: tuple[Option, ...] = ()
    multi: bool = False
    question: str | None = None
    contacts: tuple[str, ...] = ()
    crisis: bool = False
    level: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "options": [{"id": o.id, "label": o.label} for o in self.options],
            "multi": self.multi,
            "question": self.question,
            "contacts": list(self.contacts),
            "crisis": self.crisis,
            "level": self.level,
        }


# Effects: what the engine asks its driver to carry out (store, seal, alert). The engine
# never performs them itself, so it stays pure and every channel gets them alike.


@dataclass(frozen=True)
class CaseUpdated:
    """The case's persona, level or categories changed: record it, alert the commission."""

    persona: str | None
    level: int | None
    previous_level: int | None
    categories: tuple[str, ...]
    # What the commission's alert shows beside the level: each finished questionnaire as
    # (instrument, score, band), and the routes the person was given for these facts.
    scores: tuple[tuple[str, int, str], ...] = ()
    routes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageForCommission:
    """Something the person addressed to the commission; sealed so only it can read it."""

    kind: str  # "message", "contact", or "answer" (to a message of the commission)
    text: str
    # The how-many-th message of the case: a turn replayed after a crash carries the same
    # number again, so the driver can refuse to deliver it twice.
    sequence: int


@dataclass(frozen=True)
class SlotRequested:
    """The person picked an interview slot; the driver books it (a slot is booked once) and
    frees the one the case held before, if any."""

    slot_id: str
    modality: str = "council"


@dataclass(frozen=True)
class SlotCancelled:
    """The person cancelled their interview: the driver frees the slot."""

    slot_id: str


@dataclass(frozen=True)
class EraseRequested:
    """The person confirmed that everything about their case must be deleted now."""


@dataclass(frozen=True)
class ReceiptRequested:
    """The case now holds something for the commission: give the person a receipt code."""


@dataclass(frozen=True)
class ReceiptPresented:
    """The person typed a receipt code to come back to an earlier case."""

    code: str


@dataclass(frozen=True)
class CheckInRequested:
    """The person asked to hear from the bot again, here, on ``due``: the driver schedules
    it, in place of any check-in of this conversation still to come."""

    due: date


@dataclass(frozen=True)
class CheckInStopped:
    """The person wants no more check-ins: none of this conversation's is sent any more."""


@dataclass(frozen=True)
class CheckInAnswered:
    """The person answered check-in ``check_in`` (the id the driver gave with it)."""

    check_in: str


@dataclass(frozen=True)
class CheckInAlert:
    """Check-in ``check_in`` came out worse and the person wants the commission told: the
    case waits for an acknowledgement at ``level`` again, and the alert shows ``scores``
    as (screen, score, band)."""

    check_in: str
    level: int
    scores: tuple[tuple[str, int, str], ...]


Effect = (
    CaseUpdated
    | MessageForCommission
    | SlotRequested
    | SlotCancelled
    | EraseRequested
    | ReceiptRequested
    | ReceiptPresented
    | CheckInRequested
    | CheckInStopped
    | CheckInAnswered
    | CheckInAlert
)
