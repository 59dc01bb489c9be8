"""French departments as people type them: "38", "2A", "Isère", "dans le Var", "Toulon".

`department_of` turns the answer to "Dans quel département exercez-vous ?" into a
department code (`names_only=True` for text that answers something else: no bare numbers).
`of_form` gives what follows "le conseil départemental" ("du Var", "des Alpes-Maritimes",
"de l'Ain"), `council_name` the whole council's name, `name` the French or English name,
`department` all of it. The data is `data/departments.yaml`, read once.

How an answer is read, after `fold` (case, accents, hyphens, apostrophes) and "St"/"Ste"
written out as "saint"/"sainte":

1. The whole answer, give or take a few framing words ("je suis dans le", "à", "au"), is a
   number ("83", "6", "2a", "971", a postal code "83000") or a name. Numbers and the names
   that are also ordinary words ("Cher", "Tours", "Orange") are recognised only this way,
   so "moins de 50" or "c'est cher" name no department.
2. "département 13" or "dans le 13" anywhere, and the department names that are also words
   after "dans le/la/les/l'" ("je suis libéral dans le Cher et…").
3. Every other name, as whole words anywhere in the answer, the longest first ("Aix-les-
   Bains" before "Aix"), in a short answer also with one typing error in a department
   name of seven letters or more or a town name of eight ("alpes maritime", "bouche du
   rhone" before "Rhône", "Marseile").

A department name wins over a town ("Lyon, mais j'exerce en Isère" is the Isère); two
different departments named at the same rank give None, and so does a town listed in two
departments (Saint-Denis): the bot then asks again for the number.
The index is built once: a lookup costs a few dozen dictionary probes per word of the
answer, and the typing-error search is skipped past thirty words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml
from flows.textnorm import fold

DATA = Path(__file__).parent / "data" / "departments.yaml"

# The longest name, in words ("Saint-Laurent-du-Maroni", "Alpes-de-Haute-Provence").
_MAX_WORDS = 6
# Typing errors are looked for only in short answers and in names of this length or more:
# shorter names sit one letter away from ordinary words ("Somme"/"comme", "Nantes"/"tantes",
# and for towns "Péronne"/"personne", "Pamiers"/"papiers").
_FUZZY_MIN_LENGTH = {"department": 7, "town": 8}
_FUZZY_MAX_WORDS_IN_ANSWER = 30
# A whole answer is short: "je suis installée dans le 83", "j'exerce au CHU de Caen".
_WHOLE_ANSWER_MAX_WORDS = 12

# Words that may frame a short answer: "je suis dans le 83", "à Tours", "CHU de Caen".
# ("chu" is already "je suis" once folded: the SMS table reads it so.)
_FRAMING_WORDS = """
    je j suis exerce exerces travaille habite vis vit installe installee nous on sommes
    exercons travaillons moi ici medecin docteur dr a au aux en dans le la les l de du des
    d sur pres vers cote ville region departement departements dept dpt numero n no
    hopital clinique cabinet centre hospitalier ch chr chu chez mon ma
    i am im work live living near in at the my of department city island ile
"""
_FRAMING = frozenset(_FRAMING_WORDS.split())
_DEPARTMENT_WORDS = frozenset({"departement", "dept", "dpt", "department"})
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "hte": "haute", "htes": "hautes"}

# Ranks of a match: a department's own name beats a town. A phrase that is no place at
# all ("paris sportifs") hides the names inside it.
_NUMBER, _DEPARTMENT, _TOWN, _NOT_PLACE = 0, 1, 2, 3


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    # The name after "le conseil départemental": "du Var", "de l'Ain", "de Paris".
    of: str
    english: str
    prefecture: str
    towns: tuple[str, ...]

    def name_in(self, locale: str) -> str:
        return self.english if locale == "en" else self.name


@dataclass(frozen=True)
class _Entry:
    code: str
    rank: int
    whole_only: bool


@dataclass(frozen=True)
class _Index:
    # folded name -> entry; names of two departments are absent (see `ambiguous`).
    names: Mapping[str, _Entry]
    # a folded name with one letter deleted -> the folded names it may come from
    near: Mapping[str, frozenset[str]]
    ambiguous: frozenset[str]


def department_of(text: str, *, names_only: bool = False) -> str | None:
    """The department code a person's answer names, or None.

    `names_only` for text that answers another question: a bare number there is an age or
    a count ("38", "3 semaines"), never a department; "département 38" still is.
    """
    words = _words(text)
    if not words:
        return None
    index = _index()
    found = _whole_answer(words, index, numbers=not names_only)
    if found is not None:
        return found
    found = _after_department_word(words)
    if found is not None:
        return found
    found = _after_dans_le(words, index)
    if found is not None:
        return found
    if len(words) > _FUZZY_MAX_WORDS_IN_ANSWER:
        return _choose(_scan(words, index.names.get))
    return _choose(_scan(words, lambda key: index.names.get(key) or _near(key, index)))


def department(code: str) -> Department:
    """The department of a code ("83", "2A", "971"); KeyError for an unknown code."""
    return departments()[code]


def of_form(code: str) -> str:
    """What follows "le conseil départemental": "du Var", "des Alpes-Maritimes", "de l'Ain"."""
    return departments()[code].of


def council_name(code: str, locale: str = "fr") -> str:
    """The council's name, to follow "au" or "the": "conseil départemental de l'Ordre des
    médecins du Var", "Var departmental council of the Ordre des médecins"."""
    dep = departments()[code]
    if locale == "en":
        return f"{dep.english} departmental council of the Ordre des médecins"
    return f"conseil départemental de l'Ordre des médecins {dep.of}"


