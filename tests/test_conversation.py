"""The conversation as people have it, through the JSONL interface of ``python -m bot chat``.

Each test replays what a person typed when the bot failed them (the exact words), and
checks what they get now: crisis mode that always answers, natural answers at every
question, the right person, council and route, confidentiality answered.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from tests.conftest import Chat
from tests.test_jsonl import run_chat

NOT_UNDERSTOOD = "Je n'ai pas compris"
Record = dict[str, Any]


def turns(records: list[Record]) -> list[list[Record]]:
    """The bot's messages, grouped by the turn they answer (turn 0 is the welcome)."""
    grouped: list[list[Record]] = []
    for record in records:
        if record.get("done"):
            continue
        while len(grouped) <= record["turn"]:
            grouped.append([])
        grouped[record["turn"]].append(record)
    return grouped


def said(turn: list[Record]) -> str:
    return "\n".join(message["text"] for message in turn)


def question(turn: list[Record]) -> str | None:
    return turn[-1]["question"] if turn else None


def chat(*lines: str) -> list[list[Record]]:
    return turns(run_chat(list(lines)))


def never_twice_in_a_row(replies: list[list[Record]]) -> None:
    misses = [NOT_UNDERSTOOD in said(turn) for turn in replies]
    assert not any(a and b for a, b in pairwise(misses)), misses


# -- crisis mode ---------------------------------------------------------------------------


CRISIS = "je voudrais m'endormir et ne plus me réveiller"


def test_i_dont_know_again_and_again_in_crisis_mode_moves_on_and_never_loops() -> None:
    # Eight messages pass at once; past that the policy layer paces a flood (1 per second).
    replies = chat(CRISIS, *["je sais pas"] * 9)
    asked = [question(turn) for turn in replies[1:] if question(turn)]
    # Each follow-up question once, then the bot listens: nothing is asked again.
    assert asked[:4] == ["rud.plan", "rud.when", "rud.means", "crisis.next"]
    assert len(asked) == len(set(asked)), asked
    for turn in replies[1:]:
        assert NOT_UNDERSTOOD not in said(turn)
        assert turn, "every message gets an answer"
    # "Je ne sais pas" is taken as the riskier answer: the imminent-danger close.
    assert "Appelez le 15 maintenant" in said(replies[4])
    for first, second in pairwise(replies[5:]):
        assert said(first) != said(second), "two answers in a row never read the same"
        assert "3114" in said(second)


def test_means_at_hand_in_a_sentence_is_an_answer() -> None:
    replies = chat(CRISIS, "oui", "ce soir", "oui, au bloc j'ai tout ce qu'il faut")
    assert question(replies[2]) == "rud.when"
    assert question(replies[3]) == "rud.means"
    assert "Appelez le 15 maintenant" in said(replies[4])
    assert NOT_UNDERSTOOD not in said(replies[4])


def test_urgence_and_sos_answer_with_the_numbers_at_once() -> None:
    for word in ("urgence", "SOS", "au secours", "help"):
        replies = chat(word)
        text = said(replies[1])
        assert "15" in text and "3114" in text, word
        assert NOT_UNDERSTOOD not in text, word
        assert replies[1][0]["crisis"] is True, word


def test_after_call_15_now_no_screening_scores_or_slots() -> None:
    replies = chat("1", CRISIS, "oui", "ce soir", "oui", "j'ai peur", "d'accord", "ok")
    after = [question(turn) for turn in replies[5:]]
    assert after[0] in (None, "crisis.next")
    for turn in replies[5:]:
        for message in turn:
            assert message["question"] not in ("urgency", "slot", "phq2.1", "gad2.1")
            assert "/27" not in message["text"] and "créneau" not in message["text"]


def test_a_relative_gets_the_third_person_crisis_and_3114() -> None:
    replies = chat("c'est pour mon mari", "il dit souvent « à quoi bon »")
    text = said(replies[2])
    assert "3114" in text and "seule" in text
    assert question(replies[2]) == "rud.plan"
    assert "Cette personne" in replies[2][-1]["text"]
    assert replies[2][0]["crisis"] is True


def test_the_question_about_thoughts_of_death_is_always_asked() -> None:
    # PHQ-2 = 0: item 9 is asked all the same, plainly introduced.
    replies = chat("pour moi", "le moral", "libérale", "83", "jamais", "jamais")
    assert question(replies[6]) == "phq9.9"
    assert "idées de mort ou de suicide" in said(replies[6])


