"""The Matrix channel: encrypted direct messages in, engine replies out.

Policy for rooms, written once here:
- a direct-message invite is accepted; a room where other people than the person are (or
  come) is left with a sentence, the commission's staff room excepted;
- a room without encryption gets the explanation of how to turn it on, and nothing from it
  reaches the conversation or the store;
- an event is handled once: by event id (kept as a keyed hash), across restarts too;
- an event that cannot be decrypted yet waits a little for its room key, asks the sender's
  devices for it, then asks the person to send the message again;
- a room key the person's client withholds because it does not trust the bot's device
  (Element's "exclude insecure devices", a blocked device) will not come: no wait, no
  resend; the person is told once per room, in the one message sent in clear (a fixed
  sentence, nothing of theirs), how to let the bot read them, and the emergency numbers;
- only text is read; files, images and unknown kinds get a sentence and are not kept;
- after an erasure, once its confirmation is sent, the bot drops the room keys of the
  person's rooms and leaves and forgets them: nothing it holds decrypts that conversation.
- the staff room's events (members' messages, reactions, redactions) are decrypted and
  handled once like a person's, then handed to the staff room's console; what the
  commission tells a person between their turns goes to the direct chat kept for them
  (``deliver``).

Device trust: the person is anonymous and cannot verify the bot out of band, so the bot
encrypts for every device of the person's account as it is announced (trust on first
use, ``ignore_unverified_devices``). It never forwards old room keys. See the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from nio import (
    Api,
    AsyncClient,
    BadEvent,
    EncryptionError,
    InviteMemberEvent,
    JoinResponse,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomEncryptedMedia,
    RoomForgetResponse,
    RoomLeaveResponse,
    RoomMemberEvent,
    RoomMessage,
    RoomMessageEmote,
    RoomMessageMedia,
    RoomMessageText,
    RoomMessageUnknown,
    RoomSendResponse,
    SendRetryError,
    SyncResponse,
    ToDeviceEvent,
    UnknownBadEvent,
    UnknownToDeviceEvent,
)
from nio.events import Event as NioEvent

from bot.channels.matrix.client import drop_room_keys, keep_keys_fresh
from bot.channels.matrix.format import contents, text_content
from bot.channels.matrix.ledger import EventLedger
from bot.policy.conversations import Conversations
from flows.messages import BotMessage
from flows.texts import Texts

log = logging.getLogger("bot.matrix")

SYNC_TIMEOUT_MS = 30_000
# Room keys often arrive a moment after the message they open (a separate to-device
# event, sometimes in the next sync): wait this long before asking for a resend.
DECRYPT_RETRY_SECONDS = (0.2, 0.3, 0.5, 1.0, 1.5, 2.0)
SEND_ATTEMPTS = 4
REPLAY_ERROR = "Duplicate message index"
# One explanation per room per hour is enough for a room without encryption.
EXPLAIN_EVERY_SECONDS = 3600.0
WITHHELD_EVENT = "m.room_key.withheld"
# Kept in the ledger beside event ids (which start with "$"), under the same keyed hash,
# so that a restart neither forgets a withheld key nor tells a person twice.
WITHHELD_DISTRUST = "withheld-distrust:"
WITHHELD_NO_OLM = "withheld-no-olm:"
WITHHELD_TOLD = "withheld-told:"
# The codes after which the key will not come: the sender's client does not trust the
# bot's device (only the person's settings, or verifying the bot, change that), or could
# not reach it at all. m.unavailable and m.unauthorised answer a key request from one
# device: the key may still come from another, so the wait goes on.
WITHHELD_KINDS = {
    "m.unverified": WITHHELD_DISTRUST,
    "m.blacklisted": WITHHELD_DISTRUST,
    "m.no_olm": WITHHELD_NO_OLM,
}


@dataclass
class _Batch:
    """The events of one sync response still being handled, and the token that follows them."""

    token: str
    remaining: int = 0


@dataclass
class _Work:
    """An event to answer, or (``event`` None) a room to greet or check after a change."""

    room_id: str
    event: NioEvent | None
    batch: _Batch | None = None


@dataclass
class MatrixChannel:
    client: AsyncClient
    conversations: Conversations
    ledger: EventLedger
    texts: Texts
    locale: str = "fr"
    staff_room_id: str | None = None
    staff_users: frozenset[str] = frozenset()
    # False when the bot's device carries no signature of its identity (cross-signing was
    # refused): a client that excludes insecure devices then keeps its keys from the bot,
    # sometimes without saying so, and a key that never comes means the same.
    signed_by_owner: bool = True
    # Called after every sync and every handled message, so an alert leaves within the
    # second, and alerts held for the staff room's membership go once it changed.
    on_activity: Callable[[], None] = lambda: None
    # The staff room's events (members' messages, reactions, redactions), decrypted.
    on_staff_event: Callable[[NioEvent], Awaitable[None]] | None = None
    monotonic: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    _queues: dict[str, asyncio.Queue[_Work]] = field(default_factory=dict)
    _workers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _batches: deque[_Batch] = field(default_factory=deque)
    _explained: dict[str, float] = field(default_factory=dict)
    _pending_welcome: set[str] = field(default_factory=set)
    _erased: set[str] = field(default_factory=set)
    synced: asyncio.Event = field(default_factory=asyncio.Event)

    # -- the sync loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Sync for ever; cancel the task to stop. Each sync's events go to room workers."""
        token = self.ledger.sync_token()
        first = True
        failures = 0
        while True:
            try:
                # Room state is not kept by nio: the first sync after a start asks for all
                # of it, from the last position whose events were all handled.
                response = await self._sync(
                    token if first else None,
                    full_state=first,
                    timeout=0 if first else SYNC_TIMEOUT_MS,
                )
            except Exception as error:  # the homeserver is down or slow: wait, then again
                failures += 1
                log.warning("event=matrix_sync_failed error=%s attempt=%d",
                            type(error).__name__, failures)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            failures = 0
            # On the very first start there is no position: whatever happened before the
            # bot existed is history, not a conversation to answer.
            self._take(response, backlog=first and token is None)
            first = False

    async def _sync(self, since: str | None, *, full_state: bool, timeout: int) -> SyncResponse:
        response = await self.client.sync(timeout=timeout, since=since, full_state=full_state)
        if not isinstance(response, SyncResponse):
            raise _SyncFailed
        await keep_keys_fresh(self.client)
        self.on_activity()
        self.synced.set()
        return response

    def _take(self, response: SyncResponse, *, backlog: bool) -> None:
        batch = _Batch(response.next_batch)
        self._batches.append(batch)
        self._note_withheld(response.to_device_events)
        for room_id, invite in response.rooms.invite.items():
            self._spawn(self._consider_invite(room_id, invite.invite_state))
        for room_id, info in response.rooms.join.items():
            if room_id != self.staff_room_id and any(
                isinstance(event, RoomMemberEvent) for event in info.timeline.events
            ):
                self._queue(room_id).put_nowait(_Work(room_id, None))
            if backlog:
                continue
            for event in info.timeline.events:
                if getattr(event, "sender", None) == self.client.user_id:
                    continue
                batch.remaining += 1
                self._queue(room_id).put_nowait(_Work(room_id, event, batch))
        self._commit_position()

    def _note_withheld(self, events: list[ToDeviceEvent]) -> None:
        for event in events:
            if not isinstance(event, UnknownToDeviceEvent) or event.type != WITHHELD_EVENT:
                continue
            content = event.source.get("content")
            if not isinstance(content, dict) or content.get("code") not in WITHHELD_KINDS:
                continue
            # m.no_olm names no session: it holds for every session of that device.
            session = content.get("session_id") or content.get("sender_key")
            if not isinstance(session, str):
                continue
            self.ledger.mark_handled(f"{WITHHELD_KINDS[content['code']]}{event.sender}|{session}")
            log.info("event=matrix_room_key_withheld code=%s", content["code"])

    def _withheld(self, event: MegolmEvent) -> str | None:
        """``WITHHELD_DISTRUST`` or ``WITHHELD_NO_OLM`` if the sender withheld this event's
        key, None if it may still come."""
        for kind in (WITHHELD_DISTRUST, WITHHELD_NO_OLM):
            for session in (event.session_id, event.sender_key):
                if self.ledger.handled(f"{kind}{event.sender}|{session}"):
                    return kind
        return None

    def _commit_position(self) -> None:
        token = None
        while self._batches and self._batches[0].remaining == 0:
            token = self._batches.popleft().token
        if token is not None:
            self.ledger.save_sync_token(token)

    def _queue(self, room_id: str) -> asyncio.Queue[_Work]:
        if room_id not in self._queues:
            self._queues[room_id] = asyncio.Queue()
            self._workers[room_id] = asyncio.create_task(self._work(self._queues[room_id]))
        return self._queues[room_id]

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._workers[f"task:{id(task)}"] = task
        task.add_done_callback(lambda done: self._workers.pop(f"task:{id(done)}", None))

    async def _work(self, queue: asyncio.Queue[_Work]) -> None:
        """One worker per room: a person's messages are answered in order, people in parallel."""
        while True:
            work = await queue.get()
            try:
                if work.event is None:
                    await self._check_room(work.room_id)
                else:
                    await self._handle(work.room_id, work.event)
            except Exception as error:  # a bad event must not stop the room's worker
                log.error("event=matrix_event_failed error=%s", type(error).__name__)
                if work.event is not None:
                    await self._answer_anyway(work.room_id, work.event)
            finally:
                if work.batch is not None:
                    work.batch.remaining -= 1
                    self._commit_position()
                queue.task_done()

    async def idle(self) -> None:
        """Wait until every event received so far is handled."""
        for queue in list(self._queues.values()):
            await queue.join()

    async def close(self) -> None:
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10.0)

    # -- rooms ---------------------------------------------------------------------------

    async def _consider_invite(self, room_id: str, invite_state: list[Any]) -> None:
        inviter = next(
            (
                event.sender
                for event in invite_state
                if isinstance(event, InviteMemberEvent)
                and event.state_key == self.client.user_id
            ),
            None,
        )
        if room_id == self.staff_room_id:
            if inviter not in self.staff_users:
                log.warning("event=staff_invite_refused")
                await self.client.room_leave(room_id)
                return
        elif inviter is None:
            return
        response = await self.client.join(room_id)
        log.info("event=matrix_joined ok=%s", isinstance(response, JoinResponse))
        if isinstance(response, JoinResponse) and room_id != self.staff_room_id:
            self._pending_welcome.add(room_id)

    def _room(self, room_id: str) -> MatrixRoom | None:
        return self.client.rooms.get(room_id)

    def _other_people(self, room: MatrixRoom) -> set[str]:
        return set(room.users) - {self.client.user_id}

    async def _handle(self, room_id: str, event: NioEvent) -> None:
        room = self._room(room_id)
        event_id = getattr(event, "event_id", None)
        if room is None or not isinstance(event_id, str):
            return
        if self.ledger.handled(event_id):
            return
        if room_id == self.staff_room_id:
            await self._staff_event(room, event_id, event)
            return
        if len(self._other_people(room)) > 1:
            await self._leave_group(room)
            return
        if not room.encrypted:
            # Nothing from this room is read, kept or even marked as handled.
            await self._explain_encryption(room_id)
            return
        if isinstance(event, MegolmEvent):
            decrypted = await self._decrypt(event)
            if decrypted is None:
                log.warning("event=matrix_replay_ignored")
                self.ledger.mark_handled(event_id)
                return
            if isinstance(decrypted, MegolmEvent) and (
                self._withheld(decrypted) == WITHHELD_DISTRUST or not self.signed_by_owner
            ):
                self.ledger.mark_handled(event_id)
                await self._explain_withheld(room_id)
                return
            event = decrypted
        if isinstance(event, RoomMessage) and not getattr(event, "decrypted", False):
            # A clear message in an encrypted room can only come from the homeserver (or
            # whoever holds its database), never from the person's device: it must not
            # erase a case or write to the commission in their name. (State events are
            # clear by design and pass over in silence below.)
            log.warning("event=matrix_clear_event_refused")
            self.ledger.mark_handled(event_id)
            await self._explain_encryption(room.room_id)
            return
        await self._answer(room, event_id, event)

    async def _staff_event(self, room: MatrixRoom, event_id: str, event: NioEvent) -> None:
        """A member's event in the staff room goes to the console once decrypted; a clear
        message there is refused as in a person's room (reactions and redactions are clear
        by design in Matrix)."""
        if isinstance(event, MegolmEvent):
            decrypted = await self._decrypt(event)
            if decrypted is None or isinstance(decrypted, MegolmEvent):
                log.warning("event=staff_event_undecrypted")
                self.ledger.mark_handled(event_id)
                return
            event = decrypted
        elif isinstance(event, RoomMessage) and room.encrypted and not event.decrypted:
            log.warning("event=matrix_clear_event_refused")
            self.ledger.mark_handled(event_id)
            return
        if self.on_staff_event is not None:
            await self.on_staff_event(event)
        self.ledger.mark_handled(event_id)

    async def _answer(self, room: MatrixRoom, event_id: str, event: NioEvent) -> None:
        sender = getattr(event, "sender", None)
        if not isinstance(sender, str):
            return
        if isinstance(event, (RoomMessageText, RoomMessageEmote)):
            messages = await self.conversations.receive(
                sender, event.body, numbers_are_positions=True, address=room.room_id
            )
            # Marked before sending: a crash now loses a reply, never replays a turn.
            self.ledger.mark_handled(event_id)
            self.on_activity()
            await self._send_messages(room.room_id, messages)
            if sender in self._erased:
                self._erased.discard(sender)
                # The room goes with the erasure: say where to talk again before leaving.
                await self._send_text(room.room_id, self.texts.get(self.locale, "matrix.erased"))
                await self._forget_person(sender)
            return
        reason = _refusal(event)
        if reason is None:
            self.ledger.mark_handled(event_id)
            return
        log.info("event=matrix_refused kind=%s", reason)
        self.ledger.mark_handled(event_id)
        await self._send_text(room.room_id, self.texts.get(self.locale, f"matrix.{reason}"))

    async def _answer_anyway(self, room_id: str, event: NioEvent) -> None:
        """Something failed while handling a person's message: they still get an answer
        (the crisis answer when their words are one), and the event is marked, so that it
        is neither lost in silence nor answered twice after a restart."""
        event_id = getattr(event, "event_id", None)
        if room_id == self.staff_room_id or not isinstance(event_id, str):
            return
        body = getattr(event, "body", "")
        try:
            messages = self.conversations.unavailable(body if isinstance(body, str) else "")
            await self._send_messages(room_id, messages)
            self.ledger.mark_handled(event_id)
        except Exception as error:  # the homeserver itself is failing: the log says so
            log.error("event=matrix_answer_failed error=%s", type(error).__name__)

    async def _decrypt(self, event: MegolmEvent) -> NioEvent | None:
        """The decrypted event, the event itself if its key never came, None for a replay."""
        requested = False
        for wait in DECRYPT_RETRY_SECONDS:
            await asyncio.sleep(wait)
            try:
                return self.client.decrypt_event(event)
            except EncryptionError as error:
                # nio has no error type of its own for a Megolm index it has already seen.
                if str(error).startswith(REPLAY_ERROR):
                    return None
                # A key its sender chose to keep will not come: asking again only loops.
                if self._withheld(event) is not None:
                    break
                if not requested:
                    requested = True
                    with contextlib.suppress(LocalProtocolError):
                        await self.client.request_room_key(event)
                    log.info("event=matrix_room_key_requested")
            except LocalProtocolError:
                break
        return event

    async def erased(self, person: str) -> None:
        """The conversation layer erased ``person``'s case: their rooms are forgotten once
        the confirmation is sent (forgetting first would leave no key to encrypt it with)."""
        self._erased.add(person)

    async def _forget_person(self, person: str) -> None:
        rooms = [
            room_id
            for room_id, room in self.client.rooms.items()
            if room_id != self.staff_room_id and person in room.users
        ]
        for room_id in rooms:
            # The keys first: they are the bot's alone, and no homeserver failure keeps them.
            drop_room_keys(self.client, room_id)
            try:
                left = await self.client.room_leave(room_id)
                forgotten = await self.client.room_forget(room_id)
            except Exception as error:  # the erasure itself is done: the log says what is left
                log.error("event=matrix_room_forget_failed error=%s", type(error).__name__)
                continue
            log.info(
                "event=matrix_room_forgotten left=%s forgotten=%s",
                isinstance(left, RoomLeaveResponse), isinstance(forgotten, RoomForgetResponse),
            )

    async def _leave_group(self, room: MatrixRoom) -> None:
        log.info("event=matrix_left_group_room")
        await self._send_text(room.room_id, self.texts.get(self.locale, "matrix.group"))
        await self.client.room_leave(room.room_id)

    async def _explain_encryption(self, room_id: str) -> None:
        now = self.monotonic()
        if now - self._explained.get(room_id, -EXPLAIN_EVERY_SECONDS) < EXPLAIN_EVERY_SECONDS:
            return
        self._explained[room_id] = now
        log.info("event=matrix_unencrypted_room")
        await self._send_text(room_id, self.texts.get(self.locale, "matrix.unencrypted"))

    async def _explain_withheld(self, room_id: str) -> None:
        """Once per room, in clear: the person's client decrypts nothing the bot sends
        either, and the sentence is the same for everyone, so it tells the homeserver
        nothing it does not know."""
        told = WITHHELD_TOLD + room_id
        if self.ledger.handled(told):
            return
        phones = self.conversations.resources.directory.phones()
        text = self.texts.get(self.locale, "matrix.withheld", **phones)
        if await self.send(room_id, text_content(text), encrypted=False):
            self.ledger.mark_handled(told)

    async def _check_room(self, room_id: str) -> None:
        """After membership changed: leave a group, greet a direct message just joined."""
        room = self._room(room_id)
        if room is None:
            return
        people = self._other_people(room)
        if len(people) > 1:
            await self._leave_group(room)
            return
        if room_id not in self._pending_welcome or len(people) != 1:
            return
        self._pending_welcome.discard(room_id)
        if not room.encrypted:
            await self._explain_encryption(room_id)
            return
        (person,) = people
        await self._send_messages(
            room_id, await self.conversations.welcome(person, address=room_id)
        )

    # -- sending -------------------------------------------------------------------------

    async def deliver(self, address: str, messages: list[BotMessage], key: str) -> bool:
        """What the commission did, told to a person between their own turns, in their
        direct chat while the bot is still in it with them alone. ``key`` names the
        transactions, so a replay after a crash posts nothing twice."""
        room = self._room(address)
        if room is None or address == self.staff_room_id or not room.encrypted:
            return False
        if len(self._other_people(room)) != 1:
            return False
        sent = True
        for number, content in enumerate(contents(messages)):
            sent = bool(await self.send(address, content, f"{key}-{number}")) and sent
        self.on_activity()
        return sent

    async def _send_messages(self, room_id: str, messages: list[BotMessage]) -> None:
        for content in contents(messages):
            await self.send(room_id, content)

    async def _send_text(self, room_id: str, text: str) -> None:
        await self.send(room_id, text_content(text))

    async def send(
        self, room_id: str, content: dict[str, Any], tx_id: str | None = None,
        *, encrypted: bool = True,
    ) -> str | None:
        """Send through ``room_send`` (it encrypts), or in clear when ``encrypted`` is
        False, retrying briefly; the event id once accepted."""
        for attempt in range(SEND_ATTEMPTS):
            try:
                response = await (
                    self.client.room_send(
                        room_id, "m.room.message", content, tx_id=tx_id,
                        ignore_unverified_devices=True,
                    )
                    if encrypted
                    else self._send_clear(room_id, content, tx_id)
                )
            except (SendRetryError, LocalProtocolError, OSError) as error:
                log.warning("event=matrix_send_failed error=%s", type(error).__name__)
            else:
                if isinstance(response, RoomSendResponse):
                    return str(response.event_id)
                log.warning("event=matrix_send_refused status=%s", response.status_code)
            await asyncio.sleep(0.5 * 2**attempt)
        return None

    async def _send_clear(
        self, room_id: str, content: dict[str, Any], tx_id: str | None
    ) -> Any:
        # nio encrypts whatever ``room_send`` sends to an encrypted room.
        method, path, data = Api.room_send(
            self.client.access_token, room_id, "m.room.message", content, tx_id or uuid4()
        )
        return await self.client._send(RoomSendResponse, method, path, data, (room_id,))


class _SyncFailed(Exception):
    pass


MEDIA_MSGTYPES = frozenset({"m.image", "m.file", "m.audio", "m.video", "m.sticker"})


def _refusal(event: NioEvent) -> str | None:
    """The sentence key for what the bot does not read, or None to pass over in silence:
    state changes, reactions, and notices (what bots send: answering one could loop)."""
    content = getattr(event, "source", {}).get("content", {})
    msgtype = content.get("msgtype") if isinstance(content, dict) else None
    if isinstance(event, (RoomMessageMedia, RoomEncryptedMedia)) or msgtype in MEDIA_MSGTYPES:
        return "media"
    if isinstance(event, MegolmEvent):
        return "resend"
    if isinstance(event, (RoomMessageUnknown, BadEvent, UnknownBadEvent)):
        return "unsupported"
    return None
