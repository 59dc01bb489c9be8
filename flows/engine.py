"""The conversation engine: a pure function from (state, event) to (messages, state, effects).

It knows no channel, no clock and no storage: the driver hands it the current time and what
it must know (taken slots, which channel), then carries out the effects it returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from flows import answers, check_ins, journey, receipt_code
from flows.commands import command_of, need_of, persona_of
from flows.crisis import CrisisSignal, detect_crisis
from flows.crisis_answers import riskier, rud_answer
from flows.messages import BotMessage, CaseUpdated, Effect, ReceiptPresented
from flows.questions import QUESTIONS, Kind, resolve_option, resolve_options
from flows.resources import Context
from flows.state import ConversationState
from flows.textnorm import clean, fold
from flows.texts import DEFAULT_LOCALE
from flows.understanding import Interpretation

# Long enough for a real story, short enough that a paste of a whole file is turned back.
MAX_MESSAGE_CHARS = 4000
# Questions asked before the department, whose answers often name the place as well.
SAYS_THE_PLACE_TOO = frozenset({"persona", "practice"})
# Questions whose answer goes to the commission as the person wrote it.
WRITTEN_FOR_COMMISSION = frozenset({"message", "contact", journey.COMMISSION_ANSWER})
# The whole message puts off answering the commission; "je vous rappelle plus tard" is an
# answer.
# "ok", "d'accord", "oui bien sûr": a nod. Longer messages that start with a yes say more.
ACKNOWLEDGEMENT_WORDS = 3
LATER = re.compile(r"^(?:plus tard|pas maintenant|pas tout de suite|later|not now|maybe later)$")


@dataclass(frozen=True)
class UserMessage:
    """Something the person typed or picked. ``numbers_are_positions`` is set by channels
    that show options as a numbered list, so "1" means the first line there."""

    text: str
    interpretation: Interpretation | None = None
    numbers_are_positions: bool = False


@dataclass(frozen=True)
class SlotUnavailable:
    """The driver could not book the slot the person picked: someone was quicker."""

    slot_id: str


@dataclass(frozen=True)
class ReceiptIssued:
    """The driver made the receipt code the engine asked for; it is said once, never kept."""

    code: str


@dataclass(frozen=True)
class ReceiptChecked:
    """What the store said of a receipt code the person typed, and the commission's replies."""

    found: bool
    throttled: bool = False
    # Throttled for a moment only: many codes are being tried, not too many by this person.
    busy: bool = False
    replies: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommissionReplied:
    """A member of the commission wrote to the person; ``correction`` when the member
    edited their last message."""

    text: str
    correction: bool = False


@dataclass(frozen=True)
class CaseAcknowledged:
    """A member of the commission has read the case."""


@dataclass(frozen=True)
class BookingCancelledByCouncil:
    """The council cancelled the person's interview; the driver has freed the slot."""

    slot_id: str


@dataclass(frozen=True)
class BookingMoveAsked:
    """The council cannot keep the interview's time; the driver has freed the slot, and the
    person picks another."""

    slot_id: str


@dataclass(frozen=True)
class AppointmentReminder:
    """The day before the person's interview."""

    slot_id: str


@dataclass(frozen=True)
class CheckInDue:
    """The day the person asked to hear from the bot again; ``check_in`` is the driver's id
    of it, given back with what the person answers."""

    check_in: str


Event = (
    UserMessage
    | SlotUnavailable
    | ReceiptIssued
    | ReceiptChecked
    | CommissionReplied
    | CaseAcknowledged
    | BookingCancelledByCouncil
    | BookingMoveAsked
    | AppointmentReminder
    | CheckInDue
)


@dataclass(frozen=True)
class Reply:
    messages: tuple[BotMessage, ...]
    state: ConversationState
    effects: tuple[Effect, ...] = ()


def start(context: Context, locale: str = DEFAULT_LOCALE) -> Reply:
    """The welcome, then the first question."""
    turn = journey.Turn(ConversationState(locale=locale), context)
    turn.welcome()
    turn.advance()
    return _reply(turn)


