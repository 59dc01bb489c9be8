"""The routing table (domain brief §4), the levels (§3) and the directory (§5)."""

from __future__ import annotations

import re

import pytest
import yaml

from flows.directory import DATA_DIR, REGIONAL
from flows.routing import RoutingTable
from tests.conftest import RESOURCES

TABLE = RoutingTable.load()

CRISIS = ("samu", "emergency_112", "suicide_3114", "emergency_114", "cnom_line")
SUPPORT = ("cnom_line", "sps")
# One expectation per rule of the table: facts -> every route given, in the table's order.
EXPECTED = [
    ({"crisis"}, CRISIS),
    ({"urgency:immediate"}, CRISIS),
    ({"sign:suicidal_talk"}, CRISIS),
    ({"need:psychological"}, (*SUPPORT, REGIONAL)),
    ({"need:grief"}, (*SUPPORT, REGIONAL)),
    ({"screen:depression"}, (*SUPPORT, REGIONAL)),
    ({"screen:burnout"}, (*SUPPORT, REGIONAL)),
    ({"screen:anxiety"}, SUPPORT),
    ({"sign:withdrawal"}, SUPPORT),
    ({"need:addiction"}, (*SUPPORT, REGIONAL)),
    ({"screen:alcohol"}, (*SUPPORT, REGIONAL)),
    ({"sign:drugs"}, (*SUPPORT, REGIONAL)),
    ({"practice:student"}, ("cnom_line", "sps", "intern_support")),
    ({"need:financial"}, ("cdom",)),
    ({"need:financial", "practice:liberal"}, ("cdom", "carmf")),
    ({"need:administrative"}, ("cnom_line", "cdom")),
    ({"need:legal"}, ("cdom",)),
    ({"need:conflict"}, ("cdom",)),
    ({"need:conflict", "practice:hospital"}, ("cdom", "cng")),
    ({"need:career", "practice:hospital"}, ("cdom", "cng")),
    ({"need:career", "practice:liberal"}, ("cdom",)),
    ({"need:assault"}, (*SUPPORT, "cdom", "osm")),
    ({"need:family"}, SUPPORT),
    ({"need:children"}, ("cdom", "afem")),
    ({"need:health"}, ("cdom",)),
    ({"need:health", "practice:liberal"}, ("cdom", "carmf")),
    ({"persona:colleague"}, ("cnom_line", "cdom")),
    ({"persona:relative"}, ("cnom_line", "cdom")),
]


@pytest.mark.parametrize(("facts", "expected"), EXPECTED)
def test_every_rule_gives_its_routes(facts: set[str], expected: tuple[str, ...]) -> None:
    assert TABLE.routes(facts) == expected


def test_every_rule_of_the_table_is_checked_above() -> None:
    checked = {rule.id for facts, _ in EXPECTED for rule in TABLE.matching_rules(facts)}
    assert checked == {rule.id for rule in TABLE.rules}
    assert checked == {
        "crisis", "psychological_support", "lasting_care", "addiction", "students",
        "material_help", "carmf_social_fund", "administrative_help",
        "proceedings_and_conflicts", "hospital_mediation", "career_outside_hospital",
        "assault", "family", "children", "illness", "someone_else",
    }


@pytest.mark.parametrize(
    ("rule", "routes"),
    [
        ("material_help", ("cdom",)),
        ("illness", ("cdom",)),
        ("carmf_social_fund", ("carmf",)),
        ("family", ("cnom_line",)),
        ("children", ("afem", "cdom")),
        ("students", ("sps", "cnom_line", "intern_support")),
        ("assault", ("cdom", "osm")),
    ],
)
def test_the_rules_that_changed_give_only_their_own_routes(
    rule: str, routes: tuple[str, ...]
) -> None:
    assert next(r for r in TABLE.rules if r.id == rule).routes == routes


def test_hospital_mediation_is_only_for_hospital_practitioners() -> None:
    assert "cng" not in TABLE.routes({"need:conflict", "practice:liberal"})


