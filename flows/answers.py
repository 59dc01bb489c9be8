"""Reads natural answers to the bot's questions, so that it does not behave like a form.

"ouais", "pas maintenant", "38 ans", "chui interne", "le moral et les dettes", "agressif,
renfermé", "souvent", "😢": each function here turns one such message into what the engine
records (an option id, a tuple of them, a yes/no) or says it is not that kind of answer
(None, (), False). They are pure functions of the text, over `fold()`ed text (lower case, no
accents, no punctuation, SMS expanded), so "Oui", "OUI !", "ouiii" read alike.

Every word list is data, in flows/data/answers.yaml, read and compiled once. The engine
decides which function to call at which question; nothing here knows the conversation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml
from flows.questions import NEEDS, SIGNS
from flows.textnorm import clean, fold

DATA = Path(__file__).parent / "data" / "answers.yaml"

YES_NO = ("yes", "no", "unsure")
AGE_BANDS = ("under_50", "50_60", "over_60")
PRACTICES = ("liberal", "salaried", "hospital", "student", "retired")
SCALES = ("frequency_2w", "cbi_frequency", "cbi_degree", "auditc_1", "auditc_2", "auditc_3")

Pattern = re.Pattern[str]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_DIGITS_ONLY = re.compile(r"^[\d ]+$")
# Not a meaning: the mark of an answer that denies a phrase it does not replace.
_UNCLEAR = "?"


@dataclass(frozen=True)
class _Meaning:
    """One thing an answer to a questionnaire item can mean ("often")."""

    name: str
    label: Pattern  # how an option's folded label says it
    say: tuple[Pattern, ...]  # how a person says it


@dataclass(frozen=True)
class _Count:
    """So many times per period means this: "2 fois par semaine"."""

    per: str
    low: int
    high: int
    meaning: str


@dataclass(frozen=True)
class _Scale:
    meanings: tuple[_Meaning, ...]
    counts: tuple[_Count, ...]
    drinks: bool


@dataclass(frozen=True)
class _Band:
    band: str
    low: int
    high: int


@dataclass(frozen=True)
class _Lexicon:
    yes_no: tuple[tuple[str, Pattern], ...]
    skip: tuple[Pattern, ...]
    stop: Pattern
    numbers: Mapping[str, int]
    age_bands: tuple[_Band, ...]
    age_exact: tuple[Pattern, ...]
    age_below: tuple[Pattern, ...]
    age_above: tuple[Pattern, ...]
    age_almost: tuple[Pattern, ...]
    age_between: tuple[Pattern, ...]
    age_words: tuple[tuple[str, tuple[Pattern, ...]], ...]
    practice: tuple[tuple[str, tuple[Pattern, ...]], ...]
    needs: tuple[tuple[str, tuple[Pattern, ...]], ...]
    signs: tuple[tuple[str, tuple[Pattern, ...]], ...]
    scales: Mapping[str, _Scale]
    item_scales: Mapping[str, Mapping[str, str]]
    count: Pattern
    periods: Mapping[str, str]
    drinks: Pattern
    drink_units: Mapping[str, int]
    label_ranges: tuple[Pattern, ...]
    stopwords: frozenset[str]
    negations: frozenset[str]
    feelings: tuple[Pattern, ...]
    feeling_words: int
    feeling_emoji: frozenset[str]
    emoji_answers: Mapping[str, frozenset[str]]
    greetings: tuple[Pattern, ...]
    greeting_words: int
    thanks: tuple[Pattern, ...]
    thanks_words: int


# -- loading ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    with DATA.open(encoding="utf-8") as handle:
        data: dict[str, Any] = load_yaml(handle)
    defs: dict[str, str] = {str(k): str(v) for k, v in data["defs"].items()}

    def expand(pattern: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"(?:{defs[name]})" if name in defs else match.group(0)

        return _PLACEHOLDER.sub(one, pattern)

    def compile_one(pattern: str) -> Pattern:
        return re.compile(expand(str(pattern)))

    def compile_all(patterns: Iterable[str]) -> tuple[Pattern, ...]:
        return tuple(compile_one(p) for p in patterns)

    def ordered(section: Mapping[str, list[str]], names: tuple[str, ...], what: str) -> tuple[
        tuple[str, tuple[Pattern, ...]], ...
    ]:
        if tuple(section) != names:
            raise ValueError(f"answers.yaml: {what} must list {names} in this order")
        return tuple((name, compile_all(section[name])) for name in names)

    yes_no = data["yes_no"]
    fillers = "(?:(?:{fillers}) )?"
    lead = f"(?:(?:{yes_no['unsure_lead']}) )?"
    yes_no_patterns = tuple(
        (
            key,
            compile_one(
                f"^{fillers}{lead if key == 'unsure' else ''}(?:{'|'.join(yes_no[key])})(?: |$)"
            ),
        )
        # "pas sûr" is unsure before it is a "pas…" no; "non merci" is no before any yes.
        for key in ("unsure", "no", "yes")
    )
    skip = data["skip"]
    politeness = f"(?: (?:{skip['politeness']}))?"
    skip_patterns = (
        compile_one(f"^{fillers}(?:{'|'.join(skip['whole'])}){politeness}$"),
        compile_one(f"^{fillers}(?:{'|'.join(skip['start'])})(?: |$)"),
    )
    stop = compile_one(f"^{fillers}(?:{'|'.join(data['stop']['whole'])}){politeness}$")

    age = data["age"]
    bands = tuple(_Band(str(b["band"]), int(b["from"]), int(b["to"])) for b in age["bands"])
    if tuple(b.band for b in bands) != AGE_BANDS:
        raise ValueError(f"answers.yaml: age bands must be {AGE_BANDS}")
    words = age["words"]
    practice = tuple(
        (str(name), compile_all(patterns))
        for tier in data["practice"]
        for name, patterns in tier.items()
    )
    if not {name for name, _ in practice} <= set(PRACTICES):
        raise ValueError(f"answers.yaml: practices must be among {PRACTICES}")

    scales: dict[str, _Scale] = {}
    for name in SCALES:
        raw = data["scales"][name]
        meanings = tuple(
            _Meaning(str(key), compile_one(value["label"]), compile_all(value["say"]))
            for key, value in raw.items()
            if key not in ("counts", "drinks")
        )
        counts = tuple(
            _Count(str(c["per"]), int(c["min"]), int(c["max"]), str(c["meaning"]))
            for c in raw.get("counts", ())
        )
        if not {c.meaning for c in counts} <= {m.name for m in meanings}:
            raise ValueError(f"answers.yaml: a count of {name} means something it does not list")
        scales[name] = _Scale(meanings, counts, bool(raw.get("drinks", False)))
    item_scales = {
        str(instrument): {str(k): str(v) for k, v in table.items()}
        for instrument, table in data["item_scales"].items()
    }
    for table in item_scales.values():
        if not set(table.values()) <= set(SCALES):
            raise ValueError(f"answers.yaml: item_scales must name scales among {SCALES}")

    def words_of(value: str) -> frozenset[str]:
        return frozenset(value.split("|"))

    def chars(value: str) -> frozenset[str]:
        # A variation selector after an emoji is presentation, not a character of its own.
        return frozenset(value) - {"\ufe0f"}

    feelings, greetings, thanks = data["feelings"], data["greetings"], data["thanks"]
    return _Lexicon(
        yes_no=yes_no_patterns,
        skip=skip_patterns,
        stop=stop,
        numbers={str(k): int(v) for k, v in data["numbers"].items()},
        age_bands=bands,
        age_exact=compile_all(age["exact"]),
        age_below=compile_all(age["below"]),
        age_above=compile_all(age["above"]),
        age_almost=compile_all(age["almost"]),
        age_between=compile_all(age["between"]),
        age_words=ordered(words, AGE_BANDS, "age words"),
        practice=practice,
        needs=ordered(data["needs"], NEEDS, "needs"),
        signs=ordered(data["signs"], SIGNS, "signs"),
        scales=scales,
        item_scales=item_scales,
        count=compile_one(data["counts"]["pattern"]),
        periods={str(k): str(v) for k, v in data["counts"]["periods"].items()},
        drinks=compile_one(data["drinks"]["pattern"]),
        drink_units={str(k): int(v) for k, v in data["drinks"]["units"].items()},
        label_ranges=compile_all(data["drinks"]["ranges"]),
        stopwords=words_of(data["stopwords"]),
        negations=words_of(data["negations"]),
        feelings=compile_all(feelings["patterns"]),
        feeling_words=int(feelings["max_words"]),
        feeling_emoji=chars(feelings["emoji"]),
        emoji_answers={str(k): chars(str(v)) for k, v in data["emoji_answers"].items()},
        greetings=compile_all(greetings["patterns"]),
        greeting_words=int(greetings["max_words"]),
        thanks=compile_all(thanks["patterns"]),
        thanks_words=int(thanks["max_words"]),
    )


# -- yes, no, skip ---------------------------------------------------------------------------


def yes_no(text: str) -> str | None:
    """"yes", "no" or "unsure" when the message starts by saying so, else None.

    "ouais", "ok", "pourquoi pas", "oui, au bloc j'ai tout ce qu'il faut" are yes; "non
    merci", "pas maintenant", "non ça va" no; "jsp", "peut-être", "pas sûr", "bof" unsure.
    "non c'est pour moi" is "no" here: the engine looks for persona corrections first.
    """
    folded = fold(text)
    if not folded:
        return _emoji_answer(text)
    for key, pattern in _lexicon().yes_no:
        if pattern.search(folded):
            return key
    return None


def is_skip(text: str) -> bool:
    """The person passes the question: "passer", "suivant", "je préfère ne pas répondre"."""
    folded = fold(text)
    return bool(folded) and any(p.search(folded) for p in _lexicon().skip)


def is_stop(text: str) -> bool:
    """The person wants no more check-ins: "stop", "arrêtez", "ne m'écrivez plus"."""
    return bool(_lexicon().stop.search(fold(text)))


def _emoji_answer(text: str) -> str | None:
    shown = _symbols(text)
    if not shown:
        return None
    for key, emoji in _lexicon().emoji_answers.items():
        if shown <= emoji:
            return key
    return None


def _symbols(text: str) -> frozenset[str]:
    """The symbols of a message with no words: emoji, minus spaces and punctuation."""
    return frozenset(
        char
        for char in clean(text)
        if not char.isspace()
        and unicodedata.category(char)[0] not in "PZ"
        and char != "\ufe0f"
        and not ("\U0001f3fb" <= char <= "\U0001f3ff")  # skin tones
    )


# -- numbers in words ------------------------------------------------------------------------


def _with_digits(folded: str) -> str:
    """"j ai trente huit ans" becomes "j ai 38 ans"; "soixante et onze" 71, "quatre vingts" 80.

    A run of number words adds up while each is smaller than the one before, so "deux trois
    verres" stays two numbers ("2 3 verres").
    """
    numbers = _lexicon().numbers
    words = folded.split()
    out: list[str] = []
    index = 0
    while index < len(words):
        value, used = _number_at(words, index, numbers)
        if value is None:
            out.append(words[index])
            index += 1
            continue
        total, last, index = value, value, index + used
        while index < len(words):
            at = index + 1 if words[index] == "et" else index
            following, used = _number_at(words, at, numbers)
            if following is None or following >= last:
                break
            total, last, index = total + following, following, at + used
        out.append(str(total))
    return " ".join(out)


def _number_at(words: list[str], index: int, numbers: Mapping[str, int]) -> tuple[int | None, int]:
    if index >= len(words):
        return None, 0
    if index + 1 < len(words):
        pair = f"{words[index]} {words[index + 1]}"
        if pair in numbers:
            return numbers[pair], 2
    return numbers.get(words[index]), 1


# -- age -------------------------------------------------------------------------------------


def age_band(text: str) -> str | None:
    """"under_50", "50_60" or "over_60" for an answer to the age question, else None.

    Called at the age question only, so a bare number is an age ("38", "83"). 60 is "50_60"
    (the option reads "De 50 à 60 ans"), "la soixantaine" "over_60". "moins de 50" and
    "plus de 60" are read; "plus de 50", which spans two bands, is not; neither is a number
    out of 18..110 nor "retraité depuis 5 ans".
    """
    folded = fold(text)
    if not folded:
        return None
    lexicon = _lexicon()
    said = _with_digits(folded)
    lowest, highest = lexicon.age_bands[0].low, lexicon.age_bands[-1].high
    for pattern in lexicon.age_between:
        if match := pattern.search(said):
            first, second = sorted((int(match["a"]), int(match["b"])))
            return _band_of_range(first, second)
    for pattern in lexicon.age_below:
        if match := pattern.search(said):
            return _band_of_range(lowest, int(match["n"]) - 1)
    for pattern in lexicon.age_above:
        if match := pattern.search(said):
            return _band_of_range(int(match["n"]) + 1, highest)
    for pattern in lexicon.age_almost:
        if match := pattern.search(said):
            return _band_of(int(match["n"]) - 1)
    for pattern in lexicon.age_exact:
        if match := pattern.search(said):
            return _band_of(int(match["n"]))
    for band, patterns in lexicon.age_words:
        if any(p.search(said) for p in patterns):
            return band
    return None


def _band_of(age: int) -> str | None:
    return next((b.band for b in _lexicon().age_bands if b.low <= age <= b.high), None)


def _band_of_range(low: int, high: int) -> str | None:
    """The band every age from low to high falls in, or None when they span two."""
    if low > high:
        return None
    first, last = _band_of(low), _band_of(high)
    return first if first is not None and first == last else None


# -- practice, needs, signs ------------------------------------------------------------------


def practice_of(text: str) -> str | None:
    """The mode of practice a message states: "liberal", "salaried", "hospital", "student",
    "retired", or None. An explicit status beats a workplace ("interne à l'hôpital" is a
    student, "salarié en clinique" salaried); "en clinique" alone is liberal."""
    folded = fold(text)
    for practice, patterns in _lexicon().practice:
        if any(p.search(folded) for p in patterns):
            return practice
    return None


def needs_of(text: str) -> tuple[str, ...]:
    """Every need a message names, in the order of NEEDS; () when it names none."""
    return _all_of(fold(text), _lexicon().needs)


def signs_of(text: str) -> tuple[str, ...]:
    """Every sign a relative or a colleague describes, in the order of SIGNS."""
    return _all_of(fold(text), _lexicon().signs)


def _all_of(folded: str, table: tuple[tuple[str, tuple[Pattern, ...]], ...]) -> tuple[str, ...]:
    if not folded:
        return ()
    return tuple(name for name, patterns in table if any(p.search(folded) for p in patterns))


# -- questionnaire items ---------------------------------------------------------------------


def scale_of(instrument: str, item: int) -> str:
    """The scale `item_answer` reads an item of an instrument with ("phq9", 3 → "frequency_2w")."""
    table = _lexicon().item_scales.get(instrument)
    if table is None:
        raise ValueError(f"no answer scale for instrument {instrument!r}")
    scale = table.get(str(item), table.get("default"))
    if scale is None:
        raise ValueError(f"no answer scale for {instrument} item {item}")
    return scale


def item_answer(labels: Mapping[str, str], scale: str, text: str) -> str | None:
    """The option id a natural answer to a questionnaire item means, or None.

    `labels` maps each option id to its label as shown (in the person's locale). A label
    said in the text wins ("presque tous les jours"), then a piece of exactly one label
    ("la moitié"), then the scale's own words ("souvent", "tout le temps", "2 verres"),
    mapped to the option whose LABEL means it, never to a score (CBI item 4 is reversed).
    Bare numbers are not read: the engine takes them as ids or positions. None when the
    answer is unclear or could mean two options ("souvent ou parfois").
    """
    lexicon = _lexicon()
    if scale not in lexicon.scales:
        raise ValueError(f"unknown answer scale {scale!r}; one of {SCALES}")
    folded = fold(text)
    if not folded or _DIGITS_ONLY.match(folded):
        return None
    folded_labels = {option: fold(label) for option, label in labels.items()}
    chosen = _by_label(folded_labels, folded)
    said = _with_digits(folded)
    if chosen is None and said != folded:
        chosen = _by_label({o: _with_digits(f) for o, f in folded_labels.items()}, said)
    if chosen is not None:
        return chosen
    spec = lexicon.scales[scale]
    if spec.drinks:
        return _by_drinks(folded_labels, said)
    meanings = _meanings_said(spec, folded) | _meanings_counted(spec, said)
    if len(meanings) != 1 or _UNCLEAR in meanings:
        return None
    (name,) = meanings
    meaning = next(m for m in spec.meanings if m.name == name)
    options = [option for option, label in folded_labels.items() if meaning.label.search(label)]
    return options[0] if len(options) == 1 else None


def _by_label(folded_labels: Mapping[str, str], said: str) -> str | None:
    lexicon = _lexicon()
    inside = [
        option
        for option, label in folded_labels.items()
        if label and _says(said, label, lexicon.negations)
    ]
    # "moins d une fois par mois" holds the label "une fois par mois" too: the longer wins.
    widest = [
        option
        for option in inside
        if not any(
            other != option and _holds(folded_labels[other], folded_labels[option])
            and folded_labels[other] != folded_labels[option]
            for other in inside
        )
    ]
    if inside:
        return widest[0] if len(widest) == 1 else None
    if all(word in lexicon.stopwords for word in said.split()):
        return None
    holding = [option for option, label in folded_labels.items() if _holds(label, said)]
    return holding[0] if len(holding) == 1 else None


def _holds(text: str, phrase: str) -> bool:
    """The phrase is in the text as whole words."""
    return f" {phrase} " in f" {text} "


def _says(text: str, phrase: str, negations: frozenset[str]) -> bool:
    """The phrase is in the text as whole words, at least once not right after a negation."""
    padded, needle = f" {text} ", f" {phrase} "
    start = padded.find(needle)
    while start != -1:
        before = padded[:start].split()
        if not before or before[-1] not in negations:
            return True
        start = padded.find(needle, start + 1)
    return False


def _meanings_said(scale: _Scale, folded: str) -> set[str]:
    """The meanings the scale's phrases say; two or more when the answer is unclear."""
    modifiers = _lexicon().negations
    said: list[tuple[str, int, int]] = []
    denied: list[tuple[int, int]] = []
    for meaning in scale.meanings:
        for pattern in meaning.say:
            for match in pattern.finditer(folded):
                before = folded[: match.start()].split()
                first = match.group().split()[:1]
                # "pas tous les jours" denies "tous les jours"; "pas du tout" says itself.
                if before and before[-1] in modifiers and first and first[0] not in modifiers:
                    denied.append((match.start(), match.end()))
                else:
                    said.append((meaning.name, match.start(), match.end()))
    # A phrase inside a longer one of another meaning is part of it: "un peu beaucoup"
    # holds "beaucoup", "presque jamais" holds "jamais".
    kept = [
        (name, start, end)
        for name, start, end in said
        if not any(s <= start and end <= e and (e - s) > (end - start) for _, s, e in said)
    ]
    meanings = {name for name, _, _ in kept}
    # A denied phrase that no kept phrase explains ("je ne bois pas tous les jours") leaves
    # the answer unclear, whatever else it says.
    if any(not any(s <= start and end <= e for _, s, e in kept) for start, end in denied):
        meanings.add(_UNCLEAR)
    return meanings


def _meanings_counted(scale: _Scale, said: str) -> set[str]:
    if not scale.counts:
        return set()
    lexicon = _lexicon()
    meanings: set[str] = set()
    for match in lexicon.count.finditer(said):
        times, per = int(match["n"]), lexicon.periods.get(match["per"])
        meanings.update(
            c.meaning for c in scale.counts if c.per == per and c.low <= times <= c.high
        )
    return meanings


def _by_drinks(folded_labels: Mapping[str, str], said: str) -> str | None:
    lexicon = _lexicon()
    counts: list[int] = []
    for match in lexicon.drinks.finditer(said):
        unit = lexicon.drink_units.get(match["unit"], 1)
        counts.extend(int(match[g]) * unit for g in ("a", "b") if match[g] is not None)
    ranges = {option: _label_range(label) for option, label in folded_labels.items()}
    chosen = {
        option
        for count in counts
        for option, bounds in ranges.items()
        if bounds is not None and bounds[0] <= count <= bounds[1]
    }
    return next(iter(chosen)) if len(chosen) == 1 else None


def _label_range(label: str) -> tuple[int, float] | None:
    """The range of drinks a label stands for: "1 ou 2" (1, 2), "10 ou plus" (10, inf)."""
    for pattern in _lexicon().label_ranges:
        if match := pattern.match(label):
            low = int(match["a"])
            high = match.groupdict().get("b")
            return low, float(high) if high is not None else float("inf")
    return None


# -- feelings, greetings, thanks -------------------------------------------------------------


def is_feeling(text: str) -> bool:
    """An emotion said instead of an answer: "😢😢😢", "c'est dur", "j'en ai marre", "tired".

    "je n'en peux plus" is a feeling here; the crisis detector, which runs before anything
    else on every message, decides whether it is more.
    """
    lexicon = _lexicon()
    folded = fold(text)
    if not folded:
        shown = _symbols(text)
        answers = frozenset[str]().union(*lexicon.emoji_answers.values())
        return bool(shown & lexicon.feeling_emoji) and not shown & answers
    if len(folded.split()) > lexicon.feeling_words:
        return False
    return any(p.search(folded) for p in lexicon.feelings)


def is_greeting(text: str) -> bool:
    """A greeting and nothing more: "bonjour", "salut ça va ?", "hello there"."""
    lexicon = _lexicon()
    folded = fold(text)
    if not folded or len(folded.split()) > lexicon.greeting_words:
        return False
    return any(p.search(folded) for p in lexicon.greetings)


def is_thanks(text: str) -> bool:
    """Thanks and nothing more: "merci", "merci beaucoup pour votre aide", "thank you"."""
    lexicon = _lexicon()
    folded = fold(text)
    if not folded or len(folded.split()) > lexicon.thanks_words:
        return False
    return any(p.search(folded) for p in lexicon.thanks)


__all__ = [
    "AGE_BANDS", "NEEDS", "PRACTICES", "SCALES", "SIGNS", "YES_NO", "age_band", "is_feeling",
    "is_greeting", "is_skip", "is_thanks", "item_answer", "needs_of", "practice_of",
    "scale_of", "signs_of", "yes_no",
]
