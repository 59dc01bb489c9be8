"""The commission's encrypted staff room: alerts and sealed words, delivered from the outbox.

Each outbox item is sent with a transaction id derived from the item itself. When the bot
dies after the homeserver accepted an alert but before the item was marked delivered, the
next attempt sends the same transaction id from the same device, and the homeserver answers
with the event it already has instead of posting a second one: exactly one alert per item.
Nothing is posted while the room is unencrypted or holds someone outside the allow-list,
while a staff member's identity changed without the operator's confirmation, or while the
room key would not reach every staff member in the room (see ``staff_trust``).

``!aide`` in the room answers with what the room receives and the fingerprint of the bot's
master key, the one a council member verifies once in Element.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.channels.matrix.format import text_content
from flows.texts import Texts
from storage import OutboxItem

log = logging.getLogger("bot.channels.matrix.staff_room")

# Alerts are pushed right after each turn; this is only the fallback when none came.
POLL_SECONDS = 15.0
CRISIS_LEVEL = 3
HELP_COMMANDS = frozenset({"!aide", "!help"})


class Outbox(Protocol):
    async def pending_outbox(self, limit: int = 50) -> list[OutboxItem]: ...
    async def mark_delivered(self, item_id: str) -> None: ...


class Guard(Protocol):
    async def identities_confirmed(self) -> bool: ...
    async def room_key_reaches_everyone(self) -> bool: ...


Send = Callable[[str, dict[str, Any], str | None], Awaitable[bool]]


@dataclass
class StaffRoom:
    room_id: str
    members: frozenset[str]
    on_call: tuple[str, ...]
    outbox: Outbox
    send: Send
    # The room as the client sees it: its encryption and who is in it (joined or invited).
    room_state: Callable[[], tuple[bool, frozenset[str]] | None]
    guard: Guard
    texts: Texts
    locale: str = "fr"
    bot_user_id: str = ""
    # As ``keys matrix-identity`` prints it; None while the bot's identity is not published.
    bot_fingerprint: str | None = None
    _help_asked: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wake(self) -> None:
        self._wake.set()

    def on_message(self, sender: str, body: str, decrypted: bool) -> None:
        """A message in the staff room: a member's ``!aide`` is answered by the delivery task."""
        if decrypted and sender in self.members and body.strip().lower() in HELP_COMMANDS:
            self._help_asked = True
            self.wake()

    async def answer_help(self) -> None:
        if not self._help_asked:
            return
        self._help_asked = False
        if self.bot_fingerprint is None:
            text = self.texts.get(self.locale, "staff_room.help_unpublished")
        else:
            text = self.texts.get(self.locale, "staff_room.help", fingerprint=self.bot_fingerprint)
        await self.send(self.room_id, text_content(text), None)

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

    async def deliver_pending(self) -> int:
        """Send what waits in the outbox, oldest first; stop at the first failure."""
        async with self._lock:
            if not self.ready():
                return 0
            await self.answer_help()
            delivered = 0
            while items := await self.outbox.pending_outbox():
                if not await self.trusted():
                    return delivered
                for item in items:
                    sent = await self.send(self.room_id, self.content(item), f"outbox-{item.id}")
                    if not sent:
                        return delivered
                    await self.outbox.mark_delivered(item.id)
                    log.info("event=staff_alert_delivered kind=%s", item.kind)
                    delivered += 1
            return delivered

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

    # -- what an alert says --------------------------------------------------------------

    def t(self, key: str, **values: object) -> str:
        return self.texts.get(self.locale, f"staff.{key}", **values)

    def content(self, item: OutboxItem) -> dict[str, Any]:
        lines, mentions = self.lines(item)
        return {**text_content("\n".join(lines)), "m.mentions": {"user_ids": mentions}}

    def lines(self, item: OutboxItem) -> tuple[list[str], list[str]]:
        payload = item.payload
        case = item.case_id
        if item.kind == "sealed":
            kind = "contact" if payload.get("kind") == "contact" else "message"
            return [self.t(kind, case=case), str(payload.get("text", ""))], []
        if item.kind == "booking":
            slot = payload.get("slot", "?")
            if payload.get("cancelled"):
                return [self.t("booking_cancelled", case=case, slot=slot)], []
            modality = self.t(f"modality.{payload.get('modality', 'council')}")
            return [self.t("booking", case=case, slot=slot, modality=modality)], []
        level = payload.get("level")
        previous = payload.get("previous_level")
        if previous is None:
            headline = self.t("new_case", case=case, level=level)
        else:
            headline = self.t("level_change", case=case, level=level, previous=previous)
        none = self.t("none")
        scores = ", ".join(f"{name} {score} ({band})" for name, score, band in payload.get(
            "scores", []
        ))
        lines = [
            headline,
            self.t("persona", persona=payload.get("persona") or none),
            self.t("needs", needs=", ".join(payload.get("categories", [])) or none),
            self.t("scores", scores=scores or none),
            self.t("routes", routes=", ".join(payload.get("routes", [])) or none),
        ]
        mentions: list[str] = []
        if level == CRISIS_LEVEL:
            mentions = list(self.on_call)
            lines.insert(0, self.t("urgent"))
            if mentions:
                lines.append(self.t("on_call", members=", ".join(mentions)))
        return lines, mentions
