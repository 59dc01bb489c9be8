"""What a commission member types in the staff room: commands, notes, dates and hours."""

from __future__ import annotations

from datetime import date

import pytest

from bot.staff.commands import (
    ALIASES,
    Command,
    parse,
    parse_day,
    parse_hours,
    parse_status,
    parse_year,
    strip_fallback,
)

TODAY = date(2026, 11, 22)
REPLY_BODY = "> <@marie:ordre.example> Dossier 7K2M : niveau 2\n> second line\n\n!vu"
REPLY_HTML = (
    '<mx-reply><blockquote><a href="https://matrix.to/#/!room/$card">In reply to</a>'
    "Dossier 7K2M : niveau 2</blockquote></mx-reply>!vu"
)


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("!r", "r"), ("!répondre", "r"), ("!REPONDRE", "r"), ("!reply", "r"),
        ("!vu", "vu"), ("!seen", "vu"), ("!ack", "vu"),
        ("!prendre", "prendre"), ("!take", "prendre"),
        ("!attribuer", "attribuer"), ("!assign", "attribuer"),
        ("!libérer", "liberer"), ("!release", "liberer"),
        ("!statut", "statut"), ("!status", "statut"),
        ("!clore", "clore"), ("!close", "clore"),
        ("!rouvrir", "rouvrir"), ("!reopen", "rouvrir"),
        ("!note", "note"),
        ("!file", "file"), ("!queue", "file"),
        ("!modèles", "modeles"), ("!templates", "modeles"),
        ("!modèle", "modele"), ("!Template", "modele"),
        ("!rdv", "rdv"), ("!appointment", "rdv"),
        ("!créneaux", "creneaux"), ("!Creneaux", "creneaux"), ("!slots", "creneaux"),
        ("!aide", "aide"), ("!help", "aide"),
        ("!rapport", "rapport"), ("!Report", "rapport"),
    ],
)  # fmt: skip
def test_every_french_name_and_english_alias_reads_as_its_command(typed: str, name: str) -> None:
    assert parse(typed) == Command(name, "")


def test_every_command_name_is_reachable_by_its_own_name() -> None:
    assert all(ALIASES[name] == name for name in set(ALIASES.values()))


def test_a_reply_keeps_the_text_as_typed_with_its_case_accents_and_lines() -> None:
    typed = "!r  Bonjour Docteur,\nNous avons bien lu votre message. À très vite."
    assert parse(typed) == Command(
        "r", "Bonjour Docteur,\nNous avons bien lu votre message. À très vite."
    )


def test_a_message_without_a_bang_is_a_note_even_a_slash_command() -> None:
    assert parse("Appelé ce matin, rappeler jeudi") is None
    assert parse("/r Bonjour") is None
    assert parse("") is None


def test_an_unknown_command_is_named_not_taken_for_a_note() -> None:
    assert parse("!suprimer le dossier") == Command("unknown", "suprimer")


def test_a_reply_fallback_in_the_body_is_not_read_as_the_members_words() -> None:
    assert strip_fallback(REPLY_BODY) == "!vu"
    assert parse(REPLY_BODY) == Command("vu", "")
    # A note answering the card: the quoted card is not kept as the note's text.
    assert strip_fallback("> <@bot:ordre.example> Dossier 7K2M\n\nRappelé ce matin") == (
        "Rappelé ce matin"
    )


def test_an_mx_reply_block_marks_the_quoted_lines_as_a_fallback() -> None:
    assert strip_fallback(REPLY_BODY, REPLY_HTML) == "!vu"
    assert parse(REPLY_BODY, REPLY_HTML) == Command("vu", "")


def test_a_members_own_quotation_stays_when_the_html_shows_no_reply() -> None:
    body = "> la personne dit ne plus dormir\n\nà voir en entretien"
    formatted = "<blockquote><p>la personne dit ne plus dormir</p></blockquote><p>à voir</p>"
    assert strip_fallback(body, formatted) == body


def test_appointment_and_slot_verbs_are_read_in_french_or_english() -> None:
    assert parse("!rdv cancel") == Command("rdv", "annuler")
    assert parse("!rdv Déplacer") == Command("rdv", "deplacer")
    assert parse("!slots close 24/12") == Command("creneaux", "fermer 24/12")
    assert parse("!créneaux open 26 décembre 14h-17h") == Command(
        "creneaux", "ouvrir 26 décembre 14h-17h"
    )
    assert parse("!statut pris en charge") == Command("statut", "pris en charge")


@pytest.mark.parametrize(
    ("typed", "status"),
    [
        ("en_attente", "open"), ("En attente", "open"), ("waiting", "open"),
        ("pris_en_charge", "in_progress"), ("Pris en charge", "in_progress"),
        ("in_progress", "in_progress"), ("clos", "closed"), ("closed", "closed"),
    ],
)  # fmt: skip
def test_statuses_in_either_language_with_spaces_or_underscores(typed: str, status: str) -> None:
    assert parse_status(typed) == status


def test_an_unknown_status_is_refused() -> None:
    assert parse_status("supprimé") is None
    assert parse_status("") is None


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("2026-12-24", date(2026, 12, 24)),
        ("24/12/2026", date(2026, 12, 24)),
        ("24/12", date(2026, 12, 24)),
        ("24 décembre", date(2026, 12, 24)),
        ("24 decembre 2027", date(2027, 12, 24)),
        ("1er janvier", date(2027, 1, 1)),
        ("22/11", TODAY),
        ("21/11", date(2027, 11, 21)),
    ],
)
def test_days_as_members_write_them_the_next_such_day_without_a_year(
    typed: str, day: date
) -> None:
    assert parse_day(typed, TODAY) == day


@pytest.mark.parametrize("typed", ["31/02", "29/02/2027", "24 brumaire", "demain", "", "24/13"])
def test_a_day_that_is_not_in_the_calendar_is_refused(typed: str) -> None:
    assert parse_day(typed, TODAY) is None


@pytest.mark.parametrize(
    ("typed", "hours"),
    [
        ("14:00-17:00", "14:00-17:00"),
        ("14h-17h", "14:00-17:00"),
        ("9h30 - 12h", "09:30-12:00"),
        ("9H-12H15", "09:00-12:15"),
    ],
)
def test_opening_hours_in_either_spelling(typed: str, hours: str) -> None:
    assert parse_hours(typed) == hours


@pytest.mark.parametrize("typed", ["17h-14h", "14h-14h", "23h-25h", "14h", "après-midi"])
def test_hours_that_do_not_open_before_they_close_are_refused(typed: str) -> None:
    assert parse_hours(typed) is None


def test_a_report_is_asked_for_a_year_of_four_digits() -> None:
    assert parse("!rapport 2026") == Command("rapport", "2026")
    assert parse_year(" 2026 ") == 2026
    for typed in ("", "26", "20266", "l'an dernier", "2026-2027"):
        assert parse_year(typed) is None, typed
