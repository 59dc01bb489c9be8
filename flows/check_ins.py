"""Opt-in check-ins: what the bot asks when it writes again, weeks after a journey, and when
the answers count as worse.

A check-in asks the PHQ-2 (items 1 and 2 of the PHQ-9, about the last two weeks; Kroenke,
Spitzer & Williams, 2003) and one item of the Copenhagen Burnout Inventory's work scale (item
6, "à bout à cause de votre travail", the item the journey screens with; Kristensen et al.,
2005, public domain). It is compared with the last time the person answered these items: at
the end of the journey, or at the check-in before.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from flows.state import ConversationState

# The steps of a check-in, in the order asked, and the questionnaire item each one asks.
ITEMS: Mapping[str, tuple[str, int]] = {
    "checkin.phq2.1": ("phq9", 1),
    "checkin.phq2.2": ("phq9", 2),
    "checkin.cbi1.6": ("cbi", 6),
}
PHQ2_ITEMS = ("checkin.phq2.1", "checkin.phq2.2")
WORK_ITEM = "checkin.cbi1.6"
# Where the journey left the same answers.
JOURNEY_ANSWERS = {"checkin.phq2.1": "phq9.1", "checkin.phq2.2": "phq9.2", WORK_ITEM: "cbi.6"}
# The option every check-in question offers besides its answers.
STOP = "stop"
OFFER = "checkin.offer"
ALERT = "checkin.alert"
MANAGE = "checkin.manage"
# The state's keys: the check-in being answered (its id, for the driver), the day of the next
# one, and the last measure, which the next check-in is compared with.
IN_PROGRESS = "checkin.id"
DUE = "checkin.due"
LAST_PHQ2 = "checkin.last.phq2"
LAST_BURNOUT = "checkin.last.burnout"
# The fact a worse check-in adds for routing and grading (flows/data/routing.yaml).
WORSE = "check_in:worse"
# The offer's delays. The 18 months are the Var council's thesis's check-in after setting up
# practice (seed 000), offered only to physicians who may be setting up one.
WEEKS = {"weeks_2": 2, "weeks_4": 4, "weeks_8": 8}
SETTING_UP = "months_18"
SETTING_UP_MONTHS = 18
# A PHQ-2 of 3 or more is a positive screen (Kroenke, Spitzer & Williams, The Patient Health
# Questionnaire-2: validity of a two-item depression screener, Med Care 2003;41:1284-92).
PHQ2_POSITIVE = 3
# The CBI's usual threshold (Kristensen et al., 2005), as the journey's one-item screen
# (flows/data/questionnaires/cbi.yaml): "Moyennement" or more.
BURNOUT_HIGH = 50


def is_item(step: str) -> bool:
    return step in ITEMS


@dataclass(frozen=True)
class Measure:
    """The PHQ-2 score (0 to 6) and the CBI item's score (0 to 100); None where unanswered."""

    phq2: int | None = None
    burnout: int | None = None

    @property
    def burnout_high(self) -> bool:
        return self.burnout is not None and self.burnout >= BURNOUT_HIGH

    def scores(self) -> tuple[tuple[str, int, str], ...]:
        """As the commission's alerts show them: (screen, score, band)."""
        shown = []
        if self.phq2 is not None:
            band = "positive" if self.phq2 >= PHQ2_POSITIVE else "negative"
            shown.append(("phq2", self.phq2, band))
        if self.burnout is not None:
            shown.append(("cbi1", self.burnout, "high" if self.burnout_high else "low"))
        return tuple(shown)


def is_worse(now: Measure, before: Measure) -> bool:
    """The one rule: worse is a positive PHQ-2 (3 or more, Kroenke 2003), a PHQ-2 higher than
    before, or the work item crossing the CBI's threshold (50, Kristensen 2005) from below. A
    measure never taken before counts as below the threshold: a first high answer is worse."""
    if now.phq2 is not None and (
        now.phq2 >= PHQ2_POSITIVE or (before.phq2 is not None and now.phq2 > before.phq2)
    ):
        return True
    return now.burnout_high and not before.burnout_high


def _measure(answers: Mapping[str, str], keys: Mapping[str, str]) -> Measure:
    phq2 = [int(answers[keys[step]]) for step in PHQ2_ITEMS if keys[step] in answers]
    burnout = answers.get(keys[WORK_ITEM])
    return Measure(
        phq2=sum(phq2) if len(phq2) == len(PHQ2_ITEMS) else None,
        burnout=None if burnout is None else int(burnout),
    )


def measured(state: ConversationState) -> Measure:
    """What this check-in's answers measure."""
    return _measure(state.answers, {step: step for step in ITEMS})


def last_measure(state: ConversationState) -> Measure:
    """The last measure taken: the last check-in's, else the journey's own."""
    answers = state.answers
    if LAST_PHQ2 not in answers:
        return _measure(answers, JOURNEY_ANSWERS)
    burnout = answers.get(LAST_BURNOUT)
    return Measure(int(answers[LAST_PHQ2]), None if burnout is None else int(burnout))


def remember(state: ConversationState, measure: Measure) -> ConversationState:
    """This check-in's answers become the one measure the next check-in is compared with."""
    for key in (*ITEMS, LAST_PHQ2, LAST_BURNOUT):
        state = state.without(key)
    if measure.phq2 is not None:
        state = state.with_answer(LAST_PHQ2, str(measure.phq2))
    if measure.burnout is not None:
        state = state.with_answer(LAST_BURNOUT, str(measure.burnout))
    return state


def due_day(today: date, option: str) -> date:
    """The day a check-in asked for today with ``option`` is due."""
    if option == SETTING_UP:
        return months_later(today, SETTING_UP_MONTHS)
    return today + timedelta(weeks=WEEKS[option])


def months_later(day: date, months: int) -> date:
    """The same day so many months later, or the month's last day (31 August + 18 months is
    28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