def resume(state: ConversationState, context: Context) -> Reply:
    """A person comes back to a conversation kept from before: the same question again."""
    turn = journey.Turn(state, context)
    turn.say(turn.t("welcome.back"))
    turn.reask(counted=False)
    return _reply(turn)


def handle(state: ConversationState, event: Event, context: Context) -> Reply:
    turn = journey.Turn(state, context)
    if isinstance(event, SlotUnavailable):
        turn.slot_unavailable(event.slot_id)
    elif isinstance(event, ReceiptIssued):
        turn.receipt_issued(event.code)
    elif isinstance(event, ReceiptChecked):
        turn.receipt_checked(event.found, event.throttled, event.busy, event.replies)
    elif isinstance(event, CommissionReplied):
        turn.commission_replied(event.text, event.correction)
    elif isinstance(event, CaseAcknowledged):
        turn.case_acknowledged()
    elif isinstance(event, BookingCancelledByCouncil | BookingMoveAsked):
        turn.booking_withdrawn(event.slot_id, moved=isinstance(event, BookingMoveAsked))
    elif isinstance(event, AppointmentReminder):
        turn.appointment_reminder(event.slot_id)
    elif isinstance(event, CheckInDue):
        turn.check_in_due(event.check_in)
    else:
        _user_message(turn, event)
    return _reply(turn)


def unavailable(context: Context, text: str, locale: str = DEFAULT_LOCALE) -> Reply:
    """What a person gets when the bot cannot reach what it keeps (a broken store, a
    failing service): the crisis answer when the text is one, otherwise an apology with the
    emergency numbers. It needs nothing but the engine's own data, and changes nothing."""
    turn = journey.Turn(ConversationState(locale=locale), context)
    signal = detect_crisis(clean(text)) if text else None
    if signal is not None:
        turn.open_crisis(about_other=signal.about_other)
    else:
        turn.say_contacts(turn.t("input.unavailable"), turn.crisis_routes(), crisis=True)
    return Reply(tuple(turn.messages), turn.initial)


def _reply(turn: journey.Turn) -> Reply:
    effects = list(turn.effects)
    if not turn.erased:
        before, after = turn.initial, turn.state
        categories = journey.categories(after)
        if (before.persona, before.level, journey.categories(before)) != (
            after.persona,
            after.level,
            categories,
        ):
            effects.insert(0, _case_update(turn, categories))
    return Reply(tuple(turn.messages), turn.state, tuple(effects))


def _case_update(turn: journey.Turn, categories: tuple[str, ...]) -> CaseUpdated:
    after = turn.state
    scores = tuple(
        (result.instrument, round(result.score), result.band)
        for result in journey.completed_results(after)
    )
    routes = turn.context.resources.routing.routes(journey.facts(after))
    return CaseUpdated(
        after.persona, after.level, turn.initial.level, categories, scores, routes
    )


def _user_message(turn: journey.Turn, event: UserMessage) -> None:
    text = clean(event.text)
    # The crisis check comes before anything else, on every input, even one that is too
    # long to be processed: a cry for help must never be answered with "message too long".
    # Only a plain pick among the options skips it: the options carry their own crisis
    # meaning ("parle de mourir" among the signs opens the path about someone else).
    picked = _picks_options(turn, text, event)
    signal = detect_crisis(text, event.interpretation) if text and not picked else None
    if signal is not None:
        _crisis(turn, signal, text, event)
        return
    if not text and turn.state.crisis_active:
        # Even an empty message is an answer in crisis mode: nothing is asked twice.
        _crisis_mode_words(turn, text, event)
        return
    if not text:
        turn.not_understood("input.empty")
        return
    if len(text) > MAX_MESSAGE_CHARS:
        turn.say(turn.t("input.too_long", limit=MAX_MESSAGE_CHARS))
        turn.reask(counted=False)
        return
    step = turn.state.step
    takes_free_text = step in WRITTEN_FOR_COMMISSION
    if not takes_free_text and receipt_code.looks_like_code(text):
        turn.effects.append(ReceiptPresented(text))
        turn.say(turn.t("receipt.checking"))
        return
    command = None if picked else command_of(text, _command_reading(turn, event))
    if command == "help" and turn.state.crisis_active:
        # "Aide" in crisis mode is a call for help: the numbers first.
        command = "emergency"
    if takes_free_text and command not in FREE_TEXT_COMMANDS:
        command = None
    if command == "safe" and not turn.state.crisis_active:
        # "Je vais bien" outside a crisis is an answer like any other.
        command = None
    if command is not None:
        turn.command(command)
        return
    if step is None and turn.state.paused is not None:
        # The question kept after asides: this message answers it, and its count goes on
        # (it was asked twice already), so an unclear answer moves on.
        step = turn.state.paused
        turn.state = replace(turn.state, step=step, paused=None)
    if step is None:
        if turn.state.crisis_active:
            turn.listen()
        else:
            turn.advance()
        return
    _answer(turn, step, text, event)


