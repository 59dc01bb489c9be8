"""What the commission does reaches the person between two of their own messages: a reply
they may answer, a case read, an interview cancelled, moved or recalled the day before.
Each comes in the middle of something, and the person's next message must still be read
as the answer to the question they were at."""

from __future__ import annotations

from flows.engine import (
    AppointmentReminder,
    BookingCancelledByCouncil,
    BookingMoveAsked,
    CaseAcknowledged,
    CommissionReplied,
    Event,
    Reply,
    handle,
)
from flows.messages import MessageForCommission, SlotRequested
from tests.conftest import Chat

SELF_PROFILE = ["self", "psychological", "liberal", "83"]
REPLY = "Bonjour, nous pouvons vous appeler demain. Cela vous convient-il ?"
FIRST_SLOT, SECOND_SLOT = "2026-11-24T10:00", "2026-11-24T10:30"
CRISIS = "je veux en finir"


def receive(chat: Chat, event: Event) -> Reply:
    """The driver hands the engine what the commission did, as it does a message."""
    reply = handle(chat.state, event, chat.context)
    chat.state = reply.state
    chat.replies.append(reply)
    return reply


def at_first_item() -> Chat:
    chat = Chat(commission_connected=True)
    chat.answer_all(SELF_PROFILE)
    assert chat.step == "phq2.1"
    return chat


def booked_mid_questionnaire() -> Chat:
    """An interview booked by phone, asked for in the middle of the questionnaires."""
    chat = at_first_item()
    chat.answer_all(["rendez-vous", "1", "par téléphone"])
    assert SlotRequested(FIRST_SLOT, "phone") in chat.last.effects
    assert chat.step == "phq2.1"
    return chat


def sent(chat: Chat) -> list[MessageForCommission]:
    return [e for e in chat.effects() if isinstance(e, MessageForCommission)]


def questions_asked(chat: Chat) -> list[str]:
    return [m.question for m in chat.messages() if m.question]


def never_three_times_in_a_row(chat: Chat) -> None:
    asked = questions_asked(chat)
    for first, second, third in zip(asked, asked[1:], asked[2:], strict=False):
        assert not first == second == third, asked


# -- a reply of the commission ---------------------------------------------------------------


def test_a_reply_mid_questionnaire_is_read_answered_then_the_question_comes_back() -> None:
    chat = at_first_item()
    reply = receive(chat, CommissionReplied(REPLY))
    assert reply.messages[0].text == f"La commission d'entraide vous répond :\n{REPLY}"
    assert reply.messages[-1].question == "commission.answer"
    assert [o.label for o in reply.messages[-1].options] == ["Plus tard"]
    assert reply.effects == ()

    # "Je sais pas" to the commission is an answer to it, not a question passed.
    chat.say("je sais pas")
    assert sent(chat) == [MessageForCommission("answer", "je sais pas", 1)]
    assert "transmise à la commission" in chat.text()
    assert chat.step == "phq2.1"
    assert "je sais pas" not in str(chat.state.to_dict())

    chat.say("2")
    assert chat.state.answers["phq9.1"] == "2"
    assert chat.step == "phq2.2"
    never_three_times_in_a_row(chat)


def test_later_sends_nothing_and_the_question_open_is_answered_next() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(["relative", "1", "weeks", "skip"])
    assert chat.step == "alert"
    receive(chat, CommissionReplied(REPLY))
    chat.say("plus tard")
    assert sent(chat) == []
    assert "écrivez « écrire »" in chat.text()
    assert chat.last.messages[-1].question == "alert"
    chat.say("oui")
    assert chat.state.answers["alert"] == "yes"
    assert chat.step == "message"


def test_the_later_option_picked_by_its_number_sends_nothing() -> None:
    chat = at_first_item()
    receive(chat, CommissionReplied(REPLY))
    chat.say("1", numbers_are_positions=True)
    assert sent(chat) == []
    assert chat.step == "phq2.1"


def test_a_question_already_asked_twice_is_kept_not_asked_a_third_time() -> None:
    chat = at_first_item()
    chat.say("bof")
    assert chat.step == "phq2.1" and chat.state.misses == 1
    receive(chat, CommissionReplied(REPLY))
    chat.say("2")
    assert sent(chat) == [MessageForCommission("answer", "2", 1)]
    assert all(m.question is None for m in chat.last.messages)
    assert "Je garde ma question" in chat.text()
    never_three_times_in_a_row(chat)
    # The next words answer the question kept.
    chat.say("plusieurs jours")
    assert chat.state.answers["phq9.1"] == "1"
    assert chat.step == "phq2.2"


