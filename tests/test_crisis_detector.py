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
    assert len(FIRST_PERSON) + len(OTHER_PERSON) >= 600
    assert len(OTHER_PERSON) >= 170
    assert len(NEGATIVE) >= 400


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


SURE = Interpretation("crisis", 0.97)
GAPS = sentences("lexicon_gaps.txt")


@pytest.mark.parametrize(
    "text",
    [
        "Un de mes patients s'est suicidé.",
        "Un de mes patients s'est suicidé et je n'arrive pas à m'en remettre.",
        "Bonjour, un de mes patients s'est suicidé.",
        "Une patiente s'est suicidée la semaine dernière et je me sens coupable.",
        "J'ai pensé à tout arrêter... mon activité libérale.",
        "J'ai pensé à tout arrêter… mon cabinet, la médecine.",
        "Je veux tout arrêter, fermer le cabinet et faire autre chose.",
        "J'ai envie de tout plaquer et d'ouvrir une librairie.",
        "Je veux arrêter les gardes.",
        "Je suis mort de fatigue.",
        "Je vais tuer mon associé, il a encore oublié de fermer le cabinet.",
        "Je voudrais en finir avec ce dossier URSSAF.",
        "C'est à se pendre, ce logiciel.",
        "Je pars en vacances, je ne serai plus là la semaine prochaine.",
        "Je ne suis pas suicidaire, juste épuisé.",
        "À quoi bon remplir ce formulaire ?",
    ],
)
def test_the_nlu_does_not_override_the_guards(text: str) -> None:
    assert detect_crisis(text) is None
    assert detect_crisis(text, SURE) is None


@pytest.mark.parametrize(
    "text",
    [
        *GAPS,
        "je ne sais plus quoi faire",
        "J'ai pensé à tout arrêter.",
        # A guard in one sentence says nothing of the next.
        "Un de mes patients s'est suicidé hier. Je ne vois plus l'intérêt de rien.",
        # What a guard leaves uncovered still counts.
        "Je vais fermer mon cabinet pour disparaître.",
        "Je suis mort de fatigue et je ne vois pas comment tenir jusqu'à demain.",
        "Je n'ai pas d'idées noires, mais je n'ai plus goût à rien.",
        "J'ai la tête sous l'eau, je ne vois pas comment m'en sortir sauf à partir loin de tout.",
    ],
)
def test_the_nlu_adds_recall_where_no_guard_explains_the_text(text: str) -> None:
    assert detect_crisis(text) is None, "caught by the lexicon: choose another sentence"
    signal = detect_crisis(text, SURE)
    assert signal is not None and signal.rule == "nlu"


def test_the_nlu_signal_names_the_person_at_risk() -> None:
    husband = "Mon mari a parlé de son fusil de chasse d'une façon qui m'a glacée : il a dit que pour lui ce serait rapide."  # noqa: E501
    signal = detect_crisis(husband, SURE)
    assert signal is not None and signal.about_other
    signal = detect_crisis("je ne sais plus quoi faire", SURE)
    assert signal is not None and not signal.about_other


@pytest.mark.parametrize(
    ("text", "about_other"),
    [
        ("il dit souvent « à quoi bon »", True),
        ("mon mari répète à quoi bon", True),
        ("il parle d'en finir", True),
        ("elle dit qu'elle veut en finir", True),
        ("mon associé a parlé de se foutre en l'air", True),
        ("à quoi bon", False),
        ("à quoi bon tout ça", False),
        ("À quoi bon continuer, à quoi bon me lever le matin ?", False),
    ],
)
def test_hopelessness_is_a_crisis_and_names_the_right_person(text: str, about_other: bool) -> None:
    signal = detect_crisis(text)
    assert signal is not None
    assert signal.about_other is about_other


@pytest.mark.parametrize(
    "text",
    [
        "à quoi bon remplir ce formulaire",
        "à quoi bon appeler l'URSSAF",
        "À quoi bon porter plainte, ça ne changera rien.",
        "à quoi bon ce questionnaire",
        "mon mari répète à quoi bon voter",
    ],
)
def test_a_pointless_task_is_not_hopelessness(text: str) -> None:
    assert detect_crisis(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "je veux mou\u00adrir",
        "je veux mo\u200dur\u200dir",
        "je ve\u200bux en fi\u2060nir",
        "\ufeffje veux mourir",
        "ｊｅ ｖｅｕｘ ｍｏｕｒｉｒ",
        "je veux 𝐦𝐨𝐮𝐫𝐢𝐫",
        "𝐉𝐄 𝐕𝐄𝐔𝐗 𝐌𝐎𝐔𝐑𝐈𝐑",
        "je veux m\u043eurir",  # Cyrillic о
        "j\u0435 v\u0435ux \u0435n finir",  # Cyrillic е
        "je vais me \u0440endre",  # Cyrillic р
        "je veux m\u03bfurir",  # Greek ο
        "\u0405U\u0406\u0421\u0406DE",  # Cyrillic capitals
        "je veux \u202emourir\u202c",  # right-to-left override
        "je veux \u2067mourir\u2069",  # right-to-left isolate
        "je veux mou\U000e0041rir",  # tag character
        "je veux\u00a0mourir",  # no-break space
    ],
)
def test_invisible_and_look_alike_characters_never_hide_a_crisis(text: str) -> None:
    assert detect_crisis(text) is not None


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
