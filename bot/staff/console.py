"""What the commission does to a case, whatever room or client it works in.

A member's command, note or reaction arrives here already tied to its case (the staff room
knows which thread it came from); the console changes the case in the store, tells the
person what concerns them through ``People``, and answers the member with one sentence.
The person never learns which member acted; the audit trail says, by keyed hash.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.policy.conversations import Conversations
from bot.staff import card, closing
from bot.staff.commands import Command, parse_day, parse_hours, parse_status, parse_year
from flows.engine import (
    BookingCancelledByCouncil,
    BookingMoveAsked,
    CaseAcknowledged,
    CommissionReplied,
    Event,
)
from flows.messages import BotMessage
from flows.resources import Resources
from storage import STATUS_CLOSED, STATUS_IN_PROGRESS, CaseFile, Store, utcnow

if TYPE_CHECKING:
    from bot.report.publish import ReportFile

log = logging.getLogger("bot.staff.console")

ACKNOWLEDGE = "✅"
TAKE = "✋"
# What a client may add to an emoji: the emoji presentation selector, skin tones.
_EMOJI_DECORATIONS = dict.fromkeys([0xFE0F, *range(0x1F3FB, 0x1F400)])
# How many days of slots `!créneaux` lists.
SLOTS_SHOWN_DAYS = 14


def reaction_key(key: str) -> str:
    return key.translate(_EMOJI_DECORATIONS)


class PersonLine(Protocol):
    """One channel's way to reach a person between their own turns."""

    conversations: Conversations

    async def deliver(self, address: str, messages: list[BotMessage], key: str) -> bool: ...


@dataclass
class People:
    """Tells a case's person what the commission did, on the newest conversation that can
    still be reached."""

    store: Store
    lines: Mapping[str, PersonLine]

    async def tell(
        self, case_id: str, event: Event, key: str, *, conversation: str | None = None
    ) -> str | None:
        """The channel the person was told on, None when none could be reached. ``key``
        makes a replay after a crash send nothing twice; ``conversation`` (a pseudonym)
        keeps to that one conversation, as a check-in goes back where it was asked."""
        for address in await self.store.addresses(case_id):
            line = self.lines.get(address.channel)
            if line is None or conversation not in (None, address.pseudonym):
                continue
            try:
                messages = await line.conversations.notify(address.pseudonym, event)
                if messages and await line.deliver(address.address, messages, key):
                    return address.channel
            except Exception as error:  # the next conversation of the case may answer
                log.error("event=person_unreachable error=%s", type(error).__name__)
        return None


@dataclass(frozen=True)
class Answer:
    """What the console says back to the member, and whether the case card must change."""

    text: str
    card_changed: bool = False
    # Posted after the text, encrypted like it (the yearly report).
    files: tuple[ReportFile, ...] = ()


