"""Engine messages as Matrix message contents: numbered options, escaped HTML, bounded size.

Incoming HTML is never read (only the plain ``body``), and every outgoing ``formatted_body``
is built from escaped text, so nobody can inject markup through the bot into a client.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from bot.channels.text import split_text
from flows.messages import BotMessage

# Synapse refuses events over 64 KiB. Encryption turns the plaintext JSON (body and
# formatted body together) into base64, a third larger: 12 kB of text per event stays far
# below the limit in every script.
MAX_BODY_BYTES = 12_000


def message_text(message: BotMessage) -> str:
    lines = [message.text]
    if message.options:
        lines.append("")
        lines += [f"{number}. {option.label}" for number, option in enumerate(message.options, 1)]
    return "\n".join(lines)


def text_content(text: str) -> dict[str, Any]:
    paragraphs = html.escape(text).replace("\n", "<br>")
    return {
        "msgtype": "m.text",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": paragraphs,
    }


def contents(messages: Sequence[BotMessage]) -> list[dict[str, Any]]:
    """One Matrix message per turn (split only past the size limit): each event is a
    notification on the person's phone, and one answer should buzz once."""
    if not messages:
        return []
    text = "\n\n".join(message_text(message) for message in messages)
    return [text_content(piece) for piece in split_text(text, MAX_BODY_BYTES)]
