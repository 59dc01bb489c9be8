"""The three personas' journeys through the engine, crisis mode, and free text at any point."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from flows.messages import (
    CaseUpdated,
    EraseRequested,
    MessageForCommission,
    SlotCancelled,
    SlotRequested,
)
from tests.conftest import RESOURCES, Chat

CRISIS_CONTACTS = {"samu", "emergency_112", "suicide_3114", "cnom_line", "emergency_114"}
SELF_PROFILE = ["self", "psychological", "liberal", "83"]
# PHQ-2, item 9, GAD-2, AUDIT-C item 1 (never), CBI item 6: all negative.
SHORT_FORMS_NEGATIVE = ["0", "1", "0", "1", "0", "0", "0"]


def test_welcome_says_what_this_is_who_reads_and_the_emergency_numbers(chat: Chat) -> None:
    welcome = chat.last.messages
    assert "nom" in welcome[0].text and "commission" in welcome[0].text
    assert "rien ne sort de la machine" in welcome[0].text
    assert CRISIS_CONTACTS <= set(welcome[1].contacts)
    for number in ("15", "112", "3114", "114", "0800 288 038"):
        assert number in welcome[1].text
    assert welcome[-1].question == "persona"
    assert [o.id for o in welcome[-1].options] == ["self", "relative", "colleague"]
    assert all(m.level is None for m in welcome)


def test_each_channel_says_what_it_protects() -> None:
    telegram = Chat(channel="telegram").last.messages[0].text
    matrix = Chat(channel="matrix").last.messages[0].text
    assert "Telegram" in telegram and "Matrix" in telegram
    assert "chiffrée de bout en bout" in matrix and "quand et combien" in matrix


def test_self_journey_short_forms_routes_sealed_message_and_appointment() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(SELF_PROFILE)
    assert chat.step == "phq2.1"
    assert "7 à 9 questions courtes" in chat.last.messages[-1].text
    chat.answer_all(["1", "1"])  # PHQ-2 = 2: negative, but item 9 is asked all the same
    assert chat.step == "phq9.9"
    assert "idées de mort ou de suicide" in chat.last.messages[-1].text
    chat.answer_all(SHORT_FORMS_NEGATIVE[2:])
    said = chat.text()
    assert "2/6" in said and "1/6" in said and "pas de diagnostic" in said
    routes = next(m for m in chat.last.messages if m.contacts)
    assert list(routes.contacts) == ["cnom_line", "sps", "mots"]
    assert chat.step == "alert"
    # Four profile answers and seven short items: the routes come with the eleventh message.
    assert len(chat.replies) - 1 == 11
    chat.say("oui")
    assert chat.step == "message"
    chat.say("Je n'arrive plus à payer l'URSSAF")
    sealed = [e for e in chat.effects() if isinstance(e, MessageForCommission)]
    assert sealed == [MessageForCommission("message", "Je n'arrive plus à payer l'URSSAF", 1)]
    assert "URSSAF" not in str(chat.state.to_dict())
    chat.say("passer")
    assert chat.step == "slot"
    first_slot = chat.last.messages[-1].options[0]
    assert first_slot.id == "2026-11-24T10:00"
    assert first_slot.label == "mardi 24 novembre à 10 h 00"
    chat.say("1")
    assert chat.step == "modality"
    chat.say("par téléphone")
    assert SlotRequested("2026-11-24T10:00", "phone") in chat.last.effects
    assert "ENT-2411-1000" in chat.text()
    assert chat.step == "age"


def test_a_positive_screen_opens_the_long_form() -> None:
    chat = Chat()
    chat.answer_all([*SELF_PROFILE, "2", "2", "0"])  # PHQ-2 = 4
    assert chat.step == "phq9.3"
    chat.answer_all(["0", "0", "0", "0", "0", "0"])
    assert chat.step == "gad2.1"


def test_case_updates_carry_persona_level_and_categories(chat: Chat) -> None:
    chat.say("self")
    update = chat.last.effects[0]
    assert (update.persona, update.level, update.previous_level, update.categories) == (
        "self", 1, None, ("persona:self",)
    )
    assert update.scores == () and update.routes == RESOURCES.routing.routes({"persona:self"})
    chat.say("assault")
    updates = [e for e in chat.effects() if isinstance(e, CaseUpdated)]
    assert updates[-1].level == 2 and updates[-1].previous_level == 1
    assert "need:assault" in updates[-1].categories


def test_phq9_item_9_opens_crisis_mode_at_once_whatever_the_total(chat: Chat) -> None:
    chat.answer_all([*SELF_PROFILE, "0", "0"])
    assert chat.step == "phq9.9"
    reply = chat.say("1")
    crisis = reply.messages[0]
    assert crisis.crisis and crisis.level == 3
    assert CRISIS_CONTACTS <= set(crisis.contacts)
    assert chat.step == "rud.plan"
    chat.answer_all(["no", "no"])
    assert chat.step == "crisis.next"
    chat.say("safe")
    # No more screening after a crisis: the routes, crisis lines first.
    routes = [m for m in chat.last.messages if m.contacts][-1]
    assert routes.contacts[:3] == ("samu", "emergency_112", "suicide_3114")
    assert chat.state.level == 3
    assert all(not (m.question or "").startswith(("gad", "auditc", "cbi")) for m in chat.messages())


def test_crisis_mode_asks_each_question_once_and_takes_unclear_answers_as_riskier() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(["self", "psychological"])
    reply = chat.say("je veux en finir, j'ai tout préparé")
    assert reply.messages[0].crisis
    assert chat.step == "rud.plan"
    chat.say("euh")
    assert chat.state.answers["rud.plan"] == "yes"
    assert "sérieux" in chat.text()
    chat.say("ce soir")
    assert chat.state.answers["rud.when"] == "today"
    chat.say("non")
    assert "Appelez le 15 maintenant" in chat.text()
    assert "alerte urgente" in chat.text()
    assert chat.step == "crisis.next"
    assert [o.id for o in chat.last.messages[-1].options] == ["write", "safe", "numbers"]
    chat.say("1")
    assert chat.step == "message"
    chat.say("Je suis seul au cabinet ce soir.")
    assert MessageForCommission("message", "Je suis seul au cabinet ce soir.", 1) in (
        chat.last.effects
    )
    assert chat.step is None and chat.state.crisis_active
    first, second = chat.say("bof"), chat.say("bof")
    assert first.messages[0].text != second.messages[0].text
    assert all(m.crisis for m in first.messages + second.messages)
    chat.say("je suis en sécurité")
    assert not chat.state.crisis_active and chat.state.crisis
    assert chat.step == "practice"


def test_a_crisis_during_crisis_mode_never_restarts_the_questions(chat: Chat) -> None:
    chat.say("je vais me suicider")
    chat.say("oui")
    assert chat.step == "rud.when"
    reply = chat.say("je veux mourir")
    assert reply.messages[-1].question == "rud.means"
    assert chat.state.answers["rud.when"] == "today"


def test_relative_journey_routes_and_offers_a_confidential_alert(chat: Chat) -> None:
    chat.answer_all(["relative", "1,6,7", "days", "Var"])
    assert len(chat.replies) - 1 == 4
    routes = next(m for m in chat.last.messages if m.contacts)
    assert "cdom" in routes.contacts and "cnom_line" in routes.contacts
    assert "mots" in routes.contacts  # alcohol: the regional association
    assert chat.state.level == 2
    assert chat.step == "alert"


def test_relative_reporting_suicidal_talk_opens_the_third_person_crisis(chat: Chat) -> None:
    chat.say("relative")
    reply = chat.say("suicidal_talk")
    assert reply.messages[0].crisis and chat.state.crisis_about_other
    assert chat.step == "rud.plan"
    assert "Cette personne" in chat.last.messages[-1].text
    chat.answer_all(["no", "no"])
    assert "Restez en lien" in chat.text()
    assert [o.id for o in chat.last.messages[-1].options] == ["safe", "numbers"]
    assert chat.last.messages[-1].options[0].label == "La personne est en sécurité pour l'instant"


def test_relative_describing_someone_in_danger_in_free_text(chat: Chat) -> None:
    chat.say("relative")
    reply = chat.say("mon mari dit qu'il va se tuer ce soir")
    assert reply.messages[0].crisis and chat.state.level == 3
    assert "ne laissez pas cette personne seule" in reply.messages[0].text


def test_colleague_is_told_it_is_not_a_denunciation_and_the_one_limit() -> None:
    chat = Chat(commission_connected=True)
    chat.say("colleague")
    said = chat.text()
    assert "pas une dénonciation" in said and "identité" in said
    chat.answer_all(["withdrawal", "weeks", "skip"])
    assert chat.step == "alert"
    assert "sans jamais dire qui a donné l'alerte" in chat.last.messages[-1].text
    chat.say("est-ce qu'il saura que c'est moi ?")
    assert "si des patients sont en danger" in chat.text()
    assert chat.step == "alert"


def test_asides_keep_ones_place(chat: Chat) -> None:
    chat.answer_all(["self", "psychological"])
    before = chat.state
    chat.say("aide")
    assert "auto-questionnaire" in chat.text() and chat.step == "practice"
    # Nothing changed but the count of times the question came in a row.
    assert replace(chat.state, misses=0) == before
    chat.say("c'est confidentiel ?")
    assert "Personne d'autre que vous" in chat.text() or "démonstration" in chat.text()
    # Asked twice already: kept for the next answer rather than asked a third time.
    assert chat.last.messages[-1].question is None and chat.state.paused == "practice"
    chat.say("libéral")
    assert chat.state.answers["practice"] == "liberal" and chat.step == "department"
    chat.say("rendez-vous")
    assert chat.step == "slot"
    chat.say("2")
    assert chat.step == "modality"
    chat.say("au conseil")
    assert chat.step == "department"


def test_talk_to_someone_now_puts_the_lines_that_always_answer_first_at_night() -> None:
    night = Chat(now=datetime(2026, 11, 24, 23, 30, tzinfo=ZoneInfo("Europe/Paris")))
    night.say("je voudrais parler à quelqu'un")
    assert night.last.messages[0].contacts[0] == "cnom_line"
    assert "cdom" not in night.last.messages[0].contacts
    day = Chat(now=datetime(2026, 11, 24, 10, 30, tzinfo=ZoneInfo("Europe/Paris")))
    day.say("je voudrais parler à quelqu'un")
    assert day.last.messages[0].contacts[0] == "cdom"


def test_free_text_opening_picks_the_journey_and_keeps_what_it_says() -> None:
    chat = Chat()
    chat.say("mon associé n'est plus lui-même depuis des semaines")
    assert chat.state.persona == "colleague"
    chat = Chat()
    chat.say("ma femme boit beaucoup trop")
    assert chat.state.persona == "relative"
    assert chat.state.choices["signs"] == ("alcohol",)
    chat = Chat()
    chat.say("chui interne à Toulon, mon chef m'humilie")
    assert chat.state.persona == "self"
    assert chat.state.answers["practice"] == "student"
    assert chat.state.answers["department"] == "83"
    assert "conflict" in chat.state.choices["needs"]


def test_the_persona_can_be_corrected_at_any_point() -> None:
    chat = Chat()
    chat.say("mon associé boit")
    assert chat.state.persona == "colleague"
    chat.say("non c'est pour moi")
    assert chat.state.persona == "self"
    assert "signs" not in chat.state.choices
    assert chat.step == "needs"


def test_back_takes_back_the_last_answer() -> None:
    chat = Chat()
    chat.answer_all(["self", "psychological", "hospital"])
    assert chat.step == "department"
    chat.say("retour")
    assert chat.step == "practice" and "practice" not in chat.state.answers
    chat.say("liberal")
    assert chat.state.answers["practice"] == "liberal"


def test_erase_asks_first_then_forgets_everything(chat: Chat) -> None:
    chat.answer_all(["self", "psychological"])
    chat.say("effacer")
    assert chat.step == "erase.confirm"
    chat.say("non")
    assert chat.step == "practice" and chat.state.persona == "self"
    chat.say("effacer")
    chat.say("euh")  # nothing is erased without a clear yes
    assert chat.state.persona == "self"
    chat.say("effacer")
    reply = chat.say("oui")
    assert EraseRequested() in reply.effects
    assert chat.state.persona is None and chat.state.answers == {}
    assert chat.step == "persona"


def test_switching_to_english_and_back(chat: Chat) -> None:
    chat.say("english")
    assert chat.state.locale == "en"
    assert chat.last.messages[-1].options[0].label.startswith("For myself")
    chat.say("français")
    assert chat.state.locale == "fr"


def test_english_journey_is_complete() -> None:
    chat = Chat(locale="en")
    chat.answer_all(["self", "conflict,career", "hospital", "06", "skip", "0"])
    routes = next(m for m in chat.last.messages if m.contacts)
    assert "cng" in routes.contacts
    assert "Alpes-Maritimes" in chat.text()  # their own council, not the Var's


def test_appointment_see_move_cancel() -> None:
    chat = Chat(commission_connected=True)
    chat.say("rendez-vous")
    chat.say("1")
    chat.say("au conseil")
    assert SlotRequested("2026-11-24T10:00", "council") in chat.last.effects
    chat.say("mon rendez-vous")
    assert "ENT-2411-1000" in chat.text()
    assert chat.step == "appointment.manage"
    chat.say("déplacer")
    assert chat.step == "slot"
    assert "2026-11-24T10:00" not in [o.id for o in chat.last.messages[-1].options]
    chat.say("1")
    chat.say("par téléphone")
    assert SlotRequested("2026-11-24T10:30", "phone") in chat.last.effects
    chat.say("mon rendez-vous")
    chat.say("annuler")
    assert SlotCancelled("2026-11-24T10:30") in chat.last.effects
    chat.say("mon rendez-vous")
    assert "pas de rendez-vous" in chat.text()


def test_a_slot_taken_meanwhile_is_offered_again_without_it(chat: Chat) -> None:
    chat.say("rendez-vous")
    chat.say("1")
    chat.say("1")
    reply = chat.slot_taken("2026-11-24T10:00")
    assert "vient d'être pris" in reply.messages[0].text
    assert chat.step == "slot"
    assert "2026-11-24T10:00" not in [o.id for o in reply.messages[-1].options]


def test_answers_by_number_label_id_or_words() -> None:
    for answer in ("2", "salaried", "Salarié", "salarie", "je suis salariée"):
        chat = Chat()
        chat.answer_all(["self", "psychological"])
        chat.say(answer)
        assert chat.state.answers["practice"] == "salaried", answer


def test_numbered_channels_read_numbers_as_list_positions() -> None:
    chat = Chat()
    chat.answer_all(SELF_PROFILE)
    chat.say("1", numbers_are_positions=True)  # first line shown: "Jamais"
    assert chat.state.answers["phq9.1"] == "0"
    chat.say("1")  # the JSONL interface: ids first
    assert chat.state.answers["phq9.2"] == "1"


def test_where_no_commission_is_connected_nothing_is_kept_or_promised(chat: Chat) -> None:
    chat.answer_all(["relative", "1", "weeks", "skip", "yes"])
    reply = chat.say("Mon mari ne dort plus.")
    assert "rien n'est transmis" in reply.messages[0].text
    assert not any(isinstance(e, MessageForCommission) for e in chat.effects())
    assert chat.step == "slot"
    crisis = Chat()
    crisis.answer_all(["je veux mourir", "no", "no"])
    assert "rien n'est transmis" in crisis.text()
    assert [o.id for o in crisis.last.messages[-1].options] == ["safe", "numbers"]


def test_the_relatives_and_colleagues_alert_says_identity_is_kept_and_the_one_limit() -> None:
    for connected in (True, False):
        for persona, signs in (("relative", "1"), ("colleague", "1")):
            chat = Chat(commission_connected=connected)
            chat.answer_all([persona, signs, "weeks", "83"])
            assert chat.step == "alert", (persona, connected)
            text = chat.last.messages[-1].text
            assert "patients sont en danger" in text, (persona, connected)
            assert "identité" in text or "qui a donné l'alerte" in text, (persona, connected)
