"""The deploying council's own data: its department, its contact, its association, its slots,
and how fast its commission answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from flows.datafile import load_yaml

DEFAULT_DEPLOYMENT = Path(__file__).parent / "data" / "deployment.yaml"
MODALITIES = ("council", "phone", "video")
LEVELS = (1, 2, 3)
# "15m", "48h", "7d": how the deployment file writes a delay.
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
# A day's exception to the weekly openings: None closes it, "HH:MM-HH:MM" opens it then.
Calendar = Mapping[date, str | None]
NO_EXCEPTIONS: Calendar = MappingProxyType({})


@dataclass(frozen=True)
class WeeklyOpening:
    weekday: int  # Monday = 0
    start: time
    end: time


@dataclass(frozen=True)
class OfficeHours:
    weekdays: tuple[int, ...]  # Monday = 0
    opens: time
    closes: time


@dataclass(frozen=True)
class CommissionSchedule:
    """How soon the commission acknowledges a case of each level, how often an overdue case
    is recalled in the staff room, and when the morning digest and the interview reminders
    (the day before) go out, in the deployment's local time."""

    acknowledge_within: Mapping[int, timedelta]
    remind_every: Mapping[int, timedelta]
    digest_at: time
    appointment_reminder_at: time

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CommissionSchedule:
        return cls(
            acknowledge_within=_delays_by_level(data, "acknowledge_within"),
            remind_every=_delays_by_level(data, "remind_every"),
            digest_at=_time_of_day(data, "digest_at"),
            appointment_reminder_at=_time_of_day(data, "appointment_reminder_at"),
        )