def _command_reading(turn: journey.Turn, event: UserMessage) -> Interpretation | None:
    """In crisis mode only the words count as a request: "je sais pas quoi faire" is not
    a question about what the bot can do, whatever the NLU guesses."""
    return None if turn.state.crisis_active else event.interpretation


# What stays a command while the person writes for the commission: going back, and the
# emergency numbers.
FREE_TEXT_COMMANDS = frozenset({"back", "emergency"})


def _picks_options(turn: journey.Turn, text: str, event: UserMessage) -> bool:
    step = turn.state.step
    if not text or step is None:
        return False
    if journey.kind_of(step) is Kind.TEXT:
        return False
    ids, labels = turn.option_ids(step), turn.option_labels(step)
    positions = event.numbers_are_positions
    if journey.kind_of(step) is Kind.MULTI:
        return resolve_options(text, ids, labels, positions) is not None
    return resolve_option(text, ids, labels, positions) is not None


def _crisis(turn: journey.Turn, signal: CrisisSignal, text: str, event: UserMessage) -> None:
    step = turn.state.step
    recorded = step in WRITTEN_FOR_COMMISSION and len(text) <= MAX_MESSAGE_CHARS
    opening = not turn.state.crisis_active
    if opening:
        if not recorded:
            # What the words also say (who writes, the signs a wife describes, the
            # department) is kept, so that nothing is asked again once the danger has passed.
            persona = persona_of(text, event.interpretation)
            if turn.state.persona is None and persona is not None:
                turn.state = turn.state.with_answer("persona", persona).with_answered("persona")
                turn.set_persona(persona)
            _absorb(turn, text, event.interpretation)
        turn.open_crisis(about_other=signal.about_other)
    if recorded:
        # What was written for the commission still goes to it, crisis or not, said after
        # the numbers.
        turn.record_for_commission(step or "", text)
    if opening:
        turn.advance()
        return
    if step is not None and step.startswith(("rud.", "crisis.")):
        # A cry for help is answered as one first, then taken as the riskier answer.
        turn.crisis_again()
    _crisis_mode_words(turn, text, event, recorded=recorded)


def _crisis_mode_words(
    turn: journey.Turn, text: str, event: UserMessage, *, recorded: bool = False
) -> None:
    """Already in crisis mode: the words are an answer, read as the riskier one, and the
    person is never asked the same question again."""
    step = turn.state.step
    if step is not None and step.startswith("rud."):
        _answer_rud(turn, step, text, event, risky=True)
    elif step == "crisis.next":
        turn.state = turn.state.with_answer("crisis.next", "listen").with_answered("crisis.next")
        turn.listen()
    elif recorded:
        turn.advance()
    else:
        turn.listen()


