"""The commission's encrypted staff room: one thread per case, and the console in it.

Each case gets a thread whose root is its card; the bot edits the card (``m.replace``) as
the case changes and posts every later event of the case (a level change, the person's
words, a booking, a reminder) in the thread. Members work the case there: a plain message
is an internal note, ``!r`` answers the person, reactions on the card acknowledge (✅) and
take (✋) it. For clients without threads, a reply to any message of a case counts as in
its thread.

Each outbox item is sent with a transaction id derived from the item itself. When the bot
dies after the homeserver accepted an alert but before the item was marked delivered, the
next attempt sends the same transaction id from the same device, and the homeserver answers
with the event it already has instead of posting a second one: exactly one alert per item.
Nothing is posted while the room is unencrypted or holds someone outside the allow-list,
while a staff member's identity changed without the operator's confirmation, or while the
room key would not reach every staff member in the room (see ``staff_trust``); members'
commands wait likewise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from nio import ReactionEvent, RedactionEvent, RoomMessageText
from nio.events import Event as NioEvent

from bot.channels.matrix.format import text_content
from bot.staff import card
from bot.staff.commands import Command, parse, strip_fallback
from bot.staff.console import ACKNOWLEDGE, TAKE, Answer, Console, reaction_key, transaction_key
from flows.directory import Directory
from flows.texts import Texts
from storage import CaseFile, OutboxItem, Store, utcnow

if TYPE_CHECKING:
    from bot.report.publish import ReportFile

log = logging.getLogger("bot.channels.matrix.staff_room")

# Alerts are pushed right after each turn; this is only the fallback when none came.
POLL_SECONDS = 15.0
CRISIS_LEVEL = 3
HELP_COMMAND = "aide"
# An edit of a `!r` message this soon after it reaches the person as a correction; later,
# the member writes a new `!r`.
CORRECTION_WINDOW = timedelta(minutes=10)


class Guard(Protocol):
    async def identities_confirmed(self) -> bool: ...
    async def room_key_reaches_everyone(self) -> bool: ...


# What a member does that the console answers; membership and state changes are the
# guard's business at the next delivery.
MEMBER_ACTIONS = (ReactionEvent, RedactionEvent, RoomMessageText)

# Sends one event to a room; the event id once the homeserver accepted it.
Send = Callable[[str, dict[str, Any], str | None], Awaitable[str | None]]
# Uploads a file encrypted; the `file` of its event (the media's address and its key) once
# the homeserver took it, None when it refused.
Upload = Callable[[bytes], Awaitable[dict[str, Any] | None]]


def in_thread(content: dict[str, Any], root: str, reply_to: str | None = None) -> dict[str, Any]:
    """``content`` in the case's thread; clients without threads show it as a reply."""
    relation = {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": reply_to is None,
        "m.in_reply_to": {"event_id": reply_to or root},
    }
    return {**content, "m.relates_to": relation}


