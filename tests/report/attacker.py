"""The attacker: for every suppressed cell of a published table, every value it can take
given all that the table publishes, found by integer programming.

What the attacker knows is what the report says and how it is made: a zero is exactly 0,
"< 5" is 1 to 4, a hidden cell is at least the threshold (only counts that would have been
shown are hidden), a shown count is exact, or, in a rounded year, within half a rounding
step of the number shown and at least the threshold; and every row and column adds up to
its total. A table with its margins is a transportation polytope with interval bounds,
whose constraint matrix is totally unimodular, so the linear bounds are whole numbers
already; the solver is asked for integers all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from bot.report.disclosure import Kind, Protected
from flows.deployment import ReportRules


@dataclass(frozen=True)
class Range:
    low: int
    # None: no upper bound at all.
    high: int | None

    @property
    def values(self) -> float:
        return float("inf") if self.high is None else self.high - self.low + 1


def _expression(table: Protected, row: int, column: int) -> np.ndarray:
    """The cell of the extended table as a sum of interior cells (a 0/1 vector)."""
    height, width = len(table.source.counts), len(table.source.columns.categories)
    weights = np.zeros((height, width))
    rows = range(height) if row == height else [row]
    columns = range(width) if (not table.one_way and column == width) else [column]
    for r in rows:
        for c in columns:
            weights[r, c] = 1
    return weights.ravel()


def _bounds(
    cell_kind: Kind, value: int | None, rules: ReportRules, rounded: bool
) -> tuple[float, float]:
    t = rules.threshold
    if cell_kind is Kind.ZERO:
        return 0, 0
    if cell_kind is Kind.SMALL:
        return 1, t - 1
    if cell_kind is Kind.HIDDEN:
        return t, np.inf
    if cell_kind is Kind.WITHHELD:
        return 0, np.inf
    assert value is not None
    if not rounded:
        return value, value
    half = rules.round_to // 2
    return max(t, value - half), value + rules.round_to - 1 - half


def ranges(table: Protected, rules: ReportRules) -> dict[tuple[int, int], Range]:
    """For each suppressed cell (line, column) of the extended table, its possible values."""
    expressions, lows, highs, suppressed = [], [], [], []
    for row, line in enumerate(table.cells):
        for column, cell in enumerate(line):
            expression = _expression(table, row, column)
            low, high = _bounds(cell.kind, cell.value, rules, table.rounded)
            expressions.append(expression)
            lows.append(low)
            highs.append(high)
            if cell.suppressed:
                suppressed.append((row, column, expression))
    constraint = LinearConstraint(np.array(expressions), np.array(lows), np.array(highs))
    size = len(expressions[0])
    integers = np.ones(size)
    found = {}
    for row, column, expression in suppressed:
        low = milp(expression, constraints=constraint, integrality=integers,
                   bounds=Bounds(0, np.inf))
        high = milp(-expression, constraints=constraint, integrality=integers,
                    bounds=Bounds(0, np.inf))
        assert low.status == 0, f"the published table has no solution: {low.message}"
        top = None if high.status != 0 else round(-high.fun)
        found[(row, column)] = Range(round(low.fun), top)
    return found


def pinned(table: Protected, rules: ReportRules) -> list[tuple[int, int]]:
    """The suppressed cells whose value the attacker knows exactly."""
    return [where for where, found in ranges(table, rules).items() if found.values <= 1]
