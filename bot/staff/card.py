"""What the console says in the staff room: the case card, the thread's events, the queue,
the slots, the help and the room's manual, in plain words.

Nothing here names an engine fact or a directory id ("need:psychological", "cnom_line"):
each is shown by its words, and one without words is left out rather than shown raw. A
case file holds nothing that identifies the person, and nothing here adds to it.

Dates are shown in the time zone of the ``now`` given, the deployment's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.staff.closing import field_lines
from flows.deployment import Slot
from flows.directory import Directory
from flows.texts import Texts
from storage.records import CaseFile
from storage.store import STATUS_CLOSED

LEVEL_MARKS = {3: "🔴", 2: "🟠", 1: "🟢"}
UNGRADED_MARK = "⚪"
# Between the items of a list whose items may hold commas ("argent, dettes, cotisations").
LIST_SEPARATOR = " / "
# Categories the card lists by their words, under these headings.
LISTED = (("need:", "needs"), ("sign:", "signs"))
HELP_CASE = ("intro", "reply", "acknowledge", "take", "status", "close", "appointment", "note")
HELP_ROOM = ("intro", "queue", "templates", "slots", "report", "cases")
MANUAL = (
    "intro", "card", "acknowledge", "reply", "notes", "close", "slots", "report", "privacy",
)


class Words:
    """The console's sentences in one locale."""

    def __init__(self, texts: Texts, locale: str) -> None:
        self.texts = texts
        self.locale = locale

    def __call__(self, key: str, **values: object) -> str:
        return self.texts.get(self.locale, f"console.{key}", **values)

    def has(self, key: str) -> bool:
        return self.texts.has(self.locale, f"console.{key}")

    def level(self, level: int | None) -> str:
        if level not in LEVEL_MARKS:
            return self("level.none", mark=UNGRADED_MARK)
        return self("level.line", mark=LEVEL_MARKS[level], level=level, name=self(f"level.{level}"))

    def moment(self, moment: datetime) -> str:
        """ "mardi 8 décembre à 10 h 00", the wording the person reads for a slot."""
        return self.texts.get(
            self.locale,
            "slot.label",
            weekday=self.texts.get(self.locale, f"calendar.weekdays.{moment.weekday()}"),
            day=self.day_number(moment.day),
            month=self.texts.get(self.locale, f"calendar.months.{moment.month}"),
            hour=moment.hour,
            minute=f"{moment.minute:02d}",
        )

    def day(self, day: date) -> str:
        return self(
            "day",
            weekday=self.texts.get(self.locale, f"calendar.weekdays.{day.weekday()}"),
            day=self.day_number(day.day),
            month=self.texts.get(self.locale, f"calendar.months.{day.month}"),
        )

    def day_number(self, number: int) -> str:
        if number == 1:
            return self.texts.get(self.locale, "calendar.first_of_month")
        return str(number)

    def duration(self, length: timedelta) -> str:
        """ "12 min", "5 h", "3 jours": rounded down, never below a minute."""
        minutes = max(1, int(length.total_seconds() // 60))
        if minutes < 60:
            return self("duration.minutes", count=minutes)
        if minutes < 48 * 60:
            return self("duration.hours", count=minutes // 60)
        return self("duration.days", count=minutes // (24 * 60))


def slot_words(slot_id: str, texts: Texts, locale: str) -> str:
    """A slot id ("2026-12-08T10:00", the deployment's local time) as the person reads it."""
    return Words(texts, locale).moment(datetime.fromisoformat(slot_id))


def day_words(day: date, texts: Texts, locale: str) -> str:
    return Words(texts, locale).day(day)


# -- the case card ---------------------------------------------------------------------


def card_text(
    file: CaseFile, texts: Texts, locale: str, *, directory: Directory, now: datetime
) -> str:
    headline, lines = _card(file, Words(texts, locale), directory, now)
    return "\n".join((headline, *lines))


def _card(
    file: CaseFile, t: Words, directory: Directory, now: datetime
) -> tuple[str, list[str]]:
    none = t("card.nobody")
    headline = t("card.headline", case=file.case_id, level=t.level(file.level))
    lines = [
        t("card.status", status=t(f"status.{file.status}"), assignee=file.assignee or none),
        t(
            "card.who",
            persona=t(f"persona.{file.persona}") if file.persona else t("persona.unknown"),
            channel=t(f"channel.{file.channel}") if file.channel else t("channel.none"),
        ),
    ]
    for prefix, heading in LISTED:
        words = _category_words(file.categories, prefix, heading, t)
        if words or heading == "needs":
            lines.append(t(f"card.{heading}", words=LIST_SEPARATOR.join(words) or t("card.none")))
    lines.append(t("card.scores", scores=_scores(file.summary, t) or t("card.none")))
    lines.append(t("card.routes", routes=_routes(file.summary, t, directory) or t("card.none")))
    bookings = ", ".join(t.moment(datetime.fromisoformat(slot)) for slot in file.bookings)
    lines.append(t("card.booking", bookings=bookings or t("card.none")))
    if deadline := _acknowledgement(file, t, now):
        lines.append(deadline)
    if file.status == STATUS_CLOSED and file.closing:
        fields = field_lines(file.closing, t.texts, t.locale)
        lines.append(t("card.closing", fields=LIST_SEPARATOR.join(fields)))
    return headline, lines


def _category_words(categories: Iterable[str], prefix: str, heading: str, t: Words) -> list[str]:
    keys = [f"{heading}.{category.removeprefix(prefix)}" for category in sorted(categories)
            if category.startswith(prefix)]  # fmt: skip
    return [t(key) for key in keys if t.has(key)]


def _scores(summary: Mapping[str, Any], t: Words) -> str:
    """ "PHQ-9 : 16 (modérément sévère) ; AUDIT-C : 5 (positif)"."""
    shown = []
    for instrument, score, band in summary.get("scores", ()):
        if t.has(f"instruments.{instrument}") and t.has(f"bands.{band}"):
            shown.append(t("card.score", instrument=t(f"instruments.{instrument}"), score=score,
                           band=t(f"bands.{band}")))  # fmt: skip
    return LIST_SEPARATOR.join(shown)


def _routes(summary: Mapping[str, Any], t: Words, directory: Directory) -> str:
    names = []
    for route in summary.get("routes", ()):
        if directory.resolve(route) in directory.entries:
            names.append(directory[route].name[t.locale])
        else:  # an entry since removed from the directory
            names.append(t("card.route_gone"))
    return LIST_SEPARATOR.join(names)


def _acknowledgement(file: CaseFile, t: Words, now: datetime) -> str | None:
    zone = now.tzinfo
    if file.acknowledged_at is not None:
        return t("card.acknowledged", when=t.moment(file.acknowledged_at.astimezone(zone)))
    if file.acknowledge_by is None or file.status == STATUS_CLOSED:
        return None
    when = t.moment(file.acknowledge_by.astimezone(zone))
    if now <= file.acknowledge_by:
        return t("card.acknowledge_before", when=when, left=t.duration(file.acknowledge_by - now))
    return t("card.acknowledge_late", when=when, late=t.duration(now - file.acknowledge_by))


# -- later events, in the case's thread --------------------------------------------------


def event_text(kind: str, payload: Mapping[str, Any], texts: Texts, locale: str) -> str:
    """A line for the case's thread. ``kind`` and ``payload`` as the outbox holds them:

    - "alert": {"level", "previous_level"}: the level changed;
    - "sealed": {"kind": "message" | "contact" | "answer", "text"}: what the person wrote
      for the commission (an answer replies to the commission's last message);
    - "booking": {"slot", "modality", "cancelled"?}: an interview booked or cancelled;
    - "reminder": {"late_minutes"}: the case waits for its acknowledgement;
    - "check_in": {"level", "scores"}: a check-in came out worse, and the person wants the
      commission told.
    """
    t = Words(texts, locale)
    if kind == "alert":
        level = t.level(payload.get("level"))
        if payload.get("previous_level") is None:
            return t("event.graded", level=level)
        return t("event.level_change", level=level, previous=t.level(payload["previous_level"]))
    if kind == "sealed":
        written = payload.get("kind")
        key = written if written in ("contact", "answer") else "message"
        return t(f"event.{key}", text=payload.get("text", ""))
    if kind == "booking":
        slot = t.moment(datetime.fromisoformat(payload["slot"]))
        if payload.get("cancelled"):
            return t("event.booking_cancelled", slot=slot)
        modality = payload.get("modality", "council")
        return t("event.booking", slot=slot, modality=t(f"modality.{modality}"))
    if kind == "reminder":
        late = t.duration(timedelta(minutes=int(payload.get("late_minutes", 0))))
        return t("event.reminder", late=late)
    if kind == "check_in":
        return t("event.check_in", scores=_scores(payload, t) or t("card.none"))
    raise ValueError(f"no words for staff event {kind!r}")


# -- the queue, for the morning digest and `!file` ---------------------------------------


def queue_text(files: Sequence[CaseFile], now: datetime, texts: Texts, locale: str) -> str:
    """Open cases, most urgent level first, then the nearest deadline; one line each."""
    t = Words(texts, locale)
    if not files:
        return t("queue.empty")
    ordered = sorted(files, key=lambda file: (
        -(file.level or 0),
        file.acknowledged_at is not None,
        file.acknowledge_by or datetime.max.replace(tzinfo=now.tzinfo),
        file.created_at,
    ))  # fmt: skip
    lines = [t("queue.intro", count=len(files))]
    for file in ordered:
        lines.append(t(
            "queue.line",
            level=t.level(file.level),
            case=file.case_id,
            status=t(f"status.{file.status}"),
            assignee=file.assignee or t("card.nobody"),
            deadline=_deadline_words(file, t, now),
        ))  # fmt: skip
    return "\n".join(lines)


def _deadline_words(file: CaseFile, t: Words, now: datetime) -> str:
    if file.acknowledged_at is not None:
        return t("queue.acknowledged")
    if file.acknowledge_by is None:
        return t("queue.no_deadline")
    if now <= file.acknowledge_by:
        return t("queue.due_in", left=t.duration(file.acknowledge_by - now))
    return t("queue.late", late=t.duration(now - file.acknowledge_by))


# -- the slots, for `!créneaux` -------------------------------------------------------


def slots_text(
    slots: Sequence[Slot],
    taken: Collection[str],
    calendar: Mapping[date, str | None],
    texts: Texts,
    locale: str,
) -> str:
    """The coming slots day by day, the taken ones marked, and the days the calendar
    closes or opens beyond the usual week."""
    t = Words(texts, locale)
    by_day: dict[date, list[str]] = {}
    for slot in slots:
        hour = t("slots.hour", hour=slot.start.hour, minute=f"{slot.start.minute:02d}")
        by_day.setdefault(slot.start.date(), []).append(
            t("slots.taken", hour=hour) if slot.id in taken else hour
        )
    lines = [t("slots.intro") if by_day else t("slots.none")]
    for day, hours in by_day.items():
        lines.append(t("slots.day", day=t.day(day), hours=", ".join(hours)))
    closed = [t.day(day) for day, hours in sorted(calendar.items()) if hours is None]
    opened = [t("slots.opening", day=t.day(day), hours=hours)
              for day, hours in sorted(calendar.items()) if hours is not None]  # fmt: skip
    if closed:
        lines.append(t("slots.closed", days=", ".join(closed)))
    if opened:
        lines.append(t("slots.opened", days=", ".join(opened)))
    lines.append(t("slots.how"))
    return "\n".join(lines)


# -- help -------------------------------------------------------------------------------


def help_text(in_case: bool, texts: Texts, locale: str) -> str:
    """In a case's thread, what can be done to that case; elsewhere, what the room offers."""
    t = Words(texts, locale)
    if in_case:
        return "\n".join(t(f"help.case.{part}") for part in HELP_CASE)
    return "\n".join(t(f"help.room.{part}") for part in HELP_ROOM)


def manual_text(texts: Texts, locale: str) -> str:
    """The room's manual, pinned: how a case goes from its card to its closing."""
    t = Words(texts, locale)
    return "\n\n".join(t(f"manual.{part}") for part in MANUAL)
