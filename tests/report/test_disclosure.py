"""Small-cell protection: every published count is safe, and no hidden one can be worked out
from what is published, on adversarial tables and on made-up years."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.report.disclosure import (
    Kind,
    Protected,
    extended,
    margin,
    merged,
    protect,
    published_value,
)
from bot.report.publish import protected_tables
from bot.report.tables import CROSSED, ONE_WAY, Dimension, Merge, Table, year_tables
from flows.deployment import ReportRules
from tests.report.attacker import pinned, ranges
from tests.report.rows import year

CROSSED_NAMES = {f"{first}_by_{second}" for first, second in CROSSED}

RULES = ReportRules()
EXACT = ReportRules(round_below=0)


def cross(counts: list[list[int]]) -> Table:
    rows = Dimension("r", tuple((f"r{i}",) for i in range(len(counts))))
    columns = Dimension("c", tuple((f"c{j}",) for j in range(len(counts[0]))))
    return Table("t", rows, columns, tuple(tuple(row) for row in counts))


def column(counts: list[int], merge: Merge = Merge.NONE) -> Table:
    labels = tuple(f"b{i}" for i in range(len(counts)))
    rows = Dimension("b", tuple((label,) for label in labels), merge, labels)
    return Table("t", rows, ONE_WAY, tuple((count,) for count in counts))


def assert_safe(table: Protected, rules: ReportRules) -> None:
    if table.withheld:
        assert all(cell.kind is Kind.WITHHELD for line in table.cells for cell in line)
        return
    for values, line in zip(_true(table), table.cells, strict=True):
        for value, cell in zip(values, line, strict=True):
            if cell.kind is Kind.SHOWN:
                assert value >= rules.threshold and cell.value is not None
            elif cell.kind is Kind.ZERO:
                assert value == 0
            elif cell.kind in (Kind.SMALL, Kind.HIDDEN):
                # Suppressed: no number of it reaches the report.
                assert cell.value is None
    assert pinned(table, rules) == []


def _true(table: Protected) -> list[list[int]]:
    return extended(table.source)


# Mostly small counts and zeros: the hardest tables to protect.
small_heavy = st.sampled_from([0, 0, 1, 1, 2, 3, 4, 5, 6, 9, 14])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 5).flatmap(
    lambda width: st.lists(st.lists(small_heavy, min_size=width, max_size=width),
                           min_size=1, max_size=6)))
def test_no_hidden_cell_of_a_cross_table_can_be_worked_out(counts: list[list[int]]) -> None:
    for rules in (RULES, EXACT):
        assert_safe(protect(cross(counts), rules, 50), rules)


@settings(max_examples=60, deadline=None)
@given(st.lists(small_heavy, min_size=1, max_size=8), st.booleans())
def test_no_hidden_count_of_a_one_way_table_can_be_worked_out(
    counts: list[int], merge: bool
) -> None:
    for rules in (RULES, EXACT):
        table = column(counts, Merge.ADJACENT if merge else Merge.NONE)
        assert_safe(protect(table, rules, 50), rules)


@pytest.mark.parametrize(
    "counts",
    [
        [[3, 9, 12], [8, 7, 10]],          # one small cell alone in a row
        [[3], [9], [12]],                  # a row of one cell
        [[1, 2], [3, 4]],                  # all small
        [[0, 7, 0], [0, 3, 0], [0, 9, 0]],  # a single non-zero column
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]],  # a year of 3 cases
        [[1, 1, 1, 1, 9], [5, 6, 7, 8, 9]],  # four ones whose column totals are small
        [[1, 0], [1, 0], [1, 0], [1, 9]],  # a small column total of ones
    ],
)
def test_adversarial_tables(counts: list[list[int]]) -> None:
    for rules in (RULES, EXACT):
        table = protect(cross(counts), rules, 50)
        assert_safe(table, rules)
        assert_safe(margin(table, "rows", of_rows=True), rules)
        assert_safe(margin(table, "columns", of_rows=False), rules)


@pytest.mark.parametrize(("cases", "seed"), [(3, 1), (12, 2), (40, 3), (90, 4), (160, 5)])
def test_every_table_of_made_up_years_is_safe(cases: int, seed: int) -> None:
    for table in year_tables(year(2025, cases, seed), 2025):
        assert_safe(protect(table, RULES, cases), RULES)


def test_without_secondary_suppression_the_attacker_recovers_a_hidden_count() -> None:
    table = cross([[3, 9, 12], [8, 7, 10]])
    bare = protect(table, EXACT, 150, secondary=False)
    assert pinned(bare, EXACT) == [(0, 0)]
    assert ranges(bare, EXACT)[(0, 0)].low == 3
    protected = protect(table, EXACT, 150)
    assert pinned(protected, EXACT) == []
    assert sum(cell.kind is Kind.HIDDEN for line in protected.cells for cell in line) >= 3


def test_without_secondary_suppression_made_up_years_leak() -> None:
    leaks = 0
    for seed in range(4):
        for table in year_tables(year(2025, 150, seed), 2025):
            leaks += len(pinned(protect(table, EXACT, 150, secondary=False), EXACT))
    assert leaks > 0


def test_a_shown_five_rounds_from_five_to_seven_and_small_counts_are_never_shown() -> None:
    assert [published_value(n, RULES, True) for n in (0, 4, 5, 7, 8, 12, 13)] == [
        published_value(0, RULES, False), published_value(4, RULES, False),
        *(published_value(n, RULES, False).__class__(Kind.SHOWN, v)
          for n, v in ((5, 5), (7, 5), (8, 10), (12, 10), (13, 15))),
    ]
    assert published_value(3, RULES, True).kind is Kind.SMALL
    assert published_value(104, RULES, False).value == 104


def test_rare_bands_merge_with_a_neighbour_and_rare_outcomes_into_other() -> None:
    bands = merged(column([2, 9, 1, 6], Merge.ADJACENT), 5)
    assert bands.rows.categories == (("b0", "b1"), ("b2", "b3"))
    assert bands.counts == ((11,), (7,))
    labels = ("death", "invalidity", "retirement", "other")
    outcomes = Table("t", Dimension("outcome", tuple((x,) for x in labels), Merge.OTHER),
                     ONE_WAY, ((2,), (3,), (9,), (0,)))
    merged_outcomes = merged(outcomes, 5)
    assert merged_outcomes.rows.categories == (("retirement",), ("other", "death", "invalidity"))
    assert merged_outcomes.counts == ((9,), (5,))


def test_a_cross_table_merges_by_its_margins_so_its_totals_are_the_one_way_table() -> None:
    ages = Dimension("age_band", (("under_50",), ("50_60",), ("over_60",)), Merge.ADJACENT,
                     ("under_50", "50_60", "over_60"))
    table = Table("t", ages, Dimension("c", (("a",), ("b",))), ((6, 6), (1, 2), (8, 9)))
    protected = protect(table, RULES, 50)
    assert protected.rows.categories == (("under_50", "50_60"), ("over_60",))
    rows = margin(protected, "ages", of_rows=True)
    assert [line[0].value for line in rows.cells] == [15, 15, 30]


def test_a_table_that_cannot_be_protected_is_withheld_whole() -> None:
    # Four categories of one case each: "< 5" four times with a total "< 5" says 1 each.
    table = protect(column([1, 1, 1, 1]), RULES, 4)
    assert table.withheld
    assert {cell.kind for line in table.cells for cell in line} == {Kind.WITHHELD}
    assert pinned(protect(column([1, 1, 1, 1]), RULES, 4, secondary=False), RULES)


def test_a_cross_table_whose_inside_cannot_be_protected_publishes_its_totals() -> None:
    # A column of four ones whose total is "< 5": each "< 5" would be 1.
    table = protect(cross([[1, 5], [1, 6], [1, 7], [1, 8]]), EXACT, 150)
    assert table.margins_only and not table.withheld
    assert all(cell.kind is Kind.WITHHELD for line in table.cells[:-1] for cell in line[:-1])
    assert [line[-1].value for line in table.cells] == [6, 7, 8, 9, 30]
    assert_safe(table, EXACT)


@pytest.mark.parametrize(("cases", "seed"), [(20, 6), (45, 7), (60, 8), (90, 9), (150, 10)])
def test_a_closing_table_hiding_its_total_leaks_nothing_given_the_total_the_others_show(
    cases: int, seed: int
) -> None:
    """All closing tables count the same closed cases: an attacker who reads their total in
    one of them brings it to every table that hides it."""
    tables = protected_tables(year(2026, cases, seed), 2026, RULES)
    closing = [t for t in tables if t.name.startswith("closing.") or t.name in CROSSED_NAMES]
    known = next((t.total for t in closing if t.total.published), None)
    assert known is not None
    for table in closing:
        if table.withheld:
            continue
        lines = [list(line) for line in table.cells]
        lines[-1][-1] = known
        told = replace(table, cells=tuple(tuple(line) for line in lines))
        assert pinned(told, RULES) == [], table.name
