"""The questions the bot asks, their answer options, and how a typed answer is read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from flows.textnorm import fold


class Kind(Enum):
    CHOICE = "choice"
    MULTI = "multi"
    TEXT = "text"


@dataclass(frozen=True)
class Question:
    id: str
    kind: Kind
    option_ids: tuple[str, ...] = ()
    # Labels shared by several questions (yes, no…) live under "common." in the locale files.
    common_options: bool = False


YES_NO = ("yes", "no")
NEEDS = (
    "psychological", "financial", "administrative", "legal", "family", "grief", "children",
    "conflict", "assault", "addiction", "health", "career",
)
SIGNS = (
    "behaviour_change", "aggressiveness", "disengagement", "presenteeism", "coldness",
    "withdrawal", "alcohol", "drugs", "suicidal_talk",
)
QUESTIONS: Mapping[str, Question] = {
    q.id: q
    for q in (
        Question("persona", Kind.CHOICE, ("self", "relative", "colleague")),
        Question("needs", Kind.MULTI, NEEDS),
        Question(
            "practice",
            Kind.CHOICE,
            ("liberal", "salaried", "hospital", "student", "retired", "skip"),
        ),
        Question("department", Kind.TEXT, ("skip",)),
        Question("signs", Kind.MULTI, SIGNS),
        Question("urgency", Kind.CHOICE, ("immediate", "days", "weeks")),
        Question("alert", Kind.CHOICE, YES_NO, common_options=True),
        Question("message", Kind.TEXT, ("skip",)),
        Question("contact", Kind.TEXT, ("skip",)),
        Question("slot", Kind.CHOICE, ("none",)),
        # The options are the deployment's own (at the council, by phone, by video).
        Question("modality", Kind.CHOICE, ()),
        Question("age", Kind.CHOICE, ("under_50", "50_60", "over_60", "skip")),
        Question("sex", Kind.CHOICE, ("female", "male", "skip")),
        Question("menu", Kind.CHOICE, ("write", "appointment", "contacts", "erase")),
        Question("erase.confirm", Kind.CHOICE, YES_NO, common_options=True),
        Question("appointment.manage", Kind.CHOICE, ("keep", "move", "cancel")),
        Question("rud.plan", Kind.CHOICE, ("yes", "no", "unsure"), common_options=True),
        Question("rud.when", Kind.CHOICE, ("today", "soon", "no_date", "unsure")),
        Question("rud.means", Kind.CHOICE, ("yes", "no", "unsure"), common_options=True),
        Question("crisis.next", Kind.CHOICE, ("write", "safe", "numbers")),
        # The person's answer to a message of the commission, in their own words.
        Question("commission.answer", Kind.TEXT, ("later",)),
        # Opt-in check-ins (flows/check_ins.py): when to write again, whether to tell the
        # commission of a worse one, and what to do with the one to come.
        Question(
            "checkin.offer", Kind.CHOICE, ("weeks_2", "weeks_4", "weeks_8", "months_18", "no")
        ),
        Question("checkin.alert", Kind.CHOICE, YES_NO, common_options=True),
        Question("checkin.manage", Kind.CHOICE, ("keep", "stop")),
    )
}
# Questions a person may leave unanswered: a second unclear answer moves past them.
SKIPPABLE = frozenset({
    "needs", "practice", "department", "signs", "urgency", "alert", "message",
    "contact", "slot", "modality", "age", "sex",
})

_SEPARATORS = re.compile(r"[,;/\s]+")


def resolve_option(
    answer: str, option_ids: tuple[str, ...], labels: Mapping[str, str], positions_first: bool
) -> str | None:
    """Read one typed answer as an option: its id, its number in the list, or its label.

    Ids win over numbers unless the channel showed a numbered list (``positions_first``):
    questionnaire answers have ids "0"…"4", which overlap their list numbers.
    """
    candidate = answer.strip()
    by_id = candidate if candidate in option_ids else None
    by_position = None
    if candidate.isascii() and candidate.isdigit() and 1 <= int(candidate) <= len(option_ids):
        by_position = option_ids[int(candidate) - 1]
    first, second = (by_position, by_id) if positions_first else (by_id, by_position)
    if first or second:
        return first or second
    folded = fold(candidate)
    for option_id in option_ids:
        if folded and fold(labels.get(option_id, "")) == folded:
            return option_id
    return None


def resolve_options(
    answer: str, option_ids: tuple[str, ...], labels: Mapping[str, str], positions_first: bool
) -> tuple[str, ...] | None:
    """Read a multi-choice answer ("1,3", "financial, legal"); None if any part is unknown."""
    whole = resolve_option(answer, option_ids, labels, positions_first)
    if whole is not None:
        return (whole,)
    parts = [part for part in _SEPARATORS.split(answer) if part]
    if not parts:
        return None
    chosen: list[str] = []
    for part in parts:
        option = resolve_option(part, option_ids, labels, positions_first)
        if option is None:
            return None
        if option not in chosen:
            chosen.append(option)
    return tuple(option for option in option_ids if option in chosen)
