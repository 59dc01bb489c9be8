"""Small-cell protection: what of a table's counts may be published, so that no person can be
told apart in it and no hidden count can be worked back out of what is shown.

The rule (the deployment's ``report:`` settings, flows.deployment.ReportRules):

1. Rare categories are merged first where the table allows: adjacent bands into one, rare
   outcomes, practices, personas or lines into "other" (``merged``). A cross table merges by
   its margins, so its rows and columns are the one-way tables of the same fields.
2. Primary suppression: a count from 1 to threshold - 1, a total as well as a cell, is
   shown as "< 5".
3. In a year of fewer than ``round_below`` cases, every other count, totals included, is
   rounded to the nearest multiple of ``round_to``. A reader then knows a shown 5 means 5 to
   7 (4 would be "< 5"), which is why the check below never leans on rounding for safety.
4. Secondary suppression: every hidden count must be able to change without changing
   anything shown. A table with its totals is a grid whose every row and column adds up;
   moving one unit around a rectangle of hidden cells (+1, -1, +1, -1, with the signs of
   totals reversed) keeps every sum. So each hidden count must sit on such a rectangle
   whose move keeps every count it touches within what its symbol says ("< 5": 1 to 4,
   hidden: at least the threshold), rounded cells held fixed. Where none exists, cells
   already shown are hidden too, the fewest and the smallest, interior cells before totals
   (a hypercube method, as tau-Argus calls it, on two dimensions). Where even that fails
   (four "< 5" cells whose total is "< 5" are each 1), a cross table publishes its totals
   alone, protected the same way, and a table where that fails too is withheld whole.
   tests/report/attacker.py checks the result the other way round: it computes, by integer
   programming, every value a hidden cell can take given all that is published.

Zeros are published as 0 and never hidden: a zero describes nobody, hiding zeros would
cover a small council's report in symbols, and a structural zero (no death in a year) is
worth saying. What a zero can still tell ("every such case ended the same way") is what
the merging of rare categories reduces. Since zeros are never hidden and hidden cells are
only counts of at least the threshold, the symbols tell that much, and the attacker knows it.

Why not ACRO (PyPI ``acro``, the SACRO project's checker of research outputs): it pulls
pandas, statsmodels, matplotlib, numpy, openpyxl and lxml into the bot's image; its
``crosstab`` with ``suppress=True`` hides the cells below its threshold and then
recomputes the margins from the cells left (``manual_crossstab_with_totals`` and
``recalculate_margin`` in ``acro/acro_tables.py``), so its totals are no longer the year's
true totals and it does no secondary suppression on published margins. Our report must
publish the true totals (how many cases, by level, by month), so it needs the secondary
suppression that ACRO leaves to a human output checker.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.report.tables import ONE_WAY, OTHER, Category, Dimension, Merge, Table
from flows.deployment import ReportRules


class Kind(Enum):
    ZERO = "zero"
    SHOWN = "shown"
    # Primary: a count from 1 to threshold - 1.
    SMALL = "small"
    # Secondary: a count of at least the threshold, hidden so that no small one can be
    # worked out.
    HIDDEN = "hidden"
    # Inside a cross table published by its totals alone.
    WITHHELD = "withheld"


@dataclass(frozen=True)
class Cell:
    kind: Kind
    # The number published (rounded if the year is); None when suppressed.
    value: int | None = None

    @property
    def suppressed(self) -> bool:
        return self.kind in (Kind.SMALL, Kind.HIDDEN)

    @property
    def published(self) -> bool:
        return self.kind in (Kind.ZERO, Kind.SHOWN)


@dataclass(frozen=True)
class Protected:
    """A table as it may be published. ``cells`` has a line per row then the totals line;
    each line has a cell per column then the row's total, except in a one-way table, whose
    lines have the count alone."""

    name: str
    rows: Dimension
    columns: Dimension
    cells: tuple[tuple[Cell, ...], ...]
    rounded: bool
    # Too few cases to publish any of it.
    withheld: bool
    # A cross table whose inside cannot be protected: its totals alone are published.
    margins_only: bool
    # The merged true counts, for the tests only: never rendered.
    source: Table
    # False where the last line is a line like the others (year over year).
    totals_line: bool = True

    @property
    def one_way(self) -> bool:
        return self.columns == ONE_WAY

    @property
    def total(self) -> Cell:
        return self.cells[-1][-1]


def published_value(count: int, rules: ReportRules, rounded: bool) -> Cell:
    """One count on its own, as the report's first sentence gives the year's cases."""
    if count == 0:
        return Cell(Kind.ZERO, 0)
    if count < rules.threshold:
        return Cell(Kind.SMALL)
    if not rounded:
        return Cell(Kind.SHOWN, count)
    base = rules.round_to
    return Cell(Kind.SHOWN, (count + base // 2) // base * base)


# --- 1. merging ---------------------------------------------------------------------------


def _merge_groups(dimension: Dimension, margins: Sequence[int], threshold: int) -> list[list[int]]:
    """Which categories (by index) become one, in order."""
    groups = [[index] for index in range(len(margins))]
    sums = list(margins)

    def small(value: int) -> bool:
        return 1 <= value < threshold

    if dimension.merge is Merge.ADJACENT:
        ordered = [set(category) <= set(dimension.order) for category in dimension.categories]
        while True:
            candidates = [g for g, group in enumerate(groups) if ordered[group[0]]]
            rare = [g for g in candidates if small(sums[g])]
            if len(candidates) < 2 or not rare:
                break
            g = rare[0]
            neighbours = [n for n in (g - 1, g + 1) if n in candidates]
            positive = [n for n in neighbours if sums[n] > 0]
            n = min(positive, key=lambda n: sums[n]) if positive else neighbours[-1]
            first, second = sorted((g, n))
            groups[first] += groups.pop(second)
            sums[first] += sums.pop(second)
    elif dimension.merge is Merge.OTHER:
        other = next((i for i, c in enumerate(dimension.categories) if c == (OTHER,)), None)
        rare = [i for i in range(len(margins)) if small(margins[i]) and i != other]
        held = margins[other] if other is not None else 0
        enough = sum(margins[i] for i in rare) + held >= threshold
        if rare and (len(rare) >= 2 or held > 0) and enough:
            keep = [[i] for i in range(len(margins)) if i not in rare and i != other]
            groups = [*keep, ([other] if other is not None else []) + rare]
    return groups


def _merged_dimension(dimension: Dimension, groups: list[list[int]]) -> Dimension:
    categories: list[Category] = []
    for group in groups:
        labels = tuple(label for index in group for label in dimension.categories[index])
        if dimension.merge is Merge.OTHER and len(group) > 1 and labels[0] != OTHER:
            labels = (OTHER, *labels)
        categories.append(labels)
    return Dimension(dimension.field, tuple(categories), dimension.merge, dimension.order)


def merged(table: Table, threshold: int) -> Table:
    """The table with its rare categories merged where its dimensions allow."""
    row_groups = _merge_groups(table.rows, table.row_totals, threshold)
    column_groups = _merge_groups(table.columns, table.column_totals, threshold)
    counts = tuple(
        tuple(sum(table.counts[r][c] for r in rows for c in columns) for columns in column_groups)
        for rows in row_groups
    )
    return Table(
        table.name,
        _merged_dimension(table.rows, row_groups),
        _merged_dimension(table.columns, column_groups),
        counts,
    )


# --- 2 to 4. suppression ------------------------------------------------------------------


def extended(table: Table) -> list[list[int]]:
    """The counts with their totals: a line per row then the totals line, each with its
    row's total last (none in a one-way table, where it would repeat the count)."""
    if table.one_way:
        return [[row[0]] for row in table.counts] + [[table.total]]
    lines = [[*row, sum(row)] for row in table.counts]
    return [*lines, [*table.column_totals, table.total]]


