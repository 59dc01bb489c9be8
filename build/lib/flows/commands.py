"""Recognises what a person asks for in free text (help, erase, a human…) without the NLU."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

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


@dataclass(frozen=True)
class Lexicon:
    max_words: int
    commands: Mapping[str, tuple[re.Pattern[str], ...]]
    personas: Mapping[str, tuple[re.Pattern[str], ...]]
    answers: Mapping[str, re.Pattern[str]]


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    with DATA.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)

    def compile_all(section: Mapping[str, list[str]]) -> dict[str, tuple[re.Pattern[str], ...]]:
        return {key: tuple(re.compile(p) for p in patterns) for key, patterns in section.items()}

    return Lexicon(
        max_words=int(data["max_words"]),
        commands=compile_all(data["commands"]),
        personas=compile_all(data["personas"]),
        answers={key: re.compile(pattern) for key, pattern in data["answers"].items()},
    )


def _first_match(folded: str, table: Mapping[str, tuple[re.Pattern[str], ...]]) -> str | None:
    for key, patterns in table.items():
        if any(pattern.search(folded) for pattern in patterns):
            return key
    return None


def _confident(interpretation: Interpretation | None) -> str | None:
    if interpretation is None or interpretation.confidence < NLU_MIN_CONFIDENCE:
        return None
    return interpretation.intent


def command_of(text: str, interpretation: Interpretation | None) -> str | None:
    """The command a message asks for, or None when it is something else."""
    intent = _confident(interpretation)
    if intent is not None and intent in INTENT_COMMANDS:
        return INTENT_COMMANDS[intent]
    folded = fold(text)
    if len(folded.split()) > lexicon().max_words:
        return None
    return _first_match(folded, lexicon().commands)


def persona_of(text: str, interpretation: Interpretation | None) -> str | None:
    intent = _confident(interpretation)
    if intent is not None and intent in INTENT_PERSONAS:
        return INTENT_PERSONAS[intent]
    if intent in INTENT_NEEDS:
        return "self"
    if intent is not None:
        # A confident NLU answer about something else ("je cherche un dentiste pour ma
        # fille") is not a persona, whatever words it contains.
        return None
    return _first_match(fold(text), lexicon().personas)


def need_of(interpretation: Interpretation | None) -> str | None:
    intent = _confident(interpretation)
    return INTENT_NEEDS.get(intent) if intent else None


def answer_word(text: str) -> str | None:
    """"yes", "no" or "skip" when the message says so in words."""
    folded = fold(text)
    for key, pattern in lexicon().answers.items():
        if pattern.search(folded):
            return key
    return None
