"""French geography as people type it: codes, names, prefectures, towns, sentences."""

from __future__ import annotations

import pytest

from flows import geography
from flows.geography import department_of
from flows.resources import Resources
from flows.textnorm import fold

DEPARTMENTS = geography.departments()


def test_the_101_departments_each_with_a_prefecture_and_an_of_form() -> None:
    assert len(DEPARTMENTS) == 101
    assert list(DEPARTMENTS)[:3] == ["01", "02", "03"] and "20" not in DEPARTMENTS
    for code, dep in DEPARTMENTS.items():
        assert dep.code == code and dep.prefecture and dep.english
        assert dep.of.removesuffix(dep.name) in ("du ", "des ", "de l'", "de la ", "de ", "d'")
        assert dep.of.endswith(dep.name) or dep.of == "de La Réunion"
        assert code == "75" or 2 <= len(dep.towns) <= 5


@pytest.mark.parametrize(
    ("code", "of"),
    [
        ("83", "du Var"),
        ("06", "des Alpes-Maritimes"),
        ("01", "de l'Ain"),
        ("80", "de la Somme"),
        ("75", "de Paris"),
        ("972", "de la Martinique"),
        ("28", "d'Eure-et-Loir"),
        ("974", "de La Réunion"),
    ],
)
def test_the_name_after_le_conseil_departemental(code: str, of: str) -> None:
    assert geography.of_form(code) == of
    assert geography.department(code).of == of


def test_names_in_french_and_english() -> None:
    assert geography.name("973") == "Guyane"
    assert geography.name("973", "en") == "French Guiana"
    assert geography.name("83", "en") == "Var"


@pytest.mark.parametrize("code", list(DEPARTMENTS))
def test_every_department_by_its_number(code: str) -> None:
    assert department_of(code) == code
    assert department_of(code.lower()) == code
    assert department_of(f"je suis dans le {code}") == code
    if code.startswith("0"):
        assert department_of(code[1]) == code


@pytest.mark.parametrize("code", list(DEPARTMENTS))
def test_every_department_by_its_name(code: str) -> None:
    name = DEPARTMENTS[code].name
    assert department_of(name) == code
    assert department_of(fold(name)) == code  # no accents, no hyphens, lower case
    assert department_of(name.upper()) == code
    assert department_of(f"j'exerce {DEPARTMENTS[code].of}") == code


@pytest.mark.parametrize("code", list(DEPARTMENTS))
def test_every_department_by_its_prefecture(code: str) -> None:
    prefecture = DEPARTMENTS[code].prefecture
    expected = None if fold(prefecture) in geography.ambiguous_names() else code
    assert department_of(prefecture) == expected
    assert department_of(f"je suis à {prefecture}") == expected


def test_a_town_of_two_departments_names_neither() -> None:
    # Saint-Denis is the prefecture of La Réunion and a town of Seine-Saint-Denis.
    assert geography.ambiguous_names() == {"saint denis", "saint louis"}
    assert department_of("Saint-Denis") is None
    assert department_of("Saint-Denis de La Réunion") == "974"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("38", "38"),
        ("06", "06"),
        ("6", "06"),
        ("2A", "2A"),
        ("2b", "2B"),
        ("971", "971"),
        ("Isère", "38"),
        ("isere", "38"),
        ("alpes maritimes", "06"),
        ("Alpes-Maritimes", "06"),
        ("Bouches-du-Rhône", "13"),
        ("bouches du rhone", "13"),
        ("le 13", "13"),
        ("dans le Var", "83"),
        ("dans l'Ain", "01"),
        ("dans l’Ain", "01"),
        ("Toulon", "83"),
        ("Nice", "06"),
        ("Marseille", "13"),
        ("Lyon", "69"),
        ("St Etienne", "42"),
        ("st-étienne", "42"),
        ("Saint-Étienne", "42"),
        ("Aix", "13"),
        ("Aix-les-Bains", "73"),
        ("Brest", "29"),
        ("Quimper", "29"),
        ("Caen", "14"),
        ("Ajaccio", "2A"),
        ("Fort-de-France", "972"),
        ("fort de france", "972"),
        ("je suis médecin à Toulon", "83"),
        ("j'exerce au CHU de Caen", "14"),
        ("au Havre", "76"),
        ("Seine St Denis", "93"),
        ("Hte-Savoie", "74"),
        ("département 64", "64"),
        ("dpt 83 depuis 20 ans", "83"),
        ("généraliste dans le 13, je n'en peux plus", "13"),
        ("83000", "83"),
        ("20090", "2A"),
        ("20200", "2B"),
        ("97200", "972"),
        ("Lyon, mais j'exerce en Isère", "38"),  # a department's name beats a town
        ("je suis dans le Puy-de-Dôme", "63"),  # not "le Puy" (Haute-Loire)
        ("Romans-sur-Isère", "26"),
        ("Val-de-Marne", "94"),
        ("Vienne", "86"),  # the department, not the town in Isère
        ("la Réunion", "974"),
        ("French Guiana", "973"),
        ("dans le Cher", "18"),
        ("je suis libéral dans le Cher et je croule sous les dettes", "18"),
        ("à Tours", "37"),
        # one typing error in a long name
        ("Marseile", "13"),
        ("alpes maritime", "06"),
        ("bouche du rhone", "13"),
        ("Montpelier", "34"),
        ("Finisterre", "29"),
    ],
)
def test_what_people_type(text: str, code: str) -> None:
    assert department_of(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "je suis fatigué",
        "moins de 50",
        "oui",
        "non",
        "",
        "   ",
        "20",  # Corsica has two departments, 2A and 2B
        "Corse",
        "0",
        "975",
        "100",
        "Atlantide",
        "Île-de-France",
        "c'est cher",
        "je fais des tours de garde",
        "j'ai une réunion",
        "la réunion de service a viré au règlement de comptes",
        "je souhaite que la mort vienne me chercher",
        "je me sens mal",
        "have a nice day",
        "j'ai appelé le 15",
        "j'ai 45 ans",
        "du 15 au 20 mars",
        "personne ne m'écoute",  # not Péronne
        "mes papiers sont en ordre",  # not Pamiers
        "Toulon ou Marseille",  # two departments: asked again
        "Nicolas",
        "Venise",
        "Ainsi soit-il",
        "Boulogne",  # Boulogne-Billancourt or Boulogne-sur-Mer
    ],
)
def test_what_names_no_department(text: str) -> None:
    assert department_of(text) is None


