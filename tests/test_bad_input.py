"""Bad input gets a clear sentence back and the same question again; a second one moves on.

The engine counts the unclear answers in a row to the same question (``state.misses``): the
first gets a hint and the question again, with nothing else recorded; the second moves on
(a skippable question is recorded as skipped, a questionnaire item sets its questionnaire
aside, the persona question assumes "self" and says so). A message too long to read is
turned back and changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from flows.engine import MAX_MESSAGE_CHARS, Reply
from flows.questions import QUESTIONS, SKIPPABLE
from flows.state import ConversationState
from tests.conftest import RESOURCES, Chat

FR = RESOURCES.texts.by_locale["fr"]
EMPTY = "Je n'ai rien reçu"
NOT_UNDERSTOOD = "Je n'ai pas compris"
MOVING_ON = "passons à la suite"
PRACTICE_HINT = "Je n'ai pas compris. Répondez avec un numéro (de 1 à 6) ou avec vos mots."
NOT_LISTED = (
    "Il n'y a pas de réponse {} ici. Choisissez un numéro de 1 à 6, ou répondez avec vos mots."
)
NODDED = "Je vous écoute. Choisissez une réponse (un numéro de 1 à 6) ou dites-la avec vos mots."
FEELINGS = [FR[f"feeling.{index}"] for index in range(3)]

BAD_INPUTS = {
    "empty": ("", EMPTY),
    "spaces": ("   \t  ", EMPTY),
    "controls only": ("\x00\x07\x1b\x7f", EMPTY),
    "zero-width only": ("\u200b\u200c\u200d\ufeff", EMPTY),
    "bidi overrides only": ("\u202e\u2066\u2069", EMPTY),
    "unknown option": ("banane", PRACTICE_HINT),
    "number out of range": ("42", NOT_LISTED.format(42)),
    "zero": ("0", NOT_LISTED.format(0)),
    "a nod": ("ok", NODDED),
    "negative number": ("-1", PRACTICE_HINT),
    "rtl override around text": ("\u202eenilno\u202c", PRACTICE_HINT),
    # A smile says no feeling of its own (only the emoji listed as feelings in
    # flows/data/answers.yaml do): it is an answer the bot did not understand.
    "smiling emoji": ("🙂🙂🙂", PRACTICE_HINT),
}
TOO_LONG = {
    "huge": "a" * 100_000,
    "just too long": "b" * (MAX_MESSAGE_CHARS + 1),
}


def at_practice() -> Chat:
    chat = Chat()
    chat.answer_all(["self", "1"])
    assert chat.step == "practice"
    return chat


def at_alert() -> Chat:
    chat = Chat()
    chat.answer_all(["relative", "1", "weeks", "83"])
    assert chat.step == "alert"
    return chat


def said(reply: Reply) -> str:
    return "\n".join(message.text for message in reply.messages)


def only_misses_changed(before: ConversationState, after: ConversationState) -> None:
    assert after.misses == before.misses + 1
    assert replace(after, misses=before.misses) == before


# -- the first unclear answer ------------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gets_a_clear_answer_and_the_same_question(name: str) -> None:
    text, expected = BAD_INPUTS[name]
    chat = at_practice()
    before = chat.state
    reply = chat.say(text)
    assert expected in reply.messages[0].text
    assert reply.messages[-1].question == "practice"  # the same question again
    assert [m.question for m in reply.messages].count("practice") == 1
    only_misses_changed(before, chat.state)
    assert "practice" not in chat.state.answers
    assert reply.effects == ()


@pytest.mark.parametrize("name", ["unknown option", "number out of range", "zero", "a nod"])
def test_the_hint_names_the_range_of_a_choice(name: str) -> None:
    text, expected = BAD_INPUTS[name]
    chat = at_practice()
    reply = chat.say(text)
    assert reply.messages[0].text == expected


@pytest.mark.parametrize("name", TOO_LONG)
def test_a_message_too_long_is_turned_back_and_changes_nothing(name: str) -> None:
    chat = at_practice()
    before = chat.state
    for _ in range(3):  # never counted as an unclear answer: it is not moved past
        reply = chat.say(TOO_LONG[name])
        assert "trop long" in reply.messages[0].text
        assert str(MAX_MESSAGE_CHARS) in reply.messages[0].text
        assert reply.messages[-1].question == "practice"
        assert chat.state == before
        assert reply.effects == ()


def test_a_message_of_exactly_the_limit_is_read() -> None:
    chat = at_practice()
    reply = chat.say("b" * MAX_MESSAGE_CHARS)
    assert "trop long" not in said(reply)


def test_a_feeling_emoji_gets_a_warm_word_not_an_error() -> None:
    chat = at_practice()
    before = chat.state
    reply = chat.say("😢😢😢")
    assert reply.messages[0].text in FEELINGS
    assert NOT_UNDERSTOOD not in said(reply)
    assert reply.messages[-1].question == "practice"
    assert chat.state.misses == 1
    assert chat.state.acknowledgements == before.acknowledgements + 1
    assert replace(chat.state, misses=0, acknowledgements=before.acknowledgements) == before
    assert reply.effects == ()


def test_feelings_never_read_the_same_twice_in_a_row() -> None:
    chat = at_practice()
    first = chat.say("😢")
    chat.answer_all(["1", "83"])  # practice, department: the questionnaires begin
    second = chat.say("😭😭")
    assert first.messages[0].text in FEELINGS and second.messages[0].text in FEELINGS
    assert first.messages[0].text != second.messages[0].text
    assert NOT_UNDERSTOOD not in said(second)


def test_bad_multi_choice_answer_names_the_range() -> None:
    chat = Chat()
    chat.answer_all(["relative"])
    assert chat.step == "signs"
    before = chat.state
    reply = chat.say("1, 99")
    assert reply.messages[0].text == (
        "Je n'ai pas compris. Répondez avec un numéro (de 1 à 9) ou avec vos mots."
    )
    assert reply.messages[-1].question == "signs"
    only_misses_changed(before, chat.state)


def test_bad_needs_answer_names_the_range_of_twelve() -> None:
    chat = Chat()
    chat.say("self")
    assert chat.step == "needs"
    before = chat.state
    reply = chat.say("99")
    assert reply.messages[0].text == (
        "Il n'y a pas de réponse 99 ici. Choisissez un numéro de 1 à 12, ou répondez avec vos mots."
    )
    assert reply.messages[-1].question == "needs"
    only_misses_changed(before, chat.state)


@pytest.mark.parametrize("text", ["banane", "38"])
def test_a_two_option_question_says_1_or_2(text: str) -> None:
    chat = at_alert()
    assert len(QUESTIONS["alert"].option_ids) == 2
    before = chat.state
    reply = chat.say(text)
    assert "Répondez 1 ou 2" in reply.messages[0].text
    assert "de 1 à 2" not in said(reply)
    assert reply.messages[-1].question == "alert"
    only_misses_changed(before, chat.state)


def test_unknown_department_is_asked_again() -> None:
    chat = Chat()
    chat.answer_all(["relative", "1", "weeks"])
    assert chat.step == "department"
    before = chat.state
    reply = chat.say("Atlantide")
    assert reply.messages[0].text.startswith("Je n'ai pas reconnu ce département")
    assert reply.messages[-1].question == "department"
    only_misses_changed(before, chat.state)


# -- the second unclear answer moves on ----------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "\u200b", "banane", "42", "😢😢😢", "🙂🙂🙂"],
    ids=["empty", "zero-width", "unknown option", "out of range", "feeling", "smile"],
)
def test_a_second_bad_input_moves_past_a_skippable_question(text: str) -> None:
    assert "practice" in SKIPPABLE
    chat = at_practice()
    first = chat.say(text)
    second = chat.say(text)
    assert chat.state.answers["practice"] == "skip"
    assert chat.state.history[-1] == "practice"
    assert chat.step == "department"
    assert chat.state.misses == 0
    assert MOVING_ON in second.messages[0].text
    assert second.messages[-1].question == "department"
    assert first.messages[0].text != second.messages[0].text


def test_an_answer_after_one_bad_input_is_taken_and_the_count_starts_again() -> None:
    chat = at_practice()
    chat.say("banane")
    chat.say("2")
    assert chat.state.answers["practice"] == "salaried"
    assert chat.state.misses == 0
    assert chat.step == "department"
    reply = chat.say("Atlantide")  # a first miss at the new question: asked again
    assert reply.messages[-1].question == "department"
    assert chat.state.misses == 1


def test_a_second_bad_multi_choice_answer_skips_the_signs() -> None:
    chat = Chat()
    chat.answer_all(["relative", "1, 99"])
    reply = chat.say("1, 99")
    assert chat.state.choices["signs"] == ()
    assert chat.step == "urgency"
    assert MOVING_ON in reply.messages[0].text


def test_a_second_unknown_department_moves_on_as_skipped() -> None:
    chat = Chat()
    chat.answer_all(["relative", "1", "weeks", "Atlantide"])
    reply = chat.say("Atlantide")
    assert chat.state.answers["department"] == "skip"
    assert chat.step == "alert"  # past the routes, to the next question
    assert "pas reconnu" not in reply.messages[0].text
    assert MOVING_ON in reply.messages[0].text


def test_a_second_bad_answer_to_a_two_option_question_skips_it() -> None:
    chat = at_alert()
    chat.answer_all(["banane", "banane"])
    assert chat.state.answers["alert"] == "skip"
    assert chat.step != "alert" and chat.step != "message"


def test_two_bad_answers_at_the_persona_question_assume_self_and_say_so() -> None:
    chat = Chat()
    first = chat.say("banane")
    assert first.messages[-1].question == "persona"
    assert chat.state.persona is None and chat.state.misses == 1
    second = chat.say("banane")
    assert chat.state.persona == "self"
    assert "pour vous-même" in second.messages[0].text
    assert chat.step == "needs"
    assert chat.state.misses == 0


def at_the_phq2() -> Chat:
    chat = Chat()
    chat.answer_all(["self", "1", "1", "83"])
    assert chat.step == "phq2.1"
    return chat


def test_a_bad_answer_to_an_item_is_asked_again_first() -> None:
    chat = at_the_phq2()
    before = chat.state
    reply = chat.say("banane")
    assert reply.messages[0].text == (
        "Je n'ai pas compris. Répondez avec un numéro (de 1 à 4) ou avec vos mots."
    )
    assert reply.messages[-1].question == "phq2.1"
    only_misses_changed(before, chat.state)
    # The questionnaires were introduced a moment ago: the item comes alone.
    assert "questions courtes" in chat.replies[-2].messages[-1].text
    assert "questions courtes" not in reply.messages[-1].text
    assert "Peu d'intérêt" in reply.messages[-1].text


def test_two_bad_answers_to_an_item_set_that_questionnaire_aside() -> None:
    chat = at_the_phq2()
    chat.answer_all(["banane", "banane"])
    assert chat.state.answers["skipped.phq9"] == "yes"
    assert "assessment" not in chat.state.answers  # the other questionnaires go on
    assert chat.step == "gad2.1"
    chat.answer_all(["0", "banane", "banane"])
    assert chat.state.answers["skipped.gad7"] == "yes"
    assert chat.state.scores("gad7") == {1: 0}
    assert chat.step == "auditc.1"


@pytest.mark.parametrize(
    "text",
    [
        "passer",
        "non merci",
        "pas maintenant",
    ],
)
def test_declining_at_the_first_item_sets_every_questionnaire_aside(text: str) -> None:
    chat = at_the_phq2()
    chat.say(text)
    assert chat.state.answers["assessment"] == "no"
    assert not any(chat.state.scores(i) for i in ("phq9", "gad7", "auditc", "cbi"))
    # The question about thoughts of death is asked all the same, alone.
    assert chat.step == "phq9.9"
    assert "idées de mort" in chat.last.messages[-1].text
    chat.say("jamais")
    assert chat.step == "alert"


@pytest.mark.parametrize("back", ["retour", "revenir en arrière"])
def test_going_back_after_declining_the_questionnaires_asks_the_first_item_again(
    back: str,
) -> None:
    chat = at_the_phq2()
    first = chat.step
    chat.say("passer")
    assert chat.step == "phq9.9"
    chat.say(back)
    assert "assessment" not in chat.state.answers
    assert chat.step == first
    chat.say("0")
    assert chat.state.scores("phq9") == {1: 0}


def test_going_back_after_passing_an_item_opens_its_questionnaire_again() -> None:
    chat = at_the_phq2()
    chat.say("0")
    item = chat.step
    chat.say("passer")
    assert chat.state.answers["skipped.phq9"] == "yes"
    chat.say("retour")
    assert "skipped.phq9" not in chat.state.answers
    assert chat.step == item
    chat.say("1")
    assert chat.state.scores("phq9") == {1: 0, 2: 1}


# -- the department question ---------------------------------------------------------------------


def at_department() -> Chat:
    chat = Chat()
    chat.answer_all(["relative", "1", "weeks"])
    assert chat.step == "department"
    return chat


def test_1_at_the_department_question_is_its_first_option_not_the_ain() -> None:
    chat = at_department()
    chat.say("1")
    assert chat.state.answers["department"] == "skip"


@pytest.mark.parametrize(
    "text",
    [
        "Ain",
        "01",
    ],
)
def test_the_ain_by_name_or_by_its_two_digit_number(text: str) -> None:
    chat = at_department()
    chat.say(text)
    assert chat.state.answers["department"] == "01"


# -- whatever is typed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "banane",
        "😢",
        "42",
        "",
    ],
)
def test_the_same_sentence_never_comes_twice_in_a_row(text: str) -> None:
    chat = Chat()
    replies = [chat.say(text) for _ in range(40)]
    firsts = [reply.messages[0].text for reply in replies if reply.messages]
    for first, second in pairwise(firsts):
        assert first != second
    assert all("de 1 à 2" not in said(reply) for reply in replies)
    assert chat.state.persona == "self"
    assert "end" in chat.state.shown  # the journey went all the way through


def test_a_cry_for_help_inside_a_huge_message_is_still_heard() -> None:
    chat = Chat()
    reply = chat.say("bla " * 30_000 + " je veux mourir")
    assert reply.messages[0].crisis


def test_control_characters_inside_an_answer_are_cleaned_not_fatal() -> None:
    chat = Chat()
    chat.say("\u200bself\x00")
    assert chat.state.persona == "self"
