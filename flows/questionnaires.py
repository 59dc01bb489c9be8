"""The self-assessment questionnaires, read from reviewable data, with their gates and scoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from flows.datafile import load_yaml

DATA_DIR = Path(__file__).parent / "data" / "questionnaires"
INSTRUMENTS = ("phq9", "gad7", "auditc", "cbi")
LOCALES = ("fr", "en")
SEXES = ("male", "female")
UNKNOWN_SEX = "unknown"
# The key of a cut-off that does not depend on sex.
ANY_SEX = "any"


@dataclass(frozen=True)
class AnswerOption:
    score: int
    label: Mapping[str, str]


@dataclass(frozen=True)
class Item:
    number: int
    text: Mapping[str, str]
    options: tuple[AnswerOption, ...]
    _crisis_threshold: int | None = field(default=None, kw_only=True, repr=False)

    @property
    def crisis_threshold(self) -> int | None:
        """The lowest answer score that opens the crisis path, or None for an ordinary item."""
        return self._crisis_threshold


@dataclass(frozen=True)
class Questionnaire:
    id: str
    title: Mapping[str, str]
    stem: Mapping[str, str]
    source: str
    licence: str
    wording_sources: Mapping[str, str]
    items: tuple[Item, ...]

    def item(self, number: int) -> Item:
        for item in self.items:
            if item.number == number:
                return item
        raise KeyError(f"{self.id} has no item {number}")


@dataclass(frozen=True)
class Result:
    instrument: str
    score: float
    band: str
    positive: bool


@dataclass(frozen=True)
class _Screening:
    """A short form asked first: only a positive screen opens the remaining items."""

    id: str
    items: tuple[int, ...]
    positive_at: int
    # Items asked right after the short form whatever it gives: PHQ-9 item 9, the direct
    # question about thoughts of death, is asked of everyone.
    always: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Stop:
    """An answer after which nothing more is asked and the unasked items count 0."""

    item: int
    score: int


@dataclass(frozen=True)
class _Rules:
    mean: bool
    bands: tuple[tuple[float, str], ...]
    positive_at: Mapping[str, int]
    screening: _Screening | None
    stop_when: _Stop | None

    def cut_off(self, sex: str | None) -> int:
        if ANY_SEX in self.positive_at:
            return self.positive_at[ANY_SEX]
        return self.positive_at[sex if sex in SEXES else UNKNOWN_SEX]


# -- loading ---------------------------------------------------------------------------------


def load_questionnaires() -> Mapping[str, Questionnaire]:
    """Every instrument by id; the files are read and checked once."""
    return _questionnaires()


@lru_cache(maxsize=1)
def _questionnaires() -> Mapping[str, Questionnaire]:
    return MappingProxyType({key: value[0] for key, value in _catalogue().items()})


@lru_cache(maxsize=1)
def _catalogue() -> Mapping[str, tuple[Questionnaire, _Rules]]:
    return MappingProxyType({key: _load_file(DATA_DIR / f"{key}.yaml") for key in INSTRUMENTS})


def _load_file(path: Path) -> tuple[Questionnaire, _Rules]:
    with path.open(encoding="utf-8") as stream:
        data = load_yaml(stream)
    return _parse(path.name, data)


def _fail(where: str, problem: str) -> NoReturn:
    raise ValueError(f"{where}: {problem}")


def _parse(where: str, data: Any) -> tuple[Questionnaire, _Rules]:
    if not isinstance(data, Mapping):
        _fail(where, "expected a mapping at the top level")
    option_scores = _option_scores(where, data.get("option_scores"))
    items = _items(where, data.get("items"), option_scores)
    questionnaire = Questionnaire(
        id=_text(where, data.get("id"), "id"),
        title=_texts(where, data.get("title"), "title"),
        stem=_texts(where, data.get("stem"), "stem"),
        source=_text(where, data.get("source"), "source"),
        licence=_text(where, data.get("licence"), "licence"),
        wording_sources=_texts(where, data.get("wording_sources"), "wording_sources"),
        items=items,
    )
    if f"{questionnaire.id}.yaml" != where:
        _fail(where, f"id {questionnaire.id!r} does not match the file name")
    numbers = {item.number for item in items}
    return questionnaire, _rules(where, data, numbers, option_scores)


def _text(where: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"{what} is missing or empty")
    return " ".join(value.split())


def _texts(where: str, value: Any, what: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        _fail(where, f"{what} needs a text in each of {', '.join(LOCALES)}")
    return MappingProxyType({
        locale: _text(where, value.get(locale), f"{what} ({locale})") for locale in LOCALES
    })


def _integer(where: str, value: Any, what: str) -> int:
    # bool is an int to Python, but `true` in the data is never a score.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(where, f"{what} must be a whole number, not {value!r}")
    return value


def _option_scores(where: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        _fail(where, "option_scores must list the scores every item offers")
    scores = tuple(_integer(where, score, "an option score") for score in value)
    if len(set(scores)) != len(scores):
        _fail(where, f"option_scores {list(scores)} repeats a score")
    return scores


def _items(where: str, value: Any, option_scores: tuple[int, ...]) -> tuple[Item, ...]:
    if not isinstance(value, list) or not value:
        _fail(where, "items must be a non-empty list")
    items = tuple(_item(where, raw, option_scores) for raw in value)
    for expected, item in enumerate(items, start=1):
        if item.number != expected:
            _fail(where, f"item {item.number} found where item {expected} was expected "
                         "(numbers must run 1, 2, 3… in order)")
    return items


def _item(where: str, raw: Any, option_scores: tuple[int, ...]) -> Item:
    if not isinstance(raw, Mapping):
        _fail(where, f"every item must be a mapping, not {raw!r}")
    number = _integer(where, raw.get("number"), "an item number")
    here = f"{where}: item {number}"
    options = _options(here, raw.get("options"))
    scores = [option.score for option in options]
    if sorted(scores) != sorted(option_scores):
        _fail(here, f"answer scores {scores} do not match the instrument's {list(option_scores)}")
    return Item(
        number=number,
        text=_texts(here, raw.get("text"), "text"),
        options=options,
        _crisis_threshold=_crisis_threshold(here, raw, option_scores),
    )


def _options(here: str, value: Any) -> tuple[AnswerOption, ...]:
    if not isinstance(value, list) or not value:
        _fail(here, "options must be a non-empty list")
    options = []
    for raw in value:
        if not isinstance(raw, Mapping):
            _fail(here, f"every option must be a mapping, not {raw!r}")
        score = _integer(here, raw.get("score"), "an answer score")
        label = _texts(here, raw.get("label"), f"label of the answer scored {score}")
        options.append(AnswerOption(score=score, label=label))
    return tuple(options)


def _crisis_threshold(
    here: str, raw: Mapping[str, Any], option_scores: Sequence[int]
) -> int | None:
    flagged = raw.get("crisis_item", False)
    threshold = raw.get("crisis_threshold")
    if not isinstance(flagged, bool):
        _fail(here, f"crisis_item must be true or false, not {flagged!r}")
    if not flagged:
        if threshold is not None:
            _fail(here, "crisis_threshold is given but crisis_item is not true")
        return None
    value = _integer(here, threshold, "crisis_threshold")
    if value not in option_scores:
        _fail(here, f"crisis_threshold {value} is not one of the answer scores")
    return value


def _rules(
    where: str, data: Mapping[str, Any], numbers: set[int], option_scores: Sequence[int]
) -> _Rules:
    scoring = data.get("scoring")
    if scoring not in ("sum", "mean"):
        _fail(where, f"scoring must be 'sum' or 'mean', not {scoring!r}")
    return _Rules(
        mean=scoring == "mean",
        bands=_bands(where, data.get("bands"), min(option_scores)),
        positive_at=_cut_offs(where, data.get("cut_offs")),
        screening=_screening(where, data.get("screening"), numbers),
        stop_when=_stop(where, data.get("stop_when"), numbers, option_scores),
    )


def _bands(where: str, value: Any, lowest: int) -> tuple[tuple[float, str], ...]:
    # Without bands an instrument only says whether its screen is positive.
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        _fail(where, "bands must be a non-empty list of {from, band}")
    bands: list[tuple[float, str]] = []
    for raw in value:
        if not isinstance(raw, Mapping):
            _fail(where, f"every band must be a mapping, not {raw!r}")
        start = _integer(where, raw.get("from"), "a band's 'from'")
        if bands and start <= bands[-1][0]:
            _fail(where, f"band starting at {start} is not above the previous one")
        bands.append((float(start), _text(where, raw.get("band"), "a band's name")))
    if bands[0][0] > lowest:
        _fail(where, f"the first band starts at {bands[0][0]:g}, above the lowest score {lowest}")
    return tuple(bands)


def _cut_offs(where: str, value: Any) -> Mapping[str, int]:
    if not isinstance(value, Mapping) or "positive" not in value:
        _fail(where, "cut_offs.positive is missing")
    positive = value["positive"]
    if isinstance(positive, Mapping):
        return MappingProxyType({
            sex: _integer(where, positive.get(sex), f"cut_offs.positive.{sex}")
            for sex in (*SEXES, UNKNOWN_SEX)
        })
    return MappingProxyType({ANY_SEX: _integer(where, positive, "cut_offs.positive")})


def _screening(where: str, value: Any, numbers: set[int]) -> _Screening | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        _fail(where, "screening must be a mapping")
    items = value.get("items")
    if not isinstance(items, list) or not items:
        _fail(where, "screening.items must list item numbers")
    for number in items:
        if _integer(where, number, "a screening item") not in numbers:
            _fail(where, f"screening names item {number}, which does not exist")
    positive = _cut_offs(f"{where}: screening", value.get("cut_offs"))
    if ANY_SEX not in positive:
        _fail(where, "screening cut-off must not depend on sex")
    always = value.get("always", [])
    if not isinstance(always, list):
        _fail(where, "screening.always must list item numbers")
    for number in always:
        if _integer(where, number, "an item always asked") not in numbers:
            _fail(where, f"screening.always names item {number}, which does not exist")
    return _Screening(
        id=_text(where, value.get("id"), "screening.id"),
        items=tuple(items),
        positive_at=positive[ANY_SEX],
        always=tuple(always),
    )


def _stop(
    where: str, value: Any, numbers: set[int], option_scores: Sequence[int]
) -> _Stop | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        _fail(where, "stop_when must be a mapping")
    item = _integer(where, value.get("item"), "stop_when.item")
    score = _integer(where, value.get("score"), "stop_when.score")
    if item not in numbers:
        _fail(where, f"stop_when names item {item}, which does not exist")
    if score not in option_scores:
        _fail(where, f"stop_when.score {score} is not one of the answer scores")
    return _Stop(item=item, score=score)


# -- asking and scoring ------------------------------------------------------------------------


def _instrument(instrument: str) -> tuple[Questionnaire, _Rules]:
    catalogue = _catalogue()
    if instrument not in catalogue:
        raise ValueError(f"unknown questionnaire {instrument!r}")
    return catalogue[instrument]


def _check(questionnaire: Questionnaire, answers: Mapping[int, int]) -> None:
    for number, score in answers.items():
        try:
            item = questionnaire.item(number)
        except KeyError:
            raise ValueError(f"{questionnaire.id} has no item {number}") from None
        if score not in {option.score for option in item.options}:
            raise ValueError(f"{questionnaire.id} item {number} has no answer scored {score}")


def _stop_reached(rules: _Rules, answers: Mapping[int, int]) -> _Stop | None:
    stop = rules.stop_when
    return stop if stop is not None and answers.get(stop.item) == stop.score else None


def _screen_total(screening: _Screening, answers: Mapping[int, int]) -> int | None:
    """The short form's total once all its items are answered."""
    if any(number not in answers for number in screening.items):
        return None
    return sum(answers[number] for number in screening.items)


