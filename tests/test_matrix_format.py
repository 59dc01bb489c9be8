"""Engine messages as Matrix contents: numbered options, escaped HTML, pieces within the limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.matrix.format import MAX_BODY_BYTES, contents
from bot.channels.text import split_text
from flows.messages import BotMessage, Option


def test_options_are_a_numbered_list_and_html_is_escaped() -> None:
    options = (Option("a", "Moi"), Option("b", "Un proche"))
    message = BotMessage("Vous écrivez <b>pour</b> :", options)
    (content,) = contents([message])
    assert content["body"].splitlines()[-2:] == ["1. Moi", "2. Un proche"]
    assert "<b>" not in content["formatted_body"]
    assert "&lt;b&gt;pour&lt;/b&gt;" in content["formatted_body"]


@given(st.text(min_size=1, max_size=3000), st.integers(min_value=8, max_value=400))
def test_long_texts_are_cut_into_pieces_within_the_limit_and_lose_nothing(
    text: str, limit: int
) -> None:
    pieces = list(split_text(text, limit))
    assert all(len(piece.encode()) <= limit for piece in pieces)
    # Cuts fall on separators, which go; every other character stays, in order.
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )


def test_one_turn_is_one_matrix_message_until_the_size_limit() -> None:
    turn = [BotMessage("Merci."), BotMessage("Voici vers qui vous tourner :")]
    (content,) = contents(turn)
    assert content["body"] == "Merci.\n\nVoici vers qui vous tourner :"
    long_turn = [BotMessage("mot " * 4000), BotMessage("mot " * 4000)]
    pieces = contents(long_turn)
    assert len(pieces) > 1
    assert all(len(piece["body"].encode()) <= MAX_BODY_BYTES for piece in pieces)
    assert contents([]) == []
