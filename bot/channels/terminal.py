"""The terminal channel: an interactive chat, or one JSON object per line for other programs."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from bot.policy.conversations import Conversations, messages_as_json
from flows.messages import BotMessage

# One person per terminal; the pseudonym is derived from it like any channel identity.
IDENTITY = "local"


async def read_line(stream: TextIO) -> str | None:
    """The next line without its end, or None at the end of the input.

    Read in a daemon thread, not ``asyncio.to_thread``: at exit asyncio waits for its worker
    threads, and one blocked in ``readline`` would keep the process alive after Ctrl-C.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(line: str) -> None:
        if not future.done():
            future.set_result(line)

    def read() -> None:
        line = stream.readline()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(deliver, line)

    threading.Thread(target=read, daemon=True).start()
    line = await future
    return None if line == "" else line.rstrip("\r\n")


async def run_jsonl(conversations: Conversations, stdin: TextIO, stdout: TextIO) -> None:
    """Turn 0 is the welcome; turn n answers the n-th line. Nothing else goes to stdout."""

    def emit(turn: int, messages: Sequence[BotMessage]) -> None:
        for record in [*messages_as_json(turn, messages), {"turn": turn, "done": True}]:
            stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        stdout.flush()

    emit(0, await conversations.welcome(IDENTITY))
    turn = 0
    while (line := await read_line(stdin)) is not None:
        turn += 1
        emit(turn, await conversations.receive(IDENTITY, line))


def render(message: BotMessage) -> str:
    lines = [message.text]
    lines += [f"  {number}. {option.label}" for number, option in enumerate(message.options, 1)]
    return "\n".join(lines)


async def run_interactive(conversations: Conversations, stdin: TextIO, stdout: TextIO) -> None:
    def show(messages: Sequence[BotMessage]) -> None:
        for message in messages:
            stdout.write(render(message) + "\n\n")
        stdout.write("> ")
        stdout.flush()

    show(await conversations.welcome(IDENTITY))
    while (line := await read_line(stdin)) is not None:
        show(await conversations.receive(IDENTITY, line, numbers_are_positions=True))
    stdout.write("\n")


async def run(conversations: Conversations, jsonl: bool) -> None:
    # Bytes that are not UTF-8 become replacement characters: with a strict locale one bad
    # byte would otherwise kill the reader and leave the person without an answer.
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")
    runner = run_jsonl if jsonl else run_interactive
    await runner(conversations, sys.stdin, sys.stdout)
