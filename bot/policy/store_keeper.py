"""The case keeper backed by the encrypted store: what the policy layer needs, nothing more."""

from __future__ import annotations

from typing import Any

from flows.engine import ReceiptChecked
from flows.messages import CaseUpdated
from storage import ReceiptThrottled, Store


class StoreKeeper:
    """Maps a conversation's pseudonym to its case in the store.

    Every commission alert goes through the outbox with a key derived from what it says, so
    a turn replayed after a crash never alerts twice.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def pseudonym(self, channel: str, identity: str) -> str:
        return self.store.pseudonym(channel, identity)

    async def _case_id(self, pseudonym: str) -> str | None:
        conversation = await self.store.load_conversation(pseudonym)
        return conversation.case_id if conversation else None

    async def load_state(self, pseudonym: str) -> dict[str, Any] | None:
        conversation = await self.store.load_conversation(pseudonym)
        return dict(conversation.state) if conversation else None

    async def save_state(self, pseudonym: str, state: dict[str, Any]) -> None:
        await self.store.save_conversation(pseudonym, state)

    async def taken_slots(self) -> frozenset[str]:
        return frozenset(await self.store.taken_slots())

    async def update_case(self, pseudonym: str, update: CaseUpdated) -> None:
        case_id = await self._case_id(pseudonym)
        if case_id is None:
            return
        case = await self.store.get_case(case_id)
        # A case keeps its highest level, also when a person comes back to it from a new
        # conversation with a receipt code.
        level = update.level
        if case is not None and case.level is not None and level is not None:
            level = max(level, case.level)
        await self.store.update_case(
            case_id, persona=update.persona, level=level, categories=update.categories
        )
        if update.level is not None and update.level != update.previous_level:
            payload = {
                "level": update.level,
                "previous_level": update.previous_level,
                "persona": update.persona,
                "categories": list(update.categories),
                "scores": [list(score) for score in update.scores],
                "routes": list(update.routes),
            }
            await self.store.enqueue(
                case_id, "alert", payload, dedup_key=f"alert:{case_id}:level:{update.level}"
            )
        await self.store.record_event("case_updated", pseudonym=pseudonym, case_id=case_id)

    async def seal_for_commission(
        self, pseudonym: str, kind: str, text: str, sequence: int
    ) -> None:
        case_id = await self._case_id(pseudonym)
        if case_id is None:
            return
        # The words go twice, in one transaction: sealed to the commission's key for the
        # record, and in the outbox (under the case key, dropped once delivered) for the
        # encrypted staff room.
        await self.store.seal_and_enqueue(
            case_id,
            kind,
            text.encode(),
            {"kind": kind, "text": text},
            dedup_key=f"sealed:{case_id}:{pseudonym}:{sequence}",
        )
        await self.store.record_event("sealed_for_commission", pseudonym=pseudonym, case_id=case_id)

    async def book_slot(self, pseudonym: str, slot_id: str, modality: str = "council") -> bool:
        case_id = await self._case_id(pseudonym)
        if case_id is None or not await self.store.book_slot(case_id, slot_id):
            return False
        for other in await self.store.bookings(case_id):
            if other != slot_id:
                await self.store.cancel_booking(case_id, other)
        await self._booking_event(case_id, slot_id, {"modality": modality})
        return True

    async def cancel_booking(self, pseudonym: str, slot_id: str) -> None:
        case_id = await self._case_id(pseudonym)
        if case_id is None or slot_id not in await self.store.bookings(case_id):
            return
        await self.store.cancel_booking(case_id, slot_id)
        await self._booking_event(case_id, slot_id, {"cancelled": True})

    async def _booking_event(self, case_id: str, slot_id: str, details: dict[str, Any]) -> None:
        """One staff-room event per booking and per cancellation, even when a turn is
        replayed after a crash."""
        suffix = ":cancelled" if details.get("cancelled") else ""
        await self.store.enqueue(
            case_id,
            "booking",
            {"slot": slot_id, **details},
            dedup_key=f"booking:{case_id}:{slot_id}{suffix}",
        )

    async def erase(self, pseudonym: str) -> None:
        case_id = await self._case_id(pseudonym)
        if case_id is not None:
            await self.store.erase_case(case_id)
        await self.store.record_event("erased")

    async def issue_receipt(self, pseudonym: str) -> str | None:
        case_id = await self._case_id(pseudonym)
        return None if case_id is None else await self.store.issue_receipt(case_id)

    async def redeem_receipt(self, pseudonym: str, code: str) -> ReceiptChecked:
        try:
            case_id = await self.store.redeem_receipt(code, pseudonym)
        except ReceiptThrottled:
            return ReceiptChecked(found=False, throttled=True)
        if case_id is None:
            return ReceiptChecked(found=False)
        replies = tuple(reply.text for reply in await self.store.replies(case_id))
        return ReceiptChecked(found=True, replies=replies)
