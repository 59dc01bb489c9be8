"""What ``python -m bot run`` serves on Matrix, started and stopped as one piece.

The bot's client, its event ledger, the channel, the staff room and the daily purge share
one store and one conversation layer; ``stop`` ends them in the reverse order.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom, RoomMessageText

from bot.channels.matrix.channel import MatrixChannel
from bot.channels.matrix.client import (
    STORE_SESSION_FILE,
    Account,
    move_old_session,
    open_client,
    session_of,
)
from bot.channels.matrix.cross_signing import (
    CrossSigningError,
    IdentityState,
    cross_signing_file_beside,
    fingerprint,
    publish_identity,
)
from bot.channels.matrix.ledger import EventLedger
from bot.channels.matrix.staff_room import StaffRoom
from bot.channels.matrix.staff_trust import StaffGuard, staff_trust_file_beside
from bot.policy.conversations import NLU_DEADLINE_SECONDS, Conversations
from bot.policy.store_keeper import StoreKeeper
from bot.settings import MatrixSettings
from flows.resources import Resources
from flows.understanding import Understanding
from storage import SecretsError, Store
from storage.config import is_within

log = logging.getLogger("bot.matrix")

PURGE_EVERY_SECONDS = 24 * 3600.0
# A stop never waits longer than this for a part that does not end.
STOP_SECONDS = 10.0


@dataclass
class MatrixBot:
    client: AsyncClient
    channel: MatrixChannel
    ledger: EventLedger
    staff: StaffRoom | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(
        cls,
        settings: MatrixSettings,
        store: Store,
        resources: Resources,
        *,
        data_dir: Path,
        session_file: Path,
        pickle_key: bytes,
        understanding: Understanding | None = None,
        locale: str = "fr",
        nlu_deadline: float = NLU_DEADLINE_SECONDS,
        purge: bool = True,
    ) -> MatrixBot:
        account = Account(
            settings.homeserver, settings.user_id, settings.password, settings.access_token
        )
        if is_within(session_file, data_dir):
            raise SecretsError("the Matrix session file must live outside the data directory")
        store_dir = data_dir / "matrix"
        move_old_session(store_dir / STORE_SESSION_FILE, session_file)
        client = await open_client(account, store_dir, pickle_key, session_file=session_file)
        try:
            master_key = await _publish_identity(client, settings, session_file)
        except BaseException:
            await client.close()
            raise
        ledger_key = hashlib.sha256(b"entraide-event-ledger\0" + pickle_key).digest()
        ledger = EventLedger(store_dir / "events.sqlite3", ledger_key)
        conversations = Conversations(
            resources=resources,
            channel="matrix",
            keeper=StoreKeeper(store, staff_room=settings.staff_room is not None),
            understanding=understanding,
            commission_connected=settings.staff_room is not None,
            locale=locale,
            nlu_deadline=nlu_deadline,
        )
        channel = MatrixChannel(
            client=client,
            conversations=conversations,
            ledger=ledger,
            texts=resources.texts,
            locale=locale,
            staff_room_id=settings.staff_room,
            staff_users=settings.staff_users,
            signed_by_owner=master_key is not None,
        )
        staff = None
        if settings.staff_room is not None:
            staff = StaffRoom(
                room_id=settings.staff_room,
                members=settings.staff_users,
                on_call=settings.on_call,
                outbox=store,
                send=channel.send,
                room_state=lambda: _room_state(client, settings.staff_room),
                guard=StaffGuard(
                    client, settings.staff_room, settings.staff_users,
                    staff_trust_file_beside(session_file),
                ),
                texts=resources.texts,
                locale=locale,
                bot_user_id=settings.user_id,
                bot_fingerprint=None if master_key is None else fingerprint(master_key),
            )
            channel.on_activity = staff.wake
            client.add_event_callback(_staff_messages(staff), RoomMessageText)
        conversations.on_erased = channel.erased
        bot = cls(client, channel, ledger, staff)
        bot.tasks.append(asyncio.create_task(channel.run()))
        if staff is not None:
            bot.tasks.append(asyncio.create_task(staff.run()))
        if purge:
            bot.tasks.append(asyncio.create_task(_purge_daily(store)))
        log.info("event=matrix_bot_started staff_room=%s", staff is not None)
        return bot

    async def wait_synced(self, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            await self.channel.synced.wait()

    async def serve(self) -> None:
        """Until one of the parts stops (which it only does on an error)."""
        done, _ = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self.tasks, timeout=STOP_SECONDS)
        if stuck:
            log.error("event=matrix_stop_incomplete tasks=%d", len(stuck))
        await self.channel.close()
        await self.client.close()
        self.ledger.close()
        log.info("event=matrix_bot_stopped")


async def _publish_identity(
    client: AsyncClient, settings: MatrixSettings, session_file: Path
) -> str | None:
    """The bot's master key once published, None otherwise."""
    # Without cross-signing the bot still reads and answers in Element's default mode: a
    # refusal here must not keep it from catching a crisis; `health` reports it.
    try:
        identity = await publish_identity(
            settings.homeserver, session_of(client),
            cross_signing_file_beside(session_file), settings.password,
        )
    except CrossSigningError as error:
        log.error("event=matrix_identity_failed reason=%s", error)
        return None
    return identity.master_key if identity.state is IdentityState.PUBLISHED else None


def _staff_messages(staff: StaffRoom) -> Callable[[MatrixRoom, RoomMessageText], None]:
    # The channel answers people only; the staff room's own messages reach it here, from
    # nio's sync (already decrypted when their key came with it).
    def on_event(room: MatrixRoom, event: RoomMessageText) -> None:
        if room.room_id == staff.room_id:
            staff.on_message(event.sender, event.body, bool(event.decrypted))

    return on_event


def _room_state(client: AsyncClient, room_id: str | None) -> tuple[bool, frozenset[str]] | None:
    room: Any = client.rooms.get(room_id) if room_id else None
    if room is None:
        return None
    return bool(room.encrypted), frozenset(room.users)


async def _purge_daily(store: Store) -> None:
    # A task among the bot's others, stopped with them: a scheduler would add a lifecycle of
    # its own for one daily call.
    while True:
        try:
            purged = await store.purge_expired()
            log.info("event=purge cases=%d", purged)
        except Exception as error:  # tomorrow's run tries again
            log.error("event=purge_failed error=%s", type(error).__name__)
        await asyncio.sleep(PURGE_EVERY_SECONDS)
