"""Every data file cites its sources by title, author (or issuing body) and year.

Internal names ("seed 003", "domain brief §5", a file name) mean nothing to the council
that reviews the data: a `source` names the document itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "flows" / "data"

# What a source must not say: internal names of documents, section signs with a bare
# number instead of a title, and file names.
FORBIDDEN = [
    (re.compile(r"\bseeds?\b", re.IGNORECASE), "an internal seed name"),
    (re.compile(r"domain\s+brief", re.IGNORECASE), "the domain brief"),
    (re.compile(r"DOMAIN"), "DOMAIN.md"),
    (re.compile(r"§\s*\d"), "a section number instead of a title"),
    (re.compile(r"\w\.(txt|md|ya?ml)\b", re.IGNORECASE), "a file name"),
]
STATUSES = {
    "confirmed", "most_current_found", "probably_current", "unconfirmed", "no_phone",
    "deployment",
}
YEAR = re.compile(r"\b(19|20)\d\d\b")


def sources(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every value under a key named `source`, anywhere in a YAML document, with the
    `source_date` beside it when there is one ("where", "source | date")."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if key == "source" and value is not None:
                yield where, f"{value} | {node.get('source_date') or ''}"
            yield from sources(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from sources(value, f"{path}[{index}]")


def all_sources() -> list[tuple[str, str]]:
    found = []
    for file in sorted(DATA_DIR.rglob("*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        found += list(sources(data, str(file.relative_to(DATA_DIR))))
    return found


def test_the_data_files_have_sources_to_check() -> None:
    where = {path.split(".yaml")[0] for path, _ in all_sources()}
    assert {"directory", "routing", "deployment", "questionnaires/phq9"} <= where


@pytest.mark.parametrize(("where", "source"), all_sources())
def test_a_source_names_the_document_not_an_internal_name(where: str, source: str) -> None:
    for pattern, what in FORBIDDEN:
        assert not pattern.search(source), f"{where} cites {what}: {source!r}"


@pytest.mark.parametrize(("where", "source"), all_sources())
def test_a_source_gives_a_year_or_says_it_is_undated(where: str, source: str) -> None:
    undated = any(word in source for word in ("non daté", "sans date", "undated"))
    assert YEAR.search(source) or undated, f"{where}: {source!r}"


def test_the_checks_catch_internal_names() -> None:
    bad = ["seed 003", "Domain brief §5", "DOMAIN.md §4", "§5", "voir 001_1fb8.txt"]
    for text in bad:
        assert any(pattern.search(text) for pattern, _ in FORBIDDEN), text
    good = "Bulletin du Conseil départemental de l'Ordre des médecins du Calvados, 2018"
    assert not any(pattern.search(good) for pattern, _ in FORBIDDEN)


def test_every_directory_entry_has_a_source_a_date_and_a_status() -> None:
    raw = yaml.safe_load((DATA_DIR / "directory.yaml").read_text(encoding="utf-8"))
    for entry_id, entry in raw["entries"].items():
        assert str(entry.get("source") or "").strip(), entry_id
        date = entry.get("source_date")
        assert date == "undated" or re.fullmatch(r"\d{4}(-\d\d){0,2}", str(date)), entry_id
        assert entry.get("status") in STATUSES, entry_id


def test_the_interns_support_entry_says_how_to_find_it() -> None:
    raw = yaml.safe_load((DATA_DIR / "directory.yaml").read_text(encoding="utf-8"))
    entry = raw["entries"]["intern_support"]
    assert entry["phone"] is None and entry["status"] == "no_phone"
    assert set(entry["other"]) == {"fr", "en"}
    assert "SOS-SIHP" in entry["other"]["fr"] and "SOS IHN" in entry["other"]["en"]