def test_a_second_reply_before_the_answer_invites_once_and_the_answer_goes_once() -> None:
    chat = at_first_item()
    receive(chat, CommissionReplied(REPLY))
    second = receive(chat, CommissionReplied("Ou après-demain ?"))
    assert [m.text for m in second.messages] == [
        "La commission d'entraide vous répond :\nOu après-demain ?"
    ]
    chat.say("Demain c'est bien.")
    assert sent(chat) == [MessageForCommission("answer", "Demain c'est bien.", 1)]
    assert chat.step == "phq2.1"


def test_a_correction_says_it_corrects_the_last_message() -> None:
    chat = at_first_item()
    reply = receive(chat, CommissionReplied("Jeudi plutôt.", correction=True))
    assert reply.messages[0].text == "La commission corrige son dernier message :\nJeudi plutôt."
    assert chat.step == "commission.answer"


def test_a_cry_for_help_in_an_answer_opens_the_crisis_path_and_still_reaches_the_commission() -> (
    None
):
    chat = at_first_item()
    receive(chat, CommissionReplied(REPLY))
    reply = chat.say(CRISIS)
    assert reply.messages[0].crisis
    assert "3114" in reply.messages[0].text
    assert MessageForCommission("answer", CRISIS, 1) in reply.effects
    assert chat.step == "rud.plan"
    assert chat.state.interrupted is None


def test_the_emergency_numbers_while_answering_keep_the_invitation_open() -> None:
    chat = at_first_item()
    receive(chat, CommissionReplied(REPLY))
    chat.say("urgence")
    assert "3114" in chat.text()
    assert chat.step == "commission.answer"
    chat.say("Oui, demain matin.")
    assert sent(chat) == [MessageForCommission("answer", "Oui, demain matin.", 1)]
    assert chat.step == "phq2.1"


def test_in_crisis_mode_the_reply_is_shown_and_the_crisis_question_stays_the_one_waiting() -> (
    None
):
    chat = at_first_item()
    chat.say(CRISIS)
    assert chat.step == "rud.plan"
    reply = receive(chat, CommissionReplied(REPLY))
    assert REPLY in reply.messages[0].text
    assert "écrivez « écrire »" in reply.messages[-1].text
    assert all(m.question is None for m in reply.messages)
    assert chat.step == "rud.plan"
    chat.say("non")
    assert chat.state.answers["rud.plan"] == "no"
    assert chat.step == "rud.means"
    assert sent(chat) == []


def test_where_no_commission_is_connected_nothing_can_go_back() -> None:
    chat = Chat()
    chat.answer_all(SELF_PROFILE)
    reply = receive(chat, CommissionReplied(REPLY))
    assert REPLY in reply.messages[0].text
    assert all(m.question is None for m in reply.messages)
    assert chat.step == "phq2.1"
    chat.say("2")
    assert sent(chat) == []
    assert chat.state.answers["phq9.1"] == "2"


def test_an_answer_where_no_commission_is_connected_sends_nothing() -> None:
    chat = at_first_item()
    receive(chat, CommissionReplied(REPLY))
    chat.context = Chat().context  # the same state, read where nothing is connected
    chat.say("Oui, merci.")
    assert sent(chat) == []
    assert "rien n'est transmis" in chat.text()


# -- the case read ---------------------------------------------------------------------------


def test_a_case_read_is_said_in_one_sentence_and_the_question_stays_open() -> None:
    chat = at_first_item()
    chat.say("bof")
    misses = chat.state.misses
    reply = receive(chat, CaseAcknowledged())
    assert [m.text for m in reply.messages] == [
        "Un membre de la commission a lu votre dossier. Il vous répondra ici."
    ]
    assert (chat.step, chat.state.misses) == ("phq2.1", misses)
    chat.say("2")
    assert chat.state.answers["phq9.1"] == "2"
    never_three_times_in_a_row(chat)


def test_a_case_read_in_crisis_mode_leaves_the_crisis_question_waiting() -> None:
    chat = at_first_item()
    chat.say(CRISIS)
    receive(chat, CaseAcknowledged())
    assert chat.step == "rud.plan"
    chat.say("oui")
    assert chat.state.answers["rud.plan"] == "yes"
    assert chat.step == "rud.when"


# -- the interview ---------------------------------------------------------------------------


