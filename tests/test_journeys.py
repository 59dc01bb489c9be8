"""The three personas' journeys through the engine, and free text at any point."""

from __future__ import annotations

from flows.messages import CaseUpdated, EraseRequested, MessageForCommission, SlotRequested
from tests.conftest import RESOURCES, Chat

CRISIS_CONTACTS = {"samu", "emergency_112", "suicide_3114", "cnom_line", "emergency_114"}
SELF_PROFILE = ["self", "liberal", "50_60", "female", "83"]


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


def test_self_journey_with_screening_routes_appointment_and_sealed_message() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(SELF_PROFILE)
    assert chat.step == "needs"
    chat.say("psychological, financial")
    assert chat.step == "assessment"
    chat.say("oui")
    assert chat.step == "phq2.1"
    chat.answer_all(["1", "2"])  # PHQ-2 = 3: positive, the PHQ-9 goes on
    assert chat.step == "phq9.3"
    chat.answer_all(["2", "2", "1", "1", "1", "0", "0"])  # PHQ-9 = 10, item 9 = 0
    assert chat.step == "gad2.1"
    chat.answer_all(["0", "1"])  # GAD-2 = 1: negative, GAD-7 stops
    assert chat.step == "auditc.1"
    chat.say("0")  # never drinks: AUDIT-C stops
    assert chat.step == "cbi.1"
    chat.answer_all(["75", "75", "50", "50", "75", "50", "75"])
    said = chat.text()
    assert "10/27" in said and "modérés" in said
    assert "1/6" in said and "12" in said
    assert "pas de diagnostic" in said
    routes = next(m for m in chat.last.messages if m.contacts)
    assert list(routes.contacts) == ["cnom_line", "sps", "mots", "cdom", "carmf"]
    assert chat.state.level == 2
    assert chat.step == "alert"
    chat.say("1")
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
    assert SlotRequested("2026-11-24T10:00") in chat.last.effects
    assert chat.step == "menu"


def test_case_updates_carry_persona_level_and_categories(chat: Chat) -> None:
    chat.say("self")
    update = chat.last.effects[0]
    assert (update.persona, update.level, update.previous_level, update.categories) == (
        "self", 1, None, ("persona:self",)
    )
    assert update.scores == () and update.routes == RESOURCES.routing.routes({"persona:self"})
    chat.answer_all(["hospital", "skip", "skip", "skip"])
    chat.say("assault")
    updates = [e for e in chat.effects() if isinstance(e, CaseUpdated)]
    assert updates[-1].level == 2 and updates[-1].previous_level == 1
    assert "need:assault" in updates[-1].categories


def test_phq9_item_9_opens_the_crisis_path_at_once_whatever_the_total(chat: Chat) -> None:
    chat.answer_all([*SELF_PROFILE, "psychological", "yes", "1", "2", "0", "0", "0", "0", "0", "0"])
    assert chat.step == "phq9.9"
    reply = chat.say("1")
    crisis = reply.messages[0]
    assert crisis.crisis and crisis.level == 3
    assert CRISIS_CONTACTS <= set(crisis.contacts)
    assert chat.step == "rud.plan"
    chat.answer_all(["no", "no"])
    # The rest of the self-assessment is not asked after a crisis: routes come next.
    assert chat.step == "alert"
    routes = [m for m in chat.last.messages if m.contacts][-1]
    assert routes.contacts[:3] == ("samu", "emergency_112", "suicide_3114")
    assert chat.state.level == 3


def test_crisis_in_free_text_answers_first_then_resumes_the_journey() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(["self", "liberal"])
    assert chat.step == "age"
    reply = chat.say("je veux en finir, j'ai tout préparé")
    assert reply.messages[0].crisis
    assert chat.step == "rud.plan"
    chat.answer_all(["oui", "today", "yes"])
    closing = chat.text()
    assert "Appelez le 15 maintenant" in closing
    assert chat.step == "contact"
    chat.say("06 00 00 00 00")
    assert MessageForCommission("contact", "06 00 00 00 00", 1) in chat.last.effects
    assert chat.step == "age"


def test_a_crisis_during_a_crisis_repeats_the_numbers_without_restarting(chat: Chat) -> None:
    chat.say("je vais me suicider")
    chat.say("oui")
    assert chat.step == "rud.when"
    reply = chat.say("je veux mourir")
    assert reply.messages[0].crisis
    assert chat.step == "rud.when"


