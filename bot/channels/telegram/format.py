"""Engine messages as Telegram messages: options as inline keyboards, texts within the limit.

Plain text only (no ``parse_mode``): nothing the engine or a person writes becomes markup.
A keyboard carries its own state: a multi-choice question's picks are the marks on its
buttons, so a press is read from the message it was made on, and the bot keeps nothing
about it, not even across a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.text import split_text
from flows.messages import BotMessage

# Telegram counts 4096 characters in UTF-16 units; a text never has fewer UTF-8 bytes than
# that, so a piece within 4096 bytes is always accepted.
MAX_TEXT_BYTES = 4096
MAX_CALLBACK_BYTES = 64
CHOSEN = "✓ "
# A phone shows about this many characters on a full-width button and cuts the rest: past
# it, the options are listed in full, numbered, in the message above the buttons.
BUTTON_CHARS = 32
# What a button does, the first character of its callback data.
ANSWER = "a"
TOGGLE = "t"
VALIDATE = "v"


@dataclass(frozen=True)
class TelegramMessage:
    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Press:
    """What a button press means: words for the engine, or a keyboard to show instead."""

    answer: str | None = None
    keyboard: InlineKeyboardMarkup | None = None


def callback_data(action: str, question: str, option: str = "") -> str:
    """A stable name for one button of one question; hashed when the ids are too long."""
    data = f"{action}|{question}|{option}"
    if len(data.encode()) <= MAX_CALLBACK_BYTES:
        return data
    return f"{action}#{hashlib.sha256(data.encode()).hexdigest()[:40]}"


def keyboard(message: BotMessage, validate_label: str) -> InlineKeyboardMarkup | None:
    """One button per option and row; a multi-choice question adds the button that sends
    the picks."""
    if not message.options:
        return None
    question = message.question or ""
    action = TOGGLE if message.multi else ANSWER
    rows = [
        [InlineKeyboardButton(
            option.label, callback_data=callback_data(action, question, option.id)
        )]
        for option in message.options
    ]
    if message.multi:
        rows.append(
            [InlineKeyboardButton(validate_label, callback_data=callback_data(VALIDATE, question))]
        )
    return InlineKeyboardMarkup(rows)


def message_text(message: BotMessage) -> str:
    if not any(len(option.label) > BUTTON_CHARS for option in message.options):
        return message.text
    numbered = [f"{number}. {option.label}" for number, option in enumerate(message.options, 1)]
    return "\n".join([message.text, "", *numbered])


def telegram_messages(
    messages: Sequence[BotMessage], validate_label: str
) -> list[TelegramMessage]:
    """As few Telegram messages as the keyboards allow (each notification buzzes): the
    texts up to a question go together, its keyboard under the last piece."""
    result: list[TelegramMessage] = []
    texts: list[str] = []
    for number, message in enumerate(messages):
        texts.append(message_text(message))
        markup = keyboard(message, validate_label)
        if markup is None and number < len(messages) - 1:
            continue
        *pieces, last = split_text("\n\n".join(texts), MAX_TEXT_BYTES)
        result += [TelegramMessage(piece) for piece in pieces]
        result.append(TelegramMessage(last, markup))
        texts = []
    return result


def read_press(data: str, markup: InlineKeyboardMarkup | None) -> Press | None:
    """The meaning of the button named ``data`` on the message's keyboard ``markup``; None
    when that keyboard has no such button (a forged or outdated press)."""
    rows = () if markup is None else markup.inline_keyboard
    buttons = [button for row in rows for button in row]
    pressed = next((button for button in buttons if button.callback_data == data), None)
    if pressed is None or markup is None:
        return None
    if data.startswith(ANSWER):
        return Press(answer=pressed.text)
    options = [button for button in buttons if str(button.callback_data).startswith(TOGGLE)]
    if data.startswith(TOGGLE):
        return Press(keyboard=InlineKeyboardMarkup(
            [[_toggled(button) if button is pressed else button] for row in rows for button in row]
        ))
    chosen = [str(n) for n, button in enumerate(options, 1) if button.text.startswith(CHOSEN)]
    # Positions, as a person would type them: the engine reads "1, 3" on every channel.
    return Press(answer=", ".join(chosen) or None)


def _toggled(button: InlineKeyboardButton) -> InlineKeyboardButton:
    text = button.text
    text = text.removeprefix(CHOSEN) if text.startswith(CHOSEN) else CHOSEN + text
    return InlineKeyboardButton(text, callback_data=button.callback_data)