def _answer(turn: journey.Turn, step: str, text: str, event: UserMessage) -> None:
    if step.startswith("rud."):
        _answer_rud(turn, step, text, event, risky=False)
        return
    if journey.is_item(step):
        _answer_item(turn, step, text, event)
        return
    if check_ins.is_item(step):
        _answer_check_in(turn, step, text, event)
        return
    question = QUESTIONS[step]
    if question.kind is Kind.TEXT:
        _answer_text(turn, step, text, event)
        return
    if question.kind is Kind.MULTI:
        _answer_multi(turn, step, text, event)
        return
    chosen = _choice(turn, step, text, event)
    if chosen is not None:
        if chosen == "skip" and _passes_in_words(text):
            turn.say(turn.t("input.skipped"))
        if step in SAYS_THE_PLACE_TOO and not turn.state.answered("department"):
            # "en cabinet à Toulon", "pour moi, dans le Var": the place is not asked again.
            code = _department(turn, text, event.interpretation, names_only=True)
            if code is not None:
                turn.state = turn.state.with_answer("department", code).with_answered("department")
        turn.choose(step, chosen)
        return
    if step == "persona" and _opening(turn, text, event.interpretation):
        return
    if step == "crisis.next":
        # Not a clear "I am safe": crisis mode goes on, and the bot listens.
        turn.state = turn.state.with_answer("crisis.next", "listen").with_answered("crisis.next")
        turn.listen()
        return
    if step == "erase.confirm":
        # Nothing is erased without a clear yes.
        turn.choose(step, "no")
        return
    if step in (check_ins.OFFER, check_ins.ALERT):
        # Nothing is scheduled without a date picked, nothing told without a clear yes:
        # "ok", "je sais pas" or a feeling leave things as they are.
        turn.choose(step, "no")
        return
    if _absorb(turn, text, event.interpretation):
        turn.learnt_aside()
        return
    _unclear(turn, text, count=len(turn.option_ids(step)))


def _unclear(turn: journey.Turn, text: str, count: int) -> None:
    """Feelings get a human word, greetings a greeting; the rest a hint."""
    if answers.is_feeling(text):
        turn.not_understood(f"feeling.{turn.state.acknowledgements % journey.ACKNOWLEDGEMENTS}")
        turn.state = replace(turn.state, acknowledgements=turn.state.acknowledgements + 1)
    elif answers.is_greeting(text) or answers.is_thanks(text):
        key = "input.greeting" if answers.is_greeting(text) else "input.thanks"
        if turn.asked_twice():
            # A polite word is no failure to answer: nothing is skipped, nothing asked a
            # third time; at the menu the bot simply rests.
            turn.say(turn.t(key))
            if turn.state.step == "menu":
                turn.state = replace(turn.state, step=None)
            else:
                turn.pause()
        else:
            turn.not_understood(key)
    elif text.strip().isdigit() and count > 0:
        # "38" where six answers are listed: the person sees what went wrong.
        key = "input.out_of_range_two" if count == 2 else "input.out_of_range"
        turn.not_understood(key, number=text.strip(), count=count)
    elif answers.yes_no(text) == "yes" and len(fold(text).split()) <= ACKNOWLEDGEMENT_WORDS:
        # "ok", "d'accord" to a question that is not a yes-or-no one: a nod, not a failure.
        turn.not_understood("input.acknowledged", count=count)
    elif count == 2:
        turn.not_understood("input.unknown_two")
    else:
        turn.not_understood("input.unknown_option", count=count)


def _passes_in_words(text: str) -> bool:
    """"Je sais pas", "passer": the person leaves the question, and hears that it is fine."""
    return answers.is_skip(text) or answers.yes_no(text) == "unsure"


def _choice(turn: journey.Turn, step: str, text: str, event: UserMessage) -> str | None:
    """One option from an id, a number, a label, or the words people use."""
    option_ids = turn.option_ids(step)
    labels = turn.option_labels(step)
    chosen = resolve_option(text, option_ids, labels, event.numbers_are_positions)
    if chosen is None:
        chosen = _natural_choice(step, text, option_ids)
    if chosen is None:
        chosen = _contained_label(text, option_ids, labels)
    return chosen if chosen in option_ids else None


def _natural_choice(step: str, text: str, option_ids: tuple[str, ...]) -> str | None:
    word = answers.yes_no(text)
    skip = answers.is_skip(text)
    if word == "unsure" and "unsure" not in option_ids and "skip" in option_ids:
        return "skip"
    if step == "practice":
        return answers.practice_of(text) or ("skip" if skip else None)
    if step == "age":
        if skip or word == "no":
            return "skip"
        return answers.age_band(text)
    natural = NATURAL_CHOICES.get(step)
    if natural is not None:
        folded = fold(text)
        for option, pattern in natural.items():
            if pattern.search(folded):
                return option
    if step == "urgency":
        return {"yes": "immediate", "no": "weeks", "unsure": "days"}.get(word or "")
    if step in ("slot", "modality") and (skip or word == "no"):
        return "none" if step == "slot" else None
    if skip and "skip" in option_ids:
        return "skip"
    if word is not None and word in option_ids:
        return word
    if skip and "no" in option_ids:
        return "no"
    return None


