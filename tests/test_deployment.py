"""The deploying council's file: how fast its commission must answer, and the days it
closes or opens beyond its weekly slots."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.deployment import DEFAULT_DEPLOYMENT, Deployment
from tests.conftest import NOW, Chat

DEPLOYMENT = Deployment.load()
TUESDAY, NEXT_TUESDAY, THURSDAY = date(2026, 11, 24), date(2026, 12, 1), date(2026, 11, 26)


def with_commission(tmp_path: Path, **changes: Any) -> Path:
    """A copy of the default file whose commission section has these changes."""
    data = yaml.safe_load(DEFAULT_DEPLOYMENT.read_text(encoding="utf-8"))
    data["commission"].update(changes)
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def starts(calendar: dict[date, str | None]) -> list[str]:
    return [slot.id for slot in DEPLOYMENT.upcoming_slots(NOW, calendar)]


def test_the_default_schedule_is_the_var_councils() -> None:
    schedule = DEPLOYMENT.commission
    assert schedule.acknowledge_within == {
        3: timedelta(minutes=15), 2: timedelta(hours=48), 1: timedelta(days=7)
    }
    assert schedule.remind_every == {
        3: timedelta(minutes=15), 2: timedelta(hours=24), 1: timedelta(days=7)
    }
    assert (schedule.digest_at, schedule.appointment_reminder_at) == (time(8, 30), time(18, 0))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"acknowledge_within": {3: "15m", 2: "48h"}}, "levels 1, 2 and 3"),
        ({"acknowledge_within": {3: "15m", 2: "48h", 1: "7d", 4: "1d"}}, "levels 1, 2 and 3"),
        ({"remind_every": {3: "0m", 2: "24h", 1: "7d"}}, "positive"),
        ({"remind_every": {3: "15 minutes", 2: "24h", 1: "7d"}}, "15m, 48h, 7d"),
        ({"remind_every": {3: "-15m", 2: "24h", 1: "7d"}}, "15m, 48h, 7d"),
        ({"remind_every": "15m"}, "levels 1, 2 and 3"),
        # Unquoted, 08:30 is read by YAML as a number of minutes.
        ({"digest_at": 510}, "in quotes"),
        ({"appointment_reminder_at": "six in the evening"}, "time of day"),
    ],
)
def test_a_wrong_schedule_stops_the_bot_with_a_sentence_naming_it(
    tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValueError, match=words) as error:
        Deployment.load(with_commission(tmp_path, **changes))
    assert f"commission.{next(iter(changes))}" in str(error.value)


def test_a_deployment_file_without_a_commission_section_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_DEPLOYMENT.read_text(encoding="utf-8"))
    del data["commission"]
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="commission"):
        Deployment.load(path)


def test_a_closed_day_offers_none_of_its_slots() -> None:
    usual = starts({})
    assert usual[:4] == [f"2026-11-24T{hour}" for hour in ("10:00", "10:30", "11:00", "11:30")]
    closed = starts({TUESDAY: None})
    assert not any(slot.startswith("2026-11-24") for slot in closed)
    assert closed[0] == "2026-12-01T10:00"
    assert len(closed) == len(usual) - 4


def test_an_extra_opening_adds_its_slots_interview_length_apart() -> None:
    slots = starts({THURSDAY: "14:00-15:15"})
    assert [s for s in slots if s.startswith("2026-11-26")] == [
        "2026-11-26T14:00", "2026-11-26T14:30"
    ]
    assert slots.index("2026-11-26T14:00") == 4  # after Tuesday's, before next week's


def test_an_extra_opening_on_a_usual_day_adds_to_it_and_overlaps_count_once() -> None:
    slots = starts({TUESDAY: "11:00-13:00"})
    tuesday = [s for s in slots if s.startswith("2026-11-24")]
    assert tuesday == [f"2026-11-24T{h}" for h in ("10:00", "10:30", "11:00", "11:30", "12:00",
                                                    "12:30")]


def test_exceptions_outside_the_weeks_offered_change_nothing() -> None:
    assert starts({date(2026, 11, 22): "14:00-17:00", date(2027, 3, 2): None}) == starts({})


def test_hours_that_do_not_read_are_refused() -> None:
    for hours in ("14h-17h", "17:00-14:00", "14:00", "midi"):
        with pytest.raises(ValueError, match="HH:MM-HH:MM"):
            DEPLOYMENT.upcoming_slots(NOW, {THURSDAY: hours})


def test_the_person_is_offered_the_calendar_of_the_day_not_only_the_weekly_slots() -> None:
    chat = Chat(calendar={TUESDAY: None, THURSDAY: "09:00-10:00"})
    chat.answer_all(["self", "psychological", "liberal", "83", "rendez-vous"])
    assert chat.step == "slot"
    offered = [o.id for o in chat.last.messages[-1].options]
    assert offered[:3] == ["2026-11-26T09:00", "2026-11-26T09:30", "2026-12-01T10:00"]
    assert chat.last.messages[-1].options[0].label == "jeudi 26 novembre à 9 h 00"
    chat.answer_all(["1", "par téléphone"])
    assert "jeudi 26 novembre à 9 h 00" in chat.text()


def with_report(tmp_path: Path, report: Any) -> Path:
    data = yaml.safe_load(DEFAULT_DEPLOYMENT.read_text(encoding="utf-8"))
    if report is None:
        del data["report"]
    else:
        data["report"] = report
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_report_protects_counts_under_5_and_rounds_years_under_100_cases(
    tmp_path: Path,
) -> None:
    rules = DEPLOYMENT.report
    assert (rules.threshold, rules.round_to, rules.round_below) == (5, 5, 100)
    assert Deployment.load(with_report(tmp_path, None)).report == rules
    assert rules.rounds(99) and not rules.rounds(100)
    ons = Deployment.load(with_report(tmp_path, {"threshold": 10})).report
    assert (ons.threshold, ons.round_to) == (10, 5)
    assert not Deployment.load(with_report(tmp_path, {"round_to": 1})).report.rounds(3)


@pytest.mark.parametrize(
    ("report", "words"),
    [
        ({"threshold": 2}, "at least 3"),
        ({"threshold": "five"}, "whole number"),
        ({"threshold": True}, "whole number"),
        ({"round_to": 11}, "twice the threshold"),
        ({"round_to": 0}, "twice the threshold"),
        ({"round_below": -1}, "negative"),
        ({"rounding": 5}, "no other"),
        ("5", "no other"),
    ],
)
def test_a_wrong_report_section_stops_the_bot_with_a_sentence_naming_it(
    tmp_path: Path, report: Any, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        Deployment.load(with_report(tmp_path, report))
