"""Natural answers (flows/answers.py): what people type instead of picking an option."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from typing import Any

import pytest

from flows import answers
from flows.answers import (
    age_band,
    is_feeling,
    is_greeting,
    is_skip,
    is_thanks,
    item_answer,
    needs_of,
    practice_of,
    scale_of,
    signs_of,
    yes_no,
)
from flows.questionnaires import load_questionnaires

# -- yes, no, unsure -------------------------------------------------------------------------

YES = [
    "oui", "Oui !", "OUI", "ouiii", "ouais", "ouai", "ouep", "ok", "OK", "okay", "okkk", "d'accord",
    "d’accord", "dac", "dacc", "bien sûr", "bien sur", "volontiers", "allez", "allez-y", "go",
    "je veux bien", "jveux bien", "pourquoi pas", "pk pas", "yes", "yep", "yeah", "sure",
    "of course", "oui merci", "euh oui", "bah oui", "ben ok", "mais oui", "oui oui",
    "oui, au bloc j'ai tout ce qu'il faut", "ok on y va", "c'est parti", "carrément",
    "tout à fait", "absolument", "pas de problème", "no problem", "👍", "si",
]
NO = [
    "non", "Non.", "NON", "nooon", "nan", "non merci", "Non merci !", "pas maintenant",
    "pas pour l'instant", "pas pour le moment", "plus tard", "pas vraiment", "no", "nope",
    "no thanks", "not now", "non ça va", "non c'est pour moi", "bah non", "mais non",
    "je ne veux pas", "je veux pas", "pas du tout", "surtout pas", "jamais", "not really",
    "une autre fois", "pas aujourd'hui", "merci non", "👎",
]
UNSURE = [
    "je sais pas", "je ne sais pas", "jsp", "JSP", "chais pas", "chai pas", "j'sais pas",
    "aucune idée", "aucune idee", "peut-être", "peut etre", "ptet", "je ne suis pas sûr",
    "je ne suis pas sûre", "pas sûr", "pas sure", "pas certain", "bof", "i don't know",
    "I dont know", "idk", "not sure", "maybe", "euh je sais pas", "non je sais pas",
    "oui et non", "je sais pas trop", "je ne sais plus", "j'en sais rien", "ça dépend",
    "oui peut-être",
]
NOT_YES_NO = [
    "", "   ", "bonjour", "merci", "je suis interne", "le moral", "38", "go back",
    "allez vous me juger ?", "non seulement je suis épuisé mais en plus", "si je réponds",
    "okra", "nonante", "ouistiti", "😢", "mon rendez-vous",
]


@pytest.mark.parametrize("text", YES)
def test_yes(text: str) -> None:
    assert yes_no(text) == "yes"


@pytest.mark.parametrize("text", NO)
def test_no(text: str) -> None:
    assert yes_no(text) == "no"


@pytest.mark.parametrize("text", UNSURE)
def test_unsure(text: str) -> None:
    assert yes_no(text) == "unsure"


@pytest.mark.parametrize("text", NOT_YES_NO)
def test_not_a_yes_or_a_no(text: str) -> None:
    assert yes_no(text) is None


SKIPS = [
    "passer", "Passer", "je passe", "on passe", "suivant", "question suivante",
    "je préfère ne pas répondre", "je prefere ne pas repondre", "je préfère ne pas le dire",
    "je préfère ne pas répondre à cette question", "pas de réponse", "skip", "pass", "next",
    "suivant svp", "je ne veux pas répondre", "rien", "aucun", "none", "I'd rather not say",
]
NOT_SKIPS = ["", "oui", "non", "rien ne va", "aucun problème avec ça", "next time", "38",
             "passer un coup de fil"]


@pytest.mark.parametrize("text", SKIPS)
def test_skip(text: str) -> None:
    assert is_skip(text)


@pytest.mark.parametrize("text", NOT_SKIPS)
def test_not_a_skip(text: str) -> None:
    assert not is_skip(text)


# -- age -------------------------------------------------------------------------------------

AGES = [
    ("38", "under_50"), ("38 ans", "under_50"), ("38ans", "under_50"),
    ("j'ai 38 ans", "under_50"), ("jai 38 ans", "under_50"), ("moins de 50", "under_50"),
    ("moins de 50 ans", "under_50"), ("moins de 40", "under_50"), ("la quarantaine", "under_50"),
    ("trentaine", "under_50"), ("trente-huit ans", "under_50"), ("under 50", "under_50"),
    ("I'm 42", "under_50"), ("49", "under_50"), ("bientôt 50", "under_50"),
    ("18", "under_50"), ("environ 45 ans", "under_50"), ("j'ai 45 ans et je suis interne",
                                                          "under_50"),
    ("50", "50_60"), ("55", "50_60"), ("55 ans", "50_60"), ("cinquantaine", "50_60"),
    ("la cinquantaine", "50_60"), ("cinquante-cinq", "50_60"), ("entre 50 et 60", "50_60"),
    ("50 à 60", "50_60"), ("60", "50_60"), ("60 ans", "50_60"),
    ("61", "over_60"), ("plus de 60", "over_60"), ("plus de 60 ans", "over_60"),
    ("la soixantaine", "over_60"), ("soixante et onze ans", "over_60"),
    ("quatre-vingts ans", "over_60"), ("83", "over_60"), ("over 60", "over_60"),
    ("110", "over_60"), ("plus de 70", "over_60"),
]
NOT_AGES = [
    "", "retraité depuis 5 ans", "5", "17", "111", "150", "0", "plus de 50", "moins de 60",
    "entre 40 et 55", "bonjour", "je préfère ne pas le dire", "jeune", "oui",
]


@pytest.mark.parametrize(("text", "band"), AGES)
def test_age_band(text: str, band: str) -> None:
    assert age_band(text) == band


@pytest.mark.parametrize("text", NOT_AGES)
def test_not_an_age(text: str) -> None:
    assert age_band(text) is None


def test_every_age_from_18_to_110_has_its_band_and_60_is_in_50_60() -> None:
    for age in range(18, 111):
        expected = "under_50" if age < 50 else "50_60" if age <= 60 else "over_60"
        assert age_band(str(age)) == expected, age


# -- practice --------------------------------------------------------------------------------

PRACTICE = [
    ("libéral", "liberal"), ("libérale", "liberal"), ("liberale", "liberal"),
    ("en libéral", "liberal"), ("installé", "liberal"), ("installée", "liberal"),
    ("en cabinet", "liberal"), ("généraliste en cabinet", "liberal"),
    ("remplaçant", "liberal"), ("remplaçante", "liberal"), ("je fais des remplacements",
                                                              "liberal"),
    ("en clinique", "liberal"), ("clinique", "liberal"),
    ("salarié", "salaried"), ("salariée", "salaried"), ("en centre de santé", "salaried"),
    ("médecin du travail", "salaried"), ("PMI", "salaried"), ("salarié en clinique", "salaried"),
    ("hôpital", "hospital"), ("à l'hôpital", "hospital"), ("hospitalier", "hospital"),
    ("hospitalière", "hospital"), ("PH", "hospital"), ("praticien hospitalier", "hospital"),
    ("CHU", "hospital"), ("au CHU", "hospital"), ("je bosse au CH de Toulon", "hospital"),
    ("chef de clinique", "hospital"), ("chef de clinique, j'encadre des internes", "hospital"),
    ("je suis en médecine interne au CHU", "hospital"),
    ("interne", "student"), ("externe", "student"), ("étudiant", "student"),
    ("étudiante", "student"), ("en internat", "student"), ("docteur junior", "student"),
    ("résident", "student"), ("chui interne", "student"), ("je suis interne à l'hôpital",
                                                             "student"),
    ("chui interne au CHU", "student"),
    ("retraité", "retired"), ("retraitée", "retired"), ("à la retraite", "retired"),
    ("retraité, ancien PH", "retired"), ("retired", "retired"),
]


@pytest.mark.parametrize(("text", "practice"), PRACTICE)
def test_practice(text: str, practice: str) -> None:
    assert practice_of(text) == practice


@pytest.mark.parametrize("text", ["", "bonjour", "oui", "38", "je préfère ne pas le dire",
                                  "médecin", "je suis épuisé"])
def test_no_practice(text: str) -> None:
    assert practice_of(text) is None


# -- needs -----------------------------------------------------------------------------------

NEEDS = [
    ("le moral", ("psychological",)), ("je suis épuisée", ("psychological",)),
    ("burn out", ("psychological",)), ("burn-out", ("psychological",)),
    ("stress", ("psychological",)), ("je suis à bout", ("psychological",)),
    ("dettes", ("financial",)), ("URSSAF", ("financial",)), ("cotisations", ("financial",)),
    ("argent", ("financial",)), ("impôts", ("financial",)), ("liquidation", ("financial",)),
    ("paperasse", ("administrative",)), ("démarches", ("administrative",)),
    ("plainte", ("legal",)), ("procès", ("legal",)), ("chambre disciplinaire", ("legal",)),
    ("avocat", ("legal",)),
    ("divorce", ("family",)), ("séparation", ("family",)), ("ma femme m'a quitté", ("family",)),
    ("deuil", ("grief",)), ("décès de mon mari", ("grief",)), ("j'ai perdu mon fils", ("grief",)),
    ("mes enfants", ("children",)), ("études de mes enfants", ("children",)),
    ("conflit avec mon associé", ("conflict",)), ("harcèlement", ("conflict",)),
    ("mon chef m'humilie", ("conflict",)),
    ("agressé par un patient", ("assault",)), ("menacé", ("assault",)),
    ("violence", ("assault",)),
    ("alcool", ("addiction",)), ("je bois", ("addiction",)), ("médicaments", ("addiction",)),
    ("cannabis", ("addiction",)), ("cocaïne", ("addiction",)),
    ("cancer", ("health",)), ("malade", ("health",)), ("AVC", ("health",)),
    ("accident", ("health",)), ("arrêt maladie", ("health",)),
    ("reconversion", ("career",)), ("changer de poste", ("career",)),
    ("quitter la médecine", ("career",)),
    ("le moral et les dettes", ("psychological", "financial")),
    ("décès de mon mari, et les études de mes enfants", ("grief", "children")),
    ("burnout + arrêt maladie", ("psychological", "health")),
    ("j'ai une plainte et je bois trop", ("legal", "addiction")),
    ("DETTES URSSAF, divorce, alcool", ("financial", "family", "addiction")),
    ("I'm exhausted and in debt", ("psychological", "financial")),
]


@pytest.mark.parametrize(("text", "needs"), NEEDS)
def test_needs(text: str, needs: tuple[str, ...]) -> None:
    assert needs_of(text) == needs


@pytest.mark.parametrize("text", ["", "bonjour", "oui", "non", "38", "je suis interne",
                                  "médecin de famille", "merci"])
def test_no_needs(text: str) -> None:
    assert needs_of(text) == ()


def test_needs_come_in_the_order_of_the_list() -> None:
    found = needs_of("carrière, alcool, deuil, dettes, le moral")
    assert found == tuple(need for need in answers.NEEDS if need in found)
    assert set(found) == {"career", "addiction", "grief", "financial", "psychological"}


# -- signs -----------------------------------------------------------------------------------

SIGNS = [
    ("agressif, renfermé", ("aggressiveness", "withdrawal")),
    ("il a changé", ("behaviour_change",)), ("il n'est plus le même", ("behaviour_change",)),
    ("elle n'est plus la même", ("behaviour_change",)),
    ("irritable", ("aggressiveness",)), ("il crie", ("aggressiveness",)),
    ("il s'en fiche du boulot", ("disengagement",)), ("démotivé", ("disengagement",)),
    ("il ne s'arrête jamais", ("presenteeism",)), ("travaille même malade", ("presenteeism",)),
    ("froid", ("coldness",)), ("distant", ("coldness",)),
    ("s'isole", ("withdrawal",)), ("ne voit plus personne", ("withdrawal",)),
    ("renfermé", ("withdrawal",)),
    ("il boit", ("alcohol",)), ("alcool", ("alcohol",)),
    ("médicaments", ("drugs",)), ("drogue", ("drugs",)), ("cannabis", ("drugs",)),
    ("il se pique", ("drugs",)),
    ("parle de mourir", ("suicidal_talk",)), ("parle d'en finir", ("suicidal_talk",)),
    ("à quoi bon", ("suicidal_talk",)), ("il dit tout le temps à quoi bon", ("suicidal_talk",)),
    ("elle est froide et distante, elle boit", ("coldness", "alcohol")),
    ("il est devenu agressif et il s'isole", ("aggressiveness", "withdrawal")),
    ("he drinks and he is withdrawn", ("withdrawal", "alcohol")),
]


@pytest.mark.parametrize(("text", "signs"), SIGNS)
def test_signs(text: str, signs: tuple[str, ...]) -> None:
    assert signs_of(text) == signs


@pytest.mark.parametrize("text", ["", "bonjour", "oui", "il a changé de voiture", "38"])
def test_no_signs(text: str) -> None:
    assert signs_of(text) == ()


# -- questionnaire items ---------------------------------------------------------------------

QUESTIONNAIRES = load_questionnaires()


def labels(instrument: str, number: int, locale: str = "fr") -> dict[str, str]:
    item = QUESTIONNAIRES[instrument].item(number)
    return {str(option.score): option.label[locale] for option in item.options}


def answer(instrument: str, number: int, text: str, locale: str = "fr") -> str | None:
    return item_answer(labels(instrument, number, locale), scale_of(instrument, number), text)


def every_item() -> Iterator[tuple[str, int]]:
    for instrument, questionnaire in QUESTIONNAIRES.items():
        for item in questionnaire.items:
            yield instrument, item.number


@pytest.mark.parametrize(("instrument", "number"), list(every_item()))
@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_label_reads_as_its_own_option(instrument: str, number: int, locale: str) -> None:
    for option, label in labels(instrument, number, locale).items():
        assert answer(instrument, number, label, locale) == option, label
        assert answer(instrument, number, label.upper() + " !", locale) == option, label


PHQ = [
    ("souvent", "2"), ("tout le temps", "3"), ("tous les jours", "3"), ("pas du tout", "0"),
    ("rarement", "1"), ("la moitié du temps", "2"), ("la moitié", "2"), ("un peu", "1"),
    ("beaucoup", "2"), ("jamais", "0"), ("non, jamais", "0"), ("presque tous les jours", "3"),
    ("plusieurs jours", "1"), ("quelques jours", "1"), ("de temps en temps", "1"),
    ("never", "0"), ("sometimes", "1"), ("every day", "3"), ("all the time", "3"),
    ("pas souvent", "1"), ("presque", "3"), ("tout les jours", "3"),
    ("presque tout les jours", "3"), ("presque chaque jour", "3"), ("pas trop", "1"),
    ("pas beaucoup", "1"),
]


@pytest.mark.parametrize(("text", "option"), PHQ)
@pytest.mark.parametrize(("instrument", "number"), [("phq9", 1), ("phq9", 9), ("gad7", 3)])
def test_two_week_frequency(instrument: str, number: int, text: str, option: str) -> None:
    assert answer(instrument, number, text) == option


def test_two_week_frequency_in_english_labels() -> None:
    assert answer("phq9", 2, "not at all", "en") == "0"
    assert answer("phq9", 2, "several days", "en") == "1"
    assert answer("phq9", 2, "often", "en") == "2"
    assert answer("phq9", 2, "nearly every day", "en") == "3"
    assert answer("phq9", 2, "tous les jours", "en") == "3"


CBI_FREQUENCY = [
    ("souvent", "Souvent"), ("tout le temps", "Toujours"), ("toujours", "Toujours"),
    ("tous les jours", "Toujours"), ("jamais", "Jamais ou presque jamais"),
    ("presque jamais", "Jamais ou presque jamais"), ("pas du tout", "Jamais ou presque jamais"),
    ("pas souvent", "Rarement"), ("rarement", "Rarement"), ("parfois", "Parfois"),
    ("de temps en temps", "Parfois"), ("la moitié du temps", "Parfois"),
    ("always", "Toujours"), ("never", "Jamais ou presque jamais"), ("sometimes", "Parfois"),
    ("every day", "Toujours"), ("very often", "Souvent"), ("pas toujours", "Parfois"),
]


@pytest.mark.parametrize(("text", "label"), CBI_FREQUENCY)
@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_cbi_frequency_maps_the_word_to_the_option_that_says_it(
    number: int, text: str, label: str
) -> None:
    shown = labels("cbi", number)
    chosen = answer("cbi", number, text)
    assert chosen is not None and shown[chosen] == label


def test_cbi_item_4_is_reversed_by_its_labels_not_by_the_word() -> None:
    # "Toujours" has energy left for family: it scores 0 on item 4, 100 on item 1.
    assert answer("cbi", 1, "tout le temps") == "100"
    assert answer("cbi", 4, "tout le temps") == "0"
    assert answer("cbi", 4, "jamais") == "100"
    assert answer("cbi", 4, "pas souvent") == "75"


CBI_DEGREE = [
    ("un peu", "25"), ("beaucoup", "75"), ("énormément", "100"), ("enormement", "100"),
    ("très peu", "0"), ("tres peu", "0"), ("pas du tout", "0"), ("moyennement", "50"),
    ("assez", "50"), ("un peu beaucoup", "50"), ("extrêmement", "100"), ("a lot", "75"),
    ("a little", "25"), ("not at all", "0"), ("somewhat", "50"), ("légèrement", "25"),
    # "Vous sentez-vous à bout à cause de votre travail ?" "Oui": at least "Moyennement".
    ("oui", "50"), ("ouais", "50"), ("yes", "50"), ("oui beaucoup", "75"),
    ("toujours", "75"), ("tout le temps", "75"), ("oui, énormément", "100"),
]


@pytest.mark.parametrize(("text", "option"), CBI_DEGREE)
@pytest.mark.parametrize("number", [5, 6, 7])
def test_cbi_degree(number: int, text: str, option: str) -> None:
    assert answer("cbi", number, text) == option


AUDITC = [
    (1, "jamais", "0"), (1, "je ne bois pas", "0"), (1, "je bois pas", "0"),
    (1, "I don't drink", "0"), (1, "never", "0"),
    (1, "une fois par mois", "1"), (1, "rarement", "1"), (1, "presque jamais", "1"),
    (1, "aux fêtes", "1"), (1, "deux fois par mois", "2"), (1, "une fois par semaine", "2"),
    (1, "2 fois par semaine", "3"), (1, "3 fois par semaine", "3"),
    (1, "tous les jours", "4"), (1, "tous les soirs", "4"), (1, "every day", "4"),
    (1, "5 fois par semaine", "4"),
    (2, "2 verres", "0"), (2, "deux verres", "0"), (2, "un verre", "0"), (2, "1 ou 2", "0"),
    (2, "un ou deux", "0"), (2, "3 bières", "1"), (2, "4 verres", "1"), (2, "6 verres", "2"),
    (2, "une bouteille", "3"), (2, "8 verres", "3"), (2, "10 verres", "4"),
    (2, "deux bouteilles", "4"), (2, "2 pintes", "1"),
    (3, "jamais", "0"), (3, "je ne bois pas", "0"), (3, "ça ne m'arrive pas", "0"),
    (3, "moins d'une fois par mois", "1"), (3, "rarement", "1"), (3, "une fois par an", "1"),
    (3, "une fois par mois", "2"), (3, "chaque mois", "2"), (3, "chaque semaine", "3"),
    (3, "tous les week-ends", "3"), (3, "2 fois par semaine", "3"), (3, "tous les jours", "4"),
    (3, "presque tous les jours", "4"),
]


@pytest.mark.parametrize(("number", "text", "option"), AUDITC)
def test_audit_c(number: int, text: str, option: str) -> None:
    assert answer("auditc", number, text) == option


UNCLEAR = [
    ("phq9", 1, "2"), ("phq9", 1, "3"), ("phq9", 1, "0"), ("phq9", 1, ""),
    ("phq9", 1, "souvent ou parfois"), ("phq9", 1, "pas tous les jours"), ("phq9", 1, "de"),
    ("phq9", 1, "jours"), ("phq9", 1, "bonjour"), ("phq9", 1, "je sais pas"),
    ("phq9", 1, "presque jamais"), ("cbi", 5, "peu"), ("cbi", 1, "3"), ("cbi", 1, "100"),
    ("auditc", 1, "je ne bois pas tous les jours"), ("auditc", 1, "fois par mois"),
    ("auditc", 2, "2"), ("auditc", 2, "2 ou 3 verres"), ("auditc", 2, "je ne bois pas"),
    ("auditc", 2, "quelques verres"), ("auditc", 3, "mois"), ("gad7", 1, "bof"),
]


@pytest.mark.parametrize(("instrument", "number", "text"), UNCLEAR)
def test_unclear_or_numeric_answers_are_not_read(instrument: str, number: int, text: str) -> None:
    assert answer(instrument, number, text) is None


def test_item_answer_refuses_an_unknown_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        item_answer(labels("phq9", 1), "phq9", "souvent")


def test_scale_of_every_item() -> None:
    assert scale_of("phq9", 1) == scale_of("phq9", 9) == scale_of("gad7", 7) == "frequency_2w"
    assert [scale_of("cbi", n) for n in range(1, 8)] == ["cbi_frequency"] * 4 + ["cbi_degree"] * 3
    assert [scale_of("auditc", n) for n in (1, 2, 3)] == ["auditc_1", "auditc_2", "auditc_3"]
    for instrument, number in every_item():
        assert scale_of(instrument, number) in answers.SCALES
    with pytest.raises(ValueError):
        scale_of("auditc", 4)
    with pytest.raises(ValueError):
        scale_of("mmse", 1)


# -- feelings, greetings, thanks -------------------------------------------------------------

FEELINGS = [
    "😢", "😢😢😢", "😭", "😞", "💔", "🙁", "😔", "😢 😭", "😢😢😢 !", "c'est dur",
    "c'est trop dur",
    "je suis fatigué", "je suis fatiguée", "je suis tellement fatiguée", "j'en ai marre",
    "je pleure", "je suis perdu", "je suis perdue", "ça va pas", "ca va pas", "je n'en peux plus",
    "jpp", "sad", "tired", "so tired", "😢 c'est dur", "c dur", "chui fatigué", "ras le bol",
]
NOT_FEELINGS = [
    "", "oui", "non", "👍", "😊", "bonjour", "38", "souvent", "le moral",
    "je suis fatigué depuis que mon associé a commencé à boire et à crier sur tout le monde",
]


@pytest.mark.parametrize("text", FEELINGS)
def test_feeling(text: str) -> None:
    assert is_feeling(text)


@pytest.mark.parametrize("text", NOT_FEELINGS)
def test_not_a_feeling(text: str) -> None:
    assert not is_feeling(text)


GREETINGS = ["bonjour", "Bonjour !", "bonsoir", "salut", "hello", "coucou", "bjr", "hi",
             "bonjour docteur", "salut ça va ?", "hey", "hello there"]
NOT_GREETINGS = ["", "bonjour, je suis épuisé", "oui", "merci", "salutations distinguées et tout",
                 "hibou", "bonjour je voudrais parler de mon associé"]


@pytest.mark.parametrize("text", GREETINGS)
def test_greeting(text: str) -> None:
    assert is_greeting(text)


@pytest.mark.parametrize("text", NOT_GREETINGS)
def test_not_a_greeting(text: str) -> None:
    assert not is_greeting(text)


THANKS = ["merci", "Merci !", "merci beaucoup", "merci bcp", "thanks", "thank you",
          "merci beaucoup pour votre aide", "ok merci", "merci c'est gentil", "thx"]
NOT_THANKS = ["", "merci mais non", "non merci", "oui merci", "bonjour", "mercis pour rien",
              "merci de me rappeler demain matin"]


@pytest.mark.parametrize("text", THANKS)
def test_thanks(text: str) -> None:
    assert is_thanks(text)


@pytest.mark.parametrize("text", NOT_THANKS)
def test_not_thanks(text: str) -> None:
    assert not is_thanks(text)


# -- the data itself -------------------------------------------------------------------------


def compiled_patterns(node: Any) -> Iterator[re.Pattern[str]]:
    """Every compiled pattern of a lexicon, however deep in its dataclasses and tables."""
    if isinstance(node, re.Pattern):
        yield node
    elif is_dataclass(node) and not isinstance(node, type):
        for field in fields(node):
            yield from compiled_patterns(getattr(node, field.name))
    elif isinstance(node, dict):
        for value in node.values():
            yield from compiled_patterns(value)
    elif isinstance(node, (tuple, list)):
        for value in node:
            yield from compiled_patterns(value)


def nested_repeats(pattern: str) -> list[str]:
    """Repeats (*, +, {m,n}) that hold another repeat: the shape of catastrophic backtracking."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser as parser  # type: ignore[attr-defined]

    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)

    def holds_repeat(items: Any) -> bool:
        return any(op in repeats or any(holds_repeat(x) for x in children(op, av))
                   for op, av in items)

    def children(op: Any, av: Any) -> list[Any]:
        if op in repeats:
            return [av[2]]
        if op is c.SUBPATTERN:
            return [av[3]]
        if op is c.BRANCH:
            return list(av[1])
        if op in (c.ASSERT, c.ASSERT_NOT):
            return [av[1]]
        return []

    found: list[str] = []

    def walk(items: Any) -> None:
        for op, av in items:
            if op in repeats and av[1] > 1 and holds_repeat(av[2]):
                found.append(str(av))
            for child in children(op, av):
                walk(child)

    walk(parser.parse(pattern))
    return found


