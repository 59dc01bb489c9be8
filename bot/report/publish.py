"""The report's files for one year, from the store's statistics lines: what
``python -m bot report`` writes and the staff room's ``!rapport YYYY`` uploads."""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import dataclass
from typing import Protocol

from bot.report import charts
from bot.report.disclosure import Cell, Kind, Protected, margin, protect
from bot.report.render import Report, Words, csv_bytes, html_page, markdown
from bot.report.tables import (
    CROSSED,
    Dimension,
    Table,
    alerts_by_month,
    cross_tables,
    year_tables,
)
from bot.staff.closing import FIELDS
from flows.deployment import Deployment, ReportRules
from flows.directory import Directory
from flows.texts import Texts
from storage.records import StatisticsRow


class StatisticsStore(Protocol):
    """What the report reads of the store (storage.Store)."""

    async def yearly_statistics(self, year: int) -> list[StatisticsRow]: ...

    async def statistics_years(self) -> list[int]: ...

YEAR_OVER_YEAR = "year_over_year"


@dataclass(frozen=True)
class ReportFile:
    name: str
    mimetype: str
    data: bytes


def _levels(rows: list[StatisticsRow], year: int, rules: ReportRules) -> Protected:
    """The levels as the year's own report publishes them: the margin of its month table."""
    table = protect(alerts_by_month(rows, year), rules, len(rows))
    return margin(table, "levels", of_rows=False)


def protected_tables(rows: list[StatisticsRow], year: int, rules: ReportRules) -> list[Protected]:
    """Every table of the year, protected, in the report's order: the seven closing fields
    (those crossed given as the cross tables' margins), the cross tables, then the rest."""
    cases = len(rows)
    crossed = {pair: protect(table, rules, cases)
               for pair, table in zip(CROSSED, cross_tables(rows), strict=True)}
    margins = {}
    for (first, second), table in crossed.items():
        margins[first] = margin(table, f"closing.{first}", of_rows=True)
        margins[second] = margin(table, f"closing.{second}", of_rows=False)
    others = {table.name: protect(table, rules, cases)
              for table in year_tables(rows, year) if table.name.startswith("closing.")}
    closing = [margins.get(field) or others[f"closing.{field}"] for field in FIELDS]
    rest = [protect(table, rules, cases) for table in year_tables(rows, year)
            if not table.name.startswith("closing.") and table.name not in
            {f"{a}_by_{b}" for a, b in CROSSED}]
    months = next(table for table in rest if table.name == "alerts_by_month")
    levels = margin(months, "levels", of_rows=False)
    return [*closing, *crossed.values(), *rest[:1], levels, *rest[1:]]


def year_over_year(by_year: dict[int, list[StatisticsRow]], rules: ReportRules) -> Protected:
    """A line per year, as each year's report gives its levels; never added up across
    years, whose reports were protected each on its own."""
    lines = {year: _levels(rows, year, rules) for year, rows in sorted(by_year.items())}
    labels: list[tuple[str, ...]] = []
    for table in lines.values():
        labels += [c for c in table.rows.categories if c not in labels]
    zero = Cell(Kind.ZERO, 0)
    cells = []
    for table in lines.values():
        found = dict(zip(table.rows.categories, (line[0] for line in table.cells), strict=False))
        cells.append((*(found.get(label, zero) for label in labels), table.total))
    years = Dimension("year", tuple((str(year),) for year in lines))
    levels = Dimension("level", tuple(labels))
    source = Table(YEAR_OVER_YEAR, years, levels, ())
    return Protected(YEAR_OVER_YEAR, years, levels, tuple(cells), True, False, False, source,
                     totals_line=False)


def build(
    rows: list[StatisticsRow], year: int, earlier: dict[int, list[StatisticsRow]],
    deployment: Deployment, locale: str,
) -> Report:
    rules = deployment.report
    rounded = rules.rounds(len(rows))
    tables = protected_tables(rows, year, rules)
    if earlier:
        tables.append(year_over_year({**earlier, year: rows}, rules))
    # Each count of the first sentence is a table's total, published as that table does:
    # said otherwise here, it could undo the table's protection.
    totals = {table.name: table.total for table in tables}
    return Report(
        year=year, council=str(deployment.council["name"][locale]),
        cases=totals["personas"], alerts=totals["alerts_by_month"],
        closed=totals["closing.sex"], rounded=rounded, rules=rules, tables=tables,
    )


def files_of(report: Report, words: Words) -> list[ReportFile]:
    stem = f"report-{report.year}"
    files = [
        ReportFile(f"{stem}.md", "text/markdown", markdown(report, words).encode("utf-8")),
        ReportFile(f"{stem}.html", "text/html", html_page(report, words).encode("utf-8")),
    ]
    files += [
        ReportFile(f"{stem}-{table.name.replace('.', '-').replace('_', '-')}.csv", "text/csv",
                   csv_bytes(table, words))
        for table in report.tables
    ]
    by_name = {table.name: table for table in report.tables}
    year = report.year
    pictures = {
        "alerts-by-month": None if by_name["alerts_by_month"].withheld
        else charts.alerts_by_month(by_name["alerts_by_month"], year, words),
        "levels": None if by_name["levels"].withheld else charts.one_way_bars(
            by_name["levels"], words.t("charts.levels", year=year), "level", words),
        "follow-up": None if by_name["follow_up"].withheld else charts.one_way_bars(
            by_name["follow_up"], words.t("charts.follow_up", year=year), "band", words),
    }
    files += [ReportFile(f"{stem}-{name}.png", "image/png", data)
              for name, data in pictures.items() if data is not None]
    return files


async def report_files(
    store: StatisticsStore, year: int, *, locale: str, deployment: Deployment
) -> list[ReportFile]:
    """The year's report files; none when the store holds no case of that year."""
    rows = await store.yearly_statistics(year)
    if not rows:
        return []
    earlier = {
        past: await store.yearly_statistics(past)
        for past in await store.statistics_years() if past < year
    }
    earlier = {past: lines for past, lines in earlier.items() if lines}
    # A second or so of tables and charts: in a thread, so that the bot, which asks for
    # them in the staff room, goes on answering people meanwhile.
    return await asyncio.to_thread(_files, rows, year, earlier, deployment, locale)


def _files(
    rows: list[StatisticsRow], year: int, earlier: dict[int, list[StatisticsRow]],
    deployment: Deployment, locale: str,
) -> list[ReportFile]:
    words = Words(
        Texts.load(),
        Directory.load(deployment.directory_overrides(), deployment.regional_association),
        locale, deployment.report,
    )
    return files_of(build(rows, year, earlier, deployment, locale), words)


def with_tables_zipped(files: list[ReportFile], year: int) -> list[ReportFile]:
    """The files for a chat room: the CSV tables in one archive, so that the room gets a
    handful of files rather than a message per table."""
    tables = [file for file in files if file.mimetype == "text/csv"]
    if not tables:
        return files
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            # A fixed date: the same tables make the same archive.
            archive.writestr(zipfile.ZipInfo(table.name, date_time=(year, 12, 31, 0, 0, 0)),
                             table.data)
    bundle = ReportFile(f"report-{year}-tables.zip", "application/zip", buffer.getvalue())
    rest = [file for file in files if file.mimetype != "text/csv"]
    return [*rest[:2], bundle, *rest[2:]]