def next_item(instrument: str, answers: Mapping[int, int]) -> int | None:
    """The next item number to ask, or None when the questionnaire is finished."""
    questionnaire, rules = _instrument(instrument)
    _check(questionnaire, answers)
    if _stop_reached(rules, answers):
        return None
    screening = rules.screening
    if screening is not None:
        for number in (*screening.items, *screening.always):
            if number not in answers:
                return number
        total = _screen_total(screening, answers)
        if total is not None and total < screening.positive_at:
            return None
    for item in questionnaire.items:
        if item.number not in answers:
            return item.number
    return None


def planned_items(instrument: str, answers: Mapping[int, int]) -> int:
    """How many items this questionnaire will have asked in all if every answer still owed
    is the lowest: the length a person can be promised before they start."""
    questionnaire, _ = _instrument(instrument)
    lowest = min(option.score for option in questionnaire.items[0].options)
    filled = dict(answers)
    while (number := next_item(instrument, filled)) is not None:
        filled[number] = min(
            (option.score for option in questionnaire.item(number).options), default=lowest
        )
    return len(filled)


def is_crisis_answer(instrument: str, item: int, score: int) -> bool:
    threshold = _instrument(instrument)[0].item(item).crisis_threshold
    return threshold is not None and score >= threshold


def results(instrument: str, answers: Mapping[int, int], sex: str | None) -> Result:
    """The result of a finished questionnaire; raises ValueError while an item is owed."""
    questionnaire, rules = _instrument(instrument)
    _check(questionnaire, answers)
    numbers = [item.number for item in questionnaire.items]
    stop = _stop_reached(rules, answers)
    if stop is not None:
        scored = {number: stop.score if number == stop.item else 0 for number in numbers}
        return _classify(instrument, _score(rules, scored), sex)
    screening = rules.screening
    if screening is not None and not all(number in answers for number in numbers):
        total = _screen_total(screening, answers)
        owed = [number for number in screening.always if number not in answers]
        if owed:
            raise ValueError(f"{instrument} is not finished: item {owed[0]} is not answered")
        if total is not None and total < screening.positive_at:
            return Result(screening.id, float(total), "negative", False)
    missing = [number for number in numbers if number not in answers]
    if missing:
        raise ValueError(f"{instrument} is not finished: item {missing[0]} is not answered")
    return _classify(instrument, _score(rules, answers), sex)


def _score(rules: _Rules, answers: Mapping[int, int]) -> float:
    total = sum(answers.values())
    return total / len(answers) if rules.mean else float(total)


def _classify(instrument: str, score: float, sex: str | None) -> Result:
    rules = _instrument(instrument)[1]
    positive = score >= rules.cut_off(sex)
    if rules.bands:
        band = next(name for start, name in reversed(rules.bands) if score >= start)
    else:
        band = "positive" if positive else "negative"
    return Result(instrument, score, band, positive)
