"""The crisis detector: does a message signal a danger to life, for the writer or someone else?

It is the union of a curated lexicon (flows/data/crisis_lexicon.yaml) and the NLU's
``crisis`` intent, and it works with no NLU at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from flows.textnorm import fold
from flows.understanding import Interpretation

LEXICON = Path(__file__).parent / "data" / "crisis_lexicon.yaml"
# The NLU is trained with hard negatives (figurative speech, patients), so an even guess is
# enough: a false alarm costs a kind message and a question, a miss can cost a life.
NLU_CRISIS_THRESHOLD: float = 0.5
# Sentences bound the guards that read a whole sentence ("je ne serai plus là, je pars en
# congé"); clauses bound every other guard: "mort de fatigue et je veux mourir" is two.
_SENTENCE_BREAK = re.compile(r"[.!?\n\u2026]+")
_CLAUSE_BREAK = re.compile(r"[;,:]+|\s(?:et|mais|puis|and|but)\s", re.IGNORECASE)


@dataclass(frozen=True)
class CrisisSignal:
    rule: str  # lexicon rule id, or "nlu"; never any of the person's words
    about_other: bool  # the text describes someone else in danger


@dataclass(frozen=True)
class _Lexicon:
    rules: tuple[tuple[str, re.Pattern[str]], ...]
    # Each guard with the rules it may veto (None: every rule).
    guards: tuple[tuple[re.Pattern[str], frozenset[str] | None], ...]
    sentence_guards: tuple[tuple[re.Pattern[str], frozenset[str] | None], ...]
    self_marker: re.Pattern[str]
    other_marker: re.Pattern[str]
    reflexive_other: re.Pattern[str]
    reported: re.Pattern[str]
    owner_after: re.Pattern[str]
    discovered: re.Pattern[str]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    with LEXICON.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    subjects = data["subjects"]
    return _Lexicon(
        rules=tuple((rule["id"], re.compile(rule["pattern"])) for rule in data["rules"]),
        guards=_guards(data["guards"], sentence=False),
        sentence_guards=_guards(data["guards"], sentence=True),
        self_marker=re.compile(subjects["self"]),
        other_marker=re.compile(subjects["other"]),
        reflexive_other=re.compile(subjects["reflexive_other"]),
        reported=re.compile(subjects["reported"]),
        owner_after=re.compile(subjects["owner_after"]),
        discovered=re.compile(subjects["discovered"]),
    )


def _guards(
    guards: list[dict[str, Any]], *, sentence: bool
) -> tuple[tuple[re.Pattern[str], frozenset[str] | None], ...]:
    return tuple(
        (re.compile(guard["pattern"]), frozenset(guard["rules"]) if "rules" in guard else None)
        for guard in guards
        if bool(guard.get("sentence")) == sentence
    )


def detect_crisis(text: str, interpretation: Interpretation | None = None) -> CrisisSignal | None:
    """A signal when the text speaks of suicide, self-harm or a wish to die; else None."""
    lexicon = _lexicon()
    quoting_someone = False
    said_before = ""  # what came before, for who is speaking of whom
    for sentence in _SENTENCE_BREAK.split(text):
        spared = frozenset(
            rule
            for guard, rules in lexicon.sentence_guards
            if guard.search(fold(sentence))
            for rule in rules or ()
        )
        for clause in _CLAUSE_BREAK.split(sentence):
            folded = fold(clause)
            if not folded:
                continue
            hit = _first_hit(folded, lexicon, spared)
            if hit is not None:
                rule, match = hit
                about_other = quoting_someone or _about_other(said_before, folded, match, lexicon)
                if not about_other and lexicon.discovered.search(said_before + folded):
                    # "J'ai trouvé une corde…, mon mari s'y enferme": the one named after.
                    about_other = bool(lexicon.other_marker.search(fold(text)))
                return CrisisSignal(rule, about_other)
            # "Il m'a dit : … sans moi": the words after the colon are his, not the writer's.
            quoting_someone = _introduces_quote(folded, lexicon)
            said_before += folded + " "
    if (
        interpretation is not None
        and interpretation.intent == "crisis"
        and interpretation.confidence >= NLU_CRISIS_THRESHOLD
    ):
        folded = fold(text)
        return CrisisSignal("nlu", _names_someone_else(folded, lexicon))
    return None


def _first_hit(
    folded: str, lexicon: _Lexicon, spared: frozenset[str] = frozenset()
) -> tuple[str, re.Match[str]] | None:
    vetoes = [
        (match.span(), rules)
        for guard, rules in lexicon.guards
        for match in guard.finditer(folded)
    ]
    for rule_id, pattern in lexicon.rules:
        if rule_id in spared:
            continue
        for match in pattern.finditer(folded):
            start, end = match.span()
            if not any(
                start < veto_end and veto_start < end and (rules is None or rule_id in rules)
                for (veto_start, veto_end), rules in vetoes
            ):
                return rule_id, match
    return None


def _about_other(said_before: str, folded: str, match: re.Match[str], lexicon: _Lexicon) -> bool:
    """Who the hit is about: a reflexive verb in the hit, someone named then quoted, else
    the nearest subject before the hit."""
    words = match.group()
    if lexicon.reflexive_other.search(words):
        return True
    before = said_before + folded[: match.start()]
    first_other = lexicon.other_marker.search(before)
    if first_other and lexicon.reported.search(before, first_other.end()):
        return True
    if lexicon.self_marker.search(words):
        return False
    if lexicon.owner_after.search(folded[match.end():]):
        return True
    last_self = max((m.end() for m in lexicon.self_marker.finditer(before)), default=-1)
    last_other = max((m.end() for m in lexicon.other_marker.finditer(before)), default=-1)
    return last_other > last_self


def _introduces_quote(folded: str, lexicon: _Lexicon) -> bool:
    other = lexicon.other_marker.search(folded)
    if other is None:
        return False
    reported = list(lexicon.reported.finditer(folded, other.end()))
    return bool(reported) and len(folded) - reported[-1].end() <= 1


def _names_someone_else(folded: str, lexicon: _Lexicon) -> bool:
    return bool(lexicon.other_marker.search(folded)) and not lexicon.self_marker.search(folded)
