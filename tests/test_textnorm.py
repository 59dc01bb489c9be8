"""Normalisation: `clean` keeps what a person wrote, minus what no one can see; `fold` sees
through invisible characters, compatibility forms and look-alike letters, in linear time."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.textnorm import clean, fold

# One of each kind of format character (Cf) a pattern could be hidden behind.
FORMAT_CHARACTERS = [
    "\u00ad",  # soft hyphen
    "\u061c",  # Arabic letter mark
    "\u180e",  # Mongolian vowel separator
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",  # zero-width and directional marks
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # bidi embeddings and overrides
    "\u2060", "\u2061", "\u2064",  # word joiner, invisible operators
    "\u2066", "\u2067", "\u2068", "\u2069",  # bidi isolates
    "\ufeff",  # byte order mark
    "\U000e0001", "\U000e0041", "\U000e007f",  # tags
]  # fmt: skip


@pytest.mark.parametrize("invisible", FORMAT_CHARACTERS)
def test_clean_and_fold_strip_every_format_character(invisible: str) -> None:
    text = f"je veux mou{invisible}rir"
    assert clean(text) == "je veux mourir"
    assert fold(text) == "je veux mourir"


def test_controls_are_stripped_but_newlines_kept_and_tabs_made_spaces() -> None:
    controls = "".join(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
    c1 = "".join(chr(c) for c in range(0x7F, 0xA0))
    assert clean(f"a{controls}b{c1}c") == "abc"
    assert clean("un\tdeux\ntrois\r\nquatre\u2028cinq") == "un deux\ntrois\nquatre\ncinq"


def test_clean_keeps_accents_case_and_what_a_reader_sees_in_nfc() -> None:
    decomposed = "E\u0301puise\u0301 et Cœur"
    assert clean(decomposed) == "Épuisé et Cœur"
    assert unicodedata.is_normalized("NFC", clean(decomposed))
    # Display keeps the person's own letters: only matching folds them.
    for shown in ["ｆｕｌｌｗｉｄｔｈ", "𝐦𝐨𝐮𝐫𝐢𝐫", "mоurir", "ﬁn", "x²"]:
        assert clean(shown) == shown


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("je veux mou\u00adrir", "je veux mourir"),  # soft hyphen
        ("je veux mo\u200du\u200dr\u200cir", "je veux mourir"),  # zero-width joiners
        ("ｊｅ ｖｅｕｘ ｍｏｕｒｉｒ", "je veux mourir"),  # fullwidth
        ("je veux 𝐦𝐨𝐮𝐫𝐢𝐫", "je veux mourir"),  # mathematical bold
        ("𝐉𝐄 𝐕𝐄𝐔𝐗 𝐌𝐎𝐔𝐑𝐈𝐑", "je veux mourir"),  # mathematical bold capitals
        ("𝓂𝑜𝓊𝓇𝒾𝓇 𝕞𝕠𝕦𝕣𝕚𝕣", "mourir mourir"),  # script, double-struck
        ("je veux m\u043eurir", "je veux mourir"),  # Cyrillic о
        ("\u0458\u0435 v\u0435ux \u0435n finir", "je veux en finir"),  # Cyrillic ј, е
        ("\u0430 \u0440\u0435ndr\u0435 \u0441\u0445", "a pendre cx"),  # Cyrillic а, р, е, с, х
        ("je veux m\u03bfurir", "je veux mourir"),  # Greek omicron
        ("\u0405U\u0406\u0421\u0406DE", "suicide"),  # Cyrillic capitals Ѕ, І, С
        ("je veux \u202emourir\u202c", "je veux mourir"),  # right-to-left override
        ("mou\u3164rir", "mourir"),  # Hangul filler
        ("ﬁnir ᵐᵒᵘʳⁱʳ", "finir mourir"),  # ligature, superscripts
        ("Œdème, cœur, ex æquo", "oedeme coeur ex aequo"),
        ("J’VEUX mouriiiir…", "j veux mourir"),
    ],
)
def test_fold_sees_through_tricks(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_leaves_latin_text_alone() -> None:
    assert fold("À bout, épuisé, je n'en peux plus") == "a bout epuise je n en peux plus"


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_clean_output_has_no_format_or_control_character_and_is_nfc(text: str) -> None:
    cleaned = clean(text)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert all(
        char == "\n" or unicodedata.category(char) not in ("Cf", "Cc") for char in cleaned
    )
    assert clean(cleaned) == cleaned


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_fold_output_has_no_mark_format_character_or_capital(text: str) -> None:
    folded = fold(text)
    assert not any(unicodedata.category(char)[0] == "M" or unicodedata.category(char) == "Cf"
                   for char in folded)
    assert folded == folded.lower() or not folded.isascii()


def test_fold_reads_hostile_text_of_any_length() -> None:
    """Hidden, reversed and look-alike characters, repeated at length, fold to the plain
    words; how long it takes is measured by `make bench` (tests/bench/bench_engine.py)."""
    unit = "mо\u200bu\u00adr\u202eі𝐫 ｊ "
    folded = fold(unit * 20_000)
    assert folded.split() == ["mourir", "j"] * 20_000