# Words for options that no general reader knows; patterns over folded text.
NATURAL_CHOICES = {
    "modality": {
        "phone": re.compile(r"\b(telephone|tel|phone|appel|appeler|par tel)\b"),
        "video": re.compile(r"\b(video|visio|visioconference|teams|zoom|webcam)\b"),
        "council": re.compile(r"\b(conseil|sur place|en personne|au siege|en vrai|in person)\b"),
    },
    "appointment.manage": {
        "cancel": re.compile(r"\b(annul\w*|supprim\w*|cancel)\b"),
        "move": re.compile(r"\b(deplac\w*|chang\w*|modifi\w*|autre|decal\w*|move|another)\b"),
        "keep": re.compile(r"^(garder|le garder|je le garde|non|rien|ok|c est bon|keep|no)$"),
    },
    "slot": {
        "none": re.compile(r"\b(annul\w*|aucun|plus tard|une autre fois|later|cancel)\b"),
    },
    "sex": {
        "female": re.compile(r"^(je suis )?(une )?(femme|f|woman|female)$"),
        "male": re.compile(r"^(je suis )?(un )?(homme|h|m|man|male)$"),
    },
    "menu": {
        "contacts": re.compile(r"\b(contacts?|numeros?|lignes?|numbers)\b"),
    },
    check_ins.OFFER: {
        "weeks_2": re.compile(
            r"\b(?:(?:2|deux|two) ?(?:semaines?|sem|weeks?)|15 jours|quinze jours|fortnight)\b"
        ),
        "weeks_4": re.compile(
            r"\b(?:(?:4|quatre|four) ?(?:semaines?|sem|weeks?)|(?:1|un) mois|(?:a|one) month)\b"
        ),
        "weeks_8": re.compile(
            r"\b(?:(?:8|huit|eight) ?(?:semaines?|sem|weeks?)|(?:2|deux|two) (?:mois|months))\b"
        ),
        "months_18": re.compile(
            r"\b(?:(?:18|dix huit|eighteen) (?:mois|months)|install\w*|set(?:ting)? up)\b"
        ),
    },
    check_ins.MANAGE: {
        "stop": re.compile(r"\b(?:stop\w*|annul\w*|arret\w*|supprim\w*|cancel)\b"),
        "keep": re.compile(r"^(?:garder|le garder|je le garde|maintenir|non|rien|ok|keep|no)$"),
    },
}


def _contained_label(
    text: str, option_ids: tuple[str, ...], labels: Mapping[str, str]
) -> str | None:
    """The one option whose label holds every word typed ("hospitalier" for "Hospitalier
    (CHU, hôpital)"), or whose label stands whole in the sentence."""
    words = set(fold(text).split())
    if not words or all(len(word) < 3 for word in words):
        return None
    found = [
        option for option in option_ids
        if words <= set(fold(labels.get(option, "")).split())
        or f" {fold(labels.get(option, ''))} " in f" {fold(text)} "
    ]
    return found[0] if len(found) == 1 else None


def _answer_multi(turn: journey.Turn, step: str, text: str, event: UserMessage) -> None:
    option_ids = turn.option_ids(step)
    labels = turn.option_labels(step)
    chosen = resolve_options(text, option_ids, labels, event.numbers_are_positions)
    if chosen is None:
        read = answers.needs_of(text) if step == "needs" else answers.signs_of(text)
        if step == "needs":
            read = _with_nlu_need(read, event.interpretation)
        chosen = tuple(option for option in option_ids if option in read) or None
    if chosen is None and (_passes_in_words(text) or answers.yes_no(text) == "no"):
        turn.say(turn.t("input.skipped"))
        turn.skip(step)
        return
    if chosen is None and _absorb(turn, text, event.interpretation):
        turn.learnt_aside()
        return
    if chosen is None:
        _unclear(turn, text, count=len(option_ids))
        return
    turn.record_choices(step, chosen)


