"""The crisis detector with the real NLU service: the NLU adds recall, and the lexicon's
guards for patients, figurative speech and stopping work still hold against its guesses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from flows.crisis import detect_crisis
from nlu.client import RasaUnderstanding
from nlu.service import NluService

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
