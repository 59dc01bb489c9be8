"""A person's end-to-end encrypted Matrix client: the demo's terminal, the tests' and bench's
simulated people, and the commission member who reads the staff room.

It opens a direct chat with the bot, sends text through ``room_send`` (which encrypts), and
collects every decrypted message of its rooms in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    DownloadResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomEncryptedMedia,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from nio.crypto.attachments import decrypt_attachment

from bot.channels.matrix.client import Account, keep_keys_fresh, open_client

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@dataclass(frozen=True)
class Received:
    room_id: str
    sender: str
    body: str
    content: dict[str, Any]
    decrypted: bool
    event_id: str = ""

    @property
    def thread(self) -> str | None:
        """The root of the thread this message is in, None outside a thread."""
        relation = self.content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.thread":
            return str(relation["event_id"])
        return None

    @property
    def edits(self) -> str | None:
        """The event this message replaces (an edit), None for a new message."""
        relation = self.content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace":
            return str(relation["event_id"])
        return None

    @property
    def new_body(self) -> str:
        """What the message says once edits are applied."""
        new = self.content.get("m.new_content")
        return str(new["body"]) if isinstance(new, dict) else self.body


@dataclass
class MatrixPerson:
    client: AsyncClient
    inbox: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    undecrypted: int = 0
    _task: asyncio.Task[None] | None = None
    _synced: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def login(
        cls, homeserver: str, user_id: str, password: str, store_dir: Path, pickle_key: bytes
    ) -> MatrixPerson:
        client = await open_client(
            Account(homeserver, user_id, password), store_dir, pickle_key, device_name="person"
        )
        person = cls(client)
        person._task = asyncio.create_task(person._sync_forever())
        async with asyncio.timeout(30):
            await person._synced.wait()
        return person

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def _sync_forever(self) -> None:
        first = True
        while True:
            try:
                response = await self.client.sync(
                    timeout=0 if first else 10_000, full_state=first or None
                )
                if isinstance(response, SyncResponse):
                    first = False
                    await self._take(response)
                await keep_keys_fresh(self.client)
            except Exception:  # the homeserver restarts: try again shortly
                await asyncio.sleep(0.5)
                continue
            self._synced.set()

    async def _take(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                self._collect(room_id, event)
        for room_id in response.rooms.invite:
            await self.client.join(room_id)

    def _collect(self, room_id: str, event: Any) -> None:
        if getattr(event, "sender", None) == self.client.user_id:
            return
        if isinstance(event, MegolmEvent):
            self.undecrypted += 1
            return
        if isinstance(event, RoomMessageText | RoomEncryptedMedia):
            content = event.source.get("content", {})
            self.inbox.put_nowait(Received(
                room_id, event.sender, event.body, content, bool(event.decrypted), event.event_id
            ))

    async def download(self, message: Received) -> tuple[bytes, bytes]:
        """The file of an encrypted file message: as the homeserver holds it, and opened
        with the key its event carries."""
        file = message.content["file"]
        response = await self.client.download(mxc=file["url"])
        if not isinstance(response, DownloadResponse):
            raise RuntimeError("the homeserver refused the download")
        stored = bytes(response.body)
        opened = decrypt_attachment(stored, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
        return stored, bytes(opened)

    async def wait_synced(self) -> None:
        self._synced.clear()
        async with asyncio.timeout(30):
            await self._synced.wait()

    async def open_direct_chat(self, bot_user_id: str, *, encrypted: bool = True) -> str:
        """Create a direct chat with the bot and wait until the bot joined it."""
        response = await self.client.room_create(
            is_direct=True,
            invite=[bot_user_id],
            preset=None,
            initial_state=[ENCRYPTION_STATE] if encrypted else [],
        )
        if not isinstance(response, RoomCreateResponse):
            raise RuntimeError("the homeserver refused to create the room")
        await self.wait_joined(response.room_id, bot_user_id)
        return str(response.room_id)

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while True:
                room = self.client.rooms.get(room_id)
                if room is not None and user_id in room.users and user_id not in room.invited_users:
                    return
                await self.wait_synced()

    async def send(self, room_id: str, text: str) -> str:
        return await self.send_content(room_id, {"msgtype": "m.text", "body": text})

    async def send_content(
        self, room_id: str, content: dict[str, Any], message_type: str = "m.room.message"
    ) -> str:
        response = await self.client.room_send(
            room_id, message_type, content, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            raise RuntimeError("the homeserver refused the message")
        return str(response.event_id)

    async def send_in_thread(self, room_id: str, root: str, text: str) -> str:
        """A message in the thread of ``root``, as Element sends it."""
        return await self.send_content(room_id, {
            "msgtype": "m.text",
            "body": text,
            "m.relates_to": {
                "rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        })

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send_content(
            room_id,
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
            "m.reaction",
        )

    async def next_message(self, timeout: float = 30) -> Received:
        async with asyncio.timeout(timeout):
            return await self.inbox.get()

    async def messages_until_quiet(self, quiet: float = 1.5, timeout: float = 30) -> list[Received]:
        """Everything that arrives until nothing more came for ``quiet`` seconds."""
        received = [await self.next_message(timeout)]
        while True:
            try:
                received.append(await self.next_message(quiet))
            except TimeoutError:
                return received

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.close()
