"""Every sentence exists in French and in English, with the same blanks to fill."""

from __future__ import annotations

from flows.questions import QUESTIONS
from flows.texts import placeholders
from tests.conftest import RESOURCES

TEXTS = RESOURCES.texts


def test_both_locales_have_the_same_keys_and_placeholders() -> None:
    french, english = TEXTS.by_locale["fr"], TEXTS.by_locale["en"]
    assert set(french) == set(english)
    for key in french:
        assert placeholders(french[key]) == placeholders(english[key]), key
        assert french[key] and english[key], key


def test_every_question_and_option_has_words_in_both_locales() -> None:
    for locale in ("fr", "en"):
        for question in QUESTIONS.values():
            prefix = f"questions.{question.id}.text"
            keys = [k for k in TEXTS.by_locale[locale] if k.startswith(prefix)]
            assert keys, (locale, question.id)
            prefix = "common" if question.common_options else f"questions.{question.id}.options"
            for option in question.option_ids:
                assert TEXTS.has(locale, f"{prefix}.{option}"), (locale, question.id, option)


def test_sentences_stay_short() -> None:
    for locale in ("fr", "en"):
        for key, text in TEXTS.by_locale[locale].items():
            assert len(text) <= 600, (locale, key)
