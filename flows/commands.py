"""Recognises what a person asks for in free text (help, erase, a human…) without the NLU.

Commands can be typed at any point without losing one's place: "retour", "au secours", "mon
rendez-vous", "c'est pour mon mari", "qui lit ça ?". `persona_of` reads who a first free-text
message is about. The patterns are data, in flows/data/commands.yaml; the answers to
questions ("oui", "passer", "38 ans") are read by flows/answers.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml
from flows.textnorm import fold
from flows.understanding import Interpretation

DATA = Path(__file__).parent / "data" / "commands.yaml"

# NLU intents that ask for something the engine answers the same way at any point.
INTENT_COMMANDS: Mapping[str, str] = {
    "ask_capabilities": "help",
    "ask_confidentiality": "confidentiality",
    "erase_data": "erase",
    "request_human": "human",
    "request_appointment": "appointment",
}
# NLU intents that say nothing of what a message is about.
SMALL_TALK = frozenset({"greet", "goodbye", "affirm", "deny"})
# NLU intents that open a journey from a free-text first message.
INTENT_PERSONAS: Mapping[str, str] = {
    "relative_concern": "relative",
    "report_colleague": "colleague",
}
INTENT_NEEDS: Mapping[str, str] = {
    "burnout": "psychological",
    "depression_anxiety": "psychological",
    "addiction": "addiction",
    "physical_illness": "health",
    "financial_difficulty": "financial",
    "administrative_help": "administrative",
    "legal_disciplinary": "legal",
    "family_difficulty": "family",
    "work_conflict": "conflict",
    "assault": "assault",
}
# Below this, an NLU guess is not worth acting on; the options are asked again instead.
NLU_MIN_CONFIDENCE = 0.5
# A command the lexicon reads that says more than the NLU's, and wins over it: the NLU
# hears "annuler mon rendez-vous" as a request for an appointment, "c'est enregistré ?" as a
# question about confidentiality.
REFINES: Mapping[str, tuple[str, ...]] = {
    "appointment": ("my_appointment",),
    "confidentiality": (
        "confidentiality:who_reads", "confidentiality:anonymous", "confidentiality:identity",
        "confidentiality:recorded",
    ),
}
# A cry for help read in the words beats whatever the NLU thought it was.
ALWAYS_WINS = ("emergency",)

Patterns = tuple[re.Pattern[str], ...]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Lexicon:
    max_words: int
    commands: Mapping[str, Patterns]
    # Who a first message is about, in the order persona_of tries them (commands.yaml).
    statements: Mapping[str, Patterns]
    self_markers: Patterns
    mentions: Mapping[str, Patterns]
    identity: Patterns


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    with DATA.open(encoding="utf-8") as handle:
        data: dict[str, Any] = load_yaml(handle)
    defs = {str(k): str(v) for k, v in data["defs"].items()}

    def compile_all(patterns: Iterable[str]) -> Patterns:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"(?:{defs[name]})" if name in defs else match.group(0)

        return tuple(re.compile(_PLACEHOLDER.sub(one, str(p))) for p in patterns)

    def table(section: Mapping[str, list[str]]) -> dict[str, Patterns]:
        return {str(key): compile_all(patterns) for key, patterns in section.items()}

    personas = data["personas"]
    return Lexicon(
        max_words=int(data["max_words"]),
        commands=table(data["commands"]),
        statements=table(personas["statements"]),
        self_markers=compile_all(personas["self"]),
        mentions=table(personas["mentions"]),
        identity=compile_all(personas["identity"]),
    )


def _first_match(folded: str, table: Mapping[str, Patterns]) -> str | None:
    for key, patterns in table.items():
        if any(pattern.search(folded) for pattern in patterns):
            return key
    return None


def _earliest(folded: str, table: Mapping[str, Patterns]) -> str | None:
    """The key whose pattern matches first in the text ("mon mari… mon associé": relative)."""
    best: tuple[int, str] | None = None
    for key, patterns in table.items():
        for pattern in patterns:
            match = pattern.search(folded)
            if match is not None and (best is None or match.start() < best[0]):
                best = (match.start(), key)
    return best[1] if best else None


def _any(folded: str, patterns: Patterns) -> bool:
    return any(pattern.search(folded) for pattern in patterns)


def _confident(interpretation: Interpretation | None) -> str | None:
    if interpretation is None or interpretation.confidence < NLU_MIN_CONFIDENCE:
        return None
    return interpretation.intent


def command_of(text: str, interpretation: Interpretation | None) -> str | None:
    """The command a message asks for, or None when it is something else.

    Names: "emergency", "safe", "numbers", "back", "my_appointment", "check_in", "persona:self",
    "persona:relative", "persona:colleague", "erase", "confidentiality:who_reads",
    "confidentiality:anonymous", "confidentiality:identity", "confidentiality:recorded",
    "confidentiality", "help", "human", "appointment", "write", "locale_en", "locale_fr".
    """
    folded = fold(text)
    short = len(folded.split()) <= lexicon().max_words
    said = _first_match(folded, lexicon().commands) if short else None
    intent = _confident(interpretation)
    if intent is None or intent not in INTENT_COMMANDS:
        return said
    meant = INTENT_COMMANDS[intent]
    if said in ALWAYS_WINS or said in REFINES.get(meant, ()):
        return said
    if meant == "confidentiality":
        # The NLU is sure it is about confidentiality: the topic is looked for whatever the
        # length of the message.
        topics = {k: v for k, v in lexicon().commands.items() if k in REFINES[meant]}
        return _first_match(folded, topics) or meant
    return meant


def persona_of(text: str, interpretation: Interpretation | None) -> str | None:
    """Who a free-text first message is about: "self", "relative", "colleague", or None.

    A first-person statement about oneself beats the mention of someone else ("chui interne,
    mon chef m'humilie" is self), a statement of who the writer is to the physician beats
    both ("je suis la femme d'un médecin", "je m'inquiète pour ma femme qui est médecin").
    """
    folded = fold(text)
    intent = _confident(interpretation)
    if intent is not None and intent in INTENT_PERSONAS:
        # The NLU hears "mon chef" in "mon chef m'humilie" and says report_colleague; the
        # writer speaking of what they go through is the one who needs help.
        if _earliest(folded, lexicon().statements) is None and (
            _any(folded, lexicon().self_markers)
            or (_any(folded, lexicon().identity) and _earliest(folded, lexicon().mentions) is None)
        ):
            return "self"
        return INTENT_PERSONAS[intent]
    if intent in INTENT_NEEDS:
        return "self"
    if intent in SMALL_TALK:
        # A greeting says nothing of who writes: what the words say of the writer decides
        # ("bonjour, je bois trop et je suis épuisé"), but "hello, je suis urgentiste" alone
        # is too weak to choose for the person.
        return _persona_from_words(folded, identity_counts=False)
    if intent is not None:
        # A confident NLU answer about something else ("je cherche un dentiste pour ma
        # fille") is not a persona, whatever words it contains.
        return None
    return _persona_from_words(folded)


def _persona_from_words(folded: str, *, identity_counts: bool = True) -> str | None:
    if not folded:
        return None
    words = lexicon()
    stated = _earliest(folded, words.statements)
    if stated is not None:
        return stated
    if _any(folded, words.self_markers):
        return "self"
    mentioned = _earliest(folded, words.mentions)
    if mentioned is not None:
        return mentioned
    return "self" if identity_counts and _any(folded, words.identity) else None


def need_of(interpretation: Interpretation | None) -> str | None:
    intent = _confident(interpretation)
    return INTENT_NEEDS.get(intent) if intent else None
