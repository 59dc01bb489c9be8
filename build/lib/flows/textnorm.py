"""Normalises what people type: `clean` for display and storage, `fold` for matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import yaml

LEXICON = Path(__file__).parent / "data" / "crisis_lexicon.yaml"

# Invisible characters that can hide a word from a pattern or reorder what a reader sees:
# C0/C1 controls (newline and tab are handled apart), zero-width characters, bidi controls.
_INVISIBLE = [
    *range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
    *range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF,
    *range(0x202A, 0x202F), *range(0x2066, 0x206A),
]
_CLEAN_TABLE: dict[int, str | None] = {code: None for code in _INVISIBLE}
_CLEAN_TABLE.update({0x09: " ", 0x2028: "\n", 0x2029: "\n"})
_LINE_ENDINGS = re.compile(r"\r\n?")
_SPACES = re.compile(r"\s+")

_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u02bb\u0060\u00b4\u2032\uff07", "'"))
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
_NOT_WORD = re.compile(r"[^\w']+|_+")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")


def clean(text: str) -> str:
    """Text safe to show and store: NFC, no invisible or control characters, tidy spaces.

    Case and accents are kept. Tabs become spaces, Windows and old Mac line endings become
    newlines, and a run of whitespace becomes one newline if it holds one, else one space.
    """
    text = _LINE_ENDINGS.sub("\n", text).translate(_CLEAN_TABLE)
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(_one_space_or_newline, text).strip()


def _one_space_or_newline(match: re.Match[str]) -> str:
    return "\n" if "\n" in match.group() else " "


def fold(text: str) -> str:
    """Text to match patterns against: lower case, no accents, no punctuation, SMS expanded.

    "J’VEUX mouriiiir…" becomes "je veux mourir". Words are separated by single spaces;
    apostrophes separate words too ("j'ai" is "j ai"). Linear in the length of the text.
    """
    text = clean(text).casefold().translate(_APOSTROPHES)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in text if not unicodedata.category(char).startswith("M"))
        text = text.translate(_LIGATURES)
    text = _NOT_WORD.sub(" ", text)
    text = _REPEATED_LETTER.sub(r"\1", text)
    return _expand(text, sms_table())


@lru_cache(maxsize=1)
def sms_table() -> Mapping[str, str]:
    """SMS and familiar spellings and what they stand for, from the crisis lexicon file."""
    with LEXICON.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {str(short): str(long) for short, long in data["sms"].items()}


def _expand(text: str, table: Mapping[str, str]) -> str:
    # A letter before an apostrophe is an elision ("c'est", "j'ai"), never an SMS spelling:
    # only the word after the last apostrophe of a token is looked up.
    words: list[tuple[str, bool]] = []
    for token in text.split():
        pieces = token.split("'")
        last = len(pieces) - 1
        words.extend((piece, index < last) for index, piece in enumerate(pieces) if piece)
    out: list[str] = []
    for index, (word, elided) in enumerate(words):
        expansion = None if elided else table.get(word)
        if expansion is None or _already_written(expansion, words, index):
            out.append(word)
        else:
            out.append(expansion)
    return " ".join(out)


def _already_written(expansion: str, words: list[tuple[str, bool]], index: int) -> bool:
    """True for "c est" typed with a space: "c" would otherwise become "c est est"."""
    expected = expansion.split()
    following = [word for word, _ in words[index : index + len(expected)]]
    return following == expected
