"""Opt-in check-ins through the engine: offered once at the end of a physician's journey,
never scheduled by default, then one message weeks later whose answers are compared with
the last ones; worse routes again and tells the commission only after a yes, "stop" ends
everything, and a cry for help is answered as one first."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.check_ins import Measure, is_worse
from flows.engine import CheckInDue, UserMessage, handle
from flows.messages import (
    CaseUpdated,
    CheckInAlert,
    CheckInAnswered,
    CheckInRequested,
    CheckInStopped,
)
from tests.conftest import Chat
from tests.test_commission_events import receive
from tests.test_engine_properties import check_well_formed, inputs

# A physician in private practice in the Var: PHQ-2 1 + 0, item 9 never, GAD-2 0 + 0,
# AUDIT-C never, CBI item 6 "Un peu" (25); no message for the commission, no interview, age
# and sex passed.
JOURNEY = [
    "self", "psychological", "liberal", "83", "1", "0", "0", "0", "0", "0", "25",
    "non", "none", "passer", "passer",
]
# The chat's clock is Sunday 22 November 2026.
TWO_WEEKS_ON = date(2026, 12, 6)
CRISIS = "je veux en finir"


def at_the_offer(**context: object) -> Chat:
    chat = Chat(channel="matrix", commission_connected=True, **context)
    chat.answer_all(JOURNEY)
    assert chat.step == "checkin.offer"
    return chat


def scheduled(chat: Chat) -> list[date]:
    return [e.due for e in chat.effects() if isinstance(e, CheckInRequested)]


def checked_in(check_in: str = "c1") -> Chat:
    """A check-in asked for at the end of the journey, arrived two weeks on."""
    chat = at_the_offer()
    chat.say("Dans 2 semaines")
    receive(chat, CheckInDue(check_in))
    assert chat.step == "checkin.phq2.1"
    return chat


# -- the offer --------------------------------------------------------------------------


def test_the_offer_comes_after_the_routes_before_goodbye_and_says_what_is_kept() -> None:
    chat = at_the_offer()
    offer = chat.last.messages[-1]
    assert "la date et le moyen de vous répondre" in offer.text and "« stop »" in offer.text
    assert [o.id for o in offer.options] == ["weeks_2", "weeks_4", "weeks_8", "months_18", "no"]
    assert "routes" in chat.state.shown and "end" not in chat.state.shown
    # Silence schedules nothing: only a date picked does.
    assert scheduled(chat) == []


@pytest.mark.parametrize(
    ("answer", "due"),
    [
        ("Dans 2 semaines", TWO_WEEKS_ON),
        ("dans un mois", date(2026, 12, 20)),
        ("3", date(2027, 1, 17)),
        ("je viens de m'installer", date(2028, 5, 22)),
    ],
)
def test_each_delay_schedules_one_check_in_on_its_day(answer: str, due: date) -> None:
    chat = at_the_offer()
    chat.say(answer)
    assert scheduled(chat) == [due]
    assert f"{due.day}" in chat.text() and "« suivi »" in chat.text()
    assert "end" in chat.state.shown and chat.step == "menu"


@pytest.mark.parametrize("answer", ["non", "ok", "je sais pas", "non merci", "bof", "oui"])
def test_anything_but_a_date_schedules_nothing_and_the_journey_ends(answer: str) -> None:
    chat = at_the_offer()
    chat.say(answer)
    assert scheduled(chat) == []
    assert "je ne prévois rien" in chat.text()
    assert chat.step == "menu"


def test_the_terminal_chat_never_offers_what_it_could_not_send() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(JOURNEY[:-1])
    assert chat.step == "sex"
    chat.say("passer")
    assert chat.step == "menu"
    chat.say("suivi")
    assert "Matrix et Telegram" in chat.text()
    assert scheduled(chat) == []


def test_a_relative_is_not_offered_a_check_in_about_their_own_mood() -> None:
    chat = Chat(channel="matrix", commission_connected=True)
    chat.answer_all(["relative", "1", "weeks", "83", "non"])
    assert "checkin.offer" not in [m.question for m in chat.messages()]
    chat.say("suivi")
    assert "aux médecins qui écrivent pour eux-mêmes" in chat.text()


def test_eighteen_months_are_for_setting_up_practice_not_for_a_retired_physician() -> None:
    chat = Chat(channel="matrix", commission_connected=True)
    chat.answer_all(["self", "psychological", "retired", "83", "1", "0", "0", "0", "0", "0"])
    chat.answer_all(["non", "none", "passer", "passer"])
    assert chat.step == "checkin.offer"
    assert [o.id for o in chat.last.messages[-1].options] == [
        "weeks_2", "weeks_4", "weeks_8", "no"
    ]


# -- the check-in, on its day -------------------------------------------------------------


def test_the_check_in_is_one_message_with_the_phq2_the_way_to_stop_and_nothing_else() -> None:
    chat = checked_in()
    (message,) = chat.last.messages
    assert "le point que vous m'aviez demandé" in message.text and "« stop »" in message.text
    assert "deux dernières semaines" in message.text and "1/3" in message.text
    assert [o.id for o in message.options] == ["0", "1", "2", "3", "stop"]
    assert chat.last.effects == ()
    assert "checkin.due" not in chat.state.answers


def test_answered_no_worse_a_kind_word_then_the_offer_of_the_next_one() -> None:
    chat = checked_in()
    chat.answer_all(["jamais", "jamais"])
    assert chat.step == "checkin.cbi1.6"
    assert "à bout à cause de votre travail" in chat.text()
    chat.say("très peu")
    assert CheckInAnswered("c1") in chat.last.effects
    assert "tant mieux" in chat.text()
    assert chat.last.messages[-1].question == "checkin.offer"
    assert "plus tard" in chat.last.messages[-1].text
    chat.say("Dans 4 semaines")
    assert scheduled(chat)[-1] == date(2026, 12, 20)
    # The check-in ends at rest: no menu asked after it.
    assert chat.step is None and all(m.question is None for m in chat.last.messages)


def test_answered_worse_the_routes_again_and_the_commission_only_after_a_yes() -> None:
    chat = checked_in()
    chat.answer_all(["presque tous les jours", "plus de la moitié des jours"])
    reply = chat.say("beaucoup")
    assert CheckInAnswered("c1") in reply.effects
    routes = next(m for m in reply.messages if m.contacts)
    assert {"cnom_line", "sps"} <= set(routes.contacts)
    assert reply.messages[-1].question == "checkin.alert"
    assert "Voulez-vous que la commission d'entraide soit prévenue ?" in reply.messages[-1].text
    assert not any(isinstance(e, CheckInAlert | CaseUpdated) for e in reply.effects)

    reply = chat.say("oui")
    # PHQ-2 5/6 and the work item at 75: level 2 by the routing table, the case raised.
    assert CheckInAlert("c1", 2, (("phq2", 5, "positive"), ("cbi1", 75, "high"))) in reply.effects
    update = next(e for e in reply.effects if isinstance(e, CaseUpdated))
    assert (update.previous_level, update.level) == (1, 2)
    assert "transmis à la commission" in chat.text()
    assert chat.step is None


@pytest.mark.parametrize("answer", ["non", "je ne sais pas", "bof"])
def test_answered_worse_without_a_clear_yes_nothing_reaches_the_commission(answer: str) -> None:
    chat = checked_in()
    chat.answer_all(["3", "3", "100", answer])
    assert not any(isinstance(e, CheckInAlert) for e in chat.effects())
    assert chat.state.level == 1
    assert "rien n'est transmis" in chat.text()


def test_higher_than_last_time_is_worse_and_the_next_one_compares_with_this_one() -> None:
    # The journey's PHQ-2 was 1: 2 is higher, though below the screen's cut-off of 3.
    chat = checked_in()
    chat.answer_all(["1", "1", "25"])
    assert chat.step == "checkin.alert"
    chat.answer_all(["non", "suivi", "Dans 2 semaines"])
    receive(chat, CheckInDue("c2"))
    # Compared with the last check-in (2), not with the journey (1).
    chat.answer_all(["1", "1", "25"])
    assert chat.step == "checkin.offer"


@pytest.mark.parametrize(
    ("now", "before", "worse"),
    [
        (Measure(3, 0), Measure(3, 0), True),  # a positive PHQ-2, even unchanged
        (Measure(2, 0), Measure(1, 0), True),  # higher than last time
        (Measure(1, 0), Measure(2, 0), False),
        (Measure(0, 50), Measure(0, 25), True),  # the work item crosses the threshold
        (Measure(0, 75), Measure(0, 50), False),  # high, and already high last time
        (Measure(0, 50), Measure(None, None), True),  # first measure, and high
        (Measure(2, 25), Measure(None, None), False),
    ],
)
def test_the_rule_that_says_worse(now: Measure, before: Measure, worse: bool) -> None:
    assert is_worse(now, before) is worse


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("answer", ["stop", "Stop merci", "arrêtez", "ne m'écrivez plus"])
def test_stop_at_any_question_ends_it_in_one_sentence(position: int, answer: str) -> None:
    chat = checked_in()
    chat.answer_all(["0", "0"][:position])
    reply = chat.say(answer)
    assert reply.effects == (CheckInStopped(),)
    (message,) = reply.messages
    assert "je ne vous écrirai plus" in message.text and message.question is None
    assert chat.step is None


def test_a_cry_for_help_inside_a_check_in_opens_the_crisis_path_first() -> None:
    chat = checked_in()
    chat.say("0")
    reply = chat.say(CRISIS)
    assert "suicide_3114" in reply.messages[0].contacts and reply.messages[0].crisis
    assert chat.step == "rud.plan"
    assert not any(isinstance(e, CheckInAnswered) for e in chat.effects())


def test_an_unclear_answer_gets_a_hint_then_the_check_in_is_not_pressed() -> None:
    chat = checked_in()
    chat.say("euh")
    assert chat.step == "checkin.phq2.1"
    assert "le point que vous m'aviez demandé" not in chat.text()
    chat.say("hmm")
    assert "Je n'insiste pas" in chat.text() and chat.step is None
    assert chat.last.effects == ()


def test_a_check_in_sent_again_after_a_failed_delivery_starts_from_its_first_question() -> None:
    chat = checked_in()
    chat.say("2")
    reply = receive(chat, CheckInDue("c1"))
    assert reply.messages[-1].question == "checkin.phq2.1"
    assert "checkin.phq2.1" not in chat.state.answers


# -- "suivi", at any time -----------------------------------------------------------------


def test_suivi_shows_the_check_in_to_come_and_cancels_it() -> None:
    chat = at_the_offer()
    chat.say("Dans 2 semaines")
    chat.say("suivi")
    assert "dimanche 6 décembre 2026" in chat.text()
    assert "que cette date et le moyen de vous répondre" in chat.text()
    assert chat.step == "checkin.manage"
    chat.say("annuler")
    assert chat.last.effects == (CheckInStopped(),)
    chat.say("suivi")
    assert "Aucun point n'est prévu" in chat.text()
    assert chat.step == "checkin.offer"


def test_english_check_in() -> None:
    chat = Chat(locale="en", channel="matrix", commission_connected=True)
    chat.answer_all(JOURNEY)
    assert "only the date" in chat.last.messages[-1].text
    chat.say("In 2 weeks")
    receive(chat, CheckInDue("c1"))
    assert "Over the last 2 weeks" in chat.text() and "stop" in chat.text()
    chat.say("stop")
    assert "I will not write to you again" in chat.text()


CHECK_IN_WORDS = st.one_of(
    inputs, st.sampled_from(["stop", "suivi", "oui", "non", "Dans 2 semaines", "jamais", CRISIS])
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CHECK_IN_WORDS, min_size=6, max_size=6))
def test_whatever_is_typed_in_a_check_in_the_answer_is_well_formed(texts: list[str]) -> None:
    """And no question of the check-in is asked three times in a row."""
    chat = checked_in()
    asked = [chat.step]
    for text in texts:
        reply = handle(chat.state, UserMessage(text), chat.context)
        check_well_formed(reply.messages, reply.state)
        chat.state = reply.state
        asked.append(reply.messages[-1].question)
    for first, second, third in zip(asked, asked[1:], asked[2:], strict=False):
        assert not (first or "").startswith("checkin.") or not first == second == third, asked


def test_back_within_a_check_in_takes_back_its_own_answers_only() -> None:
    chat = checked_in()
    chat.say("retour")
    assert chat.step == "checkin.phq2.1" and "sex" not in chat.text()
    chat.answer_all(["2", "retour"])
    assert chat.step == "checkin.phq2.1" and "checkin.phq2.1" not in chat.state.answers