def test_a_soft_hyphen_does_not_hide_a_cry_for_help() -> None:
    replies = chat("je veux mou\u00adrir")
    assert replies[1][0]["crisis"] is True
    assert question(replies[1]) == "rud.plan"


# -- natural answers -----------------------------------------------------------------------


def test_common_words_are_understood() -> None:
    for word, expected in (("ok", "message"), ("d'accord", "message"), ("ouais", "message"),
                           ("non merci", "slot"), ("pas maintenant", "slot")):
        replies = chat("2", "1,6", "days", "83", word)
        assert question(replies[5]) == expected, word
        assert NOT_UNDERSTOOD not in said(replies[5]), word


def test_numbers_ranges_cities_practice_and_words() -> None:
    replies = chat(
        "pour moi", "le moral", "liberale", "Toulon", "passer", "jamais", "pas maintenant",
        "pas maintenant", "38",
    )
    assert question(replies[2]) == "practice"
    assert question(replies[3]) == "department"
    assert question(replies[4]) is not None and question(replies[4]).startswith("phq2")
    assert all(NOT_UNDERSTOOD not in said(turn) for turn in replies)
    assert question(replies[5]) == "phq9.9"
    assert question(replies[9]) == "sex"
    replies = chat(
        "pour moi", "le moral", "libéral", "Var", "passer", "jamais", "non", "non", "moins de 50"
    )
    assert question(replies[9]) == "sex"


def test_several_signs_in_one_sentence() -> None:
    replies = chat("c'est pour ma femme", "agressif, renfermé")
    assert question(replies[2]) == "urgency"
    assert NOT_UNDERSTOOD not in said(replies[2])


def test_feelings_get_a_human_word_not_an_error() -> None:
    replies = chat("pour moi", "😢😢😢")
    assert NOT_UNDERSTOOD not in said(replies[2])
    assert "entends" in said(replies[2]) or "difficile" in said(replies[2])


def test_a_patients_suicide_that_weighs_is_heard_not_a_crisis() -> None:
    replies = chat("un de mes patients s'est suicidé la semaine dernière, j'y pense tout le temps")
    assert not any(message["crisis"] for message in replies[1])
    assert NOT_UNDERSTOOD not in said(replies[1])


def test_never_the_same_not_understood_twice_in_a_row() -> None:
    replies = chat("pour moi", "le moral", "banane", "banane", "banane", "banane")
    never_twice_in_a_row(replies)


def test_back_goes_back_one_question() -> None:
    replies = chat("pour moi", "le moral", "hospitalier", "retour", "libéral")
    assert question(replies[3]) == "department"
    assert question(replies[4]) == "practice"
    assert question(replies[5]) == "department"


# -- the right person, council and route ---------------------------------------------------


def test_an_intern_humiliated_by_a_senior_is_the_writer() -> None:
    replies = chat("chui interne, mon chef m'humilie", "83", "passer", "jamais")
    assert "confrère" not in said(replies[1]).split("\n")[0]
    routes = next(m for m in replies[4] if "vers qui" in m["text"])
    assert "sps" in routes["contacts"] and "intern_support" in routes["contacts"]
    assert "cdom" in routes["contacts"]


def test_the_persona_can_be_corrected() -> None:
    replies = chat("mon associé boit", "non c'est pour moi")
    assert question(replies[2]) in ("needs", "practice")


def test_another_department_is_sent_to_its_own_council_never_our_slots() -> None:
    replies = chat("pour moi", "l'argent", "hospitalier", "Alpes-Maritimes", "passer", "jamais",
                   "non", "rendez-vous")
    routes = next(m for turn in replies for m in turn if "vers qui" in m["text"])
    assert "Alpes-Maritimes" in routes["text"]
    assert "mots" not in routes["contacts"] and "carmf" not in routes["contacts"]
    for turn in replies:
        assert all(m["question"] != "slot" for m in turn)
        assert "mardi" not in said(turn)


def test_one_at_the_department_question_records_nothing() -> None:
    replies = chat("pour moi", "le moral", "libéral", "1")
    assert "Ain" not in said(replies[4])
    assert question(replies[4]) is not None and question(replies[4]).startswith("phq2")


