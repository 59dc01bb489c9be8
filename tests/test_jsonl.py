"""Golden transcripts of each persona through the JSONL interface of ``python -m bot chat``.

Each ``golden/<name>.in`` holds what the person types, one line each; ``<name>.jsonl`` holds
what the bot must answer, reviewed by a person. ``UPDATE_GOLDEN=1 make test`` rewrites them
after a deliberate change; review the diff before committing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parent.parent
NOW = "2026-11-22T09:00:00+01:00"
TRANSCRIPTS = sorted(path.stem for path in GOLDEN.glob("*.in"))
KEYS = {"turn", "text", "options", "multi", "question", "contacts", "crisis", "level"}


def isolated_env(tmp: Path) -> dict[str, str]:
    """Each run gets its own store and throwaway keys, so no conversation carries over."""
    return {
        **os.environ, "NLU_URL": "", "LOG_LEVEL": "DEBUG",
        "DATA_DIR": str(tmp / "var"), "SECRETS_FILE": str(tmp / "secrets" / "server.json"),
    }


def run_chat(lines: list[str], *extra: str) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        return _run_chat(lines, isolated_env(Path(tmp)), *extra)


def _run_chat(lines: list[str], env: dict[str, str], *extra: str) -> list[dict[str, object]]:
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--jsonl", "--demo-keys", "--now", NOW, *extra],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in completed.stdout.splitlines()]


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_golden_transcript(name: str) -> None:
    lines = (GOLDEN / f"{name}.in").read_text(encoding="utf-8").splitlines()
    records = run_chat(lines)
    expected_path = GOLDEN / f"{name}.jsonl"
    rendered = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(rendered, encoding="utf-8")
    assert rendered == expected_path.read_text(encoding="utf-8")


def test_there_is_a_transcript_per_persona_and_for_each_hard_case() -> None:
    assert {
        "self", "relative", "colleague", "crisis", "free_text", "intern", "other_department",
        "retired", "relative_crisis",
    } <= set(TRANSCRIPTS)


def test_the_free_text_transcript_uses_no_option_id_nor_number() -> None:
    lines = (GOLDEN / "free_text.in").read_text(encoding="utf-8").splitlines()
    transcript = (GOLDEN / "free_text.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in transcript]
    ids = {option["id"] for r in records if not r.get("done") for option in r["options"]}
    for line in lines:
        assert line not in ids and not line.strip().isdigit(), line


def test_the_interface_numbers_turns_and_closes_each_one() -> None:
    records = run_chat(["self", "", "psychological"])
    turns = [r["turn"] for r in records if r.get("done")]
    assert turns == [0, 1, 2, 3]
    for record in records:
        if record.get("done"):
            assert set(record) == {"turn", "done"}
        else:
            assert set(record) == KEYS
    last_of_each_turn = {}
    for record in records:
        if not record.get("done"):
            last_of_each_turn[record["turn"]] = record
    assert last_of_each_turn[1]["question"] == "needs"
    assert last_of_each_turn[2]["question"] == "needs"
    assert last_of_each_turn[3]["question"] == "practice"


def test_multi_choice_by_ids_or_numbers() -> None:
    by_ids = run_chat(["relative", "alcohol,withdrawal"])
    by_numbers = run_chat(["relative", "7, 6"])
    assert by_ids[-2]["question"] == by_numbers[-2]["question"] == "urgency"


def test_english_by_option() -> None:
    records = run_chat(["self"], "--locale", "en")
    assert records[-2]["text"].startswith("What is weighing on you")


def test_logs_never_reach_stdout_nor_carry_what_was_typed(tmp_path: Path) -> None:
    marker = "Zygomar Quistrel 06 12 34 56 78"
    env = isolated_env(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--jsonl", "--demo-keys", "--now", NOW],
        input=f"relative\n1\nweeks\n83\nyes\n{marker}\n{marker}\n",
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=True,
    )
    assert "event=" in completed.stderr
    assert marker not in completed.stderr
    # Nor what libraries log at DEBUG: SQL statements carry pseudonyms as parameters.
    assert "aiosqlite" not in completed.stderr and "INSERT" not in completed.stderr
    assert "Zygomar" not in completed.stderr
    for line in completed.stdout.splitlines():
        json.loads(line)
