"""The journeys: which question comes next, and what the bot says on the way.

The next question is always worked out again from what the state already holds, so a
person who asks for help, an appointment or a human in the middle finds their place again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from flows.deployment import Slot
from flows.directory import Entry
from flows.messages import (
    BotMessage,
    Effect,
    EraseRequested,
    MessageForCommission,
    Option,
    ReceiptRequested,
    SlotRequested,
)
from flows.questionnaires import Result, load_questionnaires, next_item, results
from flows.questions import QUESTIONS, Kind
from flows.resources import Context
from flows.state import ConversationState

INSTRUMENTS = ("phq9", "gad7", "auditc", "cbi")
# Items 1-2 of the PHQ-9 and GAD-7 are asked as the PHQ-2 and GAD-2 screens.
SCREEN_NAMES = {"phq9": "phq2", "gad7": "gad2"}
SCREEN_ITEMS = 2
MAX_SLOTS_SHOWN = 8
SELF_PROFILE = ("practice", "age", "sex", "department", "needs")
OTHER_PROFILE = ("signs", "urgency", "department")
# Screening results that count as facts for routing and grading: (instrument, minimum score).
SCREENS = {
    "screen:depression": ("phq9", 10),
    "screen:depression_high": ("phq9", 15),
    "screen:anxiety": ("gad7", 10),
    "screen:anxiety_high": ("gad7", 15),
}


def is_item(step: str) -> bool:
    instrument, _, number = step.partition(".")
    return number.isdigit() and (instrument in INSTRUMENTS or instrument in SCREEN_NAMES.values())


def item_of(step: str) -> tuple[str, int]:
    """("phq2.1" -> ("phq9", 1)): screen items are the first items of the full instrument."""
    name, _, number = step.partition(".")
    canonical = {screen: full for full, screen in SCREEN_NAMES.items()}.get(name, name)
    return canonical, int(number)


def item_step(instrument: str, number: int) -> str:
    if instrument in SCREEN_NAMES and number <= SCREEN_ITEMS:
        return f"{SCREEN_NAMES[instrument]}.{number}"
    return f"{instrument}.{number}"


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
    for need in state.choices.get("needs", ()) + state.choices.get("needs_hint", ()):
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

    def option_ids(self, step: str) -> tuple[str, ...]:
        if is_item(step):
            instrument, number = item_of(step)
            item = load_questionnaires()[instrument].item(number)
            return tuple(str(option.score) for option in item.options)
        if step == "slot":
            return (*(slot.id for slot in self.free_slots()), "none")
        return QUESTIONS[step].option_ids

    def option_labels(self, step: str) -> Mapping[str, str]:
        locale = self.state.locale
        if is_item(step):
            instrument, number = item_of(step)
            item = load_questionnaires()[instrument].item(number)
            return {str(option.score): option.label[locale] for option in item.options}
        if step == "slot":
            labels = {slot.id: self.slot_label(slot) for slot in self.free_slots()}
            return {**labels, "none": self.t("questions.slot.options.none")}
        question = QUESTIONS[step]
        prefix = "common" if question.common_options else f"questions.{step}.options"
        return {option: self.t(f"{prefix}.{option}") for option in question.option_ids}

    def question_text(self, step: str) -> str:
        if is_item(step):
            return self.item_text(step)
        texts = self.context.resources.texts
        key = f"questions.{step}.text"
        variant = self._variant()
        if variant and texts.has(self.state.locale, f"{key}_{variant}"):
            key = f"{key}_{variant}"
        return self.t(key)

    def _variant(self) -> str | None:
        if self.state.step and self.state.step.startswith("rud."):
            return "other" if self.state.crisis_about_other else None
        return self.state.persona

    def item_text(self, step: str) -> str:
        instrument, number = item_of(step)
        questionnaire = load_questionnaires()[instrument]
        locale = self.state.locale
        text = self.t(
            "assessment.item",
            title=questionnaire.title[locale],
            number=number,
            total=len(questionnaire.items),
            text=questionnaire.item(number).text[locale],
        )
        if number == 1:
            text = f"{questionnaire.stem[locale]}\n\n{text}"
        return text

    def ask(self, step: str) -> None:
        self.state = replace(self.state, step=step)
        labels = self.option_labels(step)
        options = tuple(Option(option_id, labels[option_id]) for option_id in self.option_ids(step))
        multi = not is_item(step) and QUESTIONS[step].kind is Kind.MULTI
        self.say(self.question_text(step), question=step, options=options, multi=multi)

    def reask(self) -> None:
        if self.state.step is None:
            self.advance()
        else:
            self.ask(self.state.step)

    def invalid(self, key: str, **values: object) -> None:
        """A clear sentence and the same question again; the state does not change."""
        self.say(self.t(key, **values))
        self.reask()

    # -- what comes next -----------------------------------------------------------------

    def next_stage(self) -> str:
        state = self.state
        answered = state.answered
        if state.crisis:
            if not answered("rud.plan"):
                return "rud.plan"
            if state.answers["rud.plan"] != "no" and not answered("rud.when"):
                return "rud.when"
            if not answered("rud.means"):
                return "rud.means"
            if "crisis_close" not in state.shown:
                return "crisis_close"
            if not answered("contact") and self.context.commission_connected:
                return "contact"
        if state.persona is None:
            return "persona"
        if state.persona == "self":
            for question in SELF_PROFILE:
                if not answered(question):
                    return question
            if not state.crisis and not answered("assessment"):
                return "assessment"
            if state.answers.get("assessment") == "yes" and not state.crisis:
                for instrument in INSTRUMENTS:
                    number = next_item(instrument, state.scores(instrument))
                    if number is not None:
                        return item_step(instrument, number)
            if "results" not in state.shown and completed_results(state):
                return "results"
        else:
            if state.persona == "colleague" and "colleague_intro" not in state.shown:
                return "colleague_intro"
            for question in OTHER_PROFILE:
                if not answered(question):
                    return question
        if "routes" not in state.shown:
            return "routes"
        if not answered("alert"):
            return "alert"
        if state.answers["alert"] == "yes":
            if not answered("message"):
                return "message"
            # Where nothing reaches a commission, nobody could call back: do not ask.
            if not answered("contact") and self.context.commission_connected:
                return "contact"
        if not answered("slot"):
            return "slot"
        if "end" not in state.shown:
            return "end"
        return "menu"

    def advance(self) -> None:
        """Say every milestone that is due, then ask the next question."""
        while True:
            stage = self.next_stage()
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

    # -- recording answers ---------------------------------------------------------------

    def regrade(self) -> None:
        """The level of response only goes up within a case (seed 001 §5-2)."""
        if self.state.persona is None and not self.state.crisis:
            return
        level = self.context.resources.routing.level(facts(self.state))
        self.state = replace(self.state, level=max(self.state.level or 0, level))

    def record_choices(self, step: str, chosen: tuple[str, ...]) -> None:
        self.state = self.state.with_choices(step, chosen)
        self.regrade()
        if step == "signs" and "suicidal_talk" in chosen:
            self.open_crisis(about_other=True)

    def choose(self, step: str, option: str) -> None:
        """Record a single-choice answer and say what follows from it."""
        if step == "menu":
            self.menu(option)
            return
        if step == "erase.confirm":
            self.confirm_erase(option == "yes")
            return
        if step == "slot":
            self.book(option)
            return
        self.state = self.state.with_answer(step, option)
        if step == "persona":
            self.state = replace(self.state, persona=option)
        self.regrade()
        if step == "urgency" and option == "immediate":
            self.open_crisis(about_other=True)
        self.advance()

    def record_for_commission(self, step: str, text: str) -> None:
        # The words go out sealed as an effect; the state keeps only that something was said.
        sequence = self.state.commission_messages + 1
        self.effects.append(MessageForCommission(kind=step, text=text, sequence=sequence))
        self.state = replace(self.state.with_answer(step, "given"), commission_messages=sequence)
        self.say(self.t(self.commission_notice(f"commission.received_{step}")))
        self.request_receipt()

    def request_receipt(self) -> None:
        """Once a case holds something for the commission, the person gets a way back to it
        (where a commission reads the case: otherwise there is nothing to come back to)."""
        if self.context.commission_connected and not self.state.receipt_issued:
            self.effects.append(ReceiptRequested())
            self.state = replace(self.state, receipt_issued=True)

    # -- crisis --------------------------------------------------------------------------

    def open_crisis(self, *, about_other: bool) -> None:
        self.state = replace(self.state, crisis=True, crisis_about_other=about_other)
        self.regrade()
        intro = self.t("crisis.other" if about_other else "crisis.self")
        self.say_contacts(intro, self.crisis_routes(), crisis=True)

    def crisis_routes(self) -> tuple[str, ...]:
        return self.context.resources.routing.routes(["crisis"])

    def crisis_reminder(self) -> None:
        self.say_contacts(self.t("crisis.reminder"), self.crisis_routes(), crisis=True)

    def show_crisis_close(self) -> None:
        answers = self.state.answers
        imminent = answers.get("rud.means") == "yes" or (
            answers.get("rud.plan") == "yes" and answers.get("rud.when") in ("today", "soon")
        )
        who = "other" if self.state.crisis_about_other else "self"
        key = f"crisis.close_{'imminent' if imminent else 'watch'}_{who}"
        self.say(self.t(key), crisis=True, contacts=("samu", "suicide_3114"))
        self.say(self.t(self.commission_notice("crisis.commission")))

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

    def show_routes(self) -> None:
        known = facts(self.state)
        routes = self.context.resources.routing.routes(known)
        whose = "self" if self.state.persona == "self" else "other"
        intro = self.t(f"routes.intro_{whose}")
        self.say_contacts(intro, routes, crisis="crisis" in known)
        department = self.state.answers.get("department", "skip")
        deployment = self.context.resources.deployment
        if department not in ("skip", deployment.department) and "cdom" in routes:
            name = self.context.resources.departments[department]
            self.say(self.t("routes.other_department", department=name))

    def show_end(self) -> None:
        self.say(self.t("end.text"))

    # -- appointments --------------------------------------------------------------------

    def free_slots(self) -> tuple[Slot, ...]:
        deployment = self.context.resources.deployment
        taken = self.context.taken_slots | {self.state.answers.get("slot", "")}
        slots = [s for s in deployment.upcoming_slots(self.context.now) if s.id not in taken]
        return tuple(slots[:MAX_SLOTS_SHOWN])

    def slot_label(self, slot: Slot) -> str:
        start = slot.start
        return self.t(
            "slot.label",
            weekday=self.t(f"calendar.weekdays.{start.weekday()}"),
            day=self.t("calendar.first_of_month") if start.day == 1 else start.day,
            month=self.t(f"calendar.months.{start.month}"),
            hour=start.hour,
            minute=f"{start.minute:02d}",
        )

    def book(self, option: str) -> None:
        if option == "none":
            self.state = self.state.with_answer("slot", "none")
            self.say(self.t("slot.declined"))
        else:
            slot = next(s for s in self.free_slots() if s.id == option)
            label = self.slot_label(slot)
            self.state = self.state.with_answer("slot", option)
            self.effects.append(SlotRequested(option))
            self.request_receipt()
            place = self.context.resources.deployment.place[self.state.locale]
            self.say(self.t("slot.booked", slot=label, place=place))
        self.advance()

    def receipt_issued(self, code: str) -> None:
        self.say(self.t("receipt.issued", code=code))
        self.reask()

    def receipt_checked(self, found: bool, throttled: bool, replies: tuple[str, ...]) -> None:
        if throttled:
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
        self.reask()

    def slot_unavailable(self, slot_id: str) -> None:
        answers = dict(self.state.answers)
        if answers.get("slot") == slot_id:
            del answers["slot"]
        self.state = replace(self.state, answers=answers)
        self.say(self.t("slot.taken"))
        self.ask("slot")

    # -- commands ------------------------------------------------------------------------

    def command(self, name: str) -> None:
        if name == "appointment":
            self.ask_slot()
        elif name == "write":
            self.ask("message")
        elif name == "erase":
            self.ask("erase.confirm")
        elif name in ("locale_en", "locale_fr"):
            self.state = replace(self.state, locale=name.removeprefix("locale_"))
            self.say(self.t("locale.switched"))
            self.reask()
        elif name == "human":
            self.say_contacts(self.t("human.text"), ("cnom_line", "cdom"))
            self.reask()
        elif name == "confidentiality":
            self.say(self.t(f"channel.{self.context.channel}"))
            self.reask()
        else:
            self.say(self.t("help.text"))
            self.reask()

    def ask_slot(self) -> None:
        if self.free_slots():
            self.ask("slot")
        else:
            self.say(self.t("slot.none_free"))
            self.state = self.state.with_answer("slot", "unavailable")
            self.reask()

    def menu(self, option: str) -> None:
        if option == "contacts":
            self.show_routes()
            self.advance()
        elif option == "appointment":
            self.ask_slot()
        elif option == "write":
            self.ask("message")
        else:
            self.ask("erase.confirm")

    def confirm_erase(self, confirmed: bool) -> None:
        if not confirmed:
            self.say(self.t("erase.cancelled"))
            self.state = replace(self.state, step=None)
            self.advance()
            return
        self.effects.append(EraseRequested())
        self.erased = True
        self.state = ConversationState(locale=self.state.locale)
        self.say(self.t("erase.done"))
        self.advance()