def parse_duration(text: str) -> timedelta:
    """ "15m", "48h", "7d" as a positive delay."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError("a delay is a positive number of minutes, hours or days: 15m, 48h, 7d")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


def _delays_by_level(data: Mapping[str, Any], key: str) -> Mapping[int, timedelta]:
    delays = data.get(key)
    levels_message = f"commission.{key} must give a delay for levels 1, 2 and 3, and no other"
    if not isinstance(delays, Mapping):
        raise ValueError(levels_message)
    try:
        by_level = {int(level): str(delay) for level, delay in delays.items()}
    except ValueError:
        raise ValueError(levels_message) from None
    if sorted(by_level) != list(LEVELS):
        raise ValueError(levels_message)
    try:
        return MappingProxyType({level: parse_duration(by_level[level]) for level in LEVELS})
    except ValueError as error:
        raise ValueError(f"commission.{key}: {error}") from None


def _time_of_day(data: Mapping[str, Any], key: str) -> time:
    value = data.get(key)
    # Quoted in YAML: an unquoted 08:30 reads as a number.
    if isinstance(value, str):
        with suppress(ValueError):
            return time.fromisoformat(value)
    raise ValueError(f'commission.{key} must be a time of day in quotes, like "08:30"')


def opening_hours(text: str) -> tuple[time, time]:
    """ "14:00-17:00" as its start and end."""
    start, separator, end = text.partition("-")
    if separator:
        with suppress(ValueError):
            opens, closes = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
            if opens < closes:
                return opens, closes
    raise ValueError("opening hours are written HH:MM-HH:MM, ending after they start")


@dataclass(frozen=True)
class ReportRules:
    """How the yearly report protects small counts: a count from 1 to ``threshold - 1`` is
    shown as "< threshold", and in a year of fewer than ``round_below`` cases every other
    count is rounded to the nearest multiple of ``round_to`` (1 rounds nothing)."""

    threshold: int = 5
    round_to: int = 5
    round_below: int = 100

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> ReportRules:
        if data is None:
            return cls()
        if not isinstance(data, Mapping) or set(data) - {"threshold", "round_to", "round_below"}:
            raise ValueError("report: takes threshold, round_to and round_below, and no other")
        values = {key: data[key] for key in data}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"report.{key} must be a whole number")
        rules = cls(**values)
        # Below 3, "< threshold" names a single value: the symbol itself would disclose it.
        if rules.threshold < 3:
            raise ValueError("report.threshold must be at least 3")
        # Wider, a count at the threshold would round to 0 and read as nobody.
        if not 1 <= rules.round_to <= 2 * rules.threshold:
            raise ValueError("report.round_to must be between 1 and twice the threshold")
        if rules.round_below < 0:
            raise ValueError("report.round_below must not be negative")
        return rules

    def rounds(self, cases: int) -> bool:
        return self.round_to > 1 and cases < self.round_below


# Every department, for a national deployment.
ALL_DEPARTMENTS = "all"


@dataclass(frozen=True)
class Slot:
    """One interview time. Its id is the local start time, stable across restarts."""

    id: str
    start: datetime


@dataclass(frozen=True)
class Deployment:
    department: str
    council: Mapping[str, Any]
    regional_association: str
    timezone: ZoneInfo
    interview_minutes: int
    weeks_ahead: int
    weekly: tuple[WeeklyOpening, ...]
    commission: CommissionSchedule
    # The departments whose physicians this council receives, or ALL_DEPARTMENTS.
    serves: tuple[str, ...] | str = ()
    # How an interview may take place ("council", "phone", "video"), first is the default.
    modalities: tuple[str, ...] = ("council",)
    office_hours: OfficeHours | None = None
    report: ReportRules = field(default_factory=ReportRules)

    @classmethod
    def load(cls, path: Path = DEFAULT_DEPLOYMENT) -> Deployment:
        with path.open(encoding="utf-8") as handle:
            data: dict[str, Any] = load_yaml(handle)
        appointments = data["appointments"]
        weekly = tuple(
            WeeklyOpening(
                weekday=int(opening["weekday"]),
                start=time.fromisoformat(opening["start"]),
                end=time.fromisoformat(opening["end"]),
            )
            for opening in appointments["weekly"]
        )
        if int(appointments["interview_minutes"]) <= 0:
            raise ValueError("interview_minutes must be positive")
        modalities = tuple(str(m) for m in appointments.get("modalities", ["council"]))
        if not modalities or set(modalities) - set(MODALITIES):
            raise ValueError(f"modalities must be among {', '.join(MODALITIES)}")
        serves = data.get("serves", [data["department"]])
        hours = data.get("office_hours")
        if not isinstance(data.get("commission"), Mapping):
            raise ValueError("the deployment file needs a commission: section")
        return cls(
            department=str(data["department"]),
            council=data["council"],
            regional_association=data["regional_association"],
            timezone=ZoneInfo(appointments["timezone"]),
            interview_minutes=int(appointments["interview_minutes"]),
            weeks_ahead=int(appointments["weeks_ahead"]),
            weekly=weekly,
            commission=CommissionSchedule.from_data(data["commission"]),
            serves=ALL_DEPARTMENTS if serves == ALL_DEPARTMENTS else tuple(str(c) for c in serves),
            modalities=modalities,
            office_hours=None if hours is None else OfficeHours(
                weekdays=tuple(int(day) for day in hours["weekdays"]),
                opens=time.fromisoformat(hours["opens"]),
                closes=time.fromisoformat(hours["closes"]),
            ),
            report=ReportRules.from_data(data.get("report")),
        )

    def serves_department(self, code: str) -> bool:
        return self.serves == ALL_DEPARTMENTS or code in self.serves

    def is_office_time(self, now: datetime) -> bool:
        """Whether the council's office answers now; unknown hours count as closed, so the
        lines that always answer come first."""
        if self.office_hours is None:
            return False
        local = now.astimezone(self.timezone)
        hours = self.office_hours
        return local.weekday() in hours.weekdays and hours.opens <= local.time() < hours.closes

    def directory_overrides(self) -> dict[str, Mapping[str, Any]]:
        return {"cdom": self.council}

    def upcoming_slots(self, now: datetime, calendar: Calendar = NO_EXCEPTIONS) -> tuple[Slot, ...]:
        """Interview times from tomorrow on, over the configured number of weeks: the weekly
        openings, without the days the calendar closes, with the extra hours it opens."""
        local_now = now.astimezone(self.timezone)
        first_day = local_now.date() + timedelta(days=1)
        slots: dict[str, Slot] = {}
        for offset in range(self.weeks_ahead * 7):
            day = first_day + timedelta(days=offset)
            if day in calendar and calendar[day] is None:
                continue
            openings = [opening for opening in self.weekly if opening.weekday == day.weekday()]
            extra = calendar.get(day)
            if extra is not None:
                openings.append(WeeklyOpening(day.weekday(), *opening_hours(extra)))
            for opening in openings:
                # An extra opening that overlaps the usual one gives each time once.
                slots.update((slot.id, slot) for slot in self._slots_of(day, opening))
        return tuple(sorted(slots.values(), key=lambda slot: slot.start))

    def _slots_of(self, day: date, opening: WeeklyOpening) -> list[Slot]:
        start = datetime.combine(day, opening.start, self.timezone)
        end = datetime.combine(day, opening.end, self.timezone)
        step = timedelta(minutes=self.interview_minutes)
        slots = []
        while start + step <= end:
            slots.append(Slot(id=start.strftime("%Y-%m-%dT%H:%M"), start=start))
            start += step
        return slots