def test_an_interview_cancelled_by_the_council_is_forgotten_and_another_offered() -> None:
    chat = booked_mid_questionnaire()
    reply = receive(chat, BookingCancelledByCouncil(FIRST_SLOT))
    assert chat.state.answers["slot"] == "cancelled"
    assert "modality" not in chat.state.answers
    said = reply.messages[0].text
    assert "annuler votre rendez-vous du mardi 24 novembre à 10 h 00" in said
    assert "conseil-national.medecin.fr" in said  # the Var file gives no phone: where to find it
    assert chat.step == "slot"
    offered = [o.id for o in reply.messages[-1].options]
    assert FIRST_SLOT not in offered and offered[0] == SECOND_SLOT
    chat.say("1")
    chat.say("par téléphone")
    assert SlotRequested(SECOND_SLOT, "phone") in chat.last.effects
    assert chat.step == "phq2.1"


def test_not_now_after_a_cancellation_keeps_no_booking() -> None:
    chat = booked_mid_questionnaire()
    receive(chat, BookingCancelledByCouncil(FIRST_SLOT))
    chat.say("pas maintenant")
    assert chat.state.answers["slot"] == "none"
    assert "ne change pas" not in chat.text()
    assert chat.step == "phq2.1"
    chat.say("mon rendez-vous")
    assert "pas de rendez-vous" in chat.text()


def test_a_move_asked_by_the_council_offers_other_times_and_books_the_one_picked() -> None:
    chat = booked_mid_questionnaire()
    reply = receive(chat, BookingMoveAsked(FIRST_SLOT))
    assert "ne peut pas vous recevoir le mardi 24 novembre à 10 h 00" in reply.messages[0].text
    assert chat.step == "slot"
    assert FIRST_SLOT not in [o.id for o in reply.messages[-1].options]
    chat.say("2")
    assert chat.step == "modality"
    chat.say("au conseil")
    assert SlotRequested("2026-11-24T11:00", "council") in chat.last.effects
    assert "ENT-2411-1100" in chat.text()


def test_a_cancellation_of_a_time_the_case_no_longer_holds_changes_nothing() -> None:
    chat = booked_mid_questionnaire()
    before = chat.state
    reply = receive(chat, BookingCancelledByCouncil(SECOND_SLOT))
    assert reply.messages == () and reply.state == before
    without_booking = at_first_item()
    reply = receive(without_booking, BookingMoveAsked(FIRST_SLOT))
    assert reply.messages == () and without_booking.step == "phq2.1"


def test_a_cancellation_in_crisis_mode_offers_no_slot_and_the_crisis_question_waits() -> None:
    chat = booked_mid_questionnaire()
    chat.say(CRISIS)
    assert chat.step == "rud.plan"
    reply = receive(chat, BookingCancelledByCouncil(FIRST_SLOT))
    assert chat.state.answers["slot"] == "cancelled"
    assert all(m.question is None for m in reply.messages)
    assert "écrivez « rendez-vous »" in reply.messages[-1].text
    chat.say("non")
    assert chat.state.answers["rud.plan"] == "no"


def test_the_reminder_the_day_before_says_when_how_and_how_to_change_it() -> None:
    chat = booked_mid_questionnaire()
    chat.say("bof")
    state = chat.state
    reply = receive(chat, AppointmentReminder(FIRST_SLOT))
    assert len(reply.messages) == 1
    said = reply.messages[0].text
    assert said.startswith("Rappel : votre entretien est demain, mardi 24 novembre à 10 h 00")
    assert "par téléphone" in said and "ENT-2411-1000" in said and "« mon rendez-vous »" in said
    assert reply.state == state
    chat.say("jamais")
    assert chat.state.answers["phq9.1"] == "0"
    never_three_times_in_a_row(chat)


def test_a_reminder_for_a_time_no_longer_booked_says_nothing() -> None:
    chat = booked_mid_questionnaire()
    assert receive(chat, AppointmentReminder(SECOND_SLOT)).messages == ()


def test_the_reminder_in_english() -> None:
    chat = Chat(locale="en", commission_connected=True)
    chat.answer_all(["self", "psychological", "liberal", "83", "appointment", "1", "by phone"])
    reply = receive(chat, AppointmentReminder(FIRST_SLOT))
    assert reply.messages[0].text.startswith("Reminder: your interview is tomorrow")


# -- everything at once ----------------------------------------------------------------------


def test_events_between_unclear_answers_never_bring_a_question_three_times_in_a_row() -> None:
    chat = booked_mid_questionnaire()
    for event in (
        CaseAcknowledged(), CommissionReplied(REPLY), AppointmentReminder(FIRST_SLOT),
        CommissionReplied("Et vendredi ?"),
    ):
        chat.say("bof")
        receive(chat, event)
        chat.say("hmm")
    never_three_times_in_a_row(chat)
    # Both "hmm" went to the commission as answers; the questionnaires went on meanwhile.
    assert [m.text for m in sent(chat)] == ["hmm", "hmm"]
    assert chat.step == "cbi1.6"
