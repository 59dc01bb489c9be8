"""The conversation engine: a pure function from (state, event) to (messages, state, effects).

It knows no channel, no clock and no storage: the driver hands it the current time and what
it must know (taken slots, which channel), then carries out the effects it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows import journey
from flows.commands import answer_word, command_of, need_of, persona_of
from flows.crisis import CrisisSignal, detect_crisis
from flows.messages import BotMessage, CaseUpdated, Effect, ReceiptPresented
from flows.questionnaires import is_crisis_answer
from flows.questions import QUESTIONS, Kind, resolve_option, resolve_options
from flows.resources import Context
from flows.state import ConversationState
from flows.textnorm import clean
from flows.texts import DEFAULT_LOCALE
from flows.understanding import Interpretation

# Long enough for a real story, short enough that a paste of a whole file is turned back.
MAX_MESSAGE_CHARS = 4000


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
    replies: tuple[str, ...] = ()


Event = UserMessage | SlotUnavailable | ReceiptIssued | ReceiptChecked

# Four groups of four letters and digits, as the store prints receipt codes; at least one
# digit, so that no ordinary word is taken for one.
RECEIPT_CODE = re.compile(r"^[0-9a-z]{4}(?:[\s-]*[0-9a-z]{4}){3}$", re.IGNORECASE)


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
    turn.reask()
    return _reply(turn)


def handle(state: ConversationState, event: Event, context: Context) -> Reply:
    turn = journey.Turn(state, context)
    if isinstance(event, SlotUnavailable):
        turn.slot_unavailable(event.slot_id)
    elif isinstance(event, ReceiptIssued):
        turn.receipt_issued(event.code)
    elif isinstance(event, ReceiptChecked):
        turn.receipt_checked(event.found, event.throttled, event.replies)
    else:
        _user_message(turn, event)
    return _reply(turn)


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
    if not text:
        turn.invalid("input.empty")
        return
    if len(text) > MAX_MESSAGE_CHARS:
        turn.invalid("input.too_long", limit=MAX_MESSAGE_CHARS)
        return
    step = turn.state.step
    takes_free_text = step in ("message", "contact")
    if not takes_free_text and _is_receipt_code(text):
        turn.effects.append(ReceiptPresented(text))
        turn.say(turn.t("receipt.checking"))
        return
    command = None if takes_free_text else command_of(text, event.interpretation)
    if command is not None:
        turn.command(command)
        return
    _answer(turn, text, event)


def _is_receipt_code(text: str) -> bool:
    return bool(RECEIPT_CODE.match(text)) and any(char.isdigit() for char in text)


def _picks_options(turn: journey.Turn, text: str, event: UserMessage) -> bool:
    step = turn.state.step
    if not text or step is None:
        return False
    if not journey.is_item(step) and QUESTIONS[step].kind is Kind.TEXT:
        return False
    ids, labels = turn.option_ids(step), turn.option_labels(step)
    positions = event.numbers_are_positions
    if not journey.is_item(step) and QUESTIONS[step].kind is Kind.MULTI:
        return resolve_options(text, ids, labels, positions) is not None
    return resolve_option(text, ids, labels, positions) is not None


def _crisis(turn: journey.Turn, signal: CrisisSignal, text: str, event: UserMessage) -> None:
    step = turn.state.step
    recorded = step in ("message", "contact") and len(text) <= MAX_MESSAGE_CHARS
    if recorded:
        # What was written for the commission still goes to it, crisis or not.
        turn.record_for_commission(step or "", text)
    if not turn.state.crisis:
        turn.open_crisis(about_other=signal.about_other)
        turn.advance()
        return
    if step is not None and step.startswith("rud.") and _answer_choice(turn, step, text, event):
        return
    turn.crisis_reminder()
    if recorded:
        turn.advance()
    else:
        turn.reask()


def _answer(turn: journey.Turn, text: str, event: UserMessage) -> None:
    step = turn.state.step
    if step is None:
        turn.advance()
        return
    if journey.is_item(step):
        _answer_item(turn, step, text, event)
        return
    question = QUESTIONS[step]
    if question.kind is Kind.TEXT:
        _answer_text(turn, step, text)
    elif question.kind is Kind.MULTI:
        labels = turn.option_labels(step)
        chosen = resolve_options(text, turn.option_ids(step), labels, event.numbers_are_positions)
        if chosen is None:
            turn.invalid("input.unknown_options", count=len(turn.option_ids(step)))
            return
        turn.record_choices(step, chosen)
        turn.advance()
    elif not _answer_choice(turn, step, text, event):
        if step == "persona" and _persona_from_text(turn, text, event.interpretation):
            return
        turn.invalid("input.unknown_option", count=len(turn.option_ids(step)))


def _answer_choice(turn: journey.Turn, step: str, text: str, event: UserMessage) -> bool:
    option_ids = turn.option_ids(step)
    chosen = resolve_option(text, option_ids, turn.option_labels(step), event.numbers_are_positions)
    if chosen is None:
        word = answer_word(text)
        aliases = {"skip": ("skip", "none", "no"), "no": ("no", "none"), "yes": ("yes",)}
        chosen = next((o for o in aliases.get(word or "", ()) if o in option_ids), None)
    if chosen is None:
        return False
    turn.choose(step, chosen)
    return True


def _answer_item(turn: journey.Turn, step: str, text: str, event: UserMessage) -> None:
    instrument, number = journey.item_of(step)
    option_ids = turn.option_ids(step)
    chosen = resolve_option(text, option_ids, turn.option_labels(step), event.numbers_are_positions)
    if chosen is None:
        turn.invalid("input.unknown_option", count=len(option_ids))
        return
    turn.state = turn.state.with_answer(f"{instrument}.{number}", chosen)
    if is_crisis_answer(instrument, number, int(chosen)):
        turn.open_crisis(about_other=False)
    else:
        turn.regrade()
    turn.advance()


def _answer_text(turn: journey.Turn, step: str, text: str) -> None:
    if answer_word(text) == "skip" or text.strip() == "skip":
        turn.state = turn.state.with_answer(step, "skip")
        turn.advance()
        return
    if step == "department":
        code = turn.context.resources.department_of(text)
        if code is None:
            turn.invalid("input.unknown_department")
            return
        turn.state = turn.state.with_answer("department", code)
        turn.advance()
        return
    turn.record_for_commission(step, text)
    turn.advance()


def _persona_from_text(
    turn: journey.Turn, text: str, interpretation: Interpretation | None
) -> bool:
    persona = persona_of(text, interpretation)
    if persona is None:
        return False
    need = need_of(interpretation)
    if need is not None:
        turn.state = turn.state.with_choices("needs_hint", (need,))
    turn.say(turn.t(f"opening.{persona}"))
    turn.choose("persona", persona)
    return True


__all__ = [
    "BotMessage", "Event", "ReceiptChecked", "ReceiptIssued", "Reply", "SlotUnavailable",
    "UserMessage", "handle", "resume", "start",
]
