"""The crisis detector with the real NLU service: the NLU adds recall, and the lexicon's
guards for patients, figurative speech and stopping work still hold against its guesses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from flows.crisis import detect_crisis
from nlu.client import RasaUnderstanding
from nlu.service import NluService
from tests.test_jsonl import NOW, ROOT, isolated_env

CORPUS = Path(__file__).parent.parent / "data" / "crisis"


def sentences(name: str) -> list[str]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest_asyncio.fixture(loop_scope="function")
async def understanding(nlu_service: NluService) -> AsyncIterator[RasaUnderstanding]:
    # A generous deadline: on a busy two-core machine a parse may take longer than 0.8 s,
    # and these tests are about what the model says, not how fast.
    client = RasaUnderstanding(nlu_service.url, nlu_service.token, timeout_s=10.0)
    yield client
    await client.aclose()


async def test_guarded_sentences_stay_quiet_whatever_the_nlu_says(
    understanding: RasaUnderstanding,
) -> None:
    alarms = []
    for text in [
        "Un de mes patients s'est suicidé.",
        "Un de mes patients s'est suicidé et je n'arrive pas à m'en remettre.",
        "J'ai pensé à tout arrêter... mon activité libérale.",
        *sentences("negative_set3.txt"),
    ]:
        reading = await understanding.interpret(text)
        assert reading is not None, "the service did not answer"
        if (signal := detect_crisis(text, reading)) is not None:
            alarms.append(f"{text}  [{signal.rule}; NLU {reading.intent} {reading.confidence:.2f}]")
    assert not alarms, "false alarms with the NLU up:\n" + "\n".join(alarms)


async def test_crises_are_caught_and_the_right_person_named_with_the_nlu_up(
    understanding: RasaUnderstanding,
) -> None:
    wrong = []
    for name, about_other in [("positive_set3.txt", False), ("positive_other_set3.txt", True)]:
        for text in sentences(name):
            signal = detect_crisis(text, await understanding.interpret(text))
            if signal is None or signal.about_other is not about_other:
                wrong.append(f"{text}  [{signal}]")
    assert not wrong, "missed, or the wrong person named:\n" + "\n".join(wrong)


async def test_the_quoted_sentences_through_the_jsonl_interface_with_the_nlu_up(
    nlu_service: NluService, understanding: RasaUnderstanding, tmp_path: Path
) -> None:
    """The two sentences the NLU's crisis intent used to turn into a crisis path, as a
    person types them to `python -m bot chat --jsonl` with the service up."""
    # The model still reads both as a crisis: the guards, not the model, keep them quiet.
    # (The first parse also warms the model, so the chat's own calls meet their limit.)
    for guarded in ("un de mes patients s'est suicidé",
                    "j'ai pensé à tout arrêter... mon activité libérale"):
        reading = await understanding.interpret(guarded)
        assert reading is not None and reading.intent == "crisis", (guarded, reading)
    env = {
        **isolated_env(tmp_path), "NLU_URL": nlu_service.url, "NLU_TOKEN": nlu_service.token,
    }
    lines = [
        "un de mes patients s'est suicidé",
        "j'ai pensé à tout arrêter... mon activité libérale",
        "je veux mou\u00adrir",
    ]
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--jsonl", "--demo-keys", "--now", NOW],
        input="".join(line + "\n" for line in lines), capture_output=True, text=True,
        cwd=ROOT, env=env, timeout=120, check=True,
    )
    # The NLU answered every turn (a slow parse would leave the lexicon alone to decide).
    assert "nlu_unavailable" not in completed.stderr and "nlu degraded" not in completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    answers = {
        turn: [r for r in records if r["turn"] == turn and not r.get("done")] for turn in (1, 2, 3)
    }
    for turn in (1, 2):
        # Answered as a person's words, the journey going on: no crisis message, no
        # crisis question.
        assert answers[turn], turn
        assert [r["crisis"] for r in answers[turn]] == [False] * len(answers[turn]), turn
        assert answers[turn][-1]["question"] in ("persona", "needs", "practice", "department")
    assert answers[3][0]["crisis"] is True
    assert answers[3][-1]["question"] == "rud.plan"
