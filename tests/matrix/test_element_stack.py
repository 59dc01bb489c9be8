"""Element's own crypto stack talks to the bot: matrix-js-sdk with its Rust crypto, in Node
(``tests/matrix/js/``), as the person and as a commission member, in Element's default mode
and in its "exclude insecure devices" mode (MSC4153), on the tests' real Synapse.

In "exclude insecure devices" mode the client only gives its room keys to devices their
owner signed, and only decrypts what such a device sent: a bot whose device is not
cross-signed never reads the person and is never read.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.dev.homeserver import Homeserver
from tests.matrix.conftest import Deployment, deployed, say

pytestmark = pytest.mark.asyncio(loop_scope="session")

JS_DIR = Path(__file__).parent / "js"
NODE = JS_DIR / "node_modules" / ".bin" / "node"
CRISIS = "je veux mourir, je vais me tuer ce soir"
ALERT = "niveau 3"
# Long enough for a login, a first sync and the bot's answer on a loaded machine; a test
# that waits longer fails, saying what arrived.
PATIENCE_SECONDS = 60

ISOLATION_MODES = [
    pytest.param("all", id="default"),
    pytest.param("signed", id="exclude-insecure-devices"),
]

Message = dict[str, Any]


@dataclass
class ElementClient:
    """One matrix-js-sdk client in Node, speaking JSON lines (see ``js/element.mjs``)."""

    process: asyncio.subprocess.Process
    room_id: str = ""
    # Every report, by event id: a message that decrypts late is reported again.
    messages: dict[str, Message] = field(default_factory=dict)

    @classmethod
    async def start(cls, account: dict[str, str]) -> ElementClient:
        if not NODE.exists():
            pytest.fail(f"{NODE} is missing: run `make js-ready`", pytrace=False)
        process = await asyncio.create_subprocess_exec(
            str(NODE), str(JS_DIR / "element.mjs"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=JS_DIR,
        )
        client = cls(process)
        # The password goes through the pipe, never the command line other users can read.
        client._write(json.dumps(account))
        ready = await client._until(lambda line: line["event"] == "ready", "the chat opened")
        client.room_id = ready["room"]
        return client

    def _write(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    async def _read(self) -> Message:
        assert self.process.stdout is not None
        raw = await self.process.stdout.readline()
        if not raw:
            pytest.fail(f"the Element client exited ({await self.process.wait()})", pytrace=False)
        line: Message = json.loads(raw)
        if line["event"] == "error":
            pytest.fail(f"the Element client failed: {line['error']}", pytrace=False)
        if line["event"] == "message":
            self.messages[line["id"]] = line
        return line

    async def _until(self, wanted: Callable[[Message], bool], what: str) -> Message:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PATIENCE_SECONDS):
                while not wanted(line := await self._read()):
                    pass
                return line
        pytest.fail(
            f"no {what} within {PATIENCE_SECONDS} s; received: {self.summary()}", pytrace=False
        )

    async def say(self, text: str) -> None:
        self._write(text)
        assert self.process.stdin is not None
        await self.process.stdin.drain()

    async def message_containing(self, words: str) -> Message:
        """The first message that decrypts and holds ``words``."""
        return await self._until(
            lambda line: line["event"] == "message" and line["decrypted"]
            and words in (line["body"] or ""),
            f"readable message with {words!r}",
        )

    async def next_file(self) -> Message:
        """The next encrypted file, downloaded and opened by the Element stack."""
        return await self._until(lambda line: line["event"] == "file", "opened file")

    async def settle(self, quiet: float = 2.0) -> None:
        """Take in whatever still arrives until ``quiet`` seconds pass without a line."""
        with contextlib.suppress(TimeoutError):
            while True:
                async with asyncio.timeout(quiet):
                    await self._read()

    def unreadable(self) -> list[Message]:
        return [message for message in self.messages.values() if not message["decrypted"]]

    def summary(self) -> str:
        return "; ".join(
            f"decrypted={m['decrypted']} failure={m['failure']} shield={m['shield']}"
            f" body={(m['body'] or '')[:60]!r}"
            for m in self.messages.values()
        ) or "nothing"

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def element_client(
    homeserver: Homeserver, user_id: str, password: str, **role: str
) -> AsyncIterator[ElementClient]:
    client = await ElementClient.start(
        {"homeserver": homeserver.url, "user": user_id, "password": password, **role}
    )
    try:
        yield client
    finally:
        await client.close()


async def register(homeserver: Homeserver, prefix: str) -> tuple[str, str]:
    password = secrets.token_urlsafe(12)
    user_id = await asyncio.to_thread(
        homeserver.register, f"{prefix}-{secrets.token_hex(4)}", password
    )
    return user_id, password


async def bot_sees_joined(deployment: Deployment, room_id: str, user_id: str) -> None:
    """Wait until the bot counts ``user_id`` among the room's members, so that its next
    message is encrypted for that member's devices too."""
    async with asyncio.timeout(PATIENCE_SECONDS):
        while True:
            room = deployment.running_bot.client.rooms.get(room_id)
            if room is not None and user_id in room.users and user_id not in room.invited_users:
                return
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("isolation", ISOLATION_MODES)
async def test_a_person_on_element_who_writes_of_killing_themselves_reads_3114(
    deployment: Deployment, isolation: str
) -> None:
    user_id, password = await register(deployment.homeserver, "element-person")
    async with element_client(
        deployment.homeserver, user_id, password,
        role="person", isolation=isolation, bot=deployment.settings.user_id,
    ) as person:
        await person.say(CRISIS)
        await person.message_containing("3114")
        await person.settle()
        print(f"person, {isolation}: {person.summary()}")
        assert person.unreadable() == [], person.summary()


