"""Shared helpers: a fixed clock and a small driver that talks to the engine directly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from flows.engine import Reply, SlotUnavailable, UserMessage, handle, start
from flows.messages import BotMessage, Effect
from flows.resources import Context, Resources

# A Sunday morning in Paris: the Var council's next open slots are on Tuesday the 24th.
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
RESOURCES = Resources.load()


def context(**overrides: object) -> Context:
    values: dict[str, object] = {"resources": RESOURCES, "channel": "terminal", "now": NOW}
    values.update(overrides)
    return Context(**values)  # type: ignore[arg-type]


class Chat:
    """One person talking to the engine, keeping every reply for the assertions."""

    def __init__(self, locale: str = "fr", **context_overrides: object) -> None:
        self.context = context(**context_overrides)
        first = start(self.context, locale)
        self.state = first.state
        self.replies: list[Reply] = [first]

    @property
    def last(self) -> Reply:
        return self.replies[-1]

    @property
    def step(self) -> str | None:
        return self.state.step

    def say(self, text: str, **event: object) -> Reply:
        reply = handle(self.state, UserMessage(text, **event), self.context)  # type: ignore[arg-type]
        self.state = reply.state
        self.replies.append(reply)
        return reply

    def slot_taken(self, slot_id: str) -> Reply:
        taken = self.context.taken_slots | {slot_id}
        self.context = context(taken_slots=taken, channel=self.context.channel)
        reply = handle(self.state, SlotUnavailable(slot_id), self.context)
        self.state = reply.state
        self.replies.append(reply)
        return reply

    def answer_all(self, answers: Iterable[str]) -> None:
        for answer in answers:
            self.say(answer)

    def messages(self) -> list[BotMessage]:
        return [m for reply in self.replies for m in reply.messages]

    def effects(self) -> list[Effect]:
        return [e for reply in self.replies for e in reply.effects]

    def text(self) -> str:
        """Everything said in the last reply, for assertions on wording."""
        return "\n".join(m.text for m in self.last.messages)


@pytest.fixture
def chat() -> Chat:
    return Chat()
