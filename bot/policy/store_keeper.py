"""The case keeper backed by the encrypted store: what the policy layer needs, nothing more."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flows.deployment import CommissionSchedule
from flows.engine import ReceiptChecked
from flows.messages import CaseUpdated, CheckInAlert
from storage import CaseWrites, ReceiptThrottled, Store, utcnow
from storage.check_ins import ANSWERED, SENT

# A refusal shorter than this comes from the brake on everyone's attempts, not from this
# person's own mistakes: the person is told to send the code again in a moment.
SHORT_WAIT = timedelta(minutes=2)


class StoreKeeper:
    """Maps a conversation's pseudonym to its case in the store; each effect of a turn is
    written in one transaction.

    With a staff room (``staff_room=True``) every commission alert, booking and message also
    goes through the outbox, with a key derived from what it says, so a turn replayed after
    a crash never alerts twice, and a case whose level rises gets the acknowledgement
    deadline of that level from ``schedule``. Without one, nothing is queued for nobody:
    what a person writes exists only sealed to the commission's key.
    """

    def __init__(
        self,
        store: Store,
        *,
        staff_room: bool = False,
        schedule: CommissionSchedule | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.staff_room = staff_room
        self.schedule = schedule
        self.clock = clock

    def pseudonym(self, channel: str, identity: str) -> str:
        return self.store.pseudonym(channel, identity)

    async def _case_id(self, pseudonym: str) -> str | None:
        conversation = await self.store.load_conversation(pseudonym)
        return conversation.case_id if conversation else None

    async def load_state(self, pseudonym: str) -> dict[str, Any] | None:
        conversation = await self.store.load_conversation(pseudonym)
        return dict(conversation.state) if conversation else None

    async def save_state(
        self, pseudonym: str, state: dict[str, Any], *,
        channel: str | None = None, address: str | None = None,
    ) -> None:
        await self.store.save_conversation(pseudonym, state, channel=channel, address=address)

    async def taken_slots(self, candidates: Iterable[str]) -> frozenset[str]:
        return frozenset(await self.store.taken_slots(candidates))

    async def calendar(self) -> Mapping[date, str | None]:
        return await self.store.calendar_days()

    async def update_case(self, pseudonym: str, update: CaseUpdated) -> None:
        async with self.store.writes_for(pseudonym) as case:
            if case is None:
                return
            changed = update.level is not None and update.level != update.previous_level
            await case.update(
                persona=update.persona,
                level=update.level,
                categories=update.categories,
                summary={
                    "scores": [list(score) for score in update.scores],
                    "routes": list(update.routes),
                },
                acknowledge_by=self._deadline(update.level) if changed else None,
            )
            if self.staff_room and changed:
                payload = {
                    "level": update.level,
                    "previous_level": update.previous_level,
                    "persona": update.persona,
                    "categories": list(update.categories),
                    "scores": [list(score) for score in update.scores],
                    "routes": list(update.routes),
                }
                await case.enqueue(
                    "alert", payload, dedup_key=f"alert:{case.case_id}:level:{update.level}"
                )
            await case.record_event("case_updated", pseudonym=pseudonym)

    def _deadline(self, level: int | None) -> datetime | None:
        """When a member must have acknowledged a case of this level (the earlier deadline
        stays when the case already had one)."""
        if not self.staff_room or self.schedule is None or level is None:
            return None
        within = self.schedule.acknowledge_within.get(level)
        return None if within is None else self.clock() + within

    async def seal_for_commission(
        self, pseudonym: str, kind: str, text: str, sequence: int
    ) -> None:
        async with self.store.writes_for(pseudonym) as case:
            if case is None:
                return
            dedup_key = f"sealed:{case.case_id}:{pseudonym}:{sequence}"
            if not await case.seal(kind, text.encode(), dedup_key=dedup_key):
                return
            if self.staff_room:
                await case.enqueue("sealed", {"kind": kind, "text": text}, dedup_key=dedup_key)
            await case.record_event("sealed_for_commission", pseudonym=pseudonym)

    async def book_slot(self, pseudonym: str, slot_id: str, modality: str = "council") -> bool:
        async with self.store.writes_for(pseudonym) as case:
            if case is None or not await case.book_slot(slot_id):
                return False
            for other in await case.bookings():
                if other != slot_id:
                    await case.cancel_booking(other)
            await self._booking_event(case, slot_id, {"modality": modality})
            return True

    async def cancel_booking(self, pseudonym: str, slot_id: str) -> None:
        async with self.store.writes_for(pseudonym) as case:
            if case is not None and await case.cancel_booking(slot_id):
                await self._booking_event(case, slot_id, {"cancelled": True})

    async def _booking_event(self, case: CaseWrites, slot_id: str, details: dict[str, Any]) -> None:
        """One staff-room event per booking and per cancellation, even when a turn is
        replayed after a crash."""
        if not self.staff_room:
            return
        suffix = ":cancelled" if details.get("cancelled") else ""
        await case.enqueue(
            "booking",
            {"slot": slot_id, **details},
            dedup_key=f"booking:{case.case_id}:{slot_id}{suffix}",
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
        except ReceiptThrottled as refusal:
            busy = refusal.retry_after < SHORT_WAIT
            return ReceiptChecked(found=False, throttled=True, busy=busy)
        if case_id is None:
            return ReceiptChecked(found=False)
        replies = tuple(reply.text for reply in await self.store.replies(case_id))
        return ReceiptChecked(found=True, replies=replies)

    async def schedule_check_in(self, pseudonym: str, channel: str, due: date) -> None:
        await self.store.schedule_check_in(pseudonym, channel, due)

    async def stop_check_ins(self, pseudonym: str) -> None:
        await self.store.stop_check_ins(pseudonym)

    async def check_in_answered(self, check_in: str) -> None:
        # An answer after the check-in expired is still read by the conversation; the row
        # stays expired, and nothing is sent again either way.
        await self.store.move_check_in(check_in, SENT, ANSWERED)

    async def alert_check_in(self, pseudonym: str, alert: CheckInAlert) -> None:
        """The case waits for an acknowledgement again, at the check-in's level, and the
        staff room hears of the check-in once, even when a turn is replayed."""
        async with self.store.writes_for(pseudonym) as case:
            if case is None:
                return
            await case.call_again(self._deadline(alert.level))
            if self.staff_room:
                payload = {"level": alert.level, "scores": [list(score) for score in alert.scores]}
                await case.enqueue(
                    "check_in", payload, dedup_key=f"check_in:{case.case_id}:{alert.check_in}"
                )
            await case.record_event("check_in_alert", pseudonym=pseudonym)