@pytest.mark.parametrize("isolation", ISOLATION_MODES)
async def test_a_commission_member_on_element_reads_the_level_3_alert(
    homeserver: Homeserver, tmp_path: Path, isolation: str
) -> None:
    member, password = await register(homeserver, "element-commission")
    async with (
        deployed(homeserver, tmp_path, also_staff=frozenset({member})) as deployment,
        element_client(
            homeserver, member, password, role="staff", isolation=isolation
        ) as commission,
    ):
        await bot_sees_joined(deployment, commission.room_id, member)
        person, room_id = await deployment.person()
        await person.messages_until_quiet()
        assert any("3114" in reply for reply in await say(person, room_id, CRISIS))
        alert = await commission.message_containing(ALERT)
        assert person.user_id not in alert["body"]
        await commission.settle()
        print(f"commission, {isolation}: {commission.summary()}")
        assert commission.unreadable() == [], commission.summary()


async def test_a_commission_member_on_element_opens_the_yearly_report_files(
    homeserver: Homeserver, tmp_path: Path
) -> None:
    member, password = await register(homeserver, "element-report")
    async with (
        deployed(homeserver, tmp_path, also_staff=frozenset({member})) as deployment,
        element_client(
            homeserver, member, password, role="staff", isolation="all"
        ) as commission,
    ):
        await bot_sees_joined(deployment, commission.room_id, member)
        person, room_id = await deployment.person()
        await person.messages_until_quiet()
        await say(person, room_id, CRISIS)
        await commission.message_containing(ALERT)
        year = datetime.now(deployment.resources.deployment.timezone).year

        await commission.say(f"!rapport {year}")
        answer = await commission.message_containing(f"Rapport {year}")
        count = int(re.search(r"(\d+) fichiers", answer["body"]).group(1))  # type: ignore[union-attr]
        files = [await commission.next_file() for _ in range(count)]
        kinds = {file["name"].rsplit(".", 1)[-1] for file in files}
        assert {"md", "html", "zip", "png"} <= kinds
        for file in files:
            head = base64.b64decode(file["head"])
            if file["name"].endswith(".png"):
                assert head.startswith(b"\x89PNG") and file["mimetype"] == "image/png"
            if file["name"].endswith(".md"):
                assert str(year) in head.decode("utf-8", "replace")
        assert commission.unreadable() == [], commission.summary()
