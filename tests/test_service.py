"""The policy layer every channel goes through: floods are slowed, not dropped; a crisis
skips every wait; a slow NLU never holds a person up."""

from __future__ import annotations

import asyncio

import pytest

import bot.policy.conversations as service_module
from bot.policy.conversations import Conversations
from bot.policy.memory_keeper import MemoryKeeper
from flows.understanding import Interpretation
from tests.conftest import NOW, RESOURCES


class Clock:
    """Monotonic time that only moves when the service sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def service(clock: Clock, understanding: object = None) -> Conversations:
    return Conversations(
        resources=RESOURCES, channel="matrix", keeper=MemoryKeeper(),
        understanding=understanding,  # type: ignore[arg-type]
        clock=lambda: NOW, monotonic=clock.monotonic, sleep=clock.sleep,
    )


async def test_a_flood_is_slowed_down_and_every_message_is_answered() -> None:
    clock = Clock()
    chat = service(clock)
    await chat.welcome("flooder")
    answers = [await chat.receive("flooder", "banane") for _ in range(100)]
    assert all(answer for answer in answers)
    assert len(clock.slept) >= 80  # past the burst, each message waits its turn
    waited_before = len(clock.slept)
    await chat.welcome("neighbour")
    await chat.receive("neighbour", "self")
    assert len(clock.slept) == waited_before  # someone else is not slowed down


async def test_a_crisis_in_a_flood_is_answered_without_waiting() -> None:
    clock = Clock()
    chat = service(clock)
    await chat.welcome("flooder")
    for _ in range(50):
        await chat.receive("flooder", "banane")
    waited = len(clock.slept)
    reply = await chat.receive("flooder", "je veux mourir")
    assert reply[0].crisis
    assert len(clock.slept) == waited


class SlowUnderstanding:
    def __init__(self) -> None:
        self.cancelled = False

    async def interpret(self, text: str) -> Interpretation | None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return Interpretation("relative_concern", 0.99)


async def test_a_slow_nlu_is_given_up_and_the_conversation_goes_on() -> None:
    slow = SlowUnderstanding()
    chat = service(Clock(), slow)
    chat.nlu_deadline = 0.05
    await chat.welcome("person")
    reply = await chat.receive("person", "mon mari ne va pas bien")
    assert slow.cancelled
    assert reply[-1].question == "signs"  # the lexicon understood it anyway


async def test_people_idle_for_long_are_forgotten_by_the_pacer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service_module, "MAX_PEOPLE_IN_MEMORY", 5)
    clock = Clock()
    chat = service(clock)
    for person in range(6):
        await chat.receive(f"p{person}", "self")
    clock.now += service_module.IDLE_SECONDS + 1
    await chat.receive("late", "self")
    assert len(chat._paces) == 1 and len(chat._locks) == 1


class BrokenStore(MemoryKeeper):
    """A store that can no longer read what it keeps (a flipped bit, a lost key)."""

    async def load_state(self, pseudonym: str) -> dict[str, object] | None:
        raise ValueError("ciphertext refused")


async def test_a_broken_store_never_silences_the_crisis_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = Conversations(
        resources=RESOURCES, channel="matrix", keeper=BrokenStore(), clock=lambda: NOW
    )
    welcome = await chat.welcome("person")
    assert welcome and "3114" in welcome[0].text
    crisis = await chat.receive("person", "je veux mourir, je vais me tuer ce soir")
    assert crisis[0].crisis and "3114" in crisis[0].text and "15" in crisis[0].text
    ordinary = await chat.receive("person", "bonjour, je suis épuisée")
    assert "problème technique" in ordinary[0].text and "3114" in ordinary[0].text
    assert "event=turn_failed error=ValueError" in caplog.text
    assert "épuisée" not in caplog.text and "mourir" not in caplog.text


async def test_a_lone_surrogate_for_the_commission_is_replaced_never_fatal() -> None:
    keeper = MemoryKeeper()
    chat = Conversations(
        resources=RESOURCES, channel="matrix", keeper=keeper, clock=lambda: NOW,
        commission_connected=True,
    )
    await chat.welcome("person")
    for text in ["relative", "1", "weeks", "83", "oui"]:
        await chat.receive("person", text)
    said = await chat.receive("person", "Mon mari \ud800 ne dort plus.")
    assert any("transmis" in message.text for message in said)
    (case,) = keeper.cases.values()
    assert case.sealed == [("message", "Mon mari \ufffd ne dort plus.")]
    case.sealed[0][1].encode("utf-8")


async def test_a_first_hello_is_answered_by_the_welcome_alone() -> None:
    """On a channel where the person speaks first, "bonjour" gets the welcome and its one
    question, not the welcome followed by the same question again."""
    chat = service(Clock())
    said = await chat.receive("@new:example.org", "Bonjour !")
    questions = [m.question for m in said if m.question is not None]
    assert questions == ["persona"]
    assert sum("n'avez pas à donner votre nom" in m.text for m in said) == 1
    followed = await chat.receive("@other:example.org", "bonjour, je suis épuisé")
    assert [m.question for m in followed if m.question is not None][-1] != "persona"


async def test_a_receipt_code_comes_before_the_next_question_asked_once() -> None:
    """What the person writes for the commission earns a receipt code: the code is said,
    then the next question, once, not the question, the code and the question again."""
    chat = Conversations(
        resources=RESOURCES, channel="matrix", keeper=MemoryKeeper(), clock=lambda: NOW,
        commission_connected=True,
    )
    await chat.welcome("person")
    for text in ["relative", "1", "weeks", "83", "oui"]:
        await chat.receive("person", text)
    said = await chat.receive("person", "Mon mari ne dort plus.")
    assert [m.question for m in said if m.question is not None] == ["contact"]
    assert said[-1].question == "contact"
    assert any("code" in m.text for m in said[:-1])
