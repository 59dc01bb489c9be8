"""Commands typed at any point, and who a first message is about (flows/commands.py)."""

from __future__ import annotations

import pytest

from flows.commands import command_of, lexicon, persona_of
from flows.understanding import Interpretation

COMMANDS = [
    # emergency: the bot answers with the emergency numbers at once
    ("urgence", "emergency"), ("URGENCE !", "emergency"), ("c'est urgent", "emergency"),
    ("c est urgent", "emergency"), ("SOS", "emergency"), ("au secours", "emergency"),
    ("au secours !!!", "emergency"), ("à l'aide", "emergency"), ("a l aide", "emergency"),
    ("help", "emergency"), ("Help!", "emergency"), ("help me", "emergency"),
    ("emergency", "emergency"), ("aidez-moi", "emergency"), ("urgence svp", "emergency"),
    ("c'est urgent, je dois parler à quelqu'un", "emergency"),
    # help: "aide" alone stays help
    ("aide", "help"), ("Aide", "help"), ("comment ça marche ?", "help"), ("menu", "help"),
    ("what can you do", "help"),
    # back
    ("retour", "back"), ("revenir", "back"), ("revenir en arrière", "back"),
    ("revenir en arriere", "back"), ("corriger", "back"), ("je me suis trompé", "back"),
    ("je me suis trompée", "back"), ("je me suis trompe de bouton", "back"), ("erreur", "back"),
    ("modifier ma réponse", "back"), ("changer ma réponse", "back"), ("back", "back"),
    ("undo", "back"), ("go back", "back"), ("oups retour", "back"), ("retour svp", "back"),
    ("question précédente", "back"),
    # my_appointment
    ("mon rendez-vous", "my_appointment"), ("mon rdv", "my_appointment"),
    ("annuler mon rendez-vous", "my_appointment"), ("annuler mon rdv", "my_appointment"),
    ("déplacer mon rendez-vous", "my_appointment"), ("changer mon rendez-vous", "my_appointment"),
    ("décaler le rdv", "my_appointment"), ("c'est quand mon rendez-vous ?", "my_appointment"),
    ("supprimer mon rendez-vous", "my_appointment"), ("my appointment", "my_appointment"),
    ("cancel my appointment", "my_appointment"),
    ("je ne pourrai pas venir au rendez-vous", "my_appointment"),
    # appointment
    ("rendez-vous", "appointment"), ("prendre rendez-vous", "appointment"),
    ("je voudrais un rdv", "appointment"), ("appointment", "appointment"),
    # safe
    ("je suis en sécurité", "safe"), ("ça va mieux", "safe"), ("ca va mieux merci", "safe"),
    ("je vais bien maintenant", "safe"), ("je ne suis pas en danger", "safe"),
    ("je suis pas en danger", "safe"), ("c'est passé", "safe"), ("I'm safe", "safe"),
    ("I am safe", "safe"), ("im safe", None),
    # numbers
    ("les numéros", "numbers"), ("revoir les numéros", "numbers"), ("quel numéro", "numbers"),
    ("quel numéro appeler ?", "numbers"), ("numéro d'urgence", "numbers"),
    ("le numéro d'urgence svp", "numbers"), ("numbers", "numbers"), ("phone numbers", "numbers"),
    # persona corrections
    ("non c'est pour moi", "persona:self"), ("c'est pour moi", "persona:self"),
    ("Non, c'est pour moi !", "persona:self"), ("c'est moi le médecin", "persona:self"),
    ("je parle de moi", "persona:self"), ("it's for me", "persona:self"),
    ("c'est pour mon mari", "persona:relative"), ("c'est pour ma femme", "persona:relative"),
    ("je suis sa femme", "persona:relative"), ("c'est pour un proche", "persona:relative"),
    ("non c'est pour mon père", "persona:relative"), ("je parle de ma fille", "persona:relative"),
    ("c'est pour un collègue", "persona:colleague"),
    ("c'est pour mon associé", "persona:colleague"),
    ("je parle d'un confrère", "persona:colleague"),
    ("c'est pour une consœur", "persona:colleague"),
    ("je suis sa secrétaire", "persona:colleague"),
    ("it's about my colleague", "persona:colleague"),
    # confidentiality, by topic
    ("qui lit ça ?", "confidentiality:who_reads"), ("qui va lire", "confidentiality:who_reads"),
    ("qui a accès", "confidentiality:who_reads"),
    ("qui voit mes messages", "confidentiality:who_reads"),
    ("qui a accès à mes données ?", "confidentiality:who_reads"),
    ("who reads this", "confidentiality:who_reads"),
    ("est-ce qu'il saura que c'est moi ?", "confidentiality:identity"),
    ("il va savoir que c'est moi", "confidentiality:identity"),
    ("mon nom sera donné ?", "confidentiality:identity"),
    ("ils sauront qui je suis", "confidentiality:identity"),
    ("will he know it was me", "confidentiality:identity"),
    ("je veux rester anonyme", "confidentiality:anonymous"),
    ("c'est anonyme ?", "confidentiality:anonymous"), ("anonymat", "confidentiality:anonymous"),
    ("anonymous", "confidentiality:anonymous"),
    ("sans donner mon nom", "confidentiality:anonymous"),
    ("c'est enregistré ?", "confidentiality:recorded"),
    ("vous gardez quoi", "confidentiality:recorded"), ("mes données", "confidentiality:recorded"),
    ("c'est stocké", "confidentiality:recorded"), ("vous enregistrez", "confidentiality:recorded"),
    ("is this recorded", "confidentiality:recorded"), ("my data", "confidentiality:recorded"),
    ("confidentiel", "confidentiality"), ("c'est confidentiel ?", "confidentiality"),
    ("secret", "confidentiality"), ("privacy", "confidentiality"),
    # the others, as before
    ("effacer", "erase"), ("effacer mes données", "erase"), ("supprimer tout", "erase"),
    ("oubliez-moi", "erase"), ("parler à un humain", "human"), ("une vraie personne", "human"),
    ("écrire", "write"), ("laisser un message", "write"), ("english", "locale_en"),
    ("en anglais", "locale_en"), ("français", "locale_fr"), ("in french", "locale_fr"),
]
NOT_COMMANDS = [
    "", "oui", "non", "ok", "merci", "38", "bonjour", "le moral", "je suis interne",
    "ce n'est pas urgent", "ce n est pas une urgence", "pas d'urgence",
    "j'ai fait une erreur médicale", "je me suis trompé de diagnostic et le patient est mort",
    "mon mari est médecin", "mon associé boit", "c'est passé hier soir au bloc",
    "je vais bien maintenant mais j'ai peur de rechuter", "je suis sa", "SOS Médecins",
    "je suis secrétaire médicale",
]


