"""The one policy layer between the channels and the engine.

Every channel hands each incoming message to ``Conversations.receive`` and sends back what it
returns. Here, once for all channels: the crisis pre-check that skips every wait, pacing of
floods, the NLU call with its deadline, loading and saving the state, carrying out the
engine's effects, and audit events that name a pseudonym and an event type, never content.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from flows.answers import is_greeting
from flows.crisis import detect_crisis
from flows.engine import (
    Event,
    ReceiptChecked,
    ReceiptIssued,
    Reply,
    SlotUnavailable,
    UserMessage,
    handle,
    resume,
    start,
    unavailable,
)
from flows.messages import (
    BotMessage,
    CaseUpdated,
    CheckInAlert,
    CheckInAnswered,
    CheckInRequested,
    CheckInStopped,
    Effect,
    EraseRequested,
    MessageForCommission,
    ReceiptPresented,
    ReceiptRequested,
    SlotCancelled,
    SlotRequested,
)
from flows.resources import Context, Resources
from flows.state import ConversationState
from flows.textnorm import clean
from flows.understanding import Interpretation, Understanding

log = logging.getLogger("bot.policy.conversations")

# A message longer than this is cut before anything reads it: a person cannot type it, and
# the engine answers "too long" from the first part anyway.
MAX_INPUT_CHARS = 100_000
# How long a person may wait for the NLU service before the bot goes on without it.
NLU_DEADLINE_SECONDS = 1.0
# Past this many people in memory, those idle for a while are forgotten (a full bucket and
# a free lock carry nothing worth keeping), so a long-running bot does not grow for ever.
MAX_PEOPLE_IN_MEMORY = 10_000
IDLE_SECONDS = 600.0


class CaseKeeper(Protocol):
    """What the service needs from storage; storage knows no conversation."""

    def pseudonym(self, channel: str, identity: str) -> str: ...
    async def load_state(self, pseudonym: str) -> dict[str, object] | None: ...
    async def save_state(
        self, pseudonym: str, state: dict[str, object], *,
        channel: str | None = None, address: str | None = None,
    ) -> None: ...
    async def taken_slots(self, candidates: Sequence[str]) -> frozenset[str]: ...
    async def calendar(self) -> Mapping[date, str | None]: ...
    async def update_case(self, pseudonym: str, update: CaseUpdated) -> None: ...
    async def seal_for_commission(
        self, pseudonym: str, kind: str, text: str, sequence: int
    ) -> None: ...
    async def book_slot(self, pseudonym: str, slot_id: str, modality: str) -> bool: ...
    async def cancel_booking(self, pseudonym: str, slot_id: str) -> None: ...
    async def erase(self, pseudonym: str) -> None: ...
    async def issue_receipt(self, pseudonym: str) -> str | None: ...
    async def redeem_receipt(self, pseudonym: str, code: str) -> ReceiptChecked: ...
    async def schedule_check_in(self, pseudonym: str, channel: str, due: date) -> None: ...
    async def stop_check_ins(self, pseudonym: str) -> None: ...
    async def check_in_answered(self, check_in: str) -> None: ...
    async def alert_check_in(self, pseudonym: str, alert: CheckInAlert) -> None: ...


@dataclass
class Pace:
    """A token bucket per person: bursts pass, a flood is slowed down, nothing is dropped.

    Not aiolimiter's ``AsyncLimiter``: it reads ``loop.time()`` and wakes its waiters with
    ``loop.call_at``, so neither the service's ``monotonic`` nor its ``sleep`` can drive it and
    the tests would have to wait out a real flood; and forgetting idle people would read its
    private ``_last_check``.
    """

    burst: int = 8
    per_second: float = 1.0
    tokens: float = 8.0
    updated: float = 0.0

    def delay(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.per_second


@dataclass
class Conversations:
    resources: Resources
    channel: str
    keeper: CaseKeeper
    understanding: Understanding | None = None
    commission_connected: bool = False
    locale: str = "fr"
    nlu_deadline: float = NLU_DEADLINE_SECONDS
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Told the channel's identity once a person's erasure is carried out, so the channel
    # can drop what it holds of that conversation too.
    on_erased: Callable[[str], Awaitable[None]] | None = None
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _paces: dict[str, Pace] = field(default_factory=dict)

    async def _context(self) -> Context:
        now = self.clock()
        calendar = await self.keeper.calendar()
        offered = [slot.id for slot in self.resources.deployment.upcoming_slots(now, calendar)]
        return Context(
            resources=self.resources,
            channel=self.channel,
            now=now,
            taken_slots=await self.keeper.taken_slots(offered),
            commission_connected=self.commission_connected,
            calendar=calendar,
        )

    def _bare_context(self) -> Context:
        """The engine's context without asking storage anything."""
        return Context(resources=self.resources, channel=self.channel, now=self.clock())

    def _unavailable(self, error: Exception, text: str) -> list[BotMessage]:
        log.error("event=turn_failed error=%s", type(error).__name__)
        return self.unavailable(text)

    def unavailable(self, text: str) -> list[BotMessage]:
        """Whatever failed (the store, the NLU, a channel, a bug), the person gets an
        answer, and a cry for help gets the crisis answer: the engine alone gives both."""
        text = clean(text[:MAX_INPUT_CHARS])
        return list(unavailable(self._bare_context(), text, self.locale).messages)

    async def welcome(self, identity: str, *, address: str | None = None) -> list[BotMessage]:
        """The first words of a session: the welcome, or where a kept conversation was.

        ``address`` is where the channel reaches this person (a Matrix room id): kept under
        the case key, so the commission's answers can reach them between their own turns.
        """
        try:
            return await self._welcome(identity, address)
        except Exception as error:  # whatever failed: see _unavailable
            return self._unavailable(error, "")

    async def receive(
        self, identity: str, text: str, *, numbers_are_positions: bool = False,
        address: str | None = None,
    ) -> list[BotMessage]:
        text = clean(text[:MAX_INPUT_CHARS])
        try:
            return await self._receive(identity, text, numbers_are_positions, address)
        except Exception as error:  # whatever failed: see _unavailable
            return self._unavailable(error, text)

    async def notify(self, pseudonym: str, event: Event) -> list[BotMessage]:
        """What the commission did (a reply, an acknowledgement, a moved interview), told
        to the person between their own turns; nothing when the conversation is gone."""
        async with self._lock(pseudonym):
            saved = await self.keeper.load_state(pseudonym)
            if saved is None:
                return []
            reply = handle(ConversationState.from_dict(saved), event, await self._context())
            log.info("event=commission_told pseudonym=%s step=%s", pseudonym[:12], reply.state.step)
            return await self._finish(None, pseudonym, reply)

    async def _welcome(self, identity: str, address: str | None) -> list[BotMessage]:
        pseudonym = self.keeper.pseudonym(self.channel, identity)
        async with self._lock(pseudonym):
            saved = await self.keeper.load_state(pseudonym)
            context = await self._context()
            if saved is None:
                reply = start(context, self.locale)
            else:
                reply = resume(ConversationState.from_dict(saved), context)
            return await self._finish(identity, pseudonym, reply, address)

    async def _receive(
        self, identity: str, text: str, numbers_are_positions: bool, address: str | None
    ) -> list[BotMessage]:
        pseudonym = self.keeper.pseudonym(self.channel, identity)
        urgent = detect_crisis(text) is not None
        if not urgent:
            await self._pace(pseudonym)
        async with self._lock(pseudonym):
            saved = await self.keeper.load_state(pseudonym)
            if saved is None:
                # A first message is answered with the welcome, then read like any other.
                welcome = await self._finish(
                    identity, pseudonym, start(await self._context(), self.locale), address
                )
                if is_greeting(text):
                    # "Bonjour" as a first message: the welcome answers it, and its question
                    # is not asked twice in one turn.
                    return welcome
                saved = await self.keeper.load_state(pseudonym)
            else:
                welcome = []
            state = ConversationState.from_dict(saved or {})
            interpretation = None if urgent else await self._interpret(text)
            event = UserMessage(text, interpretation, numbers_are_positions)
            reply = handle(state, event, await self._context())
            log.info("event=turn pseudonym=%s step=%s", pseudonym[:12], reply.state.step)
            return welcome + await self._finish(identity, pseudonym, reply, address)

    async def _interpret(self, text: str) -> Interpretation | None:
        if self.understanding is None:
            return None
        try:
            async with asyncio.timeout(self.nlu_deadline):
                return await self.understanding.interpret(text)
        except (TimeoutError, OSError):
            log.warning("event=nlu_unavailable")
            return None

    async def _finish(
        self, identity: str | None, pseudonym: str, reply: Reply, address: str | None = None
    ) -> list[BotMessage]:
        messages = list(reply.messages)
        state = reply.state
        for effect in reply.effects:
            follow_up = await self._carry_out(pseudonym, effect)
            if follow_up is not None:
                if isinstance(follow_up, ReceiptChecked) and follow_up.found:
                    # The conversation is now attached to the earlier case, with this state.
                    await self._save(pseudonym, state, address)
                more = handle(state, follow_up, await self._context())
                asked_again = {message.question for message in more.messages if message.question}
                if messages and messages[-1].question in asked_again:
                    # The follow-up says its part (a receipt code) and asks the turn's
                    # question again: the person reads that question once, last.
                    messages.pop()
                messages.extend(more.messages)
                state = more.state
        if any(isinstance(effect, EraseRequested) for effect in reply.effects):
            # Erased means nothing is kept, not even a fresh start: the person's next
            # message opens a new conversation, with the welcome.
            if self.on_erased is not None and identity is not None:
                await self.on_erased(identity)
            return messages
        await self._save(pseudonym, state, address)
        return messages

    async def _save(self, pseudonym: str, state: ConversationState, address: str | None) -> None:
        await self.keeper.save_state(
            pseudonym, state.to_dict(),
            channel=None if address is None else self.channel, address=address,
        )

    async def _carry_out(self, pseudonym: str, effect: Effect) -> Event | None:
        if isinstance(effect, CaseUpdated):
            await self.keeper.update_case(pseudonym, effect)
            log.info("event=case_updated pseudonym=%s level=%s", pseudonym[:12], effect.level)
        elif isinstance(effect, MessageForCommission):
            await self.keeper.seal_for_commission(
                pseudonym, effect.kind, effect.text, effect.sequence
            )
            log.info("event=sealed_for_commission pseudonym=%s", pseudonym[:12])
        elif isinstance(effect, SlotRequested):
            if not await self.keeper.book_slot(pseudonym, effect.slot_id, effect.modality):
                log.info("event=slot_taken pseudonym=%s", pseudonym[:12])
                return SlotUnavailable(effect.slot_id)
            log.info("event=slot_booked pseudonym=%s", pseudonym[:12])
        elif isinstance(effect, SlotCancelled):
            await self.keeper.cancel_booking(pseudonym, effect.slot_id)
            log.info("event=slot_cancelled pseudonym=%s", pseudonym[:12])
        elif isinstance(effect, EraseRequested):
            await self.keeper.erase(pseudonym)
            log.info("event=erased pseudonym=%s", pseudonym[:12])
        elif isinstance(effect, ReceiptRequested):
            code = await self.keeper.issue_receipt(pseudonym)
            log.info("event=receipt_issued pseudonym=%s", pseudonym[:12])
            return None if code is None else ReceiptIssued(code)
        elif isinstance(effect, ReceiptPresented):
            checked = await self.keeper.redeem_receipt(pseudonym, effect.code)
            log.info("event=receipt_checked pseudonym=%s found=%s", pseudonym[:12], checked.found)
            return checked
        elif isinstance(effect, CheckInRequested):
            await self.keeper.schedule_check_in(pseudonym, self.channel, effect.due)
            log.info("event=check_in_scheduled pseudonym=%s", pseudonym[:12])
        elif isinstance(effect, CheckInStopped):
            await self.keeper.stop_check_ins(pseudonym)
            log.info("event=check_in_stopped pseudonym=%s", pseudonym[:12])
        elif isinstance(effect, CheckInAnswered):
            await self.keeper.check_in_answered(effect.check_in)
            log.info("event=check_in_answered pseudonym=%s", pseudonym[:12])
        elif isinstance(effect, CheckInAlert):
            await self.keeper.alert_check_in(pseudonym, effect)
            log.info("event=check_in_alert pseudonym=%s level=%s", pseudonym[:12], effect.level)
        return None

    async def _pace(self, pseudonym: str) -> None:
        if len(self._paces) > MAX_PEOPLE_IN_MEMORY:
            self._forget_idle()
        pace = self._paces.setdefault(pseudonym, Pace(updated=self.monotonic()))
        wait = pace.delay(self.monotonic())
        if wait > 0:
            log.info("event=paced pseudonym=%s", pseudonym[:12])
            await self.sleep(wait)

    def _forget_idle(self) -> None:
        now = self.monotonic()
        for pseudonym, pace in list(self._paces.items()):
            lock = self._locks.get(pseudonym)
            if now - pace.updated > IDLE_SECONDS and not (lock and lock.locked()):
                del self._paces[pseudonym]
                self._locks.pop(pseudonym, None)

    def _lock(self, pseudonym: str) -> asyncio.Lock:
        return self._locks.setdefault(pseudonym, asyncio.Lock())


def messages_as_json(turn: int, messages: Sequence[BotMessage]) -> list[dict[str, object]]:
    return [{"turn": turn, **message.as_json()} for message in messages]