def test_carmf_only_for_the_self_employed() -> None:
    def contacts(practice: str) -> list[str]:
        replies = chat("pour moi", "l'argent", practice, "83", "passer", "jamais")
        return next(m for m in replies[6] if "vers qui" in m["text"])["contacts"]

    assert "carmf" in contacts("libéral")
    assert "carmf" not in contacts("hospitalier")


def test_a_retired_physician_is_not_asked_about_work() -> None:
    replies = chat("pour moi", "le moral", "retraité", "83", *["jamais"] * 8)
    for turn in replies:
        assert "travail" not in " ".join(m["text"] for m in turn if m["question"])


def test_grief_gets_psychological_support_and_afem_only_for_children() -> None:
    replies = chat("pour moi", "un deuil", "salarié", "83", "passer", "jamais")
    routes = next(m for m in replies[6] if "vers qui" in m["text"])
    assert "cnom_line" in routes["contacts"] and "sps" in routes["contacts"]
    assert "afem" not in routes["contacts"]


def test_an_assault_gets_complaint_advice_observatory_and_support() -> None:
    replies = chat("pour moi", "agressé par un patient", "libéral", "83", "passer", "jamais")
    text = said(replies[6])
    routes = next(m for m in replies[6] if "vers qui" in m["text"])
    assert {"osm", "cdom", "cnom_line"} <= set(routes["contacts"])
    assert "plainte" in text


# -- confidentiality -----------------------------------------------------------------------


def test_will_he_know_it_was_me_gets_a_true_answer() -> None:
    replies = chat("mon associé boit", "est-ce qu'il saura que c'est moi ?")
    text = said(replies[2])
    assert NOT_UNDERSTOOD not in text
    assert "Non" in text and "identité" in text


def test_who_reads_this_says_what_this_deployment_does() -> None:
    replies = chat("qui lit ça ?")
    text = said(replies[1])
    assert "Personne d'autre que vous" in text


# -- appointments --------------------------------------------------------------------------


def test_the_demo_never_says_it_is_noted_for_nobody() -> None:
    replies = chat("2", "1,6", "days", "83", "oui", "Mon mari ne dort plus.", "1", "au conseil")
    for turn in replies:
        assert "C'est noté" not in said(turn)
        assert "C'est transmis" not in said(turn)
    assert "rien n'est transmis" in said(replies[8])


def test_six_free_text_answers_never_get_the_same_question_three_times_in_a_row() -> None:
    for lines in (
        ["bonjour", "aide", "c'est confidentiel ?", "je sais pas", "pour moi", "pour moi"],
        ["pour moi", "le moral", "aide", "qui lit ça ?", "hmm", "libéral"],
        ["mon mari", "je sais pas trop", "ok", "aide", "c'est pour moi", "confidentiel ?"],
    ):
        asked = [question(turn) for turn in chat(*lines)]
        for first, second, third in zip(asked, asked[1:], asked[2:], strict=False):
            assert first is None or not first == second == third, (lines, asked)


@pytest.mark.parametrize(
    "lines",
    [
        ["bonjour", "c'est confidentiel ?", "ok", "aide", "hmm", "qui lit ça ?"],
        ["salut", "qui lit ça ?", "euh", "c'est anonyme ?", "bof", "aide"],
        ["je suis épuisé", "c'est anonyme ?", "je sais pas", "c'est quoi la question", "ok", "?"],
    ],
)
def test_a_question_kept_across_asides_is_not_asked_a_third_time(lines: list[str]) -> None:
    """Turns that only answer an aside ask nothing: the question the person meets next is
    still counted, so it never comes three times over the asides."""
    asked = [q for q in (question(turn) for turn in chat(*lines)) if q is not None]
    for first, second, third in zip(asked, asked[1:], asked[2:], strict=False):
        assert not first == second == third, (lines, asked)


@pytest.mark.parametrize(
    ("answers", "department"),
    [
        (["c'est pour moi", "je suis épuisé", "en cabinet a toulon"], "83"),
        (["pour moi, je suis dans le Var", "je suis épuisé"], "83"),
        (["c'est pour moi", "je dors plus", "salarié à Grenoble"], "38"),
    ],
)
def test_a_place_said_with_another_answer_is_not_asked_again(
    answers: list[str], department: str
) -> None:
    chat = Chat()
    for text in answers:
        chat.say(text)
    assert chat.state.answers.get("department") == department
    assert chat.step != "department"