@pytest.mark.parametrize(("text", "command"), COMMANDS)
def test_command(text: str, command: str | None) -> None:
    assert command_of(text, None) == command


@pytest.mark.parametrize("text", NOT_COMMANDS)
def test_not_a_command(text: str) -> None:
    assert command_of(text, None) is None


def test_commands_are_read_in_short_messages_only() -> None:
    story = (
        "depuis des mois je n'arrive plus à rien au cabinet et mon associé me dit qu'il faut "
        "prendre rendez-vous avec quelqu'un"
    )
    assert command_of(story, None) is None
    assert command_of("je voudrais prendre rendez-vous", None) == "appointment"


def nlu(intent: str, confidence: float = 0.9) -> Interpretation:
    return Interpretation(intent, confidence)


@pytest.mark.parametrize(
    ("text", "intent", "command"),
    [
        # The NLU command, when the words say nothing more precise.
        ("j'aimerais savoir ce que vous faites", "ask_capabilities", "help"),
        ("je voudrais voir quelqu'un", "request_appointment", "appointment"),
        ("effacez tout ce que j'ai dit", "erase_data", "erase"),
        # The words refine the NLU's command.
        ("annuler mon rendez-vous", "request_appointment", "my_appointment"),
        ("c'est enregistré ?", "ask_confidentiality", "confidentiality:recorded"),
        ("qui lit ça ?", "ask_confidentiality", "confidentiality:who_reads"),
        ("est-ce que c'est vraiment confidentiel", "ask_confidentiality", "confidentiality"),
        ("ça reste entre nous ?", "ask_confidentiality", "confidentiality"),
        (
            "je voudrais savoir si mon associé pourra savoir qui a signalé sa consommation"
            " d'alcool au conseil de l'ordre",
            "ask_confidentiality",
            "confidentiality:identity",
        ),
        # A cry for help beats the NLU, whatever it thought.
        ("au secours", "request_human", "emergency"),
        ("help", "ask_capabilities", "emergency"),
        # A command said in words stays when the NLU is unsure or elsewhere.
        ("retour", "burnout", "back"),
        ("mon rdv", "greet", "my_appointment"),
    ],
)
def test_command_with_the_nlu(text: str, intent: str, command: str) -> None:
    assert command_of(text, nlu(intent)) == command


