"""Whatever a person types, the engine answers with well-formed messages and never raises."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.commands import command_of
from flows.engine import UserMessage, handle, start
from flows.receipt_code import looks_like_code
from flows.state import ConversationState
from tests.conftest import RESOURCES, context

OPTION_WORDS = [
    "self", "relative", "colleague", "liberal", "hospital", "skip", "yes", "no", "unsure",
    "psychological", "financial", "suicidal_talk", "days", "immediate", "today", "none",
    "0", "1", "2", "3", "4", "25", "75", "100", "83", "Var", "2A", "1,3", "2, 4, 9",
    "aide", "effacer", "oui", "non", "english", "français", "rendez-vous", "write",
    "passer", "retour", "revenir en arrière", "je veux mourir", "mort de fatigue", "",
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


# What people type when they do not pick an option, asides included; no receipt code.
FREE_TEXT = [
    "je sais pas", "bof", "ok", "oui", "non", "peut-être", "c'est compliqué", "😢😢😢", "...",
    "je suis fatiguée", "mon mari", "38", "moins de 50", "Toulon", "banane", "euh",
    "je ne comprends pas la question", "pourquoi ?", "c'est dur en ce moment", "souvent",
    "au bloc j'ai tout ce qu'il faut", "ce soir", "je veux mourir", "il parle d'en finir",
    "jamais", "un peu", "je préfère ne pas dire", "agressif, renfermé", "le moral", "",
    # Asides a person types in the middle: answered, and never a third ask in a row.
    "aide", "c'est confidentiel ?", "qui lit ça ?", "pour moi", "c'est pour mon mari",
    "rendez-vous", "mon rendez-vous", "urgence", "english", "effacer",
]
free_texts = st.one_of(
    st.sampled_from(FREE_TEXT),
    # Digits pick options (a menu choice may lead back to the menu): not free text.
    st.text(max_size=60).filter(
        lambda text: command_of(text, None) is None
        and not looks_like_code(text)
        and not text.strip().isdigit()
    ),
)


def asked(reply_messages: tuple[object, ...]) -> str | None:
    return reply_messages[-1].question if reply_messages else None  # type: ignore[attr-defined]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(free_texts, min_size=12, max_size=12), st.sampled_from(["fr", "en"]))
def test_free_text_never_traps_a_person(texts: list[str], locale: str) -> None:
    """Over free-text answers, no question is asked more than twice in a row, and crisis
    mode never asks the same question twice."""
    reply = start(CONTEXT, locale)
    state = reply.state
    in_a_row: list[str | None] = [asked(reply.messages)]
    crisis_questions: list[str] = []
    for text in texts:
        reply = handle(state, UserMessage(text), CONTEXT)
        check_well_formed(reply.messages, reply.state)
        question = asked(reply.messages)
        in_a_row = [*in_a_row, question][-3:]
        if question is not None and len(in_a_row) == 3:
            assert len(set(in_a_row)) > 1, (texts, in_a_row)
        # Its own questions: an erase the person asks for twice is asked twice.
        if reply.state.crisis_active and (question or "").startswith(("rud.", "crisis.")):
            assert question not in crisis_questions, (texts, question)
            crisis_questions.append(question)
        if not reply.state.crisis_active:
            crisis_questions = []
        for message in reply.messages:
            if reply.state.crisis_active or state.crisis_active:
                assert "Je n'ai pas compris" not in message.text  # type: ignore[attr-defined]
                assert "I didn't understand" not in message.text  # type: ignore[attr-defined]
        state = reply.state


# Going back and passing, mixed with answers, from the first questionnaire item on.
BACK_AND_FORTH = ["retour", "passer", "0", "1", "3", "jamais", "souvent", "non", "oui", "banane"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(BACK_AND_FORTH), min_size=4, max_size=14))
def test_going_back_and_passing_through_the_questionnaires_never_breaks(texts: list[str]) -> None:
    reply = start(CONTEXT, "fr")
    for text in ["1", "1", "1", "83", *texts]:
        reply = handle(reply.state, UserMessage(text), CONTEXT)
        check_well_formed(reply.messages, reply.state)
