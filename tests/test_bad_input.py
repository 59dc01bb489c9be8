"""Bad input gets a clear sentence back and leaves the conversation where it was."""

from __future__ import annotations

import pytest

from flows.engine import MAX_MESSAGE_CHARS
from tests.conftest import Chat

BAD_INPUTS = {
    "empty": ("", "rien reçu"),
    "spaces": ("   \t  ", "rien reçu"),
    "controls only": ("\x00\x07\x1b\x7f", "rien reçu"),
    "zero-width only": ("\u200b\u200c\u200d\ufeff", "rien reçu"),
    "bidi overrides only": ("\u202e\u2066\u2069", "rien reçu"),
    "huge": ("a" * 100_000, "trop long"),
    "just too long": ("b" * (MAX_MESSAGE_CHARS + 1), "trop long"),
    "unknown option": ("banane", "pas compris"),
    "number out of range": ("42", "de 1 à 5"),
    "zero": ("0", "pas compris"),
    "negative number": ("-1", "pas compris"),
    "rtl override around text": ("\u202eenilno\u202c", "pas compris"),
    "emoji": ("🙂🙂🙂", "pas compris"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_leaves_the_state_unchanged_with_a_clear_answer(name: str) -> None:
    text, expected = BAD_INPUTS[name]
    chat = Chat()
    chat.say("self")
    before = chat.state
    reply = chat.say(text)
    assert chat.state == before
    assert expected in reply.messages[0].text
    assert reply.messages[-1].question == "practice"  # the same question again
    assert reply.effects == ()


def test_bad_multi_choice_answer_names_the_range() -> None:
    chat = Chat()
    chat.answer_all(["relative"])
    before = chat.state
    reply = chat.say("1, 99")
    assert chat.state == before and "de 1 à 9" in reply.messages[0].text


def test_unknown_department_is_asked_again() -> None:
    chat = Chat()
    chat.answer_all(["relative", "1", "weeks"])
    before = chat.state
    reply = chat.say("Atlantide")
    assert chat.state == before and "département" in reply.messages[0].text


def test_a_cry_for_help_inside_a_huge_message_is_still_heard() -> None:
    chat = Chat()
    reply = chat.say("bla " * 30_000 + " je veux mourir")
    assert reply.messages[0].crisis


def test_control_characters_inside_an_answer_are_cleaned_not_fatal() -> None:
    chat = Chat()
    chat.say("\u200bself\x00")
    assert chat.state.persona == "self"
