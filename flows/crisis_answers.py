"""How the crisis follow-up questions (plan, when, means) read an answer in words.

In crisis mode every answer is accepted and no question is asked twice: what matches
nothing is taken as the riskier answer (flows/data/crisis_answers.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from flows.answers import yes_no
from flows.datafile import load_yaml
from flows.textnorm import fold

DATA = Path(__file__).parent / "data" / "crisis_answers.yaml"
# The riskier reading of each question, when an answer says nothing clear.
RISKIER = {"rud.plan": "yes", "rud.when": "today", "rud.means": "yes"}
# Which of two readings found in one answer weighs more ("non… enfin si, ce soir").
_WEIGHT = {"yes": 3, "today": 3, "unsure": 2, "soon": 2, "no_date": 1, "no": 0}


@lru_cache(maxsize=1)
def _patterns() -> Mapping[str, Mapping[str, re.Pattern[str]]]:
    with DATA.open(encoding="utf-8") as handle:
        data = load_yaml(handle)
    return {
        f"rud.{question}": {str(answer): re.compile(p) for answer, p in table.items()}
        for question, table in data.items()
    }


def rud_answer(step: str, text: str) -> str | None:
    """The option an answer in words gives, or None when it gives none."""
    folded = fold(text)
    found = [answer for answer, p in _patterns().get(step, {}).items() if p.search(folded)]
    word = yes_no(text)
    if word == "unsure":
        found.append("unsure")
    elif word is not None and step != "rud.when":
        found.append(word)
    if not found:
        return None
    return max(found, key=lambda answer: _WEIGHT.get(answer, 0))


def riskier(step: str, answer: str | None) -> str:
    """An unclear answer, or one given in crisis words, counts as the riskier one."""
    if answer is None or answer == "no" or answer == "no_date":
        return RISKIER[step]
    return answer
