"""Whatever a person types, the engine answers with well-formed messages and never raises."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.engine import UserMessage, handle, start
from flows.state import ConversationState
from tests.conftest import RESOURCES, context

OPTION_WORDS = [
    "self", "relative", "colleague", "liberal", "hospital", "skip", "yes", "no", "unsure",
    "psychological", "financial", "suicidal_talk", "days", "immediate", "today", "none",
    "0", "1", "2", "3", "4", "25", "75", "100", "83", "Var", "2A", "1,3", "2, 4, 9",
    "aide", "effacer", "oui", "non", "english", "français", "rendez-vous", "write",
    "passer", "je veux mourir", "mort de fatigue", "",
]
inputs = st.one_of(
    st.sampled_from(OPTION_WORDS),
    st.text(max_size=80),
    st.integers(-5, 40).map(str),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
)
CONTEXT = context()
DIRECTORY_IDS = set(RESOURCES.directory.entries)


def check_well_formed(messages: tuple[object, ...], state: ConversationState) -> None:
    assert messages, "every input gets an answer"
    for message in messages:
        record = message.as_json()  # type: ignore[attr-defined]
        json.dumps(record)
        assert isinstance(record["text"], str) and record["text"].strip()
        ids = [option["id"] for option in record["options"]]
        assert len(ids) == len(set(ids))
        assert all(option["label"] for option in record["options"])
        assert record["level"] in (None, 1, 2, 3)
        assert set(record["contacts"]) <= DIRECTORY_IDS
        if record["multi"]:
            assert record["question"] and ids
    assert messages[-1].question == state.step  # type: ignore[attr-defined]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(inputs, min_size=10, max_size=10), st.sampled_from(["fr", "en"]))
def test_ten_thousand_inputs_never_break_the_engine(texts: list[str], locale: str) -> None:
    reply = start(CONTEXT, locale)
    state = reply.state
    for text in texts:
        reply = handle(state, UserMessage(text), CONTEXT)
        check_well_formed(reply.messages, reply.state)
        stored = json.loads(json.dumps(reply.state.to_dict()))
        assert ConversationState.from_dict(stored) == reply.state
        if state.level is not None and reply.state.level is not None and not any(
            type(e).__name__ == "EraseRequested" for e in reply.effects
        ):
            assert reply.state.level >= state.level, "a level never goes down within a case"
        state = reply.state
