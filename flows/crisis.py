"""The crisis detector: does a message signal a danger to life, for the writer or someone else?

It is the union of a curated lexicon (flows/data/crisis_lexicon.yaml) and the NLU's
``crisis`` intent, and it works with no NLU at all. The NLU adds recall where no rule fires,
but not against the lexicon's guards: when guards for patients, figurative speech, stopping
work or negation explain every clause of the message, its guess is not enough.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml
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
# For weighing the NLU against the guards, an ellipsis is a pause, not the end of a thought:
# "j'ai pensé à tout arrêter... mon activité libérale" is one.
_NLU_SENTENCE_BREAK = re.compile(r"[!?\n]+|(?<!\.)\.(?!\.)")
# Guards of these kinds say what the words are about, or that they are denied; they may
# outweigh the NLU, which reads "je ne suis pas suicidaire" and "un patient s'est suicidé"
# as crises. What they leave uncovered is still weighed ("pas suicidaire, mais…").
_NLU_VETO_KINDS = frozenset({"other_context", "figurative", "professional", "negation"})
# Up to this many guard matches in a clause, each hit is checked against all of them; past
# it (a long message that repeats itself), by binary search, to stay linear.
_FEW_VETOES = 32


@dataclass(frozen=True)
class CrisisSignal:
    rule: str  # lexicon rule id, or "nlu"; never any of the person's words
    about_other: bool  # the text describes someone else in danger


@dataclass(frozen=True)
class _Lexicon:
    rules: tuple[tuple[str, re.Pattern[str]], ...]
    sentence_rules: tuple[tuple[str, re.Pattern[str]], ...]  # searched in whole sentences
    # Each guard with the rules it may veto (None: every rule).
    guards: tuple[tuple[re.Pattern[str], frozenset[str] | None], ...]
    sentence_guards: tuple[tuple[re.Pattern[str], frozenset[str] | None], ...]
    self_marker: re.Pattern[str]
    other_marker: re.Pattern[str]
    reflexive_other: re.Pattern[str]
    reported: re.Pattern[str]
    owner_after: re.Pattern[str]
    discovered: re.Pattern[str]
    nlu_guards: tuple[re.Pattern[str], ...]
    filler: re.Pattern[str]
    danger: re.Pattern[str]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    with LEXICON.open(encoding="utf-8") as handle:
        data: dict[str, Any] = load_yaml(handle)
    subjects = data["subjects"]
    return _Lexicon(
        rules=_rules(data["rules"], sentence=False),
        sentence_rules=_rules(data["rules"], sentence=True),
        guards=_guards(data["guards"], sentence=False),
        sentence_guards=_guards(data["guards"], sentence=True),
        self_marker=re.compile(subjects["self"]),
        other_marker=re.compile(subjects["other"]),
        reflexive_other=re.compile(subjects["reflexive_other"]),
        reported=re.compile(subjects["reported"]),
        owner_after=re.compile(subjects["owner_after"]),
        discovered=re.compile(subjects["discovered"]),
        nlu_guards=tuple(
            re.compile(guard["pattern"])
            for guard in data["guards"]
            if guard["kind"] in _NLU_VETO_KINDS and guard.get("nlu", True)
        ),
        filler=re.compile(data["nlu"]["filler"]),
        danger=re.compile(data["nlu"]["danger"]),
    )


def _rules(
    rules: list[dict[str, Any]], *, sentence: bool
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (rule["id"], re.compile(rule["pattern"]))
        for rule in rules
        if bool(rule.get("sentence")) == sentence
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
        whole = fold(sentence)
        spared = frozenset(
            rule
            for guard, rules in lexicon.sentence_guards
            if guard.search(whole)
            for rule in rules or ()
        )
        hit = _first_hit(whole, lexicon, spared, lexicon.sentence_rules) if whole else None
        if hit is not None:
            rule, match = hit
            about_other = quoting_someone or _about_other(said_before, whole, match, lexicon)
            return CrisisSignal(rule, about_other)
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
        and not _explained_by_guards(text, lexicon)
    ):
        folded = fold(text)
        return CrisisSignal("nlu", _names_someone_else(folded, lexicon))
    return None


def _explained_by_guards(text: str, lexicon: _Lexicon) -> bool:
    """True when guards of the kinds that outweigh the NLU explain every clause of the text.

    A clause is explained when what the guards leave uncovered holds no word of danger, and
    a guard matched in its sentence ("un de mes patients s'est suicidé et je n'arrive pas à
    m'en remettre"; "j'ai pensé à tout arrêter... mon activité libérale") or it is a mere
    greeting. Anything else ("…, et je veux disparaître"; a sentence no guard speaks of),
    and the NLU's guess stands.
    """
    guarded = False
    for sentence in _NLU_SENTENCE_BREAK.split(text):
        whole = fold(sentence)
        if not whole:
            continue
        # What the guards cover, as a mask over the sentence: linear in its length.
        covered = bytearray(len(whole))
        for guard in lexicon.nlu_guards:
            for match in guard.finditer(whole):
                covered[match.start() : match.end()] = b"\x01" * (match.end() - match.start())
        spoken_of = any(covered)
        guarded = guarded or spoken_of
        cursor = 0
        for clause in _CLAUSE_BREAK.split(sentence):
            part = fold(clause)
            if not part:
                continue
            start = whole.find(part, cursor)
            if start < 0:  # SMS expansion moved words across clauses: let the NLU decide
                return False
            cursor = start + len(part)
            if not spoken_of:
                explained = bool(lexicon.filler.fullmatch(part))
            else:
                uncovered = "".join(
                    " " if covered[index] else whole[index] for index in range(start, cursor)
                )
                explained = not lexicon.danger.search(uncovered)
            if not explained:
                return False
    return guarded


def _first_hit(
    folded: str,
    lexicon: _Lexicon,
    spared: frozenset[str] = frozenset(),
    rules: tuple[tuple[str, re.Pattern[str]], ...] | None = None,
) -> tuple[str, re.Match[str]] | None:
    vetoes: list[tuple[int, int, frozenset[str] | None]] | None = None
    for rule_id, pattern in lexicon.rules if rules is None else rules:
        if rule_id in spared:
            continue
        reach: tuple[list[int], list[int]] | None = None
        for match in pattern.finditer(folded):
            if vetoes is None:  # most text hits no rule: the guards only run after a hit
                vetoes = [
                    (veto.start(), veto.end(), vetoed)
                    for guard, vetoed in lexicon.guards
                    for veto in guard.finditer(folded)
                ]
            start, end = match.span()
            if len(vetoes) < _FEW_VETOES:
                if not any(
                    start < veto_end and veto_start < end and (vetoed is None or rule_id in vetoed)
                    for veto_start, veto_end, vetoed in vetoes
                ):
                    return rule_id, match
                continue
            if reach is None:
                reach = _reach(
                    [(a, b) for a, b, vetoed in vetoes if vetoed is None or rule_id in vetoed]
                )
            starts, furthest = reach
            # The vetoes that start before the hit ends; does any of them end after it starts?
            before_end = bisect_left(starts, end)
            if before_end == 0 or furthest[before_end - 1] <= start:
                return rule_id, match
    return None


def _reach(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Spans sorted by start, as their starts and the furthest end reached so far: whether a
    hit overlaps any of them is then a binary search, and a long message stays linear."""
    spans.sort()
    starts = [start for start, _ in spans]
    furthest = list(accumulate((end for _, end in spans), max))
    return starts, furthest


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
    """For the NLU, which says nothing of whom: someone is named, and either before the
    writer or with their words reported ("mon mari a parlé de son fusil… qui m'a glacée")."""
    other = lexicon.other_marker.search(folded)
    if other is None:
        return False
    writer = lexicon.self_marker.search(folded)
    return (
        writer is None
        or other.start() < writer.start()
        or bool(lexicon.reported.search(folded, other.end()))
    )
