"""The journeys: which question comes next, and what the bot says on the way.

The next question is always worked out again from what the state already holds, so a
person who asks for help, an appointment or a human in the middle finds their place again,
and what a first message already said is never asked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime

from flows import check_ins
from flows.deployment import Slot
from flows.directory import Entry
from flows.messages import (
    BotMessage,
    CheckInAlert,
    CheckInAnswered,
    CheckInRequested,
    CheckInStopped,
    Effect,
    EraseRequested,
    MessageForCommission,
    Option,
    ReceiptRequested,
    SlotCancelled,
    SlotRequested,
)
from flows.questionnaires import (
    Item,
    Result,
    is_crisis_answer,
    load_questionnaires,
    next_item,
    planned_items,
    results,
)
from flows.questions import QUESTIONS, SKIPPABLE, Kind
from flows.resources import Context
from flows.state import ConversationState

INSTRUMENTS = ("phq9", "gad7", "auditc", "cbi")
# Items 1-2 of the PHQ-9 and GAD-7 are asked as the PHQ-2 and GAD-2 screens, and item 6 of
# the CBI work scale as its one-item screen.
SCREEN_NAMES = {"phq9": "phq2", "gad7": "gad2", "cbi": "cbi1"}
SCREEN_ITEMS = {"phq9": (1, 2), "gad7": (1, 2), "cbi": (6,)}
# The direct question about thoughts of death: introduced plainly before it is asked.
DEATH_ITEM = "phq9.9"
MAX_SLOTS_SHOWN = 8
# What routing and the commission need, in the order asked; age and sex come last.
SELF_PROFILE = ("needs", "practice", "department")
SELF_LAST = ("age", "sex")
OTHER_PROFILE = ("signs", "urgency", "department")
# Screening results that count as facts for routing and grading: (instrument, minimum score).
SCREENS = {
    "screen:depression": ("phq9", 10),
    "screen:depression_high": ("phq9", 15),
    "screen:anxiety": ("gad7", 10),
    "screen:anxiety_high": ("gad7", 15),
}
# A slot answer that is not a booked slot.
NO_BOOKING = frozenset({"none", "unavailable", "skip", "cancelled"})
CRISIS_ROUTES_NOW = ("samu", "suicide_3114")
# Answers to the crisis questions that count as a danger now: "je ne sais pas" is taken as
# the riskier answer, never as a reassurance.
RISKY = {
    "rud.plan": frozenset({"yes", "unsure"}),
    "rud.when": frozenset({"today", "unsure"}),
    "rud.means": frozenset({"yes", "unsure"}),
}
# How many sentences each rotating acknowledgement has in the locale files.
ACKNOWLEDGEMENTS = 3
# The person's answer to a message of the commission.
COMMISSION_ANSWER = "commission.answer"
# The channels that can write to a person between their own turns: the terminal chat cannot,
# so it never offers a check-in it could not send.
REACHABLE_LATER = frozenset({"matrix", "telegram"})


def is_item(step: str) -> bool:
    instrument, _, number = step.partition(".")
    return number.isdigit() and (instrument in INSTRUMENTS or instrument in SCREEN_NAMES.values())


def item_of(step: str) -> tuple[str, int]:
    """("phq2.1" -> ("phq9", 1)): screen items are items of the full instrument."""
    name, _, number = step.partition(".")
    canonical = {screen: full for full, screen in SCREEN_NAMES.items()}.get(name, name)
    return canonical, int(number)


def item_step(instrument: str, number: int) -> str:
    if number in SCREEN_ITEMS.get(instrument, ()):
        return f"{SCREEN_NAMES[instrument]}.{number}"
    return f"{instrument}.{number}"


def kind_of(step: str) -> Kind:
    """Questionnaire items, in a journey or a check-in, are single choices like the rest."""
    if is_item(step) or check_ins.is_item(step):
        return Kind.CHOICE
    return QUESTIONS[step].kind


def instruments_for(state: ConversationState) -> tuple[str, ...]:
    """A retired physician is not asked about work."""
    if state.answers.get("practice") == "retired":
        return tuple(i for i in INSTRUMENTS if i != "cbi")
    return INSTRUMENTS


def completed_results(state: ConversationState) -> list[Result]:
    sex = state.answers.get("sex")
    done = []
    for instrument in INSTRUMENTS:
        answers = state.scores(instrument)
        if answers and next_item(instrument, answers) is None:
            done.append(results(instrument, answers, sex if sex in ("male", "female") else None))
    return done


def facts(state: ConversationState) -> frozenset[str]:
    """What is known about the case, in the routing table's vocabulary."""
    known: set[str] = set()
    if state.persona:
        known.add(f"persona:{state.persona}")
    for question in ("practice", "age", "sex", "urgency"):
        value = state.answers.get(question)
        if value and value != "skip":
            known.add(f"{question}:{value}")
    for need in state.choices.get("needs", ()):
        known.add(f"need:{need}")
    for sign in state.choices.get("signs", ()):
        known.add(f"sign:{sign}")
    if state.crisis:
        known.add("crisis")
    for result in completed_results(state):
        if result.instrument == "auditc" and result.positive:
            known.add("screen:alcohol")
        if result.instrument == "cbi" and result.positive:
            known.add("screen:burnout")
        for fact, (instrument, minimum) in SCREENS.items():
            if result.instrument == instrument and result.score >= minimum:
                known.add(fact)
    return frozenset(known)


def categories(state: ConversationState) -> tuple[str, ...]:
    return tuple(sorted(facts(state)))


def booked_slot(state: ConversationState) -> str | None:
    slot = state.answers.get("slot")
    return None if slot is None or slot in NO_BOOKING else slot


def booking_reference(slot_id: str) -> str:
    """What the person quotes at the council's reception: the slot itself, which only one
    case can hold, so nothing needs to be stored to recognise it ("ENT-2411-1000")."""
    day, _, hour = slot_id.partition("T")
    return f"ENT-{day[8:10]}{day[5:7]}-{hour.replace(':', '')}"