def name(code: str, locale: str = "fr") -> str:
    """The department's name in French ("Var", "Guyane") or English ("French Guiana")."""
    return departments()[code].name_in(locale)


@lru_cache(maxsize=1)
def departments() -> Mapping[str, Department]:
    """Every department by code, in the order of the data file."""
    data = _data()
    names: Mapping[str, str] = data["departments"]
    places: Mapping[str, Mapping[str, Any]] = data["places"]
    if set(names) != set(places):
        raise ValueError("departments and places must list the same codes")
    result: dict[str, Department] = {}
    for code, french in names.items():
        place = places[code]
        result[str(code)] = Department(
            code=str(code),
            name=str(french),
            of=str(place["of"]),
            english=str(place.get("en") or french),
            prefecture=str(place["prefecture"]),
            towns=tuple(str(town) for town in place.get("towns") or ()),
        )
    return result


def ambiguous_names() -> frozenset[str]:
    """Folded town names that two departments share, which `department_of` never resolves."""
    return _index().ambiguous


def known_names() -> int:
    """How many folded names (departments, towns, aliases) the lookup knows."""
    return len(_index().names)


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    with DATA.open(encoding="utf-8") as handle:
        data: dict[str, Any] = load_yaml(handle)
    return data


def _key(text: str) -> str:
    return " ".join(_words(text))


def _words(text: str) -> list[str]:
    return [_ABBREVIATIONS.get(word, word) for word in fold(text).split()]


@lru_cache(maxsize=1)
def _index() -> _Index:
    data = _data()
    whole_only = {_key(str(item)) for item in data.get("whole_answer_only") or ()}
    names: dict[str, _Entry] = {}

    def put(key: str, code: str, rank: int) -> None:
        names[key] = _Entry(code, rank, key in whole_only)

    for code, dep in departments().items():
        put(_key(dep.name), code, _DEPARTMENT)
        put(_key(dep.english), code, _DEPARTMENT)
        put(code.lower(), code, _NUMBER)
    towns: dict[str, set[str]] = {}
    for code, dep in departments().items():
        for town in (dep.prefecture, *dep.towns):
            for key in _spellings(_key(town)):
                towns.setdefault(key, set()).add(code)
    for alias, code in (data.get("aliases") or {}).items():
        for key in _spellings(_key(str(alias))):
            towns.setdefault(key, set()).add(str(code))
    for phrase in data.get("not_places") or ():
        names[_key(str(phrase))] = _Entry("", _NOT_PLACE, whole_only=False)
    ambiguous = set()
    for key, codes in towns.items():
        if key in names:
            continue  # a department's own name: "Mayenne", "Paris", "Vienne"
        if len(codes) > 1:
            ambiguous.add(key)
            continue
        put(key, next(iter(codes)), _TOWN)
    near: dict[str, set[str]] = {}
    for key, entry in names.items():
        if entry.whole_only or entry.rank in (_NUMBER, _NOT_PLACE):
            continue
        if len(key) < _FUZZY_MIN_LENGTH["department" if entry.rank == _DEPARTMENT else "town"]:
            continue
        for variant in _deletions(key):
            near.setdefault(variant, set()).add(key)
    return _Index(
        names=names,
        near={variant: frozenset(keys) for variant, keys in near.items()},
        ambiguous=frozenset(ambiguous),
    )


def _spellings(key: str) -> Iterator[str]:
    """A town's name, and "au Havre", "du Mans", "aux Abymes" for "le …" and "les …"."""
    yield key
    first, _, rest = key.partition(" ")
    if rest and first == "le":
        yield f"au {rest}"
        yield f"du {rest}"
    elif rest and first == "les":
        yield f"aux {rest}"
        yield f"des {rest}"


