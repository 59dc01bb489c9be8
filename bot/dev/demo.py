"""``make run`` with no Matrix account configured: the whole encrypted path on this machine.

A local Synapse (loopback only, SQLite), three accounts (the bot, a commission member, a demo
person), the commission's encrypted staff room, the language service, the bot, and a
terminal client logged in as the demo person. Everything lives under ``DATA_DIR/demo-matrix``
so a second run goes on with the same accounts and conversation; Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from bot.channels.matrix.app import MatrixBot
from bot.channels.terminal import read_line
from bot.dev.homeserver import Homeserver, missing
from bot.dev.matrix_person import ENCRYPTION_STATE, MatrixPerson, Received
from bot.settings import MatrixSettings, Settings
from flows.resources import Resources
from flows.understanding import Understanding
from storage import Store
from storage.keys import write_private_file

ACCOUNTS_FILE = "accounts.json"
# A demo line written by the commission member rather than the person.
AS_COMMISSION = "@commission "
REACTIONS = ("✅", "✋")


def _load_accounts(path: Path) -> dict[str, Any]:
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    return {}


def _save_accounts(path: Path, accounts: dict[str, Any]) -> None:
    write_private_file(path, json.dumps(accounts).encode(), overwrite=True)


async def _account(
    homeserver: Homeserver, accounts: dict[str, Any], role: str, localpart: str
) -> tuple[str, str]:
    if role not in accounts:
        password = secrets.token_urlsafe(18)
        user_id = await asyncio.to_thread(homeserver.register, localpart, password)
        accounts[role] = {"user_id": user_id, "password": password}
    return accounts[role]["user_id"], accounts[role]["password"]


async def run_demo(
    settings: Settings,
    store: Store,
    data_dir: Path,
    session_file: Path,
    pickle_key: bytes,
    understanding: Understanding | None,
    locale: str,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    problem = missing()
    if problem:
        stdout.write(problem + "\n")
        return 2
    root = data_dir / "demo-matrix"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    accounts_file = root / ACCOUNTS_FILE
    accounts = _load_accounts(accounts_file)
    stdout.write("Starting a local Matrix homeserver on loopback…\n")
    stdout.flush()
    homeserver = Homeserver(root / "synapse")
    await asyncio.to_thread(homeserver.start)
    bot: MatrixBot | None = None
    people: list[MatrixPerson] = []
    try:
        if "bot" not in accounts:
            # A new demo homeserver: a session kept from an earlier one names a dead token.
            session_file.unlink(missing_ok=True)
        bot_id, bot_password = await _account(homeserver, accounts, "bot", "entraide")
        staff_id, staff_password = await _account(homeserver, accounts, "staff", "commission")
        person_id, person_password = await _account(homeserver, accounts, "person", "demo")
        _save_accounts(accounts_file, accounts)
        commission = await MatrixPerson.login(
            homeserver.url, staff_id, staff_password, root / "commission", pickle_key
        )
        people.append(commission)
        if "staff_room" not in accounts:
            created = await commission.client.room_create(
                name="Commission d'entraide (démo)", invite=[bot_id],
                initial_state=[ENCRYPTION_STATE],
            )
            accounts["staff_room"] = created.room_id
            _save_accounts(accounts_file, accounts)
        matrix = MatrixSettings(
            homeserver=homeserver.url, user_id=bot_id, password=bot_password,
            staff_room=accounts["staff_room"], staff_users=frozenset({staff_id}),
            on_call=(staff_id,),
        )
        bot = await MatrixBot.start(
            matrix, store, Resources.load(settings.deployment_file), data_dir=data_dir,
            session_file=session_file, pickle_key=pickle_key, understanding=understanding,
            locale=locale,
        )
        await bot.wait_synced()
        person = await MatrixPerson.login(
            homeserver.url, person_id, person_password, root / "person", pickle_key
        )
        people.append(person)
        room_id = accounts.get("direct_room")
        if room_id is None:
            room_id = await person.open_direct_chat(bot_id)
            accounts["direct_room"] = room_id
            _save_accounts(accounts_file, accounts)
        else:
            stdout.write("The conversation goes on where it was: write anything.\n")
        stdout.write(
            f"\nYou are {person_id}, in an end-to-end encrypted chat with the bot. "
            "Lines marked [commission] are what the commission's room receives; a line "
            f"that starts with {AS_COMMISSION!r} is written by the commission member in the "
            "thread of the latest case (try '@commission ✅', '@commission !r Bonjour', "
            "'@commission !aide'). Ctrl-C or Ctrl-D stops everything.\n\n"
        )
        async def new_direct_room() -> str:
            # After an erasure the bot leaves the room: as a person would, start a new chat.
            fresh = await person.open_direct_chat(bot_id)
            accounts["direct_room"] = fresh
            _save_accounts(accounts_file, accounts)
            return fresh

        await _chat(
            person, commission, room_id, accounts["staff_room"], stdin, stdout,
            bot_id=bot_id, new_direct_room=new_direct_room,
        )
    finally:
        for member in people:
            await member.close()
        if bot is not None:
            await bot.stop()
        await asyncio.to_thread(homeserver.stop)
    return 0


async def _chat(
    person: MatrixPerson,
    commission: MatrixPerson,
    room_id: str,
    staff_room: str,
    stdin: TextIO,
    stdout: TextIO,
    *,
    bot_id: str,
    new_direct_room: Callable[[], Awaitable[str]],
) -> None:
    current = {"room": room_id}
    # The thread the commission member's demo lines go to: the latest case's card.
    case = {"root": ""}

    def show(message: Received, prefix: str = "") -> None:
        body = message.new_body if message.edits else message.body
        text = body if not prefix else "\n".join(f"{prefix} {line}" for line in body.splitlines())
        stdout.write(f"{text}\n\n")
        stdout.flush()

    async def print_bot() -> None:
        while True:
            message = await person.inbox.get()
            if message.room_id == current["room"]:
                show(message)

    async def print_commission() -> None:
        while True:
            message = await commission.inbox.get()
            if message.room_id == staff_room:
                if not message.edits:
                    # A thread's message names its case; a message outside one may start one.
                    case["root"] = message.thread or message.event_id
                show(message, "[commission ✎]" if message.edits else "[commission]")

    async def as_commission(line: str) -> None:
        if not case["root"]:
            stdout.write("(No case in the commission's room yet.)\n\n")
        elif line in REACTIONS:
            await commission.react(staff_room, case["root"], line)
        else:
            await commission.send_in_thread(staff_room, case["root"], line)

    printers = [asyncio.create_task(print_bot()), asyncio.create_task(print_commission())]
    try:
        while (line := await read_line(stdin)) is not None:
            if not line.strip():
                continue
            if line.startswith(AS_COMMISSION):
                await as_commission(line.removeprefix(AS_COMMISSION).strip())
                continue
            room = person.client.rooms.get(current["room"])
            if room is None or bot_id not in room.users:
                stdout.write("(The bot left this chat after the erasure: a new one opens.)\n\n")
                current["room"] = await new_direct_room()
            await person.send(current["room"], line)
    finally:
        for task in printers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