class Turn:
    """One turn being worked out: the state as it evolves, and what is said and asked."""

    def __init__(self, state: ConversationState, context: Context) -> None:
        self.initial = state
        self.state = state
        self.context = context
        self.messages: list[BotMessage] = []
        self.effects: list[Effect] = []
        self.erased = False

    # -- saying things -------------------------------------------------------------------

    def t(self, key: str, **values: object) -> str:
        # Numbers in sentences always come from the directory, never from the locale files.
        phones = self.context.resources.directory.phones()
        return self.context.resources.texts.get(self.state.locale, key, **phones, **values)

    def has_text(self, key: str) -> bool:
        return self.context.resources.texts.has(self.state.locale, key)

    def say(
        self,
        text: str,
        *,
        contacts: tuple[str, ...] = (),
        crisis: bool = False,
        question: str | None = None,
        options: tuple[Option, ...] = (),
        multi: bool = False,
    ) -> None:
        self.messages.append(
            BotMessage(
                text=text,
                options=options,
                multi=multi,
                question=question,
                contacts=contacts,
                crisis=crisis,
                level=self.state.level,
            )
        )

    def contact_lines(self, routes: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        """Directory ids and their rendering, one line each, in the given order."""
        directory = self.context.resources.directory
        ids = tuple(dict.fromkeys(directory.resolve(route) for route in routes))
        return ids, "\n".join(self.contact_line(directory.entries[i]) for i in ids)

    def contact_line(self, entry: Entry) -> str:
        locale = self.state.locale
        name, purpose = entry.name[locale], entry.purpose[locale]
        if entry.id == "cdom_other":
            name = self.t("routes.council_of", council=self.home_council_name())
        hours = f" ({entry.hours[locale]})" if entry.hours else ""
        if entry.phone:
            line = self.t("contact.with_phone", name=name, phone=entry.phone, hours=hours,
                          purpose=purpose)
        else:
            line = self.t("contact.without_phone", name=name, purpose=purpose)
        if entry.other:
            line += " " + self.t("contact.other", other=entry.other[locale])
        if entry.status == "unconfirmed":
            line += " " + self.t("contact.unconfirmed")
        return line

    def say_contacts(self, intro: str, routes: tuple[str, ...], *, crisis: bool = False) -> None:
        ids, lines = self.contact_lines(routes)
        self.say(f"{intro}\n{lines}", contacts=ids, crisis=crisis)

    # -- questions -----------------------------------------------------------------------

    def questionnaire_item(self, step: str) -> Item:
        instrument, number = check_ins.ITEMS.get(step) or item_of(step)
        return load_questionnaires()[instrument].item(number)

    def option_ids(self, step: str) -> tuple[str, ...]:
        if is_item(step) or check_ins.is_item(step):
            scores = tuple(str(option.score) for option in self.questionnaire_item(step).options)
            return (*scores, check_ins.STOP) if check_ins.is_item(step) else scores
        if step == "slot":
            return (*(slot.id for slot in self.free_slots()), "none")
        if step == "modality":
            return self.context.resources.deployment.modalities
        if step in ("crisis.next", "menu"):
            # What cannot happen here is not offered: writing where no commission is
            # connected, this council's slots to someone from another department.
            absent = set()
            if not self.context.commission_connected:
                absent.add("write")
            if self.from_elsewhere():
                absent.add("appointment")
            return tuple(o for o in QUESTIONS[step].option_ids if o not in absent)
        if step == check_ins.OFFER and not self.may_set_up_practice():
            return tuple(o for o in QUESTIONS[step].option_ids if o != check_ins.SETTING_UP)
        return QUESTIONS[step].option_ids

    def option_labels(self, step: str) -> Mapping[str, str]:
        locale = self.state.locale
        if is_item(step) or check_ins.is_item(step):
            item = self.questionnaire_item(step)
            labels = {str(option.score): option.label[locale] for option in item.options}
            if check_ins.is_item(step):
                labels[check_ins.STOP] = self.t("checkin.stop_option")
            return labels
        if step == "slot":
            labels = {slot.id: self.slot_label(slot) for slot in self.free_slots()}
            return {**labels, "none": self.t("questions.slot.options.none")}
        question = QUESTIONS[step]
        if question.common_options:
            return {option: self.t(f"common.{option}") for option in question.option_ids}
        labels = {}
        for option in self.option_ids(step):
            key = f"questions.{step}.options.{option}"
            variant = f"{key}_{self.whose()}"
            labels[option] = self.t(variant if self.has_text(variant) else key)
        return labels

    def whose(self) -> str:
        """Whose danger or difficulty the sentences speak of: "self" or "other"."""
        if self.state.crisis_active or (self.state.step or "").startswith(("rud.", "crisis.")):
            return "other" if self.state.crisis_about_other else "self"
        return "self" if self.state.persona in (None, "self") else "other"

    def question_text(self, step: str) -> str:
        if check_ins.is_item(step):
            return self.check_in_item_text(step)
        if is_item(step):
            return self.item_text(step)
        key = f"questions.{step}.text"
        if step == check_ins.OFFER and check_ins.IN_PROGRESS in self.state.answers:
            variants = ["again"]
        elif step.startswith(("rud.", "crisis.")):
            variants = ["other"] if self.state.crisis_about_other else []
        elif step == "persona" and self.state.crisis:
            variants = ["after_crisis"]
        elif step == "department" and self.state.answers.get("practice") == "retired":
            variants = ["retired"]
        else:
            variants = [v for v in (self.state.persona,) if v]
        if not self.context.commission_connected:
            variants[:0] = [f"demo_{self.state.persona}", "demo"]
        for variant in variants:
            if self.has_text(f"{key}_{variant}"):
                key = f"{key}_{variant}"
                break
        return self.t(key)

    def assessment_length(self) -> int:
        return sum(planned_items(i, self.state.scores(i)) for i in instruments_for(self.state))

    def item_text(self, step: str) -> str:
        instrument, number = item_of(step)
        questionnaire = load_questionnaires()[instrument]
        locale = self.state.locale
        asked = sum(len(self.state.scores(i)) for i in instruments_for(self.state))
        if step == DEATH_ITEM and (
            self.state.answers.get("assessment") == "no" or "skipped.phq9" in self.state.answers
        ):
            # Asked alone, outside the questionnaires: no count to give.
            alone = f"{questionnaire.stem[locale]}\n{questionnaire.item(number).text[locale]}"
            return f"{self.t('assessment.death_item')}\n\n{alone}"
        text = self.t(
            "assessment.item",
            title=questionnaire.title[locale],
            number=asked + 1,
            total=self.assessment_length(),
            text=questionnaire.item(number).text[locale],
        )
        if not self.state.scores(instrument):
            text = f"{questionnaire.stem[locale]}\n\n{text}"
        asked_again = self.state.step == step and self.state.misses > 0
        if self.first_item() and not asked_again:
            # Said once: asked again after an unclear answer, the item comes alone.
            low = self.assessment_length()
            retired = "cbi" not in instruments_for(self.state)
            intro = self.t(f"assessment.intro{'_retired' if retired else ''}", low=low,
                           high=low + 2)
            text = f"{intro}\n\n{text}"
        if step == DEATH_ITEM:
            text = f"{self.t('assessment.death_item')}\n\n{text}"
        return text

    def ask(self, step: str, *, counted: bool = True) -> None:
        """Ask ``step``. Asked again in a row, it counts (``misses``): the rules below
        never let a question come a third time in a row. Asking again because something
        else happened in the same turn (a receipt code, a resumed conversation, a message
        too long to read) does not count."""
        if step != self.state.step:
            self.state = replace(self.state, step=step, misses=0, paused=None, interrupted=None)
        elif counted:
            self.state = replace(self.state, misses=self.state.misses + 1)
        labels = self.option_labels(step)
        options = tuple(Option(option_id, labels[option_id]) for option_id in self.option_ids(step))
        multi = kind_of(step) is Kind.MULTI
        self.say(self.question_text(step), question=step, options=options, multi=multi)

    def reask(self, *, counted: bool = True) -> None:
        if self.state.step is None:
            self.advance()
        else:
            self.ask(self.state.step, counted=counted)

    def asked_twice(self) -> bool:
        """The current question was already asked twice in a row."""
        return self.state.step is not None and self.state.misses >= 1

    def not_understood(self, key: str, **values: object) -> None:
        """The first unclear answer gets a hint and the question again; the next moves
        on, so nobody reads the same "Je n'ai pas compris" twice in a row, nor the same
        question three times."""
        step = self.state.step
        if step is None:
            # At rest after the menu: the menu again, and the count goes on, so that the
            # two sentences take turns.
            misses = self.state.misses + 1
            self.say(self.t(key, **values))
            self.advance()
            self.state = replace(self.state, misses=misses)
            return
        if not self.asked_twice():
            self.say(self.t(key, **values))
            self.reask()
            return
        self.move_on(step)

    def move_on(self, step: str) -> None:
        """Past a question the person could not answer: skipped where it may be, taken as
        the safe default where it must be answered."""
        if step == "persona":
            # Nobody is left at the door: the journey goes on as the person's own, and can
            # be corrected at any point ("c'est pour mon mari").
            self.say(self.t("input.persona_assumed"))
            self.choose("persona", "self")
            return
        if step == DEATH_ITEM:
            # Not pressed, not dropped in silence: the line that answers at any hour.
            self.say(self.t("assessment.death_not_pressed"), contacts=("suicide_3114",))
            self.skip(step)
            return
        if check_ins.is_item(step):
            # Not pressed: the check-in ends unanswered, and is never sent again.
            self.say(self.t("checkin.not_pressed"))
            self.end_check_in()
            return
        if step == check_ins.MANAGE:
            self.manage_check_in("keep")
            return
        if step in SKIPPABLE or is_item(step):
            self.say(self.t("input.moving_on"))
            self.skip(step)
            return
        if step == "appointment.manage":
            self.manage_appointment("keep")
            return
        if step == COMMISSION_ANSWER:
            self.put_off_answer()
            return
        if step == "erase.confirm":
            self.confirm_erase(False)
            return
        # The menu is where a journey rests: the bot stops asking and waits for words.
        self.say(self.t("input.what_to_do"))
        self.state = replace(self.state, step=None)

    def pause(self) -> None:
        """After asides the question has been asked twice in a row: it is kept for the
        next answer rather than asked a third time."""
        step = self.state.step
        self.say(self.t("input.paused"))
        self.state = replace(self.state, step=None, paused=step, misses=max(self.state.misses, 1))

    def learnt_aside(self) -> None:
        """The answer told something else (a town, a need): noted. A question still open
        and already asked twice is passed, never asked a third time in a row."""
        self.say(self.t("input.noted"))
        step = self.state.step
        still_open = step is not None and step == self.next_stage()
        if still_open and self.asked_twice():
            self.move_on(step or "")
            return
        self.advance()

    def skip(self, step: str) -> None:
        """Leave a question unanswered (recorded as such) and go on."""
        if check_ins.is_item(step):
            # Nothing is recorded of a check-in passed: it ends, not pressed.
            self.move_on(step)
            return
        if step == DEATH_ITEM:
            self.state = self.state.with_answer("skipped.death", "yes")
            self.state = self.state.with_answer("skipped.phq9", "yes")
        elif is_item(step):
            # An item cannot be left out of a validated score: the questionnaire is set
            # aside, and the others go on.
            instrument, _ = item_of(step)
            self.state = self.state.with_answer(f"skipped.{instrument}", "yes")
        elif QUESTIONS[step].kind is Kind.MULTI:
            self.state = self.state.with_choices(step, ())
        elif step == "slot":
            self.state = self.state.with_answer("slot", "none")
        elif step == "modality":
            self.state = self.state.with_answer("modality", self.option_ids("modality")[0])
            self.request_slot()
        else:
            self.state = self.state.with_answer(step, "skip")
        self.state = self.state.with_answered(step)
        self.advance()

    # -- what comes next -----------------------------------------------------------------

    def next_stage(self) -> str:
        state = self.state
        answered = state.answered
        if state.crisis_active:
            return self.crisis_stage()
        if state.persona is None:
            return "persona"
        if state.persona == "self":
            for question in SELF_PROFILE:
                if not answered(question):
                    return question
            if not state.crisis:
                # The questionnaires start at once, with their length said first; "passer"
                # or "non" at the first one sets them all aside.
                if state.answers.get("assessment", "yes") == "yes":
                    for instrument in instruments_for(state):
                        if f"skipped.{instrument}" in state.answers:
                            continue
                        number = next_item(instrument, state.scores(instrument))
                        if number is not None:
                            return item_step(instrument, number)
                # The question about thoughts of death is asked of everyone, also when
                # the questionnaires were set aside.
                if "phq9.9" not in state.answers and "skipped.death" not in state.answers:
                    return DEATH_ITEM
                if "results" not in state.shown and completed_results(state):
                    return "results"
        else:
            if state.persona == "colleague" and "colleague_intro" not in state.shown:
                return "colleague_intro"
            for question in OTHER_PROFILE:
                if question == "urgency" and state.crisis:
                    continue
                if not answered(question):
                    return question
        if "routes" not in state.shown:
            return "routes"
        if not state.crisis:
            stage = self.commission_stage()
            if stage is not None:
                return stage
            if not answered("slot") and self.offers_slots():
                return "slot"
        if booked_slot(state) and not answered("modality"):
            return "modality"
        if state.persona == "self" and not state.crisis:
            for question in SELF_LAST:
                if not answered(question):
                    return question
            if not answered(check_ins.OFFER) and self.offers_check_in():
                return check_ins.OFFER
        if "end" not in state.shown:
            return "end"
        return "menu"

    def commission_stage(self) -> str | None:
        answered = self.state.answered
        if not answered("alert"):
            return "alert"
        if self.state.answers["alert"] == "yes":
            if not answered("message"):
                return "message"
            # Where nothing reaches a commission, nobody could call back: do not ask.
            if not answered("contact") and self.context.commission_connected:
                return "contact"
        return None

    def crisis_stage(self) -> str:
        answers = self.state.answers
        if "rud.plan" not in answers:
            return "rud.plan"
        if answers["rud.plan"] != "no" and "rud.when" not in answers:
            return "rud.when"
        if "rud.means" not in answers:
            return "rud.means"
        if "crisis_close" not in self.state.shown:
            return "crisis_close"
        if "crisis.next" not in answers:
            return "crisis.next"
        return "listen"

    def advance(self) -> None:
        """Say every milestone that is due, then ask the next question."""
        while True:
            stage = self.next_stage()
            if stage == "listen":
                # Crisis mode past its questions: the bot listens, and asks nothing more.
                self.state = replace(self.state, step=None, misses=0)
                return
            if stage == "slot" and not self.free_slots():
                self.say(self.t("slot.none_free"))
                self.state = self.state.with_answer("slot", "unavailable")
                continue
            milestone = getattr(self, f"show_{stage}", None)
            if milestone is None:
                self.ask(stage)
                return
            self.state = self.state.with_shown(stage)
            milestone()

    def go_back(self) -> None:
        """Take back the last answer and ask its question again."""
        history = [q for q in self.state.history if q not in ("message", "contact")]
        if self.in_check_in():
            # Within a check-in, only its own answers are taken back.
            history = [q for q in history if check_ins.is_item(q)]
        if not history:
            self.say(self.t("back.nothing"))
            self.after_aside()
            return
        last = history[-1]
        state = self.state.without(last)
        if last == "persona":
            state = replace(state, persona=None)
        elif is_item(last):
            instrument, number = item_of(last)
            state = state.without(f"{instrument}.{number}")
            if last != DEATH_ITEM:
                # Passed, it had set its questionnaire aside; taken back, it opens it again.
                state = state.without(f"skipped.{instrument}")
            else:
                state = state.without("skipped.death")
                if all(f"phq9.{n}" in state.answers for n in range(1, 9)):
                    # PHQ-9 was set aside by passing this very item, not an earlier one.
                    state = state.without("skipped.phq9")
        if last == "slot" or last == "modality":
            state = state.without("modality").without("slot")
        self.state = state
        self.say(self.t("back.done"))
        if last == "assessment":
            # Not a question but the "no" given at the first item: that item comes again.
            self.advance()
            return
        self.ask(last)

    # -- recording answers ---------------------------------------------------------------

    def regrade(self) -> None:
        """The level of response only goes up within a case (the three levels of the
        Finistère council's mutual-aid study, 2017, §5-2)."""
        if self.state.persona is None and not self.state.crisis:
            return
        level = self.context.resources.routing.level(facts(self.state))
        self.state = replace(self.state, level=max(self.state.level or 0, level))

    def record_choices(self, step: str, chosen: tuple[str, ...]) -> None:
        self.state = self.state.with_choices(step, chosen).with_answered(step)
        self.regrade()
        if step == "signs" and "suicidal_talk" in chosen:
            self.open_crisis(about_other=True)
        self.advance()

    def first_item(self) -> bool:
        """No questionnaire answer yet: a "no" here sets them all aside."""
        answers = self.state.answers
        return "assessment" not in answers and not any(
            self.state.scores(i) for i in INSTRUMENTS
        ) and not any(key.startswith("skipped.") for key in answers)

    def decline_assessment(self) -> None:
        self.state = self.state.with_answer("assessment", "no").with_answered("assessment")
        self.say(self.t("assessment.declined"))
        self.advance()

    def record_item(self, step: str, score: str) -> None:
        instrument, number = item_of(step)
        self.state = self.state.with_answer(f"{instrument}.{number}", score).with_answered(step)
        if is_crisis_answer(instrument, number, int(score)):
            self.open_crisis(about_other=False)
        else:
            self.regrade()
        self.advance()

    def choose(self, step: str, option: str) -> None:
        """Record a single-choice answer and say what follows from it."""
        if step == "menu":
            self.menu(option)
            return
        if step == "erase.confirm":
            self.confirm_erase(option == "yes")
            return
        if step == "slot":
            self.pick_slot(option)
            return
        if step == "appointment.manage":
            self.manage_appointment(option)
            return
        if step == "crisis.next":
            self.crisis_next(option)
            return
        if step == check_ins.OFFER:
            self.answer_check_in_offer(option)
            return
        if step == check_ins.ALERT:
            self.answer_check_in_alert(option == "yes")
            return
        if step == check_ins.MANAGE:
            self.manage_check_in(option)
            return
        self.state = self.state.with_answer(step, option).with_answered(step)
        if step == "persona":
            self.set_persona(option)
        if step == "modality":
            self.request_slot()
        self.regrade()
        if step == "urgency" and option == "immediate":
            self.open_crisis(about_other=True)
        self.advance()

    def set_persona(self, persona: str) -> None:
        """Who is writing; a correction drops what belonged to the other journey."""
        state = replace(self.state, persona=persona)
        if persona == "self":
            for question in OTHER_PROFILE:
                if question != "department":
                    state = state.without(question)
        else:
            for question in ("needs", "practice", "assessment", *SELF_LAST):
                state = state.without(question)
        hint = state.choices.get("needs_hint", ())
        if persona == "self" and hint and not state.answered("needs"):
            state = state.with_choices("needs", hint)
        self.state = state

    def record_for_commission(self, step: str, text: str) -> None:
        if step == COMMISSION_ANSWER:
            # Not a question of the journey: the next message of the commission asks it again.
            self.send_to_commission("answer", text)
            return
        self.send_to_commission(step, text)
        self.state = self.state.with_answer(step, "given").with_answered(step)

    def send_to_commission(self, kind: str, text: str) -> None:
        # The words go out sealed as an effect; the state keeps only that something was said.
        # Where no commission is connected nothing is kept: nobody would ever read it.
        sequence = self.state.commission_messages + 1
        if self.context.commission_connected:
            self.effects.append(MessageForCommission(kind=kind, text=text, sequence=sequence))
        self.state = replace(self.state, commission_messages=sequence)
        self.say(self.t(self.commission_notice(f"commission.received_{kind}")))
        self.request_receipt()

    def request_receipt(self) -> None:
        """Once a case holds something for the commission, the person gets a way back to it
        (where a commission reads the case: otherwise there is nothing to come back to)."""
        if self.context.commission_connected and not self.state.receipt_issued:
            self.effects.append(ReceiptRequested())
            self.state = replace(self.state, receipt_issued=True)

    # -- crisis --------------------------------------------------------------------------

    def open_crisis(self, *, about_other: bool) -> None:
        """Crisis mode: the numbers at once, then each follow-up question once."""
        reopened = self.state.crisis
        shown = self.state.shown - {"crisis_close"}
        answers = {k: v for k, v in self.state.answers.items() if k != "crisis.next"}
        self.state = replace(
            self.state, crisis=True, crisis_active=True, crisis_about_other=about_other,
            shown=shown, answers=answers,
        )
        self.regrade()
        who = "other" if about_other else "self"
        intro = self.t(f"crisis.{who}" if not reopened else f"crisis.again_{who}")
        self.say_contacts(intro, self.crisis_routes(), crisis=True)

    def crisis_again(self) -> None:
        who = self.whose_crisis()
        self.say(self.t(f"crisis.again_{who}"), crisis=True, contacts=CRISIS_ROUTES_NOW)

    def crisis_routes(self) -> tuple[str, ...]:
        return self.context.resources.routing.routes(["crisis"])

    def imminent(self) -> bool:
        answers = self.state.answers
        return any(answers.get(question) in risky for question, risky in RISKY.items())

    def show_crisis_close(self) -> None:
        who = "other" if self.state.crisis_about_other else "self"
        key = f"crisis.close_{'imminent' if self.imminent() else 'watch'}_{who}"
        self.say(self.t(key), crisis=True, contacts=CRISIS_ROUTES_NOW)
        self.say(self.t(self.commission_notice("crisis.commission")))

    def crisis_next(self, option: str) -> None:
        self.state = self.state.with_answer("crisis.next", option).with_answered("crisis.next")
        if option == "safe":
            self.leave_crisis_mode()
        elif option == "write" and self.context.commission_connected:
            self.ask("message")
        else:
            self.say_contacts(self.t("crisis.numbers"), self.crisis_routes(), crisis=True)
            self.advance()

    def leave_crisis_mode(self) -> None:
        self.state = replace(self.state, crisis_active=False)
        self.say(self.t(f"crisis.safe_{self.whose_crisis()}"))
        self.advance()

    def whose_crisis(self) -> str:
        return "other" if self.state.crisis_about_other else "self"

    def listen(self) -> None:
        """In crisis mode, past the questions: every message gets a warm answer with the
        numbers, none the same as the one before, and nothing is asked again."""
        index = self.state.acknowledgements % ACKNOWLEDGEMENTS
        self.state = replace(
            self.state, acknowledgements=self.state.acknowledgements + 1, step=None
        )
        demo = "" if self.context.commission_connected else "_demo"
        self.say(
            self.t(f"crisis.listen_{self.whose_crisis()}.{index}")
            + "\n"
            + self.t(f"crisis.listen_hint{demo}"),
            crisis=True,
            contacts=CRISIS_ROUTES_NOW,
        )

    def commission_notice(self, key: str) -> str:
        return key if self.context.commission_connected else "commission.demo"

    # -- milestones ----------------------------------------------------------------------

    def welcome(self) -> None:
        channel = self.context.channel
        self.say(f"{self.t('welcome.intro')}\n\n{self.t(f'channel.{channel}')}")
        self.say_contacts(self.t("welcome.emergency"), self.crisis_routes())

    def show_colleague_intro(self) -> None:
        self.say(self.t("colleague.intro"))

    def show_results(self) -> None:
        lines = []
        for result in completed_results(self.state):
            score = round(result.score)
            lines.append(self.t(f"results.{result.instrument}.{result.band}", score=score))
        self.say("\n".join([self.t("results.intro"), *lines, self.t("results.disclaimer")]))

    def home_department(self) -> str | None:
        department = self.state.answers.get("department")
        return None if department in (None, "skip") else department

    def from_elsewhere(self) -> bool:
        department = self.home_department()
        deployment = self.context.resources.deployment
        return department is not None and not deployment.serves_department(department)

    def home_council_name(self) -> str:
        department = self.home_department() or ""
        return self.context.resources.council_name(department, self.state.locale)

    def routes(self, extra: frozenset[str] = frozenset()) -> tuple[str, ...]:
        routes = self.context.resources.routing.routes(facts(self.state) | extra)
        if not self.from_elsewhere():
            return routes
        # Their own council receives them, with the national lines; the deploying council's
        # regional association and slots are not theirs.
        own = {route for route in routes if route not in ("regional", "cdom")} | {"cnom_line"}
        order = self.context.resources.routing.order
        return (*(route for route in order if route in own), "cdom_other")

    def show_routes(self, extra: frozenset[str] = frozenset()) -> None:
        """The routes for what is known, and for ``extra`` facts the state does not keep
        (a check-in's answers)."""
        known = facts(self.state) | extra
        routes = self.routes(extra)
        whose = "self" if self.state.persona == "self" else "other"
        self.say_contacts(self.t(f"routes.intro_{whose}"), routes, crisis="crisis" in known)
        for advice in self.context.resources.routing.advice(known):
            self.say(self.t(f"routes.advice.{advice}"))
        if self.from_elsewhere():
            self.say(self.t("routes.other_department", council=self.home_council_name()))

    def show_end(self) -> None:
        self.say(self.t("end.text"))

    # -- appointments --------------------------------------------------------------------

    def offers_slots(self) -> bool:
        """The deploying council's slots, for the people it receives (or who did not say
        where they are)."""
        return not self.from_elsewhere()

    def free_slots(self) -> tuple[Slot, ...]:
        deployment = self.context.resources.deployment
        # Neither the slot the case holds nor one the council took back is offered.
        answers = self.state.answers
        taken = self.context.taken_slots | {
            answers.get("slot", ""), answers.get("slot.withdrawn", "")
        }
        upcoming = deployment.upcoming_slots(self.context.now, self.context.calendar)
        slots = [s for s in upcoming if s.id not in taken]
        return tuple(slots[:MAX_SLOTS_SHOWN])

    def slot_label(self, slot: Slot) -> str:
        start = slot.start
        return self.t(
            "slot.label", **self.day_words(start.date()), hour=start.hour,
            minute=f"{start.minute:02d}",
        )

    def day_words(self, day: date) -> dict[str, object]:
        """The weekday, day and month of ``day`` as sentences say them ("mardi", "1er",
        "décembre")."""
        return {
            "weekday": self.t(f"calendar.weekdays.{day.weekday()}"),
            "day": self.t("calendar.first_of_month") if day.day == 1 else day.day,
            "month": self.t(f"calendar.months.{day.month}"),
        }

    def label_of(self, slot_id: str) -> str:
        deployment = self.context.resources.deployment
        tz = deployment.timezone
        for slot in deployment.upcoming_slots(self.context.now, self.context.calendar):
            if slot.id == slot_id:
                return self.slot_label(slot)
        return self.slot_label(Slot(slot_id, datetime.fromisoformat(slot_id).replace(tzinfo=tz)))

    def pick_slot(self, option: str) -> None:
        previous = booked_slot(self.state)
        state = self.state.without("modality")
        if option == "none":
            self.state = state.with_answer("slot", previous or "none").with_answered("slot")
            self.say(self.t("slot.declined" if previous is None else "slot.kept"))
            self.advance()
            return
        self.state = state.with_answer("slot", option).with_answered("slot")
        if previous is not None:
            self.state = self.state.with_answer("slot.previous", previous)
        modalities = self.context.resources.deployment.modalities
        if len(modalities) == 1:
            self.state = self.state.with_answer("modality", modalities[0])
            self.request_slot()
            self.advance()
        else:
            self.ask("modality")

    def request_slot(self) -> None:
        slot = booked_slot(self.state)
        if slot is None:
            return
        modality = self.state.answers.get("modality", "council")
        self.effects.append(SlotRequested(slot, modality))
        self.request_receipt()
        self.say_booking("slot.booked" if self.context.commission_connected else "slot.booked_demo")

    def say_booking(self, key: str) -> None:
        slot = booked_slot(self.state)
        if slot is None:
            return
        council = self.context.resources.deployment.council
        modality = self.state.answers.get("modality", "council")
        address = council.get("address") or self.t("slot.no_address")
        how = self.t(f"slot.how.{modality}", address=address)
        phone = council.get("phone") or self.t("slot.no_phone")
        self.say(self.t(
            key, slot=self.label_of(slot), how=how, reference=booking_reference(slot),
            address=address, council_phone=phone,
        ))

    def manage_appointment(self, option: str) -> None:
        slot = booked_slot(self.state)
        self.state = replace(self.state, step=None)
        if slot is None or option == "keep":
            self.say(self.t("appointment.kept"))
            self.advance()
        elif option == "cancel":
            self.effects.append(SlotCancelled(slot))
            self.state = self.state.with_answer("slot", "cancelled").without("modality")
            self.say(self.t("appointment.cancelled"))
            self.advance()
        else:
            self.ask_slot()

    def receipt_issued(self, code: str) -> None:
        self.say(self.t("receipt.issued", code=code))
        self.reask(counted=False)

    def receipt_checked(
        self, found: bool, throttled: bool, busy: bool, replies: tuple[str, ...]
    ) -> None:
        if busy:
            self.say(self.t("receipt.busy"))
        elif throttled:
            self.say(self.t("receipt.throttled"))
        elif not found:
            self.say(self.t("receipt.unknown"))
        else:
            self.say(self.t("receipt.found"))
            if replies:
                for reply in replies:
                    self.say(self.t("receipt.reply", text=reply))
            else:
                self.say(self.t("receipt.no_reply"))
        self.reask(counted=False)

    def slot_unavailable(self, slot_id: str) -> None:
        state = self.state
        if state.answers.get("slot") == slot_id:
            state = state.without("slot").without("modality")
            previous = state.answers.get("slot.previous")
            if previous:
                state = state.with_answer("slot", previous)
        self.state = state
        self.say(self.t("slot.taken"))
        self.ask("slot")

    # -- what the commission does, between two messages of the person ----------------------

    def commission_replied(self, text: str, correction: bool) -> None:
        """The commission's words, then the person may answer them; the question they were
        at comes back afterwards. In crisis mode the crisis question stays the one waiting."""
        self.say(self.t("commission.correction" if correction else "commission.reply", text=text))
        if not self.context.commission_connected or self.state.step == COMMISSION_ANSWER:
            # Nothing could go back; or the invitation to answer is already open.
            return
        if self.state.crisis_active:
            if self.state.step != "message":
                self.say(self.t("commission.answer_when_ready"))
            return
        step, paused = self.state.step, self.state.paused
        if step is not None and self.asked_twice():
            # Asked twice in a row already: kept for the next answer, never asked a third time.
            step, paused = None, step
        self.ask(COMMISSION_ANSWER)
        self.state = replace(self.state, interrupted=step, paused=paused)

    def answer_commission(self, text: str) -> None:
        self.record_for_commission(COMMISSION_ANSWER, text)
        self.after_commission()

    def put_off_answer(self) -> None:
        self.say(self.t("commission.later"))
        self.after_commission()

    def after_commission(self) -> None:
        """Back to the question the commission's message came in front of, found again as
        after any aside: asked once more, or kept if it was already asked twice."""
        interrupted, paused = self.state.interrupted, self.state.paused
        self.state = replace(self.state, step=None, misses=0, interrupted=None, paused=None)
        if interrupted is not None:
            self.state = replace(self.state, step=interrupted)
            self.after_aside()
        elif paused is not None:
            self.state = replace(self.state, step=paused, misses=1)
            self.after_aside()

    def case_acknowledged(self) -> None:
        # Mid-questionnaire, the question just asked stays open: it is not asked again.
        self.say(self.t("commission.acknowledged"))

    def booking_withdrawn(self, slot_id: str, *, moved: bool) -> None:
        """The council cancelled the interview, or must move it, and the driver freed the
        slot: the booking is forgotten, and the person may pick another time (never that
        one). A booking the case no longer holds is past news: nothing is said."""
        if booked_slot(self.state) != slot_id:
            return
        self.state = (
            self.state.with_answer("slot", "cancelled")
            .with_answer("slot.withdrawn", slot_id)
            .without("modality")
            .without("slot.previous")
        )
        phone = self.context.resources.deployment.council.get("phone") or self.t("slot.no_phone")
        key = "appointment.moved_by_council" if moved else "appointment.cancelled_by_council"
        self.say(self.t(key, slot=self.label_of(slot_id), council_phone=phone))
        if self.state.crisis_active:
            # No slots in crisis mode unless asked; the crisis question stays the one waiting.
            self.say(self.t("appointment.another_later"))
            return
        self.ask_slot()

    def appointment_reminder(self, slot_id: str) -> None:
        """The day before the interview; the question open stays open."""
        if booked_slot(self.state) == slot_id:
            self.say_booking("appointment.reminder")

    # -- commands ------------------------------------------------------------------------

    def command(self, name: str) -> None:
        if self.state.crisis_active and name in ("appointment", "my_appointment"):
            # Asking for something else ends crisis mode; the numbers stay in sight.
            self.state = replace(self.state, crisis_active=False)
        if name == "appointment":
            self.ask_slot()
        elif name == "my_appointment":
            self.my_appointment()
        elif name == "check_in":
            self.my_check_in()
        elif name == "write":
            if self.context.commission_connected:
                self.ask_again_or("message")
            else:
                self.say(self.t("commission.demo"))
                self.after_aside()
        elif name == "erase":
            self.ask_again_or("erase.confirm")
        elif name == "back":
            self.go_back()
        elif name == "safe":
            if self.state.crisis_active:
                self.state = self.state.with_answer("crisis.next", "safe")
                self.leave_crisis_mode()
            else:
                self.say(self.t("crisis.safe_anyway"))
                self.after_aside()
        elif name in ("emergency", "numbers"):
            self.say_contacts(self.t(f"{name}.text"), self.crisis_routes(), crisis=True)
            self.after_aside()
        elif name.startswith("persona:"):
            self.correct_persona(name.removeprefix("persona:"))
        elif name in ("locale_en", "locale_fr"):
            self.state = replace(self.state, locale=name.removeprefix("locale_"))
            self.say(self.t("locale.switched"))
            self.after_aside()
        elif name == "human":
            self.talk_to_someone()
            self.after_aside()
        elif name.startswith("confidentiality"):
            self.answer_confidentiality(name.partition(":")[2] or "general")
            self.after_aside()
        else:
            self.say(self.t("help.text"))
            self.after_aside()

    def after_aside(self) -> None:
        """After answering an aside, the person finds their question again (kept for
        their next answer if it was already asked twice); in crisis mode past its
        questions, the bot goes on listening."""
        step = self.state.step
        if step is None and (self.state.crisis_active or self.state.paused):
            return
        # In crisis mode no question is asked twice: it waits for the next answer.
        if self.asked_twice() or (self.state.crisis_active and step is not None):
            self.pause()
            return
        self.reask()

    def correct_persona(self, persona: str) -> None:
        if self.state.persona == persona:
            self.say(self.t("persona.unchanged"))
            self.after_aside()
            return
        self.say(self.t(f"opening.{persona}"))
        self.state = self.state.with_answer("persona", persona)
        if "persona" not in self.state.history:
            self.state = self.state.with_answered("persona")
        self.set_persona(persona)
        self.regrade()
        if self.state.crisis_active:
            self.after_aside()
        else:
            self.state = replace(self.state, step=None)
            self.advance()

    def talk_to_someone(self) -> None:
        """Office hours: the council and the Ordre's line; otherwise the lines that answer
        day and night come first."""
        deployment = self.context.resources.deployment
        if deployment.is_office_time(self.context.now) and not self.from_elsewhere():
            self.say_contacts(self.t("human.office"), ("cdom", "cnom_line", "sps"))
        else:
            routes = ("cnom_line", "sps", "suicide_3114")
            self.say_contacts(self.t("human.night"), routes)

    def answer_confidentiality(self, topic: str) -> None:
        """A true answer for this channel and this deployment."""
        channel = self.context.channel
        connected = "connected" if self.context.commission_connected else "demo"
        topic = topic if self.has_text(f"privacy.{topic}_{connected}") else "general"
        lines = [self.t(f"privacy.{topic}_{connected}"), self.t(f"privacy.channel.{channel}")]
        if self.state.persona in ("relative", "colleague") and topic in ("identity", "general"):
            lines.append(self.t("privacy.reporter"))
        lines.append(self.t("privacy.erase"))
        self.say("\n".join(lines))

    def ask_again_or(self, step: str) -> None:
        """Ask ``step``, unless it is the question already open: then it is found again
        like after any aside (never a third time in a row)."""
        if step == self.state.step:
            self.after_aside()
        else:
            self.ask(step)

    def ask_slot(self) -> None:
        if self.from_elsewhere():
            self.say(self.t("slot.elsewhere", council=self.home_council_name()))
            self.after_aside()
        elif self.free_slots():
            self.ask_again_or("slot")
        else:
            self.say(self.t("slot.none_free"))
            if not self.state.answered("slot"):
                self.state = self.state.with_answer("slot", "unavailable")
            self.after_aside()

    def my_appointment(self) -> None:
        slot = booked_slot(self.state)
        if slot is None:
            self.say(self.t("appointment.none"))
            self.ask_slot()
            return
        self.say_booking("appointment.current")
        self.ask_again_or("appointment.manage")

    def menu(self, option: str) -> None:
        self.state = replace(self.state, step=None)
        if option == "contacts":
            self.show_routes()
            self.advance()
        elif option == "appointment":
            self.ask_slot()
        elif option == "write":
            self.command("write")
        else:
            self.ask("erase.confirm")

    def confirm_erase(self, confirmed: bool) -> None:
        if not confirmed:
            self.say(self.t("erase.cancelled"))
            stage = self.next_stage()
            if self.state.crisis_active and stage.startswith(("rud.", "crisis.")):
                # The crisis question already asked waits for the next answer.
                self.say(self.t("input.paused"))
                self.state = replace(self.state, step=None, misses=1, paused=stage)
                return
            self.state = replace(self.state, step=None)
            self.advance()
            return
        self.effects.append(EraseRequested())
        self.erased = True
        self.state = ConversationState(locale=self.state.locale)
        self.say(self.t("erase.done"))
        self.advance()

    # -- check-ins -----------------------------------------------------------------------

    def offers_check_in(self) -> bool:
        """A check-in asks about the person's own mood and work: it is offered to a physician
        writing for themself (or who has not said yet), where the channel can write again."""
        return self.context.channel in REACHABLE_LATER and self.state.persona in (None, "self")

    def may_set_up_practice(self) -> bool:
        """The 18-month check-in follows setting up practice: never for a retired physician."""
        return self.state.persona == "self" and self.state.answers.get("practice") != "retired"

    def check_in_items(self) -> tuple[str, ...]:
        """A retired physician is not asked about work, here as in the journey."""
        if "cbi" in instruments_for(self.state):
            return tuple(check_ins.ITEMS)
        return check_ins.PHQ2_ITEMS

    def local_today(self) -> date:
        return self.context.now.astimezone(self.context.resources.deployment.timezone).date()

    def pending_check_in(self) -> date | None:
        """The day of the check-in to come; once that day is past, it is sent or expired."""
        due = self.state.answers.get(check_ins.DUE)
        day = None if due is None else date.fromisoformat(due)
        return day if day is not None and day >= self.local_today() else None

    def check_in_day(self, day: date) -> str:
        return self.t("checkin.day", **self.day_words(day), year=day.year)

    def answer_check_in_offer(self, option: str) -> None:
        """Nothing is scheduled but a date the person picked. The answer is not taken back
        by "retour": "suivi" shows or cancels the check-in at any time."""
        during = check_ins.IN_PROGRESS in self.state.answers
        self.state = self.state.with_answer(check_ins.OFFER, option)
        if option == "no":
            self.say(self.t("checkin.declined"))
        else:
            due = check_ins.due_day(self.local_today(), option)
            self.effects.append(CheckInRequested(due))
            self.state = self.state.with_answer(check_ins.DUE, due.isoformat())
            self.say(self.t("checkin.scheduled", day=self.check_in_day(due)))
        if during:
            self.end_check_in()
        else:
            self.state = replace(self.state, step=None)
            self.advance()

    def check_in_due(self, check_in: str) -> None:
        """The day the person asked for: one message, the first question and the way to
        stop. A check-in sent again (its delivery failed) starts again from its first
        question."""
        state = self.state
        for key in (*check_ins.ITEMS, check_ins.DUE):
            state = state.without(key)
        self.state = state.with_answer(check_ins.IN_PROGRESS, check_in)
        self.ask(self.check_in_items()[0])

    def check_in_item_text(self, step: str) -> str:
        items = self.check_in_items()
        locale = self.state.locale
        text = self.t(
            "checkin.item", number=items.index(step) + 1, total=len(items),
            text=self.questionnaire_item(step).text[locale],
        )
        if step != items[0]:
            return text
        instrument, _ = check_ins.ITEMS[step]
        text = f"{load_questionnaires()[instrument].stem[locale]}\n{text}"
        # Asked again after an unclear answer, the question comes without the greeting.
        return text if self.state.misses else f"{self.t('checkin.intro')}\n\n{text}"

    def record_check_in(self, step: str, option: str) -> None:
        if option == check_ins.STOP:
            self.cancel_check_in()
            self.end_check_in()
            return
        self.state = self.state.with_answer(step, option).with_answered(step)
        left = [item for item in self.check_in_items() if item not in self.state.answers]
        if left:
            self.ask(left[0])
        else:
            self.finish_check_in()

    def finish_check_in(self) -> None:
        """Compared with the last measure (flows/check_ins.py says when it is worse): worse,
        the routes again and whether the commission may be told; otherwise a kind word and
        the offer of another one."""
        now, before = check_ins.measured(self.state), check_ins.last_measure(self.state)
        self.effects.append(CheckInAnswered(self.state.answers[check_ins.IN_PROGRESS]))
        self.state = check_ins.remember(self.state, now)
        if not check_ins.is_worse(now, before):
            self.say(self.t("checkin.better"))
            self.ask(check_ins.OFFER)
            return
        self.say(self.t("checkin.worse"))
        self.show_routes(frozenset({check_ins.WORSE}))
        if self.context.commission_connected:
            self.ask(check_ins.ALERT)
            return
        self.say(self.t("commission.demo"))
        self.end_check_in()

    def answer_check_in_alert(self, yes: bool) -> None:
        """Nothing reaches the commission without a clear yes. A yes grades the case by the
        routing table, as the journey does, and the case waits for an acknowledgement."""
        if yes:
            level = self.context.resources.routing.level(facts(self.state) | {check_ins.WORSE})
            scores = check_ins.last_measure(self.state).scores()
            check_in = self.state.answers[check_ins.IN_PROGRESS]
            self.effects.append(CheckInAlert(check_in, level, scores))
            self.state = replace(self.state, level=max(self.state.level or 0, level))
            self.say(self.t("checkin.alerted"))
            self.request_receipt()
        else:
            self.say(self.t("checkin.not_alerted"))
        self.end_check_in()

    def cancel_check_in(self) -> None:
        self.effects.append(CheckInStopped())
        self.state = self.state.without(check_ins.DUE)
        self.say(self.t("checkin.stopped"))

    def end_check_in(self) -> None:
        """The check-in is over and the bot rests: the person's next words bring back any
        question of theirs still open."""
        state = self.state
        for key in (*check_ins.ITEMS, check_ins.IN_PROGRESS):
            state = state.without(key)
        self.state = replace(state, step=None, misses=0, paused=None)

    def in_check_in(self) -> bool:
        """The question open is one of a check-in's own (one left for something else,
        a crisis, an appointment, is over)."""
        step = self.state.step or ""
        return check_ins.is_item(step) or step == check_ins.ALERT

    def my_check_in(self) -> None:
        """"suivi": the check-in to come, to keep or cancel, or the offer of one."""
        if self.in_check_in():
            self.say(self.t("checkin.in_progress"))
            self.after_aside()
            return
        due = self.pending_check_in()
        if due is not None:
            self.say(self.t("checkin.current", day=self.check_in_day(due)))
            self.ask_again_or(check_ins.MANAGE)
        elif self.offers_check_in():
            self.say(self.t("checkin.none"))
            self.ask_again_or(check_ins.OFFER)
        else:
            self.say(self.t("checkin.unavailable"))
            self.after_aside()

    def manage_check_in(self, option: str) -> None:
        self.state = replace(self.state, step=None)
        if option == check_ins.STOP:
            self.cancel_check_in()
        else:
            self.say(self.t("checkin.kept"))
        self.advance()