def _with_nlu_need(read: tuple[str, ...], interpretation: Interpretation | None) -> tuple[str, ...]:
    need = need_of(interpretation)
    return read if need is None or need in read else (*read, need)


def _answer_rud(
    turn: journey.Turn, step: str, text: str, event: UserMessage, *, risky: bool
) -> None:
    """Every answer is accepted; what is unclear is taken as the riskier one."""
    option_ids = turn.option_ids(step)
    chosen = None if risky else resolve_option(
        text, option_ids, turn.option_labels(step), event.numbers_are_positions
    )
    if chosen is None:
        chosen = rud_answer(step, text)
        if chosen is None:
            turn.say(turn.t("crisis.taken_seriously"))
    if chosen is None or risky:
        chosen = riskier(step, chosen)
    turn.state = turn.state.with_answer(step, chosen).with_answered(step)
    turn.regrade()
    turn.advance()


def _answer_item(turn: journey.Turn, step: str, text: str, event: UserMessage) -> None:
    instrument, number = journey.item_of(step)
    option_ids = turn.option_ids(step)
    labels = turn.option_labels(step)
    chosen = resolve_option(text, option_ids, labels, event.numbers_are_positions)
    if chosen is None and turn.first_item() and _declines(text):
        turn.decline_assessment()
        return
    if chosen is None:
        chosen = answers.item_answer(labels, answers.scale_of(instrument, number), text)
    if chosen is None and step == journey.DEATH_ITEM and answers.yes_no(text) is not None:
        # "Je ne sais pas" to the question about thoughts of death is not a reassurance.
        chosen = {"no": "0"}.get(answers.yes_no(text) or "", "1")
    if chosen is None and turn.first_item() and (
        answers.is_skip(text) or answers.yes_no(text) == "no"
    ):
        turn.decline_assessment()
        return
    if chosen is None:
        _item_not_picked(turn, step, text, answers.scale_of(instrument, number))
        return
    turn.record_item(step, chosen)


def _answer_check_in(turn: journey.Turn, step: str, text: str, event: UserMessage) -> None:
    """An option, the words of one ("plusieurs jours"), or "stop" at any question."""
    instrument, number = check_ins.ITEMS[step]
    labels = turn.option_labels(step)
    chosen = resolve_option(text, turn.option_ids(step), labels, event.numbers_are_positions)
    if chosen is None and answers.is_stop(text):
        chosen = check_ins.STOP
    scale = answers.scale_of(instrument, number)
    if chosen is None:
        said = {option: label for option, label in labels.items() if option != check_ins.STOP}
        chosen = answers.item_answer(said, scale, text)
    if chosen is None:
        _item_not_picked(turn, step, text, scale)
        return
    turn.record_check_in(step, chosen)


def _item_not_picked(turn: journey.Turn, step: str, text: str, scale: str) -> None:
    """An answer to a questionnaire item that picks none of its options: passed, unsure
    (the answers are named), or unclear."""
    if answers.is_skip(text):
        turn.skip(step)
    elif answers.yes_no(text) == "unsure":
        turn.not_understood(f"input.item_unsure.{scale}")
    else:
        _unclear(turn, text, count=len(turn.option_ids(step)))


def _declines(text: str) -> bool:
    """"Non merci", "pas maintenant": a refusal, where a bare "non" may be an answer
    ("Jamais")."""
    return answers.is_skip(text) or (
        answers.yes_no(text) == "no" and fold(text) not in ("non", "no", "nan", "nope")
    )


