"""The state of one conversation: everything the engine needs to pick up where it was."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

STATE_VERSION = 2
# Version 1 lacked the fields added since; they take their defaults.
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class ConversationState:
    """Immutable; the engine returns a new one for every event.

    ``answers`` holds single answers by question id ("practice", "rud.plan", "phq9.3"…),
    ``choices`` the multi-choice ones ("needs", "signs"), ``shown`` the milestones already
    said (results, routes…), so the next question can always be worked out again from here.
    """

    locale: str = "fr"
    step: str | None = None
    persona: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    shown: frozenset[str] = frozenset()
    crisis: bool = False
    crisis_about_other: bool = False
    level: int | None = None
    commission_messages: int = 0
    receipt_issued: bool = False
    # The questions answered, in order: "retour" takes back the last one.
    history: tuple[str, ...] = ()
    # Unclear answers in a row to the current question: the second one moves on.
    misses: int = 0
    # Crisis mode: on from a crisis signal until the person says they are safe or asks for
    # something else. ``crisis`` stays true for the case's routes and level.
    crisis_active: bool = False
    # How many short acknowledgements were said, so two in a row never read the same.
    acknowledgements: int = 0
    # A question kept for the next answer after asides, rather than asked a third time.
    paused: str | None = None
    # The question the commission's message came in front of: asked again once the person
    # has answered the commission (or put it off).
    interrupted: str | None = None

    def answered(self, question: str) -> bool:
        return question in self.answers or question in self.choices

    def with_answer(self, question: str, value: str) -> ConversationState:
        return replace(self, answers={**self.answers, question: value})

    def with_choices(self, question: str, values: tuple[str, ...]) -> ConversationState:
        return replace(self, choices={**self.choices, question: values})

    def with_answered(self, question: str) -> ConversationState:
        return replace(self, history=(*self.history, question))

    def without(self, question: str) -> ConversationState:
        """The state as if ``question`` had never been answered."""
        answers = {k: v for k, v in self.answers.items() if k != question}
        choices = {k: v for k, v in self.choices.items() if k != question}
        history = tuple(q for q in self.history if q != question)
        return replace(self, answers=answers, choices=choices, history=history)

    def with_shown(self, milestone: str) -> ConversationState:
        return replace(self, shown=self.shown | {milestone})

    def scores(self, instrument: str) -> dict[int, int]:
        """The item scores given so far for one instrument, by item number."""
        prefix = instrument + "."
        return {
            int(key[len(prefix):]): int(value)
            for key, value in self.answers.items()
            if key.startswith(prefix) and key[len(prefix):].isdigit()
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answers"] = dict(self.answers)
        data["choices"] = {key: list(values) for key, values in self.choices.items()}
        data["shown"] = sorted(self.shown)
        data["history"] = list(self.history)
        data["version"] = STATE_VERSION
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationState:
        if data.get("version") not in READABLE_VERSIONS:
            raise ValueError("unsupported conversation state version")
        return cls(
            locale=str(data["locale"]),
            step=data["step"],
            persona=data["persona"],
            answers={str(k): str(v) for k, v in data["answers"].items()},
            choices={str(k): tuple(str(x) for x in v) for k, v in data["choices"].items()},
            shown=frozenset(str(x) for x in data["shown"]),
            crisis=bool(data["crisis"]),
            crisis_about_other=bool(data["crisis_about_other"]),
            level=data["level"],
            commission_messages=int(data["commission_messages"]),
            receipt_issued=bool(data.get("receipt_issued", False)),
            history=tuple(str(x) for x in data.get("history", ())),
            misses=int(data.get("misses", 0)),
            crisis_active=bool(data.get("crisis_active", False)),
            acknowledgements=int(data.get("acknowledgements", 0)),
            paused=data.get("paused"),
            interrupted=data.get("interrupted"),
        )
