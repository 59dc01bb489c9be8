"""The commission's clock: acknowledgement reminders, the morning queue, the reminder the
day before an interview, the check-ins people asked for, and the daily purge.

Nothing here is kept in memory between rounds: each round asks the store what is due, and
each job is written as done in the store, so a restart neither loses a reminder nor sends
one twice. A reminder is queued in the same transaction that counts it (compare-and-set on
its number), then delivered like every staff-room event, by transaction id. A check-in is
claimed (compare-and-set on its status) before it is sent, and given back when no channel
could deliver it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.staff.console import People, transaction_key
from flows.deployment import Deployment
from flows.engine import AppointmentReminder, CheckInDue
from storage import Store, utcnow
from storage.check_ins import SCHEDULED, SENT

log = logging.getLogger("bot.staff.scheduler")

TICK_SECONDS = 30.0
# A check-in is sent once; unanswered this many days after its day, it expires, and one
# that no channel could deliver by then is not sent any more.
CHECK_IN_ANSWER_DAYS = timedelta(days=7)


@dataclass
class Scheduler:
    store: Store
    people: People
    deployment: Deployment
    # Posts the open cases in the staff room; False when the room is on hold.
    post_queue: Callable[[date], Awaitable[bool]] | None = None
    # Tells the staff room that the outbox holds something new.
    wake_staff_room: Callable[[], None] = lambda: None
    # The morning queue and the purge; off where a test or a bench counts every message.
    daily_jobs: bool = True
    clock: Callable[[], datetime] = utcnow
    tick: float = TICK_SECONDS
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as error:  # the next round tries again
                log.error("event=schedule_failed error=%s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick):
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self) -> None:
        now = self.clock()
        if await self.remind_overdue(now):
            self.wake_staff_room()
        today = now.astimezone(self.deployment.timezone)
        schedule = self.deployment.commission
        if today.time() >= schedule.appointment_reminder_at:
            await self.remind_appointments(today.date() + timedelta(days=1))
            # At the hour people hear from the council, once an hour at the most: a check-in
            # whose channel was down is tried again an hour later, not at every round.
            await self._once(
                f"check-ins:{today:%Y-%m-%dT%H}", lambda: self.send_check_ins(today.date())
            )
        if not self.daily_jobs:
            return
        post_queue = self.post_queue
        if post_queue is not None and today.time() >= schedule.digest_at:
            await self._once(f"queue:{today.date()}", lambda: post_queue(today.date()))
        await self._once(f"purge:{today.date()}", self._purge)

    async def remind_overdue(self, now: datetime) -> int:
        """Queue the next reminder of every case whose acknowledgement is late."""
        queued = 0
        every = self.deployment.commission.remind_every
        for file in await self.store.overdue_cases(now):
            number = file.reminders_sent + 1
            interval = every.get(file.level or 1, every[1])
            late = now - (file.acknowledge_by or now)
            payload = {
                "level": file.level,
                "number": number,
                "late_minutes": max(0, int(late.total_seconds() // 60)),
            }
            if await self.store.record_reminder(file.case_id, number, now + interval, payload):
                log.info("event=reminder_queued level=%s number=%d", file.level, number)
                queued += 1
        return queued

    async def remind_appointments(self, day: date) -> None:
        """The person hears of their interview the day before, on their channel."""
        for case_id, slot in await self.store.all_bookings():
            if not slot.startswith(day.isoformat()):
                continue
            mark = f"appointment:{case_id}:{slot}"
            if await self.store.done(mark):
                continue
            key = transaction_key("appointment-reminder", mark)
            await self.people.tell(case_id, AppointmentReminder(slot), key)
            # Marked even when nobody could be reached: the person's channel is gone, and
            # tomorrow's interview is on the council's list anyway.
            await self.store.mark_done(mark)

    async def send_check_ins(self, today: date) -> bool:
        """Each check-in due goes out once, on the conversation that asked for it. A bot
        that dies between claiming a check-in and sending it loses that one rather than
        risk sending it twice: Telegram cannot tell a resend from a new message."""
        await self.store.expire_check_ins(today - CHECK_IN_ANSWER_DAYS)
        for check_in in await self.store.due_check_ins(today):
            if check_in.channel not in self.people.lines:
                continue  # a channel this bot does not serve now: it waits, or expires
            if not await self.store.move_check_in(check_in.id, SCHEDULED, SENT):
                continue  # another round claimed it
            case_id = await self.store.case_of(check_in.pseudonym)
            key = transaction_key("check-in", check_in.id)
            told = case_id is not None and await self.people.tell(
                case_id, CheckInDue(check_in.id), key, conversation=check_in.pseudonym
            )
            if told:
                log.info("event=check_in_sent")
            else:
                await self.store.move_check_in(check_in.id, SENT, SCHEDULED)
        return True

    async def _once(self, mark: str, job: Callable[[], Awaitable[bool]]) -> None:
        if await self.store.done(mark):
            return
        if await job():
            await self.store.mark_done(mark)

    async def _purge(self) -> bool:
        purged = await self.store.purge_expired()
        log.info("event=purge cases=%d", purged)
        return True
