"""The engine with the real NLU service: free-text openings find their journey, and a crisis
is still caught, and the conversation goes on, once the service is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from bot.policy.conversations import Conversations
from bot.policy.memory_keeper import MemoryKeeper
from flows.commands import INTENT_NEEDS
from flows.crisis import detect_crisis
from flows.engine import CheckInDue
from flows.messages import BotMessage
from flows.resources import Resources
from nlu.client import RasaUnderstanding
from nlu.service import NluService, free_port
from tests.conftest import NOW

RESOURCES = Resources.load()

# Openings the lexicons of flows/ do not know: only the NLU can route them.
TOPIC_OPENINGS = {
    "burnout": ("je suis vidé, je n'ai plus aucune énergie pour mes patients", "psychological"),
    "financial_difficulty": ("je n'arrive plus à payer mes charges sociales", "financial"),
    "legal_disciplinary": (
        "un patient a porté plainte contre moi devant la chambre disciplinaire",
        "legal",
    ),
    "addiction": ("je prends du tramadol tous les soirs pour tenir", "addiction"),
    "assault": ("un patient m'a frappé en consultation hier", "assault"),
    "physical_illness": (
        "on vient de me diagnostiquer un cancer et je ne sais pas comment continuer",
        "health",
    ),
}
PERSONA_OPENINGS = {
    "relative_concern": (
        "je m'inquiète pour mon époux qui exerce en libéral, il ne se ressemble plus",
        "relative",
    ),
    "report_colleague": (
        "je voudrais signaler une consœur du service qui va très mal",
        "colleague",
    ),
}
COMMAND_OPENINGS = {
    "request_appointment": ("est-il possible de voir quelqu'un du conseil en personne ?", "slot"),
    "erase_data": ("pouvez-vous détruire tout ce que je vous ai raconté ?", "erase.confirm"),
}


@pytest_asyncio.fixture(loop_scope="function")
async def understanding(nlu_service: NluService) -> AsyncIterator[RasaUnderstanding]:
    # A generous deadline here: on a busy two-core machine a parse may take longer than the
    # 0.8 s a person is made to wait, and these tests are about routing, not speed.
    client = RasaUnderstanding(nlu_service.url, nlu_service.token, timeout_s=10.0)
    yield client
    await client.aclose()


def conversations(understanding: RasaUnderstanding | None) -> Conversations:
    return Conversations(
        resources=RESOURCES,
        channel="matrix",
        keeper=MemoryKeeper(),
        understanding=understanding,
        clock=lambda: NOW,
        nlu_deadline=15.0,
    )


async def open_with(
    understanding: RasaUnderstanding | None, text: str
) -> tuple[list[BotMessage], dict[str, Any]]:
    """A first free-text message: what the bot answers, and the state it leaves."""
    chat = conversations(understanding)
    await chat.welcome("person")
    messages = await chat.receive("person", text)
    state = await chat.keeper.load_state(chat.keeper.pseudonym("matrix", "person"))
    assert state is not None
    return messages, state


@pytest.mark.parametrize("intent", sorted(TOPIC_OPENINGS))
async def test_a_free_text_opening_about_oneself_starts_the_self_journey(
    understanding: RasaUnderstanding, intent: str
) -> None:
    text, need = TOPIC_OPENINGS[intent]
    messages, state = await open_with(understanding, text)
    # What weighs on them is not asked again: the journey goes on with the practice.
    assert messages[-1].question in ("practice", "department"), intent
    assert state["persona"] == "self"
    assert need in state["choices"]["needs"]


@pytest.mark.parametrize("intent", sorted(PERSONA_OPENINGS))
async def test_a_free_text_opening_about_someone_else_starts_their_journey(
    understanding: RasaUnderstanding, intent: str
) -> None:
    text, persona = PERSONA_OPENINGS[intent]
    _, state = await open_with(understanding, text)
    assert state["persona"] == persona


@pytest.mark.parametrize("intent", sorted(COMMAND_OPENINGS))
async def test_a_request_in_free_text_is_answered_at_once(
    understanding: RasaUnderstanding, intent: str
) -> None:
    text, question = COMMAND_OPENINGS[intent]
    messages, _ = await open_with(understanding, text)
    assert messages[-1].question == question


async def test_suivi_and_stop_mean_what_they_say_whatever_the_nlu_reads(
    understanding: RasaUnderstanding,
) -> None:
    """The NLU reads "/suivi" as an intent of its own and "Stop merci" as a goodbye: the
    check-in's words still win."""
    chat = conversations(understanding)
    await chat.welcome("person")
    messages = await chat.receive("person", "/suivi")
    assert messages[-1].question == "checkin.offer"
    await chat.receive("person", "Dans 2 semaines")
    await chat.notify(chat.keeper.pseudonym("matrix", "person"), CheckInDue("c1"))
    messages = await chat.receive("person", "Stop merci")
    assert "je ne vous écrirai plus" in messages[0].text