@dataclass
class Console:
    store: Store
    people: People
    resources: Resources
    members: frozenset[str]
    locale: str = "fr"
    clock: Callable[[], datetime] = utcnow
    # `!clore` fields being filled in, by case: a form a member has not confirmed yet.
    _forms: dict[str, dict[str, str]] = field(default_factory=dict)

    def t(self, key: str, **values: object) -> str:
        return self.resources.texts.get(self.locale, f"console.{key}", **values)

    def local_now(self) -> datetime:
        """Now in the deployment's time zone, as members read dates."""
        return self.clock().astimezone(self.resources.deployment.timezone)

    # -- what arrives ------------------------------------------------------------------

    async def command(
        self, member: str, case_id: str | None, command: Command, event_id: str
    ) -> Answer:
        if command.name == "aide":
            return Answer(card.help_text(case_id is not None, self.resources.texts, self.locale))
        general = GENERAL.get(command.name)
        if general is not None:
            return await general(self, member, command.argument)
        action = IN_CASE.get(command.name)
        if action is None:
            return Answer(self.t("done.unknown"))
        if case_id is None:
            return Answer(self.t("done.needs_case"))
        file = await self.store.case_file(case_id)
        if file is None:
            return Answer(self.t("done.case_gone"))
        return await action(self, member, file, command.argument, event_id)

    async def note(self, member: str, case_id: str, text: str, event_id: str) -> Answer | None:
        """A plain message in a case thread: kept on the case, for the commission alone."""
        if not text.strip():
            return None
        if await self.store.add_note(case_id, text, dedup_key=f"note:{event_id}"):
            await self.store.link_staff_event(event_id, case_id, "note")
            await self.store.record_staff_action("note", case_id, member)
        return None

    async def reaction(self, member: str, case_id: str, key: str, *, added: bool) -> Answer | None:
        file = await self.store.case_file(case_id)
        if file is None:
            return None
        key = reaction_key(key)
        if key == ACKNOWLEDGE:
            if added:
                return await self.acknowledge(member, file, "", "")
            if await self.store.unacknowledge(case_id, member):
                return Answer(self.t("done.unacknowledged"), card_changed=True)
        elif key == TAKE:
            if added:
                return await self.take(member, file, "", "")
            if file.assignee == member:
                await self.store.assign(case_id, None, by=member)
                return Answer(self.t("done.released"), card_changed=True)
        return None

    # -- in a case ---------------------------------------------------------------------

    async def reply(self, member: str, file: CaseFile, text: str, event_id: str) -> Answer:
        return await self._relay(member, file, text, event_id, correction=False)

    async def correct(self, member: str, case_id: str, text: str, event_id: str) -> Answer:
        """An edit of a `!r` message: the person reads the corrected text."""
        file = await self.store.case_file(case_id)
        if file is None:
            return Answer(self.t("done.case_gone"))
        return await self._relay(member, file, text, event_id, correction=True)

    async def _relay(
        self, member: str, file: CaseFile, text: str, event_id: str, *, correction: bool
    ) -> Answer:
        text = text.strip()
        if not text:
            return Answer(self.t("done.reply_empty"))
        await self.store.append_reply(file.case_id, text, dedup_key=f"reply:{event_id}")
        await self.store.link_staff_event(event_id, file.case_id, "reply")
        action = "correct" if correction else "reply"
        await self.store.record_staff_action(action, file.case_id, member)
        event = CommissionReplied(text, correction=correction)
        channel = await self.people.tell(file.case_id, event, transaction_key("reply", event_id))
        if channel is None:
            return Answer(self.t("done.reply_kept"))
        return Answer(self.t("done.reply_delivered", channel=self.t(f"channel.{channel}")))

    async def acknowledge(self, member: str, file: CaseFile, _: str, event_id: str) -> Answer:
        if not await self.store.acknowledge(file.case_id, member):
            return Answer(self.t("done.already_acknowledged"))
        told = await self.people.tell(
            file.case_id, CaseAcknowledged(), transaction_key("acknowledged", file.case_id)
        )
        key = "done.acknowledged" if told else "done.acknowledged_unreachable"
        return Answer(self.t(key), card_changed=True)

    async def take(self, member: str, file: CaseFile, _: str, event_id: str) -> Answer:
        await self.store.assign(file.case_id, member, by=member)
        return Answer(self.t("done.assigned", member=member), card_changed=True)

    async def assign_to(self, member: str, file: CaseFile, argument: str, event_id: str) -> Answer:
        other = argument.strip().split()[0] if argument.strip() else ""
        if other not in self.members:
            return Answer(self.t("done.not_a_member"))
        await self.store.assign(file.case_id, other, by=member)
        return Answer(self.t("done.assigned", member=other), card_changed=True)

    async def release(self, member: str, file: CaseFile, _: str, event_id: str) -> Answer:
        await self.store.assign(file.case_id, None, by=member)
        return Answer(self.t("done.released"), card_changed=True)

    async def status(self, member: str, file: CaseFile, argument: str, event_id: str) -> Answer:
        status = parse_status(argument)
        if status is None:
            return Answer(self.t("done.status_usage"))
        if status == STATUS_CLOSED:
            return await self.close(member, file, "", event_id)
        if status == STATUS_IN_PROGRESS and file.acknowledged_at is None:
            return await self.acknowledge(member, file, "", event_id)
        await self.store.set_status(file.case_id, status, member)
        return Answer(self.t("done.status", status=self.t(f"status.{status}")), card_changed=True)

    async def close(self, member: str, file: CaseFile, argument: str, event_id: str) -> Answer:
        if file.status == STATUS_CLOSED:
            return Answer(self.t("done.already_closed"))
        form = self._forms.setdefault(file.case_id, closing.prefill(file))
        words = argument.strip()
        if words.casefold() in ("ok", "oui", "yes"):
            left = [self.t(f"closing.fields.{name}") for name in closing.missing(form)]
            if left:
                return Answer(self.t("done.close_missing", fields=", ".join(left)))
            await self.store.close_case(file.case_id, dict(form), member)
            del self._forms[file.case_id]
            days = self.store.retention.closed_case_ttl.days
            return Answer(self.t("done.closed", days=days), card_changed=True)
        if words:
            try:
                form.update(closing.parse_fields(words))
            except ValueError as error:
                return Answer(self.resources.texts.get(self.locale, str(error)))
        return Answer(closing.form_text(form, self.resources.texts, self.locale))

    async def reopen(self, member: str, file: CaseFile, _: str, event_id: str) -> Answer:
        if file.status != STATUS_CLOSED:
            return Answer(self.t("done.not_closed"))
        await self.store.reopen(file.case_id, member)
        return Answer(self.t("done.reopened"), card_changed=True)

    async def explicit_note(self, member: str, file: CaseFile, text: str, event_id: str) -> Answer:
        await self.note(member, file.case_id, text, event_id)
        return Answer(self.t("done.noted"))

    async def appointment(
        self, member: str, file: CaseFile, argument: str, event_id: str
    ) -> Answer:
        verb = argument.strip()
        if verb not in ("annuler", "deplacer"):
            return Answer(self.t("done.appointment_usage"))
        if not file.bookings:
            return Answer(self.t("done.no_booking"))
        slot = file.bookings[0]
        # Freed first: the person who is asked to move picks among slots that include it.
        await self.store.cancel_booking(file.case_id, slot)
        action = "cancel" if verb == "annuler" else "move"
        await self.store.record_staff_action(f"appointment_{action}", file.case_id, member)
        event: Event = (
            BookingCancelledByCouncil(slot) if action == "cancel" else BookingMoveAsked(slot)
        )
        told = await self.people.tell(
            file.case_id, event, transaction_key(f"appointment-{action}", event_id)
        )
        done = f"done.appointment_{action}" + ("" if told else "_unreachable")
        words = card.slot_words(slot, self.resources.texts, self.locale)
        return Answer(self.t(done, slot=words), card_changed=True)

    # -- anywhere in the room ------------------------------------------------------------

    async def queue(self, member: str, _: str) -> Answer:
        # Only the cases the room knows: a conversation that never alerted the commission
        # (a hello, questions asked and answered) is nobody's case to work.
        files = [file for file in await self.store.open_case_files() if file.thread_root]
        return Answer(card.queue_text(files, self.clock(), self.resources.texts, self.locale))

    async def templates(self, member: str, _: str) -> Answer:
        names = ", ".join(self.resources.canned.names())
        return Answer(self.t("done.templates", names=names))

    async def template(self, member: str, argument: str) -> Answer:
        name = argument.strip()
        if name not in self.resources.canned.names():
            return await self.templates(member, "")
        council = self.resources.deployment.council
        text = self.resources.canned.render(name, self.locale, council)
        return Answer(self.t("done.template", name=name, text=text))

    async def slots(self, member: str, argument: str) -> Answer:
        verb, _, rest = argument.strip().partition(" ")
        if not verb:
            return Answer(await self._slots_text())
        day_words, _, hours_words = rest.strip().partition(" ")
        today = self.local_now().date()
        day = parse_day(day_words, today)
        if verb not in ("fermer", "ouvrir") or day is None or day < today:
            return Answer(self.t("done.slots_usage"))
        if verb == "fermer":
            await self.store.set_calendar_day(day, None)
            await self.store.record_staff_action("slots_close", None, member)
            booked = [
                slot for _, slot in await self.store.all_bookings()
                if slot.startswith(day.isoformat())
            ]
            key = "done.day_closed_with_bookings" if booked else "done.day_closed"
            words = card.day_words(day, self.resources.texts, self.locale)
            return Answer(self.t(key, day=words, count=len(booked)))
        hours = parse_hours(hours_words) if hours_words else None
        if hours_words and hours is None:
            return Answer(self.t("done.slots_usage"))
        await self._open_day(day, hours)
        await self.store.record_staff_action("slots_open", None, member)
        return Answer(await self._slots_text())

    async def report(self, member: str, argument: str) -> Answer:
        """The yearly report's files, from the statistics rows alone, for the room."""
        years = await self.store.statistics_years()
        listed = ", ".join(str(year) for year in years)
        year = parse_year(argument)
        if year is None:
            example = years[-1] if years else self.local_now().year
            return Answer(self.t("done.report_usage" + ("" if years else "_empty"),
                                 year=example, years=listed))
        if year not in years:
            return Answer(self.t("done.report_no_year" + ("" if years else "_empty"),
                                 year=year, years=listed))
        # matplotlib is loaded when a member asks for a report, not when the bot starts.
        from bot.report.publish import report_files, with_tables_zipped

        try:
            files = await report_files(
                self.store, year, locale=self.locale, deployment=self.resources.deployment
            )
        except Exception as error:  # the room hears of it; the bot goes on
            log.error("event=report_failed error=%s", type(error).__name__)
            return Answer(self.t("done.report_failed", year=year))
        files = with_tables_zipped(files, year)
        await self.store.record_staff_action("report", None, member)
        return Answer(self.t("done.report_sent", year=year, count=len(files)), files=tuple(files))

    async def _open_day(self, day: date, hours: str | None) -> None:
        calendar = await self.store.calendar_days()
        deployment = self.resources.deployment
        usual = any(opening.weekday == day.weekday() for opening in deployment.weekly)
        if hours is None and (usual or day in calendar):
            # Back to the usual week: a closure (or an extra opening) is lifted.
            await self.store.clear_calendar_day(day)
            return
        if hours is None:
            opening = deployment.weekly[0]
            hours = f"{opening.start:%H:%M}-{opening.end:%H:%M}"
        await self.store.set_calendar_day(day, hours)

    async def _slots_text(self) -> str:
        now = self.clock()
        calendar = await self.store.calendar_days()
        slots = self.resources.deployment.upcoming_slots(now, calendar)
        horizon = now + timedelta(days=SLOTS_SHOWN_DAYS)
        shown = [slot for slot in slots if slot.start <= horizon]
        taken = await self.store.taken_slots(slot.id for slot in shown)
        return card.slots_text(shown, taken, calendar, self.resources.texts, self.locale)


def transaction_key(kind: str, source: str) -> str:
    """A transaction key from what caused the message, the same when it is replayed."""
    return f"{kind}-{hashlib.sha256(source.encode()).hexdigest()[:24]}"


IN_CASE = {
    "r": Console.reply,
    "vu": Console.acknowledge,
    "prendre": Console.take,
    "attribuer": Console.assign_to,
    "liberer": Console.release,
    "statut": Console.status,
    "clore": Console.close,
    "rouvrir": Console.reopen,
    "note": Console.explicit_note,
    "rdv": Console.appointment,
}
GENERAL = {
    "file": Console.queue,
    "modeles": Console.templates,
    "modele": Console.template,
    "creneaux": Console.slots,
    "rapport": Console.report,
}

