"""The bot with its real encrypted store: what a person says leaves no readable trace, a
restart resumes where the conversation was, and nothing reaches the commission twice."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.policy.conversations import Conversations
from bot.policy.store_keeper import StoreKeeper
from flows.resources import Resources
from storage import CommissionPrivateKey, ServerSecrets, Store
from tests.conftest import NOW

ROOT = Path(__file__).parent.parent
MARKERS = ["Zygomar Quistrelle", "06 98 76 54 32", "@zygomar.canary:example.org", "Quistrelle"]


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    data, secrets = tmp_path / "var", tmp_path / "secrets"
    data.mkdir(mode=0o700)
    secrets.mkdir(mode=0o700)
    return {"data": data, "secrets": secrets}


async def test_canary_a_whole_conversation_leaves_no_readable_trace(
    places: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    database = places["data"] / "entraide.sqlite3"
    store = await Store.open(
        f"sqlite+aiosqlite:///{database}",
        ServerSecrets.generate(CommissionPrivateKey.generate().public()),
        case_keys_file=places["secrets"] / "case-keys.sqlite3",
    )
    conversations = Conversations(
        resources=Resources.load(),
        channel="matrix",
        keeper=StoreKeeper(store),
        commission_connected=True,
        clock=lambda: NOW,
    )
    person = MARKERS[2]
    await conversations.welcome(person)
    for text in [
        "relative", "1,7", "days", "83", "yes",
        f"Mon mari {MARKERS[0]} ne dort plus, appelez-moi au {MARKERS[1]}",
        MARKERS[1], "1",
    ]:
        await conversations.receive(person, text)
    await store.close()

    files = [path for folder in places.values() for path in folder.rglob("*") if path.is_file()]
    assert database in files
    for path in files:
        content = path.read_bytes()
        for marker in MARKERS:
            assert marker.encode() not in content, (path.name, marker)
            assert marker.lower().encode() not in content.lower(), (path.name, marker)
    for marker in MARKERS:
        assert marker not in caplog.text


def run_chat(
    env: dict[str, str], lines: list[str], kill_after_turn: int | None = None
) -> list[dict[str, object]]:
    """Run the JSONL chat; with ``kill_after_turn``, SIGKILL it once that turn is answered."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--jsonl", "--demo-keys",
         "--now", "2026-11-22T09:00:00+01:00"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, cwd=ROOT, env=env,
    )
    assert process.stdin and process.stdout
    records: list[dict[str, object]] = []

    def read_turn() -> None:
        while True:
            record = json.loads(process.stdout.readline())  # type: ignore[union-attr]
            records.append(record)
            if record.get("done"):
                return

    read_turn()
    for sent, line in enumerate(lines, 1):
        process.stdin.write(line + "\n")
        process.stdin.flush()
        read_turn()
        if kill_after_turn is not None and sent == kill_after_turn:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return records
    process.stdin.close()
    process.wait(timeout=30)
    return records


def questions(records: list[dict[str, object]]) -> list[object]:
    return [r["question"] for r in records if r.get("question")]


async def count_outbox(places: dict[str, Path]) -> dict[str, int]:
    from storage import load_server_secrets

    store = await Store.open(
        f"sqlite+aiosqlite:///{places['data'] / 'entraide.sqlite3'}",
        load_server_secrets(places["secrets"] / "server.json"),
        case_keys_file=places["secrets"] / "case-keys.sqlite3",
    )
    try:
        counts: dict[str, int] = {}
        for item in await store.pending_outbox(limit=500):
            counts[item.kind] = counts.get(item.kind, 0) + 1
        return counts
    finally:
        await store.close()


async def test_killed_between_turns_it_resumes_and_sends_nothing_twice(
    places: dict[str, Path],
) -> None:
    env = {
        **os.environ, "DATA_DIR": str(places["data"]),
        "SECRETS_FILE": str(places["secrets"] / "server.json"), "NLU_URL": "",
    }
    answers = ["relative", "1,7", "days", "83", "yes", "Mon mari ne dort plus.", "none"]
    for kill_after in range(1, len(answers) + 1):
        for path in [*places["data"].iterdir(), *places["secrets"].iterdir()]:
            path.unlink()
        first = run_chat(env, answers[:kill_after], kill_after_turn=kill_after)
        asked_before = questions(first)
        second = run_chat(env, answers[kill_after:])
        resumed = [r for r in second if r["turn"] == 0 and r.get("question")]
        # The first question after the restart is the one that was pending, never one
        # already answered.
        assert resumed[0]["question"] == asked_before[-1], kill_after
        answered = asked_before[:-1]
        assert not set(questions(second)) & set(answered) - {"menu"}, kill_after
        # The terminal chat has no staff room: nothing waits for a delivery, crash or not
        # (the replayed turn's alerts, once each, are checked with a staff room in
        # tests/test_receipt_journey.py).
        assert await count_outbox(places) == {}, kill_after


async def test_a_flipped_bit_in_the_kept_state_still_gets_the_crisis_answer(
    places: dict[str, Path],
) -> None:
    env = {
        **os.environ, "DATA_DIR": str(places["data"]),
        "SECRETS_FILE": str(places["secrets"] / "server.json"), "NLU_URL": "",
    }
    run_chat(env, ["relative", "1"])
    database = places["data"] / "entraide.sqlite3"
    with sqlite3.connect(database) as db:
        (blob,) = db.execute("SELECT state FROM conversations").fetchone()
        flipped = bytes([blob[0], blob[1], blob[2] ^ 0x01, *blob[3:]])
        db.execute("UPDATE conversations SET state = ?", (flipped,))
    records = run_chat(env, ["je veux mourir, je vais me tuer ce soir", "bonjour"])
    answers = [r for r in records if r["turn"] == 1 and not r.get("done")]
    assert answers and answers[0]["crisis"] is True
    assert "3114" in str(answers[0]["text"]) and "15" in str(answers[0]["text"])
    later = [r for r in records if r["turn"] == 2 and not r.get("done")]
    assert later and "3114" in str(later[0]["text"])


def test_a_byte_that_is_not_utf8_on_stdin_is_replaced_not_fatal(tmp_path: Path) -> None:
    # A strict UTF-8 decoder on stdin, as some locales give: one bad byte used to kill the
    # reader and leave the bot waiting for ever.
    env = {
        **os.environ, "PYTHONIOENCODING": "utf-8:strict",
        "DATA_DIR": str(tmp_path / "var"), "SECRETS_FILE": str(tmp_path / "s" / "server.json"),
        "NLU_URL": "",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--jsonl", "--demo-keys"],
        input=b"\xff\xfe pour moi\nje veux mourir\n", capture_output=True, cwd=ROOT, env=env,
        timeout=60, check=True,
    )
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [r["turn"] for r in records if r.get("done")] == [0, 1, 2]
    assert any(r.get("crisis") for r in records if r["turn"] == 2)


def test_when_the_demos_keys_and_data_part_the_message_says_which_folders_to_delete(
    places: dict[str, Path],
) -> None:
    env = {
        **os.environ, "DATA_DIR": str(places["data"]),
        "SECRETS_FILE": str(places["secrets"] / "server.json"), "NLU_URL": "",
    }
    run_chat(env, ["relative"])
    for path in places["secrets"].iterdir():
        path.unlink()
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--jsonl", "--demo-keys"],
        input="bonjour\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )
    assert completed.returncode == 2
    assert "make run" not in completed.stderr  # the command that just failed is no way out
    assert str(places["data"]) in completed.stderr and str(places["secrets"]) in completed.stderr
    assert "delete both folders" in completed.stderr
