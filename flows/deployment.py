"""The deploying council's own data: its department, its contact, its association, its slots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

DEFAULT_DEPLOYMENT = Path(__file__).parent / "data" / "deployment.yaml"
MODALITIES = ("council", "phone", "video")


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
    # The departments whose physicians this council receives, or ALL_DEPARTMENTS.
    serves: tuple[str, ...] | str = ()
    # How an interview may take place ("council", "phone", "video"), first is the default.
    modalities: tuple[str, ...] = ("council",)
    office_hours: OfficeHours | None = None

    @classmethod
    def load(cls, path: Path = DEFAULT_DEPLOYMENT) -> Deployment:
        with path.open(encoding="utf-8") as handle:
            data: dict[str, Any] = yaml.safe_load(handle)
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
        return cls(
            department=str(data["department"]),
            council=data["council"],
            regional_association=data["regional_association"],
            timezone=ZoneInfo(appointments["timezone"]),
            interview_minutes=int(appointments["interview_minutes"]),
            weeks_ahead=int(appointments["weeks_ahead"]),
            weekly=weekly,
            serves=ALL_DEPARTMENTS if serves == ALL_DEPARTMENTS else tuple(str(c) for c in serves),
            modalities=modalities,
            office_hours=None if hours is None else OfficeHours(
                weekdays=tuple(int(day) for day in hours["weekdays"]),
                opens=time.fromisoformat(hours["opens"]),
                closes=time.fromisoformat(hours["closes"]),
            ),
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

    def upcoming_slots(self, now: datetime) -> tuple[Slot, ...]:
        """Interview times from tomorrow on, over the configured number of weeks."""
        local_now = now.astimezone(self.timezone)
        first_day = local_now.date() + timedelta(days=1)
        slots = []
        for offset in range(self.weeks_ahead * 7):
            day = first_day + timedelta(days=offset)
            for opening in self.weekly:
                if day.weekday() == opening.weekday:
                    slots.extend(self._slots_of(day, opening))
        return tuple(sorted(slots, key=lambda slot: slot.start))

    def _slots_of(self, day: date, opening: WeeklyOpening) -> list[Slot]:
        start = datetime.combine(day, opening.start, self.timezone)
        end = datetime.combine(day, opening.end, self.timezone)
        step = timedelta(minutes=self.interview_minutes)
        slots = []
        while start + step <= end:
            slots.append(Slot(id=start.strftime("%Y-%m-%dT%H:%M"), start=start))
            start += step
        return slots