def edit_of(event_id: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": "* " + content["body"],
        # Mentions in an edit would notify the members again for every change of the card.
        "m.mentions": {},
        "m.new_content": {**content, "m.mentions": {}},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def _mentioned(content: dict[str, Any]) -> list[str]:
    mentions = content.get("m.mentions")
    users = mentions.get("user_ids") if isinstance(mentions, dict) else None
    return [user for user in users if isinstance(user, str)] if isinstance(users, list) else []


def related_event(content: dict[str, Any]) -> str | None:
    """The event a message belongs with: its thread's root, or the message it replies to."""
    relation = content.get("m.relates_to")
    if not isinstance(relation, dict):
        return None
    if relation.get("rel_type") == "m.thread" and isinstance(relation.get("event_id"), str):
        return str(relation["event_id"])
    reply = relation.get("m.in_reply_to")
    if isinstance(reply, dict) and isinstance(reply.get("event_id"), str):
        return str(reply["event_id"])
    return None


@dataclass
class StaffRoom:
    room_id: str
    members: frozenset[str]
    on_call: tuple[str, ...]
    store: Store
    console: Console
    send: Send
    # The room as the client sees it: its encryption and who is in it (joined or invited).
    room_state: Callable[[], tuple[bool, frozenset[str]] | None]
    guard: Guard
    texts: Texts
    directory: Directory
    locale: str = "fr"
    bot_user_id: str = ""
    # As ``keys matrix-identity`` prints it; None while the bot's identity is not published.
    bot_fingerprint: str | None = None
    # Pins an event in the room; False when the bot may not (its power level).
    pin: Callable[[str], Awaitable[bool]] | None = None
    upload: Upload | None = None
    clock: Callable[[], datetime] = utcnow
    _cards: dict[str, str] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wake(self) -> None:
        self._wake.set()

    async def trusted(self) -> bool:
        """Every identity confirmed and the room key reaching every staff member present."""
        if not await self.guard.identities_confirmed():
            return False
        return await self.guard.room_key_reaches_everyone()

    def ready(self) -> bool:
        state = self.room_state()
        if state is None:
            return False
        encrypted, users = state
        strangers = users - self.members - {self.bot_user_id}
        if not encrypted or strangers:
            log.warning(
                "event=staff_room_on_hold encrypted=%s strangers=%d", encrypted, len(strangers)
            )
            return False
        return True

    async def _open(self) -> bool:
        return self.ready() and await self.trusted()

    # -- what the bot posts ------------------------------------------------------------

    async def deliver_pending(self) -> int:
        """Send what waits in the outbox, oldest first; stop at the first failure."""
        async with self._lock:
            if not self.ready():
                return 0
            delivered = 0
            while items := await self.store.pending_outbox():
                if not await self.trusted():
                    return delivered
                await self._post_manual()
                for item in items:
                    if not await self._deliver(item):
                        return delivered
                    await self.store.mark_delivered(item.id)
                    log.info("event=staff_alert_delivered kind=%s", item.kind)
                    delivered += 1
            return delivered

    async def _deliver(self, item: OutboxItem) -> bool:
        file = await self.store.case_file(item.case_id)
        if file is None:  # erased since: nothing of it may reach the room any more
            return True
        mentions = self._mentions(item, file)
        if file.thread_root is None:
            root = await self._open_thread(file, mentions)
            if root is None:
                return False
            if item.kind == "alert" and item.payload.get("previous_level") is None:
                return True  # the card is the announcement of a new case
            mentions = [] if item.kind == "alert" else mentions
        else:
            root = file.thread_root
        text = card.event_text(item.kind, item.payload, self.texts, self.locale)
        content = {**text_content(text), "m.mentions": {"user_ids": mentions}}
        event_id = await self.send(self.room_id, in_thread(content, root), f"outbox-{item.id}")
        if not event_id:
            return False
        await self.store.link_staff_event(event_id, file.case_id, item.kind)
        await self._refresh_card(file.case_id)
        return True

    def _mentions(self, item: OutboxItem, file: CaseFile) -> list[str]:
        """Who is called: on-call members for a crisis, the assignee (or on-call) when a
        case is overdue; nobody for the rest, which the thread shows."""
        level = item.payload.get("level", file.level)
        if item.kind == "reminder":
            people = [file.assignee] if file.assignee else list(self.on_call)
            if level == CRISIS_LEVEL:
                people = list(dict.fromkeys([*self.on_call, *people]))
            return people
        if item.kind == "alert" and level == CRISIS_LEVEL:
            return list(self.on_call)
        return []

    def _card_body(self, file: CaseFile) -> str:
        text = card.card_text(
            file, self.texts, self.locale, directory=self.directory, now=self.console.local_now()
        )
        if file.level == CRISIS_LEVEL and file.acknowledged_at is None:
            lines = [self.texts.get(self.locale, "console.card.urgent"), text]
            if self.on_call:
                lines.append(self.texts.get(
                    self.locale, "console.card.on_call", members=", ".join(self.on_call)
                ))
            return "\n".join(lines)
        return text

    async def _open_thread(self, file: CaseFile, mentions: list[str]) -> str | None:
        text = self._card_body(file)
        content = {**text_content(text), "m.mentions": {"user_ids": mentions}}
        root = await self.send(self.room_id, content, f"card-{file.case_id}")
        if not root:
            return None
        await self.store.set_thread_root(file.case_id, root)
        await self.store.link_staff_event(root, file.case_id, "card")
        self._cards[file.case_id] = text
        return root

    async def _refresh_card(self, case_id: str) -> None:
        file = await self.store.case_file(case_id)
        if file is None or file.thread_root is None:
            return
        text = self._card_body(file)
        if self._cards.get(case_id) == text:
            return
        if await self.send(self.room_id, edit_of(file.thread_root, text_content(text)), None):
            self._cards[case_id] = text

    async def _post_manual(self) -> None:
        """The "mode d'emploi", once per room, pinned when the bot may pin."""
        mark = f"manual:{self.room_id}"
        if await self.store.done(mark):
            return
        text = card.manual_text(self.texts, self.locale)
        event_id = await self.send(
            self.room_id, text_content(text), transaction_key("manual", self.room_id)
        )
        if not event_id:
            return
        if self.pin is not None and not await self.pin(event_id):
            log.info("event=staff_manual_not_pinned")
        await self.store.mark_done(mark)

    async def post_queue(self, day: date) -> bool:
        """The morning list of open cases, once per day."""
        async with self._lock:
            if not await self._open():
                return False
            queue = await self.console.queue(self.bot_user_id, "")
            return bool(await self.send(self.room_id, text_content(queue.text), f"queue-{day}"))

    async def run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that races with the event, and the bot would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.deliver_pending()
            except Exception as error:  # the outbox keeps the item; the next round retries
                log.error("event=staff_delivery_failed error=%s", type(error).__name__)

    # -- what members do ---------------------------------------------------------------

    async def on_event(self, event: NioEvent) -> None:
        """A member's message, reaction or redaction in the room, already decrypted."""
        sender = getattr(event, "sender", None)
        if sender not in self.members or not isinstance(event, MEMBER_ACTIONS):
            return
        async with self._lock:
            if not await self._open():
                log.warning("event=staff_command_on_hold")
                return
            if isinstance(event, ReactionEvent):
                await self._reaction(sender, event.event_id, event.reacts_to, event.key)
            elif isinstance(event, RedactionEvent):
                await self._redaction(sender, event.redacts)
            elif isinstance(event, RoomMessageText):
                await self._message(sender, event)

    async def _case_of(self, event_id: str | None) -> str | None:
        if event_id is None:
            return None
        linked = await self.store.staff_event(event_id)
        return None if linked is None else linked.case_id

    async def _reaction(self, member: str, event_id: str, target: str, key: str) -> None:
        linked = await self.store.staff_event(target)
        if linked is None or linked.kind != "card":
            return
        # Kept so that taking the reaction back (a redaction of this event) undoes it.
        await self.store.link_staff_event(event_id, linked.case_id, f"reaction:{_key_label(key)}")
        answer = await self.console.reaction(member, linked.case_id, key, added=True)
        await self._answer(linked.case_id, answer, None)

    async def _redaction(self, member: str, redacted: str) -> None:
        linked = await self.store.staff_event(redacted)
        if linked is None or not linked.kind.startswith("reaction:"):
            return
        key = _KEY_OF_LABEL.get(linked.kind.removeprefix("reaction:"))
        if key is None:
            return
        answer = await self.console.reaction(member, linked.case_id, key, added=False)
        await self._answer(linked.case_id, answer, None)

    async def _message(self, member: str, event: RoomMessageText) -> None:
        content = event.source.get("content", {})
        relation = content.get("m.relates_to") or {}
        if isinstance(relation, dict) and relation.get("rel_type") == "m.replace":
            await self._edit(member, event, relation.get("event_id"), content)
            return
        case_id = await self._case_of(related_event(content))
        text = strip_fallback(event.body, content.get("formatted_body"))
        command = parse(text)
        mentioned = _mentioned(content)
        if command is not None and command.name == "attribuer" and mentioned:
            # Element writes a mention pill as the member's display name in the body; the
            # id itself is in `m.mentions`.
            command = Command(command.name, mentioned[0])
        if command is None:
            if case_id is not None:
                await self.console.note(member, case_id, text, event.event_id)
            return
        answer = await self.console.command(member, case_id, command, event.event_id)
        if command.name == HELP_COMMAND and case_id is None:
            answer = Answer(answer.text + "\n\n" + self._fingerprint_text())
        if case_id is not None:
            # A `!r` is already linked as a reply (its edits are corrections); the first
            # link of an event stays.
            await self.store.link_staff_event(event.event_id, case_id, "command")
        await self._answer(case_id, answer, event.event_id)

    async def _edit(
        self, member: str, event: RoomMessageText, target: object, content: dict[str, Any]
    ) -> None:
        if not isinstance(target, str):
            return
        linked = await self.store.staff_event(target)
        if linked is None or linked.kind != "reply":
            return
        if self.clock() - linked.at > CORRECTION_WINDOW:
            return
        new = content.get("m.new_content")
        body = new.get("body") if isinstance(new, dict) else None
        command = parse(body) if isinstance(body, str) else None
        if command is None or command.name != "r":
            return
        answer = await self.console.correct(
            member, linked.case_id, command.argument, event.event_id
        )
        await self._answer(linked.case_id, answer, target)

    async def _answer(
        self, case_id: str | None, answer: Answer | None, reply_to: str | None
    ) -> None:
        if answer is None:
            return
        content = text_content(answer.text)
        root = None
        if case_id is not None:
            file = await self.store.case_file(case_id)
            root = None if file is None else file.thread_root
        if root is not None:
            content = in_thread(content, root, reply_to)
        event_id = await self.send(self.room_id, content, None)
        if event_id and case_id is not None:
            await self.store.link_staff_event(event_id, case_id, "answer")
        if answer.card_changed and case_id is not None:
            await self._refresh_card(case_id)
        for attachment in answer.files:
            await self._post_file(attachment, root, reply_to)

    async def _post_file(
        self, attachment: ReportFile, root: str | None, reply_to: str | None
    ) -> None:
        """A file of the answer, encrypted with its own key, which travels in the event
        (itself encrypted for the room): the homeserver keeps only ciphertext."""
        encrypted = None if self.upload is None else await self.upload(attachment.data)
        if encrypted is None:
            text = self.texts.get(self.locale, "staff_room.file_not_sent", name=attachment.name)
            await self.send(self.room_id, text_content(text), None)
            return
        image = attachment.mimetype.startswith("image/")
        content: dict[str, Any] = {
            "msgtype": "m.image" if image else "m.file",
            "body": attachment.name,
            "filename": attachment.name,
            "info": {"mimetype": attachment.mimetype, "size": len(attachment.data)},
            "file": encrypted,
        }
        if root is not None:
            content = in_thread(content, root, reply_to)
        elif reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        await self.send(self.room_id, content, None)

    def _fingerprint_text(self) -> str:
        if self.bot_fingerprint is None:
            return self.texts.get(self.locale, "staff_room.help_unpublished")
        return self.texts.get(self.locale, "staff_room.help", fingerprint=self.bot_fingerprint)


# Reaction keys kept as labels (the store keeps only short identifiers in clear).
_KEY_OF_LABEL = {"acknowledge": ACKNOWLEDGE, "take": TAKE}


def _key_label(key: str) -> str:
    plain = reaction_key(key)
    return next((label for label, known in _KEY_OF_LABEL.items() if known == plain), "other")