def test_relative_journey_routes_and_offers_a_confidential_alert(chat: Chat) -> None:
    chat.answer_all(["relative", "1,5,7", "days", "Var"])
    routes = next(m for m in chat.last.messages if m.contacts)
    assert "cdom" in routes.contacts and "cnom_line" in routes.contacts
    assert "mots" in routes.contacts  # alcohol: the regional association
    assert chat.state.level == 2
    assert chat.step == "alert"
    assert "confidentialité" in chat.last.messages[-1].text


def test_relative_reporting_suicidal_talk_opens_the_third_person_crisis_path(chat: Chat) -> None:
    chat.say("relative")
    reply = chat.say("suicidal_talk")
    assert reply.messages[0].crisis and chat.state.crisis_about_other
    assert chat.step == "rud.plan"
    assert "Cette personne" in chat.last.messages[-1].text


def test_relative_describing_someone_in_danger_in_free_text(chat: Chat) -> None:
    chat.say("relative")
    reply = chat.say("mon mari dit qu'il va se tuer ce soir")
    assert reply.messages[0].crisis and chat.state.level == 3


def test_colleague_is_told_it_is_not_a_denunciation(chat: Chat) -> None:
    chat.say("colleague")
    said = chat.text()
    assert "pas une dénonciation" in said and "identité" in said
    chat.answer_all(["withdrawal", "weeks", "skip", "yes"])
    assert chat.step == "message"
    assert "jamais transmise" in chat.last.messages[-1].text


def test_free_text_at_any_point_keeps_ones_place(chat: Chat) -> None:
    chat.answer_all(["self", "liberal"])
    before = chat.state
    chat.say("aide")
    assert "auto-questionnaire" in chat.text() and chat.step == "age"
    assert chat.state == before
    chat.say("c'est confidentiel ?")
    assert "rien ne sort de la machine" in chat.text() and chat.step == "age"
    chat.say("je voudrais parler à quelqu'un")
    assert {"cnom_line", "cdom"} <= set(chat.last.messages[0].contacts)
    chat.say("rendez-vous")
    assert chat.step == "slot"
    chat.say("2")
    assert chat.step == "age"


def test_free_text_opening_picks_the_journey() -> None:
    chat = Chat()
    chat.say("mon associé n'est plus lui-même depuis des semaines")
    assert chat.state.persona == "colleague"
    chat = Chat()
    chat.say("ma femme boit beaucoup trop")
    assert chat.state.persona == "relative"


def test_erase_asks_first_then_forgets_everything(chat: Chat) -> None:
    chat.answer_all(["self", "liberal"])
    chat.say("effacer")
    assert chat.step == "erase.confirm"
    chat.say("non")
    assert chat.step == "age" and chat.state.persona == "self"
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
    chat.answer_all(["self", "hospital", "under_50", "male", "75", "conflict,career", "no"])
    routes = next(m for m in chat.last.messages if m.contacts)
    assert "cng" in routes.contacts
    assert "Paris" in " ".join(m.text for m in chat.last.messages)  # not the Var council


def test_a_slot_taken_meanwhile_is_offered_again_without_it(chat: Chat) -> None:
    chat.say("rendez-vous")
    chat.say("1")
    reply = chat.slot_taken("2026-11-24T10:00")
    assert "vient d'être pris" in reply.messages[0].text
    assert chat.step == "slot"
    assert "2026-11-24T10:00" not in [o.id for o in reply.messages[-1].options]


def test_answers_by_number_label_or_id() -> None:
    for answer in ("2", "salaried", "Salarié", "salarie"):
        chat = Chat()
        chat.say("self")
        chat.say(answer)
        assert chat.state.answers["practice"] == "salaried", answer


def test_numbered_channels_read_numbers_as_list_positions() -> None:
    chat = Chat()
    chat.answer_all([*SELF_PROFILE, "psychological", "yes"])
    chat.say("1", numbers_are_positions=True)  # first line shown: "Jamais"
    assert chat.state.answers["phq9.1"] == "0"
    chat.say("1")  # the JSONL interface: ids first
    assert chat.state.answers["phq9.2"] == "1"


def test_where_no_commission_is_connected_the_bot_says_so_and_asks_no_phone(chat: Chat) -> None:
    chat.answer_all(["relative", "1", "weeks", "skip", "yes"])
    reply = chat.say("Mon mari ne dort plus.")
    assert "rien n'est transmis" in reply.messages[0].text
    assert chat.step == "slot"
    crisis = Chat()
    crisis.answer_all(["je veux mourir", "no", "no"])
    assert "rien n'est transmis" in crisis.text()
    assert crisis.step == "persona"
