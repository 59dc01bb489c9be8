"""Engine messages as Matrix message contents: numbered options, escaped HTML, bounded size.

Incoming HTML is never read (only the plain ``body``), and every outgoing ``formatted_body``
is built from escaped text, so nobody can inject markup through the bot into a client.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from typing import Any

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


def split_text(text: str, limit: int = MAX_BODY_BYTES) -> Iterator[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut between paragraphs, then lines, then words."""
    if len(text.encode()) <= limit:
        yield text
        return
    for separator in ("\n\n", "\n", " "):
        if separator in text:
            piece = ""
            for part in text.split(separator):
                candidate = part if not piece else piece + separator + part
                if len(candidate.encode()) <= limit:
                    piece = candidate
                    continue
                if piece:
                    yield from split_text(piece, limit)
                piece = part
            if piece:
                yield from split_text(piece, limit)
            return
    # One unbroken run of characters: cut on character boundaries.
    piece = ""
    for character in text:
        if len((piece + character).encode()) > limit:
            yield piece
            piece = ""
        piece += character
    if piece:
        yield piece


def contents(messages: Sequence[BotMessage]) -> list[dict[str, Any]]:
    """One Matrix message per turn (split only past the size limit): each event is a
    notification on the person's phone, and one answer should buzz once."""
    if not messages:
        return []
    text = "\n\n".join(message_text(message) for message in messages)
    return [text_content(piece) for piece in split_text(text)]