class _Grid:
    """The extended table and what is hidden in it, with the moves that keep every sum."""

    def __init__(self, values: list[list[int]], threshold: int) -> None:
        self.values = values
        self.threshold = threshold
        self.height, self.width = len(values), len(values[0])
        self.kinds = [
            [Kind.ZERO if v == 0 else Kind.SMALL if v < threshold else Kind.SHOWN for v in line]
            for line in values
        ]

    def sign(self, row: int, column: int) -> int:
        """Totals count against their lines: with this sign every row and column sums to 0."""
        total_row = row == self.height - 1
        total_column = self.width > 1 and column == self.width - 1
        return -1 if total_row != total_column else 1

    def moves(self, row: int, column: int) -> Iterator[list[tuple[int, int, int]]]:
        """The smallest cycles through a cell: (row, column, step) for each cell moved."""
        if self.width == 1:
            for other in range(self.height):
                if other != row:
                    yield [(row, 0, 1), (other, 0, -1)]
            return
        for other_row in range(self.height):
            for other_column in range(self.width):
                if other_row != row and other_column != column:
                    yield [(row, column, 1), (row, other_column, -1),
                           (other_row, column, -1), (other_row, other_column, 1)]

    def keeps_symbols(self, move: list[tuple[int, int, int]]) -> bool:
        """Whether the move, one way or the other, leaves each cell what its symbol says,
        a shown cell taken as about to be hidden."""
        for direction in (1, -1):
            fine = True
            for row, column, step in move:
                value = self.values[row][column]
                moved = value + direction * step * self.sign(row, column)
                kind = self.kinds[row][column]
                if kind is Kind.ZERO:
                    return False
                if kind is Kind.WITHHELD:
                    fine = fine and moved >= 0
                elif kind is Kind.SMALL:
                    fine = fine and 1 <= moved < self.threshold
                else:
                    fine = fine and moved >= self.threshold
            if fine:
                return True
        return False

    def suppressed(self) -> list[tuple[int, int]]:
        return [
            (row, column)
            for row in range(self.height)
            for column in range(self.width)
            if self.kinds[row][column] in (Kind.SMALL, Kind.HIDDEN)
        ]  # fmt: skip

    def protect(self, row: int, column: int) -> bool:
        """Hide what it takes for this cell to move; False when nothing can."""
        best: tuple[tuple[int, int, int], list[tuple[int, int]]] | None = None
        for move in self.moves(row, column):
            if not self.keeps_symbols(move):
                continue
            new = [(r, c) for r, c, _ in move if self.kinds[r][c] is Kind.SHOWN]
            if not new:
                return True
            margins = sum(1 for r, c in new if r == self.height - 1 or
                          (self.width > 1 and c == self.width - 1))
            cost = (len(new), margins, sum(self.values[r][c] for r, c in new))
            if best is None or cost < best[0]:
                best = (cost, new)
        if best is None:
            return False
        for r, c in best[1]:
            self.kinds[r][c] = Kind.HIDDEN
        return True

    def margins_only(self) -> None:
        """Withhold the inside, and start again from the totals' own small counts."""
        for row in range(self.height):
            for column in range(self.width):
                value = self.values[row][column]
                if row < self.height - 1 and column < self.width - 1:
                    self.kinds[row][column] = Kind.WITHHELD
                elif self.kinds[row][column] is Kind.HIDDEN:
                    self.kinds[row][column] = Kind.SHOWN if value else Kind.ZERO

    def secondary(self) -> bool:
        """Hide until every hidden cell can move; False when some cannot."""
        changed = True
        while changed:
            before = self.suppressed()
            for row, column in before:
                if not self.protect(row, column):
                    return False
            changed = self.suppressed() != before
        return True