@pytest.mark.parametrize("practice", [None, "salaried", "hospital", "student", "retired"])
@pytest.mark.parametrize("need", ["need:financial", "need:health"])
def test_the_carmf_is_only_for_the_self_employed(need: str, practice: str | None) -> None:
    facts = {need} | ({f"practice:{practice}"} if practice else set())
    assert "carmf" not in TABLE.routes(facts)
    assert "carmf" in TABLE.routes({need, "practice:liberal"})


def test_the_carmf_is_not_given_for_other_needs_of_the_self_employed() -> None:
    for need in ("need:psychological", "need:legal", "need:family", "need:children"):
        assert "carmf" not in TABLE.routes({need, "practice:liberal"})


@pytest.mark.parametrize("facts", [{"need:grief"}, {"need:family"}, {"need:grief", "need:family"}])
def test_afem_is_only_for_children_never_for_grief_or_family_alone(facts: set[str]) -> None:
    assert "afem" not in TABLE.routes(facts)
    assert "afem" in TABLE.routes({*facts, "need:children"})


def test_intern_support_is_only_for_students() -> None:
    assert "intern_support" in TABLE.routes({"practice:student", "need:psychological"})
    for practice in ("liberal", "salaried", "hospital", "retired"):
        assert "intern_support" not in TABLE.routes({f"practice:{practice}",
                                                    "need:psychological"})


def test_an_assault_gets_complaint_advice_and_psychological_support() -> None:
    routes = TABLE.routes({"need:assault"})
    assert {"cdom", "osm", "cnom_line", "sps"} <= set(routes)
    assert TABLE.advice({"need:assault"}) == ("complaint",)


@pytest.mark.parametrize(
    "facts",
    [set(), {"crisis"}, {"need:financial"}, {"need:psychological"}, {"persona:relative"},
     {"need:family"}, {"practice:student"}],
)
def test_only_an_assault_gets_advice(facts: set[str]) -> None:
    assert TABLE.advice(facts) == ()
    assert TABLE.advice({*facts, "need:assault"}) == ("complaint",)


def test_advice_is_given_once_however_many_rules_apply() -> None:
    assert TABLE.advice({"need:assault", "crisis", "need:family", "need:financial"}) == (
        "complaint",
    )


def test_every_advice_has_a_sentence_in_both_languages() -> None:
    names = {name for rule in TABLE.rules for name in rule.advice}
    assert names == {"complaint"}
    for locale in ("fr", "en"):
        for name in names:
            assert RESOURCES.texts.by_locale[locale][f"routes.advice.{name}"].strip()


def test_several_needs_get_every_route_most_urgent_first_once_each() -> None:
    routes = TABLE.routes({"need:financial", "need:psychological", "crisis", "need:assault"})
    assert routes == (
        "samu", "emergency_112", "suicide_3114", "emergency_114", "cnom_line", "sps",
        REGIONAL, "cdom", "osm",
    )
    assert len(routes) == len(set(routes))
    liberal = TABLE.routes(
        {"need:financial", "need:psychological", "crisis", "need:assault", "practice:liberal"}
    )
    assert liberal == (
        "samu", "emergency_112", "suicide_3114", "emergency_114", "cnom_line", "sps",
        REGIONAL, "cdom", "carmf", "osm",
    )


def test_the_order_lists_every_route_once_with_intern_support() -> None:
    assert TABLE.order == (
        "samu", "emergency_112", "suicide_3114", "emergency_114", "cnom_line", "sps",
        REGIONAL, "intern_support", "cdom", "carmf", "osm", "afem", "cng",
    )
    assert {route for rule in TABLE.rules for route in rule.routes} <= set(TABLE.order)


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


def test_the_new_directory_entries_are_there() -> None:
    for entry_id in ("intern_support", "cdom_other"):
        entry = RESOURCES.directory.entries[entry_id]
        assert entry.name["fr"] and entry.name["en"]


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