def test_an_unsure_nlu_is_not_followed() -> None:
    assert command_of("retour", nlu("request_human", 0.3)) == "back"
    assert command_of("le moral", nlu("request_human", 0.3)) is None


# -- who a first message is about ------------------------------------------------------------

PERSONAS = [
    ("chui interne, mon chef m'humilie", "self"),
    ("je suis médecin et mon associé me harcèle", "self"),
    ("mon associé boit beaucoup", "colleague"),
    ("mon mari est médecin, il ne dort plus", "relative"),
    ("je m'inquiète pour ma femme qui est médecin", "relative"),
    ("je suis à bout", "self"),
    ("je suis la femme d'un médecin", "relative"),
    ("je suis sa secrétaire", "colleague"),
    ("je travaille avec un médecin qui boit", "colleague"),
    ("je suis médecin et mon associé boit beaucoup", "colleague"),
    ("moi", "self"), ("pour moi", "self"), ("c'est pour moi", "self"),
    ("je suis médecin", "self"), ("Je suis généraliste à Toulon et je suis à bout", "self"),
    ("je suis épuisée, mon mari ne comprend pas", "self"),
    ("j'ai des dettes", "self"), ("je n'en peux plus", "self"), ("jpp", "self"),
    ("ma fille est interne et elle ne va pas bien", "relative"),
    ("mon fils est médecin et il boit", "relative"),
    ("ma femme est médecin et je suis épuisé de la voir comme ça", "relative"),
    ("je suis infirmière, un médecin de mon service boit", "colleague"),
    ("je me fais du souci pour mon associé", "colleague"),
    ("mon collègue ne va pas bien", "colleague"),
    ("je suis son associé et il boit", "colleague"),
    ("my husband is a doctor", "relative"),
    ("I'm exhausted", "self"),
    ("mon chef m'humilie tous les jours", "self"),
    ("un de mes patients s'est suicidé la semaine dernière, j'y pense tout le temps", "self"),
    ("mon associé boit et mes patients le voient", "colleague"),
]


@pytest.mark.parametrize(("text", "persona"), PERSONAS)
def test_persona_from_words(text: str, persona: str) -> None:
    assert persona_of(text, None) == persona


@pytest.mark.parametrize("text", ["", "bonjour", "oui", "38", "le moral", "qui lit ça ?"])
def test_no_persona(text: str) -> None:
    assert persona_of(text, None) is None


@pytest.mark.parametrize(
    "text",
    [
        "chui interne, mon chef m'humilie",
        "je suis médecin et mon associé me harcèle",
        "je suis interne",
        "mon chef me rabaisse devant les patients",
    ],
)
def test_the_first_person_beats_the_nlu_report_colleague(text: str) -> None:
    assert persona_of(text, nlu("report_colleague")) == "self"


@pytest.mark.parametrize(
    ("text", "persona"),
    [
        ("mon associé boit beaucoup", "colleague"),
        ("je suis interne et mon chef boit", "colleague"),
        ("je suis sa secrétaire et il me crie dessus", "colleague"),
    ],
)
def test_the_nlu_report_colleague_stands_otherwise(text: str, persona: str) -> None:
    assert persona_of(text, nlu("report_colleague")) == persona


def test_the_nlu_rules_that_were_there_still_hold() -> None:
    # A confident NLU answer about something else overrides the words.
    assert persona_of("je cherche un dentiste pour ma fille", nlu("out_of_scope")) is None
    assert persona_of("ma femme est épuisée", nlu("relative_concern")) == "relative"
    assert persona_of("je n'arrive plus à payer", nlu("financial_difficulty")) == "self"
    # An unsure NLU is not followed: the words decide.
    assert persona_of("mon associé boit", nlu("relative_concern", 0.2)) == "colleague"


@pytest.mark.parametrize("intent", ["greet", "goodbye", "affirm", "deny"])
def test_a_greeting_heard_by_the_nlu_leaves_the_persona_to_the_words(intent: str) -> None:
    said = "bonjour je suis généraliste, je bois trop le soir et je suis épuisé"
    assert persona_of(said, nlu(intent)) == "self"
    assert persona_of("salut, mon associé boit", nlu(intent)) == "colleague"
    # Who the writer is, without what they go through, is too weak to choose for them.
    assert persona_of("hello, je suis urgentiste", nlu(intent)) is None
    assert persona_of("bonjour", nlu(intent)) is None


def test_command_names_are_strings_never_booleans() -> None:
    # commands.yaml once had `yes:` and `no:` keys, which YAML reads as True and False.
    assert all(isinstance(key, str) for key in lexicon().commands)
