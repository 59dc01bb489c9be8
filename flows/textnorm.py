"""Normalises what people type: `clean` for display and storage, `fold` for matching."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path

from flows.datafile import load_yaml

LEXICON = Path(__file__).parent / "data" / "crisis_lexicon.yaml"

# Format characters (Cf: soft hyphen, zero-width characters, bidi controls, word joiner, BOM,
# tags…) and controls can hide a word from a pattern or reorder what a reader sees. As of
# Unicode 15 every Cf, Cc and combining mark lies in planes 0, 1 and 14 (planes 2-3 are
# ideographs, 15-16 private use), so those planes are scanned once instead of all 1.1 M code
# points (a quarter of a second).
_SCANNED = (*range(0x00000, 0x20000), *range(0xE0000, 0xE1000))
# Default-ignorable letters and marks a reader does not see either (DerivedCoreProperties
# Default_Ignorable_Code_Point, less the Cf ones): Hangul fillers, the combining grapheme
# joiner, Mongolian selectors, variation selectors. Stripped for matching only: emoji need
# their variation selectors on screen.
_IGNORABLE = (
    0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x180E), 0x180F, 0x3164,
    *range(0xFE00, 0xFE10), 0xFFA0, *range(0xE0100, 0xE01F0),
)  # fmt: skip
_LINE_ENDINGS = re.compile(r"\r\n?")
_SPACES = re.compile(r"\s+")

_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u02bb\u0060\u00b4\u2032\uff07", "'"))
# Latin letters that neither NFKD nor the confusables fold.
_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l"}
_NOT_WORD = re.compile(r"[^\w']+|_+")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")


@cache
def _clean_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {
        code: None
        for code in _SCANNED
        if unicodedata.category(chr(code)) in ("Cf", "Cc")
    }
    # Tabs are spaces; newlines stay (line endings are made "\n" before); line and paragraph
    # separators are newlines.
    table.update({0x09: " ", 0x0A: "\n", 0x2028: "\n", 0x2029: "\n"})
    # A lone surrogate cannot be encoded, stored or sent: it becomes the replacement
    # character, never an error.
    table.update(dict.fromkeys(range(0xD800, 0xE000), "\ufffd"))
    return table


@cache
def _fold_table() -> dict[int, str | None]:
    """After NFKD: combining marks and invisible letters out, look-alike letters to Latin."""
    table: dict[int, str | None] = {
        code: None
        for code in _SCANNED
        if unicodedata.category(chr(code)).startswith("M")
    }
    table.update(dict.fromkeys(_IGNORABLE))
    table.update({ord(letter): latin for letter, latin in _homoglyphs().items()})
    table.update({ord(letter): latin for letter, latin in _LIGATURES.items()})
    return table


def _homoglyphs() -> dict[str, str]:
    """Letters of other scripts that look like one Latin letter: Cyrillic "о", "а", "е",
    "р", "с", Greek "ο", "ν", Cherokee, Armenian… mapped to that letter, lower case.

    From Unicode's confusables (UTS #39) as shipped by confusable_homoglyphs (MIT, pinned
    in pyproject.toml): it pairs characters by how they look, which is what a pattern must
    see through. Transliterators pair them by how they sound (anyascii, ISC: Cyrillic "р"
    is "r", "с" is "s", "х" is "kh"; Unidecode, GPL, likewise), so they would turn
    "рendre" into "rendre". Only its data file is read: the module has no type information
    and loads that file at import.
    """
    data = json.loads(
        (files("confusable_homoglyphs") / "confusables.json").read_text(encoding="utf-8")
    )
    pairs: dict[str, str] = {}
    for key, homoglyphs in data.items():
        for homoglyph in homoglyphs:
            # Right-to-left characters are stored between left-to-right marks.
            for letter, latin in ((key, homoglyph["c"]), (homoglyph["c"], key)):
                letter, latin = letter.strip("\u200e"), latin.strip("\u200e")
                if (
                    len(letter) == 1 == len(latin)
                    and latin.isascii()
                    and latin.isalpha()
                    and not letter.isascii()
                    and unicodedata.category(letter).startswith("L")
                    and not unicodedata.normalize("NFKD", letter).isascii()
                ):
                    # Confusables pair capital I with l; a capital look-alike means I.
                    pairs.setdefault(letter, "i" if letter.isupper() and latin == "l" else latin)
    return {letter: latin.lower() for letter, latin in pairs.items()}


def clean(text: str) -> str:
    """Text safe to show and store: NFC, no format or control characters, tidy spaces.

    Case and accents are kept. Tabs become spaces, Windows and old Mac line endings become
    newlines, and a run of whitespace becomes one newline if it holds one, else one space.
    """
    text = _LINE_ENDINGS.sub("\n", text).translate(_clean_table())
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(_one_space_or_newline, text).strip()


def _one_space_or_newline(match: re.Match[str]) -> str:
    return "\n" if "\n" in match.group() else " "


def fold(text: str) -> str:
    """Text to match patterns against: lower case, no accents, no punctuation, SMS expanded.

    "J’VEUX mouriiiir…" becomes "je veux mourir"; so do fullwidth letters, mathematical
    bold, ligatures, and Cyrillic or Greek look-alikes ("mоurir" with a Cyrillic "о").
    Words are separated by single spaces; apostrophes separate words too ("j'ai" is "j ai").
    Linear in the length of the text.
    """
    text = clean(text).translate(_APOSTROPHES)
    if text.isascii():
        text = text.lower()
    else:
        # NFKD rather than NFKC: the same compatibility folding (fullwidth, ligatures,
        # superscripts, mathematical letters), with the accents left apart to be dropped.
        # Case is folded after it, for the mathematical capitals it turns into Latin ones.
        text = unicodedata.normalize("NFKD", text).translate(_fold_table()).casefold()
    text = _NOT_WORD.sub(" ", text)
    text = _REPEATED_LETTER.sub(r"\1", text)
    return _expand(text, sms_table())


@lru_cache(maxsize=1)
def sms_table() -> Mapping[str, str]:
    """SMS and familiar spellings and what they stand for, from the crisis lexicon file."""
    with LEXICON.open(encoding="utf-8") as handle:
        data = load_yaml(handle)
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
