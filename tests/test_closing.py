"""The `!clore` form: the yearly report's fields, pre-filled from what the engine learnt."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.staff.closing import (
    FIELD_WORDS,
    FIELDS,
    VALUE_WORDS,
    FieldError,
    form_text,
    missing,
    parse_fields,
    prefill,
)
from flows.messages import CaseUpdated
from storage.records import CaseFile
from tests.conftest import RESOURCES, Chat

TEXTS = RESOURCES.texts
AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
# A liberal physician in her fifties, low mood, who skips the message and the interview.
ANSWERS = {
    "persona": "self", "needs": "psychological", "practice": "liberal", "department": "83",
    "alert": "non", "message": "passer", "slot": "none", "age": "50_60", "sex": "female",
}  # fmt: skip
# PHQ-9 = 16 without thoughts of death (item 9 at 0): screen:depression, no crisis.
DEPRESSED = {"phq2.1": "2", "phq2.2": "2", **{f"phq9.{n}": "2" for n in range(3, 9)}}


def case_file(**fields: object) -> CaseFile:
    values: dict[str, object] = {
        "case_id": "7K2M9X4P8Q1R3S05", "status": "in_progress", "level": 1, "persona": None,
        "categories": (), "summary": {}, "channel": "matrix", "assignee": None,
        "acknowledged_at": None, "acknowledge_by": None, "reminders_sent": 0,
        "thread_root": None, "bookings": (), "closing": {}, "created_at": AT,
        "last_activity_at": AT, "closed_at": None,
    }  # fmt: skip
    values.update(fields)
    return CaseFile(**values)  # type: ignore[arg-type]


def file_after_journey(answers: dict[str, str], items: dict[str, str]) -> CaseFile:
    """Drive the engine through a whole self-assessment, then build the case file from the
    last case update it sent, as the store would."""
    chat = Chat(commission_connected=True)
    while chat.step is not None and not {"age", "sex"} <= chat.state.answers.keys():
        # Every questionnaire item not given is answered "0" (never).
        chat.say(items.get(chat.step, answers.get(chat.step, "0")))
    update = [effect for effect in chat.effects() if isinstance(effect, CaseUpdated)][-1]
    return case_file(persona=update.persona, level=update.level, categories=update.categories)


def test_prefill_reads_sex_practice_age_origin_from_a_real_journey() -> None:
    file = file_after_journey(ANSWERS, {})
    assert {"sex:female", "practice:liberal", "age:50_60"} <= set(file.categories)
    fields = prefill(file)
    assert fields["sex"] == "female"
    assert fields["practice"] == "self_employed"
    assert fields["age_band"] == "50_60"
    assert fields["origin"] == "own_request"
    # Low mood named by the person: a psychiatric motive.
    assert fields["motive"] == "psychiatric"
    # What only the commission knows is left for the member to fill in.
    assert missing(fields) == ("help", "outcome")


def test_a_positive_screen_alone_makes_the_motive_psychiatric() -> None:
    file = file_after_journey({**ANSWERS, "needs": "financial"}, DEPRESSED)
    assert "screen:depression" in file.categories and "crisis" not in file.categories
    assert "need:psychological" not in file.categories
    assert prefill(file)["motive"] == "psychiatric"


def test_without_a_psychiatric_sign_the_motive_is_unknown_not_guessed() -> None:
    fields = prefill(case_file(persona="self", categories=("need:financial", "persona:self")))
    assert fields["motive"] == "unknown"


@pytest.mark.parametrize(
    ("practice", "label"),
    [("hospital", "salaried"), ("salaried", "salaried"), ("retired", "retired"),
     ("student", "student"), ("liberal", "self_employed")],
)  # fmt: skip
def test_each_practice_of_the_engine_has_its_report_label(practice: str, label: str) -> None:
    assert prefill(case_file(categories=(f"practice:{practice}",)))["practice"] == label


def test_a_relative_or_a_colleague_reporting_is_a_case_reported_by_someone_else() -> None:
    assert prefill(case_file(persona="relative"))["origin"] == "reported"
    assert prefill(case_file(persona="colleague"))["origin"] == "reported"
    assert "origin" not in prefill(case_file(persona=None))


def test_what_the_person_did_not_say_is_not_prefilled() -> None:
    fields = prefill(case_file(categories=("persona:self",)))
    assert {"sex", "practice", "age_band"}.isdisjoint(fields)


def test_fields_typed_in_french_with_or_without_accents() -> None:
    typed = (
        "sexe=femme exercice=libéral age=50-60 origine=signalement motif=psy "
        "aide=non_financière issue=reprise"
    )
    assert parse_fields(typed) == {
        "sex": "female", "practice": "self_employed", "age_band": "50_60",
        "origin": "reported", "motive": "psychiatric", "help": "not_financial",
        "outcome": "return_to_work",
    }  # fmt: skip
    assert parse_fields("Exercice=LIBERAL aide=non-financiere issue=Décès") == {
        "practice": "self_employed", "help": "not_financial", "outcome": "death",
    }


def test_fields_typed_in_english_and_spaces_around_the_equals_sign() -> None:
    assert parse_fields("sex = male outcome=lost_to_follow_up age_band=over_60 help=both") == {
        "sex": "male", "outcome": "lost_to_follow_up", "age_band": "over_60", "help": "both",
    }


def test_an_unknown_field_names_the_sentence_that_lists_the_fields() -> None:
    with pytest.raises(FieldError) as error:
        parse_fields("sexe=femme genre=femme")
    assert str(error.value) == "console.closing.error.unknown_field"


def test_an_unknown_value_names_its_field() -> None:
    with pytest.raises(ValueError) as error:
        parse_fields("issue=guéri")
    assert str(error.value) == "console.closing.error.unknown_value.outcome"


def test_a_word_without_a_value_is_refused_not_dropped() -> None:
    with pytest.raises(FieldError) as error:
        parse_fields("sexe=femme reprise")
    assert str(error.value) == "console.closing.error.not_a_pair"


def test_every_error_sentence_exists_and_lists_what_the_form_accepts() -> None:
    french = TEXTS.by_locale["fr"]
    for field in FIELD_WORDS:
        assert FIELD_WORDS[field][0] in french["console.closing.error.unknown_field"]
        sentence = french[f"console.closing.error.unknown_value.{field}"]
        assert all(words[0] in sentence for words in VALUE_WORDS[field].values()), field
    english = TEXTS.by_locale["en"]
    for field, labels in FIELDS.items():
        assert field in english["console.closing.error.unknown_field"]
        sentence = english[f"console.closing.error.unknown_value.{field}"]
        assert all(label in sentence for label in labels), field


def test_every_word_the_form_accepts_reads_back_as_its_label() -> None:
    for field, labels in VALUE_WORDS.items():
        for label, words in labels.items():
            for word in (label, *words):
                assert parse_fields(f"{FIELD_WORDS[field][0]}={word}") == {field: label}


def test_the_form_shows_each_field_its_value_its_choices_and_how_to_answer() -> None:
    form = form_text({"sex": "female", "outcome": "lost_to_follow_up"}, TEXTS, "fr")
    assert "Sexe : femme" in form
    assert "Issue : perdu de vue" in form
    assert "Aide apportée : à renseigner" in form
    assert "femme, homme, inconnu" in form
    assert "!clore ok" in form and "!clore issue=reprise" in form
    english = form_text({}, TEXTS, "en")
    assert "Outcome: to fill in" in english and "!close ok" in english
    assert "return_to_work" in english


def test_a_closed_case_keeps_only_the_report_labels() -> None:
    file = replace(case_file(), closing=parse_fields("sexe=homme issue=autre"))
    assert set(file.closing.values()) <= {label for labels in FIELDS.values() for label in labels}
