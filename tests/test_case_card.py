"""The case card and what the console writes in the staff room, in plain words only."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.staff.card import (
    card_text,
    event_text,
    help_text,
    manual_text,
    queue_text,
    slots_text,
)
from flows.deployment import Slot
from flows.questions import NEEDS, SIGNS
from flows.texts import Texts
from storage.records import CaseFile
from tests.conftest import RESOURCES

TEXTS = RESOURCES.texts
DIRECTORY = RESOURCES.directory
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=PARIS)
EVERY_FACT = (
    *(f"need:{need}" for need in NEEDS), *(f"sign:{sign}" for sign in SIGNS),
    "persona:colleague", "practice:liberal", "age:50_60", "sex:female", "urgency:days",
    "screen:depression", "screen:depression_high", "screen:burnout", "crisis",
)  # fmt: skip


def case_file(**fields: object) -> CaseFile:
    values: dict[str, object] = {
        "case_id": "7K2M9X4P8Q1R3S05", "status": "open", "level": 2, "persona": "self",
        "categories": ("need:psychological", "need:financial", "persona:self"),
        "summary": {
            "scores": [["phq9", 16, "moderately_severe"], ["auditc", 5, "positive"]],
            "routes": ["cnom_line", "sps", "regional", "cdom"],
        },
        "channel": "matrix", "assignee": None, "acknowledged_at": None,
        "acknowledge_by": NOW + timedelta(hours=3), "reminders_sent": 0,
        "thread_root": None, "bookings": ("2026-12-08T10:00",), "closing": {},
        "created_at": NOW, "last_activity_at": NOW, "closed_at": None,
    }  # fmt: skip
    values.update(fields)
    return CaseFile(**values)  # type: ignore[arg-type]


def card(file: CaseFile, locale: str = "fr", now: datetime = NOW) -> str:
    return card_text(file, TEXTS, locale, directory=DIRECTORY, now=now)


def test_the_card_shows_every_field_in_plain_french() -> None:
    text = card(case_file(assignee="@marie:ordre.example"))
    assert text.splitlines()[0] == "Dossier 7K2M9X4P8Q1R3S05 · 🟠 niveau 2 (à identifier)"
    assert "Statut : en attente · suivi par : @marie:ordre.example" in text
    assert "Écrit par : la personne elle-même · messagerie : Matrix" in text
    assert "Besoins : argent, dettes, cotisations / moral, épuisement, stress" in text
    assert "PHQ-9 : 16 (modérément sévère) / AUDIT-C : 5 (positif)" in text
    assert "Ligne d'entraide de l'Ordre des médecins / SPS" in text
    assert "Association MOTS" in text  # the deployment's regional association
    assert "Entretien : mardi 8 décembre à 10 h 00" in text
    assert "à faire avant le dimanche 22 novembre à 12 h 00 (dans 3 h)" in text


def test_each_level_has_its_colour_and_its_words() -> None:
    assert "🔴 niveau 3 (urgence)" in card(case_file(level=3))
    assert "🟢 niveau 1 (veille)" in card(case_file(level=1))
    assert "niveau non évalué" in card(case_file(level=None))


def test_nobody_yet_no_channel_no_booking_no_scores_said_as_such() -> None:
    text = card(case_file(persona="relative", channel=None, bookings=(), summary={}))
    assert "suivi par : personne" in text
    assert "un proche" in text and "aucune messagerie joignable" in text
    assert "Entretien : aucun" in text and "Questionnaires : aucun" in text


def test_an_overdue_acknowledgement_says_how_late() -> None:
    text = card(case_file(), now=NOW + timedelta(hours=5))
    assert "en retard de 2 h (attendu le dimanche 22 novembre à 12 h 00)" in text
    late = card(case_file(level=3, acknowledge_by=NOW), now=NOW + timedelta(minutes=20))
    assert "en retard de 20 min" in late


def test_an_acknowledged_case_says_when_not_a_deadline() -> None:
    text = card(case_file(acknowledged_at=NOW - timedelta(days=1), status="in_progress"))
    assert "fait le samedi 21 novembre à 9 h 00" in text and "en retard" not in text
    assert "pris en charge" in text


def test_dates_are_shown_in_the_deployments_time_zone_not_in_utc() -> None:
    deadline = datetime(2026, 12, 1, 9, 15, tzinfo=ZoneInfo("UTC"))
    text = card(case_file(acknowledge_by=deadline))
    assert "avant le mardi 1er décembre à 10 h 15" in text


def test_a_closed_case_shows_its_closing_fields_and_no_deadline() -> None:
    text = card(case_file(status="closed", closing={"sex": "female", "outcome": "return_to_work"}),
                now=NOW + timedelta(days=3))  # fmt: skip
    assert "Statut : clos" in text
    assert "Clôture : Sexe : femme / Issue : reprise du travail" in text
    assert "retard" not in text


def test_a_card_never_shows_an_engine_fact_or_a_directory_id() -> None:
    routes = [*DIRECTORY.entries, "regional", "a_line_since_removed"]
    file = case_file(
        categories=EVERY_FACT, persona="colleague",
        summary={"scores": [["phq9", 21, "severe"], ["cbi", 62, "high"]], "routes": routes},
    )  # fmt: skip
    for locale in ("fr", "en"):
        text = card(file, locale)
        assert not re.search(r"\b(need|sign|screen|persona|practice|age|sex|urgency):", text)
        for entry_id in routes:
            assert not re.search(rf"(?<![\w-]){entry_id}(?![\w-])", text), (locale, entry_id)
        assert "moderately_severe" not in text and "phq9" not in text


def test_the_english_card() -> None:
    text = card(case_file(), "en", now=NOW + timedelta(days=3))
    assert "Case 7K2M9X4P8Q1R3S05 · 🟠 level 2 (to identify)" in text
    assert "Interview: Tuesday 8 December at 10:00" in text
    assert "Acknowledgement: 2 days late" in text


def test_thread_events_in_plain_words() -> None:
    assert event_text("alert", {"level": 3, "previous_level": 2}, TEXTS, "fr") == (
        "Le niveau change : 🟠 niveau 2 (à identifier) → 🔴 niveau 3 (urgence)."
    )
    message = event_text("sealed", {"kind": "message", "text": "Je n'en peux plus"}, TEXTS, "fr")
    assert message == "Message de la personne pour la commission :\nJe n'en peux plus"
    contact = event_text("sealed", {"kind": "contact", "text": "06 00 00 00 00"}, TEXTS, "fr")
    assert contact.startswith("Coordonnées laissées") and contact.endswith("06 00 00 00 00")
    answer = event_text("sealed", {"kind": "answer", "text": "Merci, jeudi"}, TEXTS, "fr")
    assert answer == "La personne répond à la commission :\nMerci, jeudi"
    booked = event_text("booking", {"slot": "2026-12-01T10:30", "modality": "phone"}, TEXTS, "fr")
    assert booked == "Entretien réservé : mardi 1er décembre à 10 h 30, par téléphone."
    cancelled = event_text("booking", {"slot": "2026-12-01T10:30", "cancelled": True}, TEXTS, "fr")
    assert cancelled.startswith("Entretien annulé : mardi 1er décembre à 10 h 30")
    reminder = event_text("reminder", {"late_minutes": 125}, TEXTS, "fr")
    assert "en retard de 2 h" in reminder and "!vu" in reminder


def test_the_queue_puts_the_most_urgent_level_then_the_nearest_deadline_first() -> None:
    watch = case_file(case_id="WATCH", level=1, acknowledge_by=NOW + timedelta(hours=1))
    late = case_file(case_id="LATE", level=2, acknowledge_by=NOW - timedelta(hours=2))
    later = case_file(case_id="LATER", level=2, acknowledge_by=NOW + timedelta(hours=40))
    urgent = case_file(case_id="URGENT", level=3, acknowledge_by=NOW + timedelta(minutes=10))
    lines = queue_text([watch, later, urgent, late], NOW, TEXTS, "fr").splitlines()
    assert lines[0] == "Dossiers ouverts (4), les plus urgents d'abord :"
    assert [line.split(" · ")[1] for line in lines[1:]] == ["URGENT", "LATE", "LATER", "WATCH"]
    assert lines[1].endswith("à accuser dans 10 min")
    assert lines[2].endswith("en retard de 2 h")
    acknowledged = replace(watch, acknowledged_at=NOW, status="in_progress")
    line = queue_text([acknowledged], NOW, TEXTS, "fr")
    assert line.endswith("pris en charge · personne · accusé")


def test_an_empty_queue_says_so() -> None:
    assert queue_text([], NOW, TEXTS, "fr") == "Aucun dossier ouvert."


def test_slots_day_by_day_with_taken_ones_and_calendar_exceptions() -> None:
    slots = [Slot(f"2026-11-24T{hour}", datetime.fromisoformat(f"2026-11-24T{hour}+01:00"))
             for hour in ("10:00", "10:30")]  # fmt: skip
    calendar: dict[date, str | None] = {date(2026, 12, 24): None, date(2026, 12, 26): "14:00-17:00"}
    text = slots_text(slots, {"2026-11-24T10:30"}, calendar, TEXTS, "fr")
    assert "• mardi 24 novembre : 10 h 00, 10 h 30 (pris)" in text
    assert "Jours fermés : jeudi 24 décembre." in text
    assert "samedi 26 décembre (14:00-17:00)" in text
    assert slots_text([], set(), {}, TEXTS, "fr").startswith("Aucun créneau")


def test_help_in_a_thread_is_about_the_case_and_outside_about_the_room() -> None:
    in_case = help_text(True, TEXTS, "fr")
    assert "!r" in in_case and "!clore" in in_case and "note interne" in in_case
    room = help_text(False, TEXTS, "fr")
    assert "!file" in room and "!créneaux" in room and "!r " not in room
    assert "!reply" in help_text(True, TEXTS, "en")


def test_the_manual_walks_through_the_whole_workflow() -> None:
    manual = manual_text(TEXTS, "fr")
    for step in ("✅", "✋", "!r", "note interne", "!clore ok", "!créneaux", "!aide"):
        assert step in manual, step
    assert len(manual) < 3000


def test_a_console_sentence_never_silently_replaces_one_the_person_reads(tmp_path: Path) -> None:
    for locale in ("fr", "en"):
        (tmp_path / f"{locale}.yaml").write_text('console:\n  done:\n    noted: "A"\n')
        (tmp_path / f"console.{locale}.yaml").write_text('console:\n  done:\n    noted: "B"\n')
    with pytest.raises(ValueError, match=r"console\.done\.noted"):
        Texts.load(tmp_path)


def test_the_console_sentences_are_read_beside_the_persons() -> None:
    assert TEXTS.get("fr", "console.status.in_progress") == "pris en charge"
    assert TEXTS.get("fr", "welcome.intro")
