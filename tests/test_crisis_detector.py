"""The crisis detector on sentences written for it: every crisis caught, no false alarm on
figurative speech, negations, patients or plain exhaustion, and the right person named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.crisis import NLU_CRISIS_THRESHOLD, detect_crisis
from flows.textnorm import clean, fold
from flows.understanding import Interpretation

CORPUS = Path(__file__).parent / "data" / "crisis"


def sentences(name: str) -> list[str]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def corpus(pattern: str, *, exclude: str = "") -> list[str]:
    files = sorted(p for p in CORPUS.glob(pattern) if not exclude or not p.match(exclude))
    return [line for path in files for line in sentences(path.name)]


FIRST_PERSON = corpus("positive_*.txt", exclude="positive_other_*")
OTHER_PERSON = corpus("positive_other_*.txt")
NEGATIVE = corpus("negative_*.txt")


def test_the_corpus_is_large_enough() -> None:
    assert len(FIRST_PERSON) + len(OTHER_PERSON) >= 400
    assert len(OTHER_PERSON) >= 100
    assert len(NEGATIVE) >= 290


def test_every_crisis_is_caught() -> None:
    missed = [s for s in FIRST_PERSON + OTHER_PERSON if detect_crisis(s) is None]
    assert not missed, "missed crises:\n" + "\n".join(missed)


def test_no_false_alarm() -> None:
    alarms = [f"{s}  [{signal.rule}]" for s in NEGATIVE if (signal := detect_crisis(s))]
    assert not alarms, "false alarms:\n" + "\n".join(alarms)


def test_a_crisis_about_someone_else_is_told_apart() -> None:
    wrong = [s for s in OTHER_PERSON if not (signal := detect_crisis(s)) or not signal.about_other]
    assert not wrong, "not seen as about someone else:\n" + "\n".join(wrong)


def test_a_crisis_of_the_writer_is_told_apart() -> None:
    wrong = [s for s in FIRST_PERSON if (signal := detect_crisis(s)) and signal.about_other]
    assert not wrong, "seen as about someone else:\n" + "\n".join(wrong)


def test_a_guard_never_hides_another_sentence() -> None:
    assert detect_crisis("Je suis mort de fatigue et je veux mourir.")
    assert detect_crisis("Un patient s'est suicidé hier. Depuis, j'ai envie d'en finir.")
    assert detect_crisis("Je ne suis pas suicidaire, mais je voudrais ne plus me réveiller")


def test_the_nlu_crisis_intent_is_united_with_the_lexicon() -> None:
    neutral = "je ne sais plus quoi faire"
    assert detect_crisis(neutral) is None
    sure = Interpretation("crisis", NLU_CRISIS_THRESHOLD + 0.1)
    unsure = Interpretation("crisis", NLU_CRISIS_THRESHOLD - 0.1)
    signal = detect_crisis(neutral, sure)
    assert signal is not None and signal.rule == "nlu"
    assert detect_crisis(neutral, unsure) is None
    # Another intent never hides what the lexicon sees.
    assert detect_crisis("je veux mourir", Interpretation("burnout", 0.99)) is not None


def test_rule_ids_never_carry_the_persons_words() -> None:
    for sentence in FIRST_PERSON + OTHER_PERSON:
        signal = detect_crisis(sentence)
        assert signal is not None
        assert re.fullmatch(r"[a-z_]+", signal.rule)
        assert signal.rule not in fold(sentence).split() or signal.rule == "ts"


def test_a_crisis_at_the_end_of_100_kb_is_found() -> None:
    text = "Je vous écris au sujet de mes gardes. " * 2700 + "Je veux en finir."
    assert len(text) > 100_000
    assert detect_crisis(text) is not None


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("a\x00b\x07c", "abc"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("\u202eevil\u202c text", "evil text"),
        ("  Épuisé\t\tet   seul  ", "Épuisé et seul"),
        ("ligne\r\nsuivante", "ligne\nsuivante"),
    ],
)
def test_clean_removes_invisible_characters_and_keeps_accents(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("JVEUX mouriiiir…", "je veux mourir"),
        ("J’ai envie", "j ai envie"),
        ("chui à bout", "je suis a bout"),
        ("C'est l'œuvre", "c est l oeuvre"),
        ("Idées NOIRES !!", "idees noires"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    signal = detect_crisis(text)
    assert signal is None or isinstance(signal.about_other, bool)
