"""What ``python -m bot run`` serves on Matrix, started and stopped as one piece.

The bot's client, its event ledger, the channel, the staff room with the commission's
console, and the scheduler (reminders, the morning queue, the daily purge) share one store
and one conversation layer; ``stop`` ends them in the reverse order.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import AsyncClient, RoomPutStateResponse, UploadResponse

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
from bot.staff.console import Console, People, PersonLine
from bot.staff.scheduler import Scheduler
from flows.resources import Resources
from flows.understanding import Understanding
from storage import SecretsError, Store
from storage.config import is_within

log = logging.getLogger("bot.matrix")

# A stop never waits longer than this for a part that does not end.
STOP_SECONDS = 10.0


@dataclass
class MatrixBot:
    client: AsyncClient
    channel: MatrixChannel
    ledger: EventLedger
    staff: StaffRoom | None
    scheduler: Scheduler
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
        daily_jobs: bool = True,
        other_channels: Mapping[str, PersonLine] | None = None,
    ) -> MatrixBot:
        """``other_channels`` are the channels served beside Matrix (Telegram): the
        commission's answers reach their people too."""
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
        staff_room = settings.staff_room
        deployment = resources.deployment
        conversations = Conversations(
            resources=resources,
            channel="matrix",
            keeper=StoreKeeper(
                store, staff_room=staff_room is not None, schedule=deployment.commission
            ),
            understanding=understanding,
            commission_connected=staff_room is not None,
            locale=locale,
            nlu_deadline=nlu_deadline,
        )
        channel = MatrixChannel(
            client=client,
            conversations=conversations,
            ledger=ledger,
            texts=resources.texts,
            locale=locale,
            staff_room_id=staff_room,
            staff_users=settings.staff_users,
            signed_by_owner=master_key is not None,
        )
        people = People(store, {"matrix": channel, **(other_channels or {})})
        scheduler = Scheduler(store, people, deployment, daily_jobs=daily_jobs)
        staff = None
        if staff_room is not None:
            staff = StaffRoom(
                room_id=staff_room,
                members=settings.staff_users,
                on_call=settings.on_call,
                store=store,
                console=Console(
                    store, people, resources, settings.staff_users, locale=locale
                ),
                send=channel.send,
                room_state=lambda: _room_state(client, staff_room),
                guard=StaffGuard(
                    client, staff_room, settings.staff_users,
                    staff_trust_file_beside(session_file),
                ),
                texts=resources.texts,
                directory=resources.directory,
                locale=locale,
                bot_user_id=settings.user_id,
                bot_fingerprint=None if master_key is None else fingerprint(master_key),
                pin=lambda event_id: _pin(client, staff_room, event_id),
                upload=lambda data: _upload_encrypted(client, data),
            )
            channel.on_activity = staff.wake
            channel.on_staff_event = staff.on_event
            scheduler.post_queue = staff.post_queue
            scheduler.wake_staff_room = staff.wake
        conversations.on_erased = channel.erased
        bot = cls(client, channel, ledger, staff, scheduler)
        bot.tasks.append(asyncio.create_task(channel.run()))
        if staff is not None:
            bot.tasks.append(asyncio.create_task(staff.run()))
        bot.tasks.append(asyncio.create_task(scheduler.run()))
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


def _room_state(client: AsyncClient, room_id: str | None) -> tuple[bool, frozenset[str]] | None:
    room: Any = client.rooms.get(room_id) if room_id else None
    if room is None:
        return None
    return bool(room.encrypted), frozenset(room.users)


async def _upload_encrypted(client: AsyncClient, data: bytes) -> dict[str, Any] | None:
    """The file encrypted on this side (AES-CTR, its own key), then uploaded: the `file`
    object of its event. No file name goes with the upload, where the homeserver would
    read it; the name travels in the encrypted event only."""
    try:
        response, keys = await client.upload(io.BytesIO(data), encrypt=True, filesize=len(data))
    except Exception as error:  # the homeserver away: the room is told the file did not go
        log.warning("event=matrix_upload_failed error=%s", type(error).__name__)
        return None
    if not isinstance(response, UploadResponse) or keys is None:
        log.warning("event=matrix_upload_refused")
        return None
    return {"url": response.content_uri, **keys}


async def _pin(client: AsyncClient, room_id: str, event_id: str) -> bool:
    """Pin the console's manual; the bot needs the power level for it, which the room's
    creator may not have given."""
    response = await client.room_put_state(
        room_id, "m.room.pinned_events", {"pinned": [event_id]}
    )
    return isinstance(response, RoomPutStateResponse)