def protect(
    table: Table, rules: ReportRules, cases: int, *, secondary: bool = True
) -> Protected:
    """The table as it may be published in a year of ``cases`` cases. ``secondary=False``
    exists for the test that shows what primary suppression alone would leak."""
    table = merged(table, rules.threshold)
    rounded = rules.rounds(cases)
    grid = _Grid(extended(table), rules.threshold)
    withheld = margins_only = False
    if secondary and not grid.secondary():
        margins_only = not table.one_way
        if margins_only:
            grid.margins_only()
        withheld = not margins_only or not grid.secondary()
    if withheld:
        grid.kinds = [[Kind.WITHHELD] * grid.width for _ in range(grid.height)]
    cells = tuple(
        tuple(
            Cell(kind) if kind in (Kind.SMALL, Kind.HIDDEN, Kind.WITHHELD)
            else published_value(value, rules, rounded)
            for value, kind in zip(values, kinds, strict=True)
        )
        for values, kinds in zip(grid.values, grid.kinds, strict=True)
    )
    return Protected(
        table.name, table.rows, table.columns, cells, rounded, withheld, margins_only, table
    )


def margin(table: Protected, name: str, *, of_rows: bool) -> Protected:
    """A cross table's row totals (or column totals) as a one-way table: the same cells, so
    publishing both tells nothing more than the cross table."""
    if of_rows:
        dimension = table.rows
        cells = tuple((line[-1],) for line in table.cells)
        counts = tuple((total,) for total in table.source.row_totals)
    else:
        dimension = table.columns
        cells = tuple((cell,) for cell in table.cells[-1])
        counts = tuple((total,) for total in table.source.column_totals)
    source = Table(name, dimension, ONE_WAY, counts)
    return Protected(
        name, dimension, ONE_WAY, cells, table.rounded, table.withheld, False, source
    )