def test_paris_hilton_is_paris() -> None:
    # Decided: the lookup finds place names and does not read jokes. "Paris" in an answer
    # to the department question is Paris; the person can still go back and correct it.
    assert department_of("Paris Hilton") == "75"


def test_a_city_name_inside_another_word_is_not_a_city() -> None:
    assert department_of("Venice") is None  # Nice
    assert department_of("Paul") is None  # Pau
    assert department_of("ainsi") is None  # Ain
    assert department_of("varier") is None  # Var
    assert department_of("dijonnaise") is None


def test_a_huge_answer_is_read_without_the_typing_error_search() -> None:
    text = "bla " * 30_000 + "Toulon"
    assert department_of(text) == "83"
    assert department_of("bla " * 30_000 + "Marseile") is None


def test_resources_delegate_to_geography() -> None:
    resources = Resources.load()
    assert resources.department_of("dans le Var") == "83"
    assert resources.department_of("Toulon") == "83"
    assert resources.departments["2A"] == "Corse-du-Sud"
    assert len(resources.departments) == 101


def test_the_lookup_is_an_index() -> None:
    # Prefectures, towns and aliases: the index holds several hundred names, built once.
    assert geography.known_names() > 500
    assert geography._index() is geography._index()


def test_names_only_reads_no_bare_number() -> None:
    # Text that answers another question: "38" is an age there, "3 semaines" a duration.
    assert department_of("38", names_only=True) is None
    assert department_of("2A", names_only=True) is None
    assert department_of("83000", names_only=True) is None
    assert department_of("j'ai 38 ans et je suis épuisé", names_only=True) is None
    assert department_of("depuis 3 semaines", names_only=True) is None
    assert department_of("généraliste dans le 13, à bout", names_only=True) == "13"
    assert department_of("je suis médecin à Toulon", names_only=True) == "83"
    assert Resources.load().department_of("38", names_only=True) is None


def test_a_phrase_that_is_no_place_hides_the_name_inside() -> None:
    assert department_of("je suis accro aux paris sportifs") is None
    assert department_of("je bois du calvados tous les soirs") is None
    assert department_of("médecin du Calvados") == "14"


def test_the_council_of_a_department() -> None:
    assert geography.council_name("83") == "conseil départemental de l'Ordre des médecins du Var"
    assert geography.council_name("01").endswith("médecins de l'Ain")
    assert geography.council_name("06", "en") == (
        "Alpes-Maritimes departmental council of the Ordre des médecins"
    )


def test_pathological_answers_stay_linear() -> None:
    # Not timed: a quadratic lookup would not finish these in a test run.
    assert department_of("Toulon " * 30_000) == "83"
    assert department_of("le " * 30_000) is None
    assert department_of("dans le " * 20_000) is None