async def test_with_the_service_stopped_mid_conversation_crises_are_still_caught() -> None:
    service = NluService().start()
    client = RasaUnderstanding(service.url, service.token, timeout_s=10.0)
    try:
        chat = conversations(client)
        await chat.welcome("person")
        messages = await chat.receive("person", TOPIC_OPENINGS["burnout"][0])
        assert messages[-1].question == "practice"
        service.stop()
        chat.nlu_deadline = 1.0
        client.timeout_s = 0.8
        messages = await chat.receive("person", "liberal")
        assert messages[-1].question == "department"
        for text in ["je voudrais m'endormir et ne plus me réveiller", "jveux en finir"]:
            messages = await chat.receive("person", text)
            assert messages[0].crisis
        messages = await chat.receive("person", "non")
        assert messages[-1].question == "rud.means"
        assert client.status()["failures"] >= 1  # type: ignore[operator]
    finally:
        service.stop()
        await client.aclose()


async def test_the_nlu_covers_the_known_gaps_of_the_lexicon(
    understanding: RasaUnderstanding,
) -> None:
    gaps = Path(__file__).parent.parent / "data" / "crisis" / "lexicon_gaps.txt"
    lines = [
        line
        for line in gaps.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert lines
    for line in lines:
        assert detect_crisis(line) is None, "now caught by the lexicon: move it to a corpus file"
        assert detect_crisis(line, await understanding.interpret(line)) is not None, line


# What the engine does with a free-text first message of each intent, at the first question.
OPENING_OUTCOMES = {
    **{intent: ("persona_self", need) for intent, need in INTENT_NEEDS.items()},
    "relative_concern": ("persona", "relative"),
    "report_colleague": ("persona", "colleague"),
    "crisis": ("question", "rud.plan"),
    "request_appointment": ("question", "slot"),
    "erase_data": ("question", "erase.confirm"),
    "ask_capabilities": ("said", "auto-questionnaire"),
    "ask_confidentiality": ("said", "chiffrée de bout en bout"),
    "request_human": ("contacts", "cnom_line"),
    # Nothing to act on: the same first question again, nothing chosen for the person.
    **{intent: ("question", "persona")
       for intent in ("greet", "goodbye", "affirm", "deny", "out_of_scope")},
}


def test_every_intent_has_an_expected_opening() -> None:
    domain = yaml.safe_load((Path(__file__).parents[2] / "nlu" / "domain.yml").read_text())
    assert set(OPENING_OUTCOMES) == set(domain["intents"])


async def test_free_text_openings_of_every_intent_are_routed(
    understanding: RasaUnderstanding, heldout: dict[str, Any]
) -> None:
    """For each intent, the held-out sentences the model recognises take the person where
    that intent should: at least one per intent."""
    unrouted = []
    for intent, (kind, expected) in OPENING_OUTCOMES.items():
        routed = 0
        for text in heldout["intents"][intent]:
            reading = await understanding.interpret(text)
            if reading is None or reading.intent != intent or reading.confidence < 0.5:
                continue
            messages, state = await open_with(understanding, text)
            outcome = {
                "persona_self": state["persona"] == "self"
                and expected in state["choices"].get("needs", ()),
                "persona": state["persona"] == expected,
                "question": messages[-1].question == expected and (
                    expected != "persona" or state["persona"] is None
                ),
                "said": any(expected in m.text for m in messages),
                "contacts": any(expected in m.contacts for m in messages),
            }[kind]
            assert outcome, (intent, text)
            routed += 1
        if not routed:
            unrouted.append(intent)
    assert not unrouted, f"no held-out sentence routed for {unrouted}"


def test_the_health_output_shows_the_service_up_and_down(nlu_service: NluService) -> None:
    def health(url: str) -> dict[str, Any]:
        env = {
            **os.environ, "NLU_URL": url, "NLU_TOKEN": nlu_service.token, "LOG_LEVEL": "DEBUG"
        }
        done = subprocess.run(
            [sys.executable, "-m", "bot", "health"], capture_output=True, text=True,
            env=env, cwd=Path(__file__).parents[2], timeout=60, check=True,
        )
        report: dict[str, Any] = json.loads(done.stdout)
        assert "bonjour" not in done.stderr
        assert nlu_service.token not in done.stderr  # httpx logs request URLs at INFO
        return report

    up = health(nlu_service.url)["nlu"]
    assert up["answered_probe"] is True and up["failures"] == 0
    down = health(f"http://127.0.0.1:{free_port()}")["nlu"]
    assert down["answered_probe"] is False and down["last_failure"] == "unreachable"
