"""The routing table (domain brief §4), the levels (§3) and the directory (§5)."""

from __future__ import annotations

import re

import pytest
import yaml

from flows.directory import DATA_DIR, REGIONAL
from flows.routing import RoutingTable
from tests.conftest import RESOURCES

TABLE = RoutingTable.load()

# One expectation per rule of the brief: facts -> routes that must be given.
EXPECTED = [
    ({"crisis"}, ["samu", "emergency_112", "suicide_3114", "cnom_line", "emergency_114"]),
    ({"urgency:immediate"}, ["samu", "suicide_3114"]),
    ({"sign:suicidal_talk"}, ["samu", "suicide_3114"]),
    ({"need:psychological"}, ["cnom_line", "sps", REGIONAL]),
    ({"screen:depression"}, ["cnom_line", "sps", REGIONAL]),
    ({"screen:burnout"}, ["cnom_line", "sps", REGIONAL]),
    ({"screen:anxiety"}, ["cnom_line", "sps"]),
    ({"need:addiction"}, ["cnom_line", "sps", REGIONAL]),
    ({"screen:alcohol"}, ["cnom_line", "sps", REGIONAL]),
    ({"sign:drugs"}, ["cnom_line", "sps", REGIONAL]),
    ({"need:financial"}, ["cdom", "carmf"]),
    ({"need:administrative"}, ["cnom_line", "cdom"]),
    ({"need:legal"}, ["cdom"]),
    ({"need:conflict"}, ["cdom"]),
    ({"need:conflict", "practice:hospital"}, ["cdom", "cng"]),
    ({"need:career", "practice:hospital"}, ["cng"]),
    ({"need:career", "practice:liberal"}, ["cdom"]),
    ({"need:assault"}, ["cdom", "osm"]),
    ({"need:family"}, ["cnom_line", "afem"]),
    ({"need:health"}, ["cdom", "carmf"]),
    ({"persona:colleague"}, ["cnom_line", "cdom"]),
    ({"persona:relative"}, ["cnom_line", "cdom"]),
]


@pytest.mark.parametrize(("facts", "expected"), EXPECTED)
def test_every_rule_gives_its_routes(facts: set[str], expected: list[str]) -> None:
    routes = TABLE.routes(facts)
    assert set(expected) <= set(routes)


def test_every_rule_of_the_table_is_checked_above() -> None:
    checked = {rule.id for facts, _ in EXPECTED for rule in TABLE.matching_rules(facts)}
    assert checked == {rule.id for rule in TABLE.rules}


def test_hospital_mediation_is_only_for_hospital_practitioners() -> None:
    assert "cng" not in TABLE.routes({"need:conflict", "practice:liberal"})


def test_several_needs_get_every_route_most_urgent_first_once_each() -> None:
    routes = TABLE.routes({"need:financial", "need:psychological", "crisis", "need:assault"})
    assert routes == (
        "samu", "emergency_112", "suicide_3114", "emergency_114", "cnom_line", "sps",
        REGIONAL, "cdom", "carmf", "osm",
    )
    assert len(routes) == len(set(routes))


def test_nothing_known_still_gives_somewhere_to_turn() -> None:
    assert TABLE.routes(set()) == ("cnom_line", "cdom")


@pytest.mark.parametrize(
    ("facts", "level"),
    [
        (set(), 1),
        ({"persona:self", "need:administrative"}, 1),
        ({"persona:self", "screen:depression"}, 2),
        ({"persona:relative", "urgency:days"}, 2),
        ({"persona:colleague", "sign:alcohol"}, 2),
        ({"persona:self", "need:assault", "crisis"}, 3),
        ({"persona:relative", "urgency:immediate"}, 3),
        ({"sign:suicidal_talk"}, 3),
    ],
)
def test_levels_of_response(facts: set[str], level: int) -> None:
    assert TABLE.level(facts) == level


def test_every_route_is_in_the_directory() -> None:
    for route in TABLE.order:
        assert RESOURCES.directory[route].id


def test_every_directory_entry_has_a_source_a_date_field_and_a_status() -> None:
    raw = yaml.safe_load((DATA_DIR / "directory.yaml").read_text(encoding="utf-8"))["entries"]
    statuses = {"confirmed", "most_current_found", "probably_current", "unconfirmed",
                "no_phone", "deployment"}
    for entry_id, entry in raw.items():
        assert entry["source"], entry_id
        assert "source_date" in entry, entry_id
        assert entry["status"] in statuses, entry_id
        assert entry["phone"] or entry["other"], entry_id
        for field in ("name", "purpose"):
            assert set(entry[field]) == {"fr", "en"}, (entry_id, field)


def test_the_numbers_of_the_brief_are_the_numbers_given() -> None:
    phones = RESOURCES.directory.phones()
    assert phones["samu"] == "15" and phones["suicide_3114"] == "3114"
    assert phones["cnom_line"] == "0800 288 038" and phones["sps"] == "0805 23 23 36"
    assert phones["mots"] == "06 08 28 25 89"


def test_the_deployment_overrides_the_council_and_names_the_association() -> None:
    council = RESOURCES.directory["cdom"]
    assert "Var" in council.name["fr"]
    assert council.phone is None  # no number in our sources: never invented
    assert RESOURCES.directory.resolve(REGIONAL) == "mots"


def test_no_phone_number_is_written_in_the_locale_files() -> None:
    phone = re.compile(r"\b0\d(?:[ .]?\d{2}){4}\b|\b0800\b|\b(?:15|112|114|3114)\b")
    for locale in ("fr", "en"):
        for key, text in RESOURCES.texts.by_locale[locale].items():
            assert not phone.search(text), (locale, key)
