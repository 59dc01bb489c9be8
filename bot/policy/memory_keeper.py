"""A case keeper that holds everything in this process's memory, for the terminal chat.

Nothing is written anywhere; closing the chat forgets the conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from flows.engine import ReceiptChecked
from flows.messages import CaseUpdated, CheckInAlert


@dataclass
class MemoryCase:
    state: dict[str, object]
    update: CaseUpdated | None = None
    sealed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class MemoryKeeper:
    cases: dict[str, MemoryCase] = field(default_factory=dict)
    bookings: dict[str, str] = field(default_factory=dict)  # slot id -> pseudonym
    receipts: dict[str, str] = field(default_factory=dict)  # code -> pseudonym
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def pseudonym(self, channel: str, identity: str) -> str:
        message = f"{channel}\x00{identity}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    async def load_state(self, pseudonym: str) -> dict[str, object] | None:
        case = self.cases.get(pseudonym)
        return dict(case.state) if case else None

    async def save_state(
        self, pseudonym: str, state: dict[str, object], *,
        channel: str | None = None, address: str | None = None,
    ) -> None:
        # The terminal chat is answered in place: there is nowhere else to reach it.
        self.cases.setdefault(pseudonym, MemoryCase(state)).state = dict(state)

    async def calendar(self) -> Mapping[date, str | None]:
        return {}

    async def taken_slots(self, candidates: Iterable[str]) -> frozenset[str]:
        return frozenset(self.bookings).intersection(candidates)

    async def update_case(self, pseudonym: str, update: CaseUpdated) -> None:
        self.cases.setdefault(pseudonym, MemoryCase({})).update = update

    async def seal_for_commission(
        self, pseudonym: str, kind: str, text: str, sequence: int
    ) -> None:
        self.cases.setdefault(pseudonym, MemoryCase({})).sealed.append((kind, text))

    async def book_slot(self, pseudonym: str, slot_id: str, modality: str = "council") -> bool:
        if slot_id in self.bookings and self.bookings[slot_id] != pseudonym:
            return False
        for taken, holder in list(self.bookings.items()):
            if holder == pseudonym:
                del self.bookings[taken]
        self.bookings[slot_id] = pseudonym
        return True

    async def cancel_booking(self, pseudonym: str, slot_id: str) -> None:
        if self.bookings.get(slot_id) == pseudonym:
            del self.bookings[slot_id]

    async def erase(self, pseudonym: str) -> None:
        self.cases.pop(pseudonym, None)
        for slot, holder in list(self.bookings.items()):
            if holder == pseudonym:
                del self.bookings[slot]

    async def issue_receipt(self, pseudonym: str) -> str | None:
        code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
        self.receipts[code] = pseudonym
        return code

    async def redeem_receipt(self, pseudonym: str, code: str) -> ReceiptChecked:
        holder = self.receipts.get(code.strip().upper())
        if holder is None:
            return ReceiptChecked(found=False)
        if holder in self.cases and holder != pseudonym:
            self.cases[pseudonym] = self.cases.pop(holder)
            self.receipts[code.strip().upper()] = pseudonym
        return ReceiptChecked(found=True)

    # The terminal chat cannot write to anyone later, so it offers no check-in: there is
    # never one to keep.

    async def schedule_check_in(self, pseudonym: str, channel: str, due: date) -> None:
        return None

    async def stop_check_ins(self, pseudonym: str) -> None:
        return None

    async def check_in_answered(self, check_in: str) -> None:
        return None

    async def alert_check_in(self, pseudonym: str, alert: CheckInAlert) -> None:
        return None