def _deletions(key: str) -> Iterator[str]:
    yield key
    for position in range(len(key)):
        yield key[:position] + key[position + 1 :]


def _number(word: str) -> str | None:
    """A code ("83", "6" for 06, "2a", "971") or a postal code ("83000", "20090", "97200")."""
    if word in ("2a", "2b"):
        return word.upper()
    if not (word.isascii() and word.isdigit()):
        return None
    if len(word) == 5:
        if word.startswith("20"):
            return "2A" if word[2] in "01" else "2B"
        word = word[:3] if word.startswith("97") else word[:2]
    elif len(word) == 1:
        word = "0" + word
    return word if word in departments() and word not in ("2A", "2B") else None


def _whole_answer(words: list[str], index: _Index, *, numbers: bool) -> str | None:
    """The answer less its framing words is a number or a name: "le 13", "à Tours"."""
    if len(words) > _WHOLE_ANSWER_MAX_WORDS:
        return None
    unread = (_NOT_PLACE,) if numbers else (_NOT_PLACE, _NUMBER)
    start = 0
    while True:
        end = len(words)
        while end > start:
            candidate = words[start:end]
            if numbers and len(candidate) == 1:
                code = _number(candidate[0])
                if code is not None:
                    return code
            entry = index.names.get(" ".join(candidate))
            if entry is not None and entry.rank not in unread:
                return entry.code
            if words[end - 1] not in _FRAMING:
                break
            end -= 1
        if start >= len(words) or words[start] not in _FRAMING:
            return None
        start += 1


def _after_department_word(words: list[str]) -> str | None:
    """A number after "département", "dpt", "dept" or "dans le", anywhere in the answer.

    Never after "le" alone: "j'ai appelé le 15" is the SAMU, not the Cantal.
    """
    for position, word in enumerate(words[:-1]):
        after_dans_le = word == "le" and position > 0 and words[position - 1] == "dans"
        if word in _DEPARTMENT_WORDS or after_dans_le:
            code = _number(words[position + 1])
            if code is not None:
                return code
    return None


def _after_dans_le(words: list[str], index: _Index) -> str | None:
    """A department name that is also a word, after "dans le/la/les/l'": "dans le Cher"."""
    found = set()
    for position in range(1, len(words) - 1):
        if words[position - 1] == "dans" and words[position] in ("le", "la", "les", "l"):
            for size in range(min(_MAX_WORDS, len(words) - position - 1), 0, -1):
                key = " ".join(words[position + 1 : position + 1 + size])
                entry = index.names.get(key)
                if entry is not None and entry.whole_only and entry.rank == _DEPARTMENT:
                    found.add(entry.code)
                    break
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class _Match:
    entry: _Entry
    start: int
    end: int


def _scan(words: list[str], lookup: Callable[[str], _Entry | None]) -> list[_Match]:
    """The longest name starting at each word, less those inside a longer one.

    "aix les bains" hides "aix" and "val de marne" hides "marne"; "le puy" and "puy de
    dome", which overlap, both stay, and the department's own name wins in `_choose`.
    """
    found: list[_Match] = []
    for start in range(len(words)):
        for size in range(min(_MAX_WORDS, len(words) - start), 0, -1):
            entry = lookup(" ".join(words[start : start + size]))
            if entry is not None and not entry.whole_only and entry.rank != _NUMBER:
                found.append(_Match(entry, start, start + size))
                break
    # Each match is the longest at its start: one is inside another exactly when an earlier
    # match reaches as far.
    kept: list[_Match] = []
    reach = 0
    for match in found:
        if match.end > reach:
            kept.append(match)
        reach = max(reach, match.end)
    return kept


def _choose(matches: Iterable[_Match]) -> str | None:
    matches = [match for match in matches if match.entry.rank != _NOT_PLACE]
    if not matches:
        return None
    best = min(match.entry.rank for match in matches)
    codes = {match.entry.code for match in matches if match.entry.rank == best}
    return codes.pop() if len(codes) == 1 else None


def _near(text: str, index: _Index) -> _Entry | None:
    """The name `text` is one typing error away from, when there is exactly one."""
    if len(text) < _FUZZY_MIN_LENGTH["department"] - 1:
        return None
    candidates: set[str] = set()
    for variant in _deletions(text):
        candidates |= index.near.get(variant, frozenset())
    entries = {
        index.names[key]
        for key in candidates
        if key[0] == text[0] and _one_edit_apart(text, key)
    }
    return entries.pop() if len(entries) == 1 else None


def _one_edit_apart(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of two neighbours."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