def test_no_pattern_nests_quantifiers() -> None:
    from flows import commands

    patterns = [*compiled_patterns(answers._lexicon()), *compiled_patterns(commands.lexicon())]
    assert len(patterns) > 100
    offending = {p.pattern[:80]: nested_repeats(p.pattern) for p in patterns}
    assert {k: v for k, v in offending.items() if v} == {}
    assert nested_repeats(r"(\w+ )*x") and nested_repeats(r"(a|b+)+") and not nested_repeats(
        r"(?:(?:euh|ben) )?oui\w*"
    )


def test_the_patterns_are_written_for_folded_text() -> None:
    # fold() leaves no accent, capital letter or apostrophe: a pattern holding one never
    # matches what it was written for.
    from flows import commands

    every = [*compiled_patterns(answers._lexicon()), *compiled_patterns(commands.lexicon())]
    for compiled in every:
        pattern = compiled.pattern
        letters = re.sub(r"\\[A-Za-z]|\(\?P<\w+>", "", pattern)
        assert pattern.isascii(), pattern[:80]
        assert "'" not in pattern, pattern[:80]
        assert not re.search("[A-Z]", letters), pattern[:80]


def test_long_and_hostile_input_reads_as_nothing_or_one_answer() -> None:
    """Nothing here says an answer clearly, and nothing breaks; how fast it goes is
    measured by `make bench` (tests/bench/bench_engine.py)."""
    texts = [
        "je " * 1500, "a" * 4000, "oui non " * 500, "1 " * 2000, "de la " * 1000,
        "pas " * 1000 + "souvent", "😢" * 2000, "chui interne mon chef m humilie " * 120,
    ]
    labels_phq = labels("phq9", 1)
    for text in texts:
        assert yes_no(text) in (None, "yes", "no", "unsure")
        assert age_band(text) is None
        assert not is_greeting(text) and not is_thanks(text)
        is_skip(text), practice_of(text), needs_of(text), signs_of(text), is_feeling(text)
        assert item_answer(labels_phq, "frequency_2w", text) in (None, *labels_phq)
        item_answer(labels("auditc", 2), "auditc_2", text)
