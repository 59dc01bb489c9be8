"""Engine messages as Telegram messages: every button within Telegram's limits and read back
as its own option, long turns cut with the keyboard last, unknown presses meaning nothing."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.channels.telegram.format import (
    MAX_CALLBACK_BYTES,
    MAX_TEXT_BYTES,
    callback_data,
    keyboard,
    read_press,
    telegram_messages,
)
from flows.messages import BotMessage, Option
from flows.questionnaires import load_questionnaires
from flows.questions import QUESTIONS, resolve_option
from tests.conftest import NOW, RESOURCES


def every_question() -> list[tuple[str, tuple[str, ...], dict[str, str]]]:
    """Each question the engine can ask, with its option ids and French labels."""
    texts = RESOURCES.texts
    found = []
    for question in QUESTIONS.values():
        prefix = "common" if question.common_options else f"questions.{question.id}.options"
        # The interview's modalities are the deployment's own.
        ids = RESOURCES.deployment.modalities if question.id == "modality" else question.option_ids
        labels = {option: texts.get("fr", f"{prefix}.{option}") for option in ids}
        if ids:
            found.append((question.id, ids, labels))
    for instrument in load_questionnaires().values():
        for item in instrument.items:
            step = f"{instrument.id}.{item.number}"
            labels = {str(option.score): option.label["fr"] for option in item.options}
            found.append((step, tuple(labels), labels))
    slots = RESOURCES.deployment.upcoming_slots(NOW)
    found.append(("slot", tuple(slot.id for slot in slots), {slot.id: slot.id for slot in slots}))
    return found


def test_every_button_of_every_question_has_its_own_name_and_answers_its_own_option() -> None:
    for question, option_ids, labels in every_question():
        options = tuple(Option(option, labels[option]) for option in option_ids)
        for multi in (False, True):
            message = BotMessage("?", options, multi=multi, question=question)
            markup = keyboard(message, "Valider")
            assert markup is not None
            datas = [button.callback_data for (button,) in markup.inline_keyboard]
            assert all(isinstance(data, str) for data in datas)
            # Two buttons with one name would answer the same option, whichever is pressed.
            assert len(set(datas)) == len(datas), question
        single = keyboard(BotMessage("?", options, question=question), "Valider")
        assert single is not None
        for option, (button,) in zip(option_ids, single.inline_keyboard, strict=True):
            press = read_press(str(button.callback_data), single)
            assert press is not None and press.answer is not None
            assert resolve_option(press.answer, option_ids, labels, True) == option


def test_long_ids_are_hashed_into_distinct_callback_data() -> None:
    first = callback_data("a", "q" * 80, "one")
    second = callback_data("a", "q" * 80, "two")
    assert first != second
    assert len(first.encode()) <= MAX_CALLBACK_BYTES


def test_a_long_turn_is_cut_under_the_limit_with_the_keyboard_under_its_last_piece() -> None:
    question = BotMessage("Vous écrivez pour ?", (Option("a", "Moi"), Option("b", "Un proche")),
                          question="persona")
    pieces = telegram_messages([BotMessage("mot " * 3000), question], "Valider")
    assert len(pieces) > 1
    assert all(len(piece.text.encode()) <= MAX_TEXT_BYTES for piece in pieces)
    assert [piece.keyboard is not None for piece in pieces] == [False] * (len(pieces) - 1) + [True]


def test_a_press_on_a_button_the_keyboard_does_not_hold_means_nothing() -> None:
    markup = keyboard(BotMessage("?", (Option("yes", "Oui"),), question="alert"), "Valider")
    assert read_press("a|alert|yes", markup) is not None
    assert read_press("a|erase.confirm|yes", markup) is None
    assert read_press("a|alert|yes", InlineKeyboardMarkup([])) is None
