"""The commission's canned replies: each reviewed text in both languages, filled with the
council's own contact, and a wrong file refused when the bot starts, not in front of a
member."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.canned import DEFAULT_CANNED, CannedReplies
from tests.conftest import RESOURCES

CANNED = RESOURCES.canned
VAR = RESOURCES.deployment.council
FILLED = {
    "name": {"fr": "Conseil départemental de l'Ordre des médecins du Var", "en": "Var council"},
    "phone": "04 94 00 00 00",
    "email": "entraide@cdom83.example",
}


def changed(tmp_path: Path, change: dict[str, Any]) -> Path:
    data = yaml.safe_load(DEFAULT_CANNED.read_text(encoding="utf-8"))
    data["replies"]["premiere_reponse"] = change
    path = tmp_path / "canned.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_council_reviews_a_handful_of_replies() -> None:
    assert set(CANNED.names()) == {
        "premiere_reponse", "proposition_entretien", "association_regionale", "cloture",
        "injoignable",
    }


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_reply_renders_in_both_languages_with_no_blank_left(locale: str) -> None:
    for name in CANNED.names():
        text = CANNED.render(name, locale, VAR)
        assert text and "{" not in text and "}" not in text, name
        assert "None" not in text, name


def test_the_councils_phone_and_email_fill_the_reply() -> None:
    text = CANNED.render("injoignable", "fr", FILLED)
    assert "Pour joindre le conseil : 04 94 00 00 00." in text
    assert "Pour lui écrire : entraide@cdom83.example." in text
    assert "Le Conseil départemental de l'Ordre des médecins du Var reste" in CANNED.render(
        "cloture", "fr", FILLED
    )
    assert "The Var council stays by your side" in CANNED.render("cloture", "en", FILLED)


def test_a_contact_the_council_left_empty_says_where_to_find_it() -> None:
    # The Var file gives neither phone nor e-mail.
    assert VAR.get("phone") is None and VAR.get("email") is None
    text = CANNED.render("injoignable", "fr", VAR)
    assert "Pour joindre le conseil : ses coordonnées sont sur le site de l'Ordre des médecins" in (
        text
    )
    assert "Pour lui écrire : son adresse est sur le site de l'Ordre des médecins" in text
    english = CANNED.render("injoignable", "en", {"phone": "", "email": None})
    assert "its details are on the Ordre des médecins website" in english


def test_a_reply_with_a_blank_nobody_fills_is_refused_at_load(tmp_path: Path) -> None:
    path = changed(tmp_path, {"fr": "Bonjour {prenom}.", "en": "Hello {first_name}."})
    with pytest.raises(ValueError, match=r"premiere_reponse \(fr\) has unknown blanks: prenom"):
        CannedReplies.load(path)


def test_a_reply_missing_a_language_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="premiere_reponse has no text in en"):
        CannedReplies.load(changed(tmp_path, {"fr": "Bonjour."}))


def test_a_stray_brace_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="premiere_reponse"):
        CannedReplies.load(changed(tmp_path, {"fr": "Bonjour {.", "en": "Hello."}))


def test_an_unknown_reply_or_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no canned reply named bienvenue"):
        CANNED.render("bienvenue", "fr", VAR)
    with pytest.raises(ValueError, match="unknown locale de"):
        CANNED.render("cloture", "de", VAR)
