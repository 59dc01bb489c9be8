"""The tables of one year, counted from the store's statistics lines: true counts, before any
protection (disclosure.py decides what of them may be published)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.staff.closing import FIELDS
from storage.records import DELAY_BANDS, FOLLOW_UP_BANDS, StatisticsRow

# A category of a table: one label, or the labels merged into it (disclosure.merged).
Category = tuple[str, ...]
COUNT = "count"
LEVELS = ("1", "2", "3")
NOT_GRADED = "none"
UNKNOWN = "unknown"
OTHER = "other"
# Shown in every year, even at zero: the levels a case may have, the months of a year.
MONTHS = tuple(f"{month:02d}" for month in range(1, 13))
PERSONAS = ("self", "relative", "colleague")
CHANNELS = ("matrix", "telegram")
AGE_BANDS = ("under_50", "50_60", "over_60")
# The cross tables a council reads. No two share a dimension, and each one-way table of
# their fields is their margin: each table can then be protected, and attacked, alone.
CROSSED = (("motive", "outcome"), ("age_band", "practice"))


class Merge(Enum):
    """How a dimension's rare categories may be merged before anything is suppressed."""

    NONE = "none"
    # Adjacent bands into one ("1 to 7 days" with "over 7 days").
    ADJACENT = "adjacent"
    # Rare categories into "other".
    OTHER = "other"


@dataclass(frozen=True)
class Dimension:
    field: str
    categories: tuple[Category, ...]
    merge: Merge = Merge.NONE
    # For ADJACENT: the labels in their order; categories outside it never merge.
    order: tuple[str, ...] = ()


ONE_WAY = Dimension(COUNT, ((COUNT,),))


@dataclass(frozen=True)
class Table:
    """Counts by rows × columns; a one-way table has the single column ONE_WAY."""

    name: str
    rows: Dimension
    columns: Dimension
    counts: tuple[tuple[int, ...], ...]

    @property
    def one_way(self) -> bool:
        return self.columns == ONE_WAY

    @property
    def row_totals(self) -> tuple[int, ...]:
        return tuple(sum(row) for row in self.counts)

    @property
    def column_totals(self) -> tuple[int, ...]:
        return tuple(sum(column) for column in zip(*self.counts, strict=True)) if self.counts \
            else tuple(0 for _ in self.columns.categories)

    @property
    def total(self) -> int:
        return sum(self.row_totals)


def _labels(known: Iterable[str], found: Iterable[str | None]) -> tuple[Category, ...]:
    """Every known label, even at zero, then any other label the year holds."""
    labels = list(known)
    labels += sorted({label or UNKNOWN for label in found} - set(labels))
    return tuple((label,) for label in labels)


def _count(
    name: str, rows: Dimension, columns: Dimension, pairs: Iterable[tuple[str, str]]
) -> Table:
    counter = Counter(pairs)
    counts = tuple(
        tuple(counter[(row[0], column[0])] for column in columns.categories)
        for row in rows.categories
    )
    return Table(name, rows, columns, counts)


def one_way(
    name: str, field: str, known: Sequence[str], values: Sequence[str | None],
    merge: Merge = Merge.NONE, order: Sequence[str] = (),
) -> Table:
    dimension = Dimension(field, _labels(known, values), merge, tuple(order))
    return _count(name, dimension, ONE_WAY, ((value or UNKNOWN, COUNT) for value in values))


def closing_dimension(field: str, closed: Sequence[StatisticsRow]) -> Dimension:
    labels = _labels(FIELDS[field], (row.closing.get(field) for row in closed))
    if field == "age_band":
        return Dimension(field, labels, Merge.ADJACENT, AGE_BANDS)
    if field in ("outcome", "practice"):
        return Dimension(field, labels, Merge.OTHER)
    return Dimension(field, labels)


def level_of(row: StatisticsRow) -> str:
    return NOT_GRADED if row.level is None else str(row.level)


def level_dimension(rows: Sequence[StatisticsRow]) -> Dimension:
    found = {level_of(row) for row in rows} - set(LEVELS)
    return Dimension("level", tuple((label,) for label in (*LEVELS, *sorted(found))))


def alerts_by_month(rows: Sequence[StatisticsRow], year: int) -> Table:
    """The cases that reached the commission, by month of arrival and level."""
    alerts = [row for row in rows if row.reached_commission]
    months = Dimension("month", tuple((month,) for month in MONTHS))
    return _count(
        "alerts_by_month", months, level_dimension(alerts),
        ((row.month.removeprefix(f"{year}-"), level_of(row)) for row in alerts),
    )


def closing_tables(rows: Sequence[StatisticsRow]) -> list[Table]:
    """The Var table's fields, one by one, over the cases closed; those crossed are left to
    the cross tables, whose margins they are."""
    closed = [row for row in rows if row.closing]
    crossed = {field for pair in CROSSED for field in pair}
    tables = []
    for field in FIELDS:
        if field in crossed:
            continue
        dimension = closing_dimension(field, closed)
        tables.append(_count(
            f"closing.{field}", dimension, ONE_WAY,
            ((row.closing.get(field, UNKNOWN), COUNT) for row in closed),
        ))
    return tables


def cross_tables(rows: Sequence[StatisticsRow]) -> list[Table]:
    closed = [row for row in rows if row.closing]
    return [
        _count(
            f"{first}_by_{second}",
            closing_dimension(first, closed), closing_dimension(second, closed),
            ((row.closing.get(first, UNKNOWN), row.closing.get(second, UNKNOWN))
             for row in closed),
        )
        for first, second in CROSSED
    ]


def _delays(
    name: str, rows: Sequence[StatisticsRow], band: Callable[[StatisticsRow], str | None],
    bands: Sequence[str],
) -> Table:
    values = [band(row) for row in rows if band(row) is not None]
    return one_way(name, "band", bands, values, Merge.ADJACENT, bands)


def year_tables(rows: Sequence[StatisticsRow], year: int) -> list[Table]:
    """Every table of the year but year over year, in the report's order."""
    routes = [route for row in rows for route in row.routes]
    return [
        *closing_tables(rows),
        *cross_tables(rows),
        alerts_by_month(rows, year),
        one_way("channels", "channel", CHANNELS, [row.channel for row in rows]),
        one_way("personas", "persona", PERSONAS, [row.persona for row in rows], Merge.OTHER),
        one_way("routes", "route", (), routes, Merge.OTHER),
        _delays("acknowledged_within", rows, lambda row: row.acknowledged_within, DELAY_BANDS),
        _delays("first_reply_within", rows, lambda row: row.first_reply_within, DELAY_BANDS),
        _delays("follow_up", rows, lambda row: row.follow_up, FOLLOW_UP_BANDS),
    ]