def _answer_text(turn: journey.Turn, step: str, text: str, event: UserMessage) -> None:
    declined = answers.is_skip(text) or text.strip() == "skip"
    if step == "department":
        # "1" is the one option shown ("Je préfère ne pas le dire"); "01" is the Ain.
        label = turn.option_labels(step)["skip"]
        picked_skip = text.strip() in ("1", "skip") or fold(text) == fold(label)
        if declined or picked_skip or answers.yes_no(text) in ("no", "unsure"):
            turn.skip(step)
            return
        code = _department(turn, text, event.interpretation, names_only=False)
        if code is None:
            if _absorb(turn, text, event.interpretation):
                turn.learnt_aside()
                return
            if answers.is_feeling(text):
                _unclear(turn, text, count=1)
                return
            turn.not_understood("input.unknown_department")
            return
        turn.state = turn.state.with_answer("department", code).with_answered("department")
        turn.advance()
        return
    if step == journey.COMMISSION_ANSWER:
        if _puts_off(turn, text, event):
            turn.put_off_answer()
        else:
            turn.answer_commission(text)
        return
    if declined:
        turn.skip(step)
        return
    turn.record_for_commission(step, text)
    turn.advance()


def _puts_off(turn: journey.Turn, text: str, event: UserMessage) -> bool:
    step = journey.COMMISSION_ANSWER
    picked = resolve_option(
        text, turn.option_ids(step), turn.option_labels(step), event.numbers_are_positions
    )
    return picked == "later" or LATER.match(fold(text)) is not None


def _department(
    turn: journey.Turn, text: str, interpretation: Interpretation | None, *, names_only: bool
) -> str | None:
    """A department from the NLU's entity or the words; a bare number only where the
    department was asked ("38" is an age elsewhere, "3 semaines" is not the Aisne)."""
    entity = interpretation.entities.get("department") if interpretation else None
    resources = turn.context.resources
    if entity and entity in resources.departments:
        return entity
    return resources.department_of(text, names_only=names_only)


def _absorb(turn: journey.Turn, text: str, interpretation: Interpretation | None) -> bool:
    """Fill every question still open that the text already answers, so nothing is asked
    twice. True when something was learnt."""
    state = turn.state
    learnt = False
    if state.persona in (None, "self"):
        if not state.answered("needs"):
            needs = _with_nlu_need(answers.needs_of(text), interpretation)
            if needs:
                key = "needs" if state.persona == "self" else "needs_hint"
                ordered = tuple(n for n in QUESTIONS["needs"].option_ids if n in needs)
                state = state.with_choices(key, ordered)
                if key == "needs":
                    state = state.with_answered("needs")
                learnt = True
        practice = answers.practice_of(text)
        if practice and not state.answered("practice"):
            state = state.with_answer("practice", practice).with_answered("practice")
            learnt = True
    elif state.persona in ("relative", "colleague") and not state.answered("signs"):
        signs = answers.signs_of(text)
        if signs:
            state = state.with_choices("signs", signs).with_answered("signs")
            learnt = True
    if not state.answered("department"):
        code = _department(turn, text, interpretation, names_only=True)
        if code is not None:
            state = state.with_answer("department", code).with_answered("department")
            learnt = True
    turn.state = state
    if learnt:
        turn.regrade()
    return learnt


def _opening(turn: journey.Turn, text: str, interpretation: Interpretation | None) -> bool:
    """A first message in words: who is writing, and what it already says."""
    persona = persona_of(text, interpretation)
    if persona is None and answers.practice_of(text) is not None:
        persona = "self"
    if persona is None:
        if _absorb(turn, text, interpretation):
            turn.say(turn.t("opening.heard"))
            if turn.asked_twice():
                turn.move_on("persona")
            else:
                turn.reask()
            return True
        return False
    turn.state = turn.state.with_answer("persona", persona).with_answered("persona")
    turn.set_persona(persona)
    _absorb(turn, text, interpretation)
    turn.say(turn.t(f"opening.{persona}"))
    turn.regrade()
    turn.state = replace(turn.state, step=None)
    turn.advance()
    return True


__all__ = [
    "AppointmentReminder", "BookingCancelledByCouncil", "BookingMoveAsked", "BotMessage",
    "CaseAcknowledged", "CheckInDue", "CommissionReplied", "Event", "ReceiptChecked",
    "ReceiptIssued", "Reply", "SlotUnavailable", "UserMessage", "handle", "resume", "start",
    "unavailable",
]
