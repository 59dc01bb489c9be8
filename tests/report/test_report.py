"""The report as published: its tables count right, its files read back, in both languages,
and the command writes them privately."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from matplotlib.image import imread

from bot.report.disclosure import Kind, protect
from bot.report.publish import ReportFile, build, files_of, report_files
from bot.report.render import Words
from bot.report.tables import alerts_by_month, closing_tables, cross_tables
from flows.deployment import Deployment, ReportRules
from flows.directory import Directory
from flows.texts import Texts
from storage.records import StatisticsRow
from tests.report.rows import closed, row, year

DEPLOYMENT = Deployment.load()
TEXTS = Texts.load()
DIRECTORY = Directory.load(DEPLOYMENT.directory_overrides(), DEPLOYMENT.regional_association)


def words(locale: str) -> Words:
    return Words(TEXTS, DIRECTORY, locale, DEPLOYMENT.report)


def test_a_small_year_is_counted_by_hand() -> None:
    rows = [
        row("2025-01", level=3, closing=closed(sex="female", motive="psychiatric",
                                               outcome="return_to_work")),
        row("2025-01", level=1, closing=closed(sex="male", motive="not_ill",
                                               outcome="return_to_work")),
        row("2025-02", level=1, closing=closed(sex="female", motive="psychiatric",
                                               outcome="death")),
        row("2025-02", level=None, reached=False),
    ]
    sex = next(t for t in closing_tables(rows) if t.name == "closing.sex")
    assert dict(zip((c[0] for c in sex.rows.categories), sex.row_totals, strict=True)) == {
        "female": 2, "male": 1, "unknown": 0}
    motive_by_outcome = cross_tables(rows)[0]
    motives = [c[0] for c in motive_by_outcome.rows.categories]
    outcomes = [c[0] for c in motive_by_outcome.columns.categories]
    cell = motive_by_outcome.counts[motives.index("psychiatric")]
    assert cell[outcomes.index("return_to_work")] == 1 and cell[outcomes.index("death")] == 1
    assert motive_by_outcome.total == 3
    months = alerts_by_month(rows, 2025)
    assert months.counts[0] == (1, 0, 1) and months.counts[1] == (1, 0, 0)
    assert months.column_totals == (2, 0, 1) and months.total == 3


def test_totals_of_rows_and_columns_are_published_with_the_table() -> None:
    rows = year(2025, 400, 7)
    table = protect(alerts_by_month(rows, 2025), DEPLOYMENT.report, len(rows))
    assert table.total.kind is Kind.SHOWN
    assert table.total.value == sum(r.reached_commission for r in rows)
    assert len(table.cells) == 13 and all(len(line) == len(table.columns.categories) + 1
                                          for line in table.cells)


@pytest.fixture(scope="module")
def files() -> dict[str, dict[str, ReportFile]]:
    rows = year(2025, 60, 11)
    earlier = {2024: year(2024, 45, 12)}
    return {
        locale: {f.name: f for f in files_of(build(rows, 2025, earlier, DEPLOYMENT, locale),
                                             words(locale))}
        for locale in ("fr", "en")
    }


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_the_report_reads_in_both_languages_with_no_raw_label(
    files: dict[str, dict[str, ReportFile]], locale: str
) -> None:
    page = files[locale]["report-2025.md"].data.decode()
    html = files[locale]["report-2025.html"].data.decode()
    for text in (page, html.partition("</style>")[2]):
        assert "None" not in text and "{" not in text
        for raw in ("under_50", "return_to_work", "1h_24h", "self_employed", "cnom_line",
                    "alerts_by_month", "report."):
            assert raw not in text, raw
    title = "rapport d'activité 2025" if locale == "fr" else "activity report 2025"
    assert title in page and html.startswith("<!DOCTYPE html>")
    assert ("< 5" in page.replace("&lt;", "<")) and ("2024" in page)
    assert page.count("## ") == 18


def test_each_csv_reads_back_as_its_table(files: dict[str, dict[str, ReportFile]]) -> None:
    names = [n for n in files["fr"] if n.endswith(".csv")]
    assert "report-2025-alerts-by-month.csv" in names and len(names) == 18
    lines = list(csv.reader(io.StringIO(files["fr"]["report-2025-alerts-by-month.csv"]
                                        .data.decode())))
    assert lines[0] == ["Dossiers transmis à la commission, par mois et par niveau"]
    assert lines[2][0] == "janvier" and lines[-1][0] == "Total"
    assert all(len(line) == len(lines[1]) for line in lines[1:])
    published = {cell for line in lines[2:] for cell in line[1:]}
    assert all(cell in ("< 5", "s", "·") or int(cell) == 0 or int(cell) >= 5
               for cell in published)


def test_the_charts_are_real_pictures(
    files: dict[str, dict[str, ReportFile]], tmp_path: Path
) -> None:
    pngs = [f for f in files["fr"].values() if f.mimetype == "image/png"]
    assert {f.name for f in pngs} == {"report-2025-alerts-by-month.png",
                                      "report-2025-levels.png", "report-2025-follow-up.png"}
    for file in pngs:
        path = tmp_path / file.name
        path.write_bytes(file.data)
        image = imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 600
        # More than a blank page: many distinct colours.
        assert len({tuple(p) for p in image.reshape(-1, image.shape[2])[::97]}) > 10


def test_counts_follow_the_deployments_threshold() -> None:
    strict = ReportRules(threshold=10, round_to=5, round_below=100)
    rows = year(2025, 60, 11)
    deployment = Deployment(**{**DEPLOYMENT.__dict__, "report": strict})
    report = build(rows, 2025, {}, deployment, "fr")
    for table in report.tables:
        for line in table.cells:
            for cell in line:
                assert cell.kind is not Kind.SHOWN or (cell.value or 0) >= 10


class FakeStore:
    """The two reads of the store the report makes, over rows held in memory."""

    def __init__(self, by_year: dict[int, list[StatisticsRow]]) -> None:
        self.by_year = by_year

    async def yearly_statistics(self, year_: int) -> list[StatisticsRow]:
        return self.by_year.get(year_, [])

    async def statistics_years(self) -> list[int]:
        return sorted(self.by_year)

    async def close(self) -> None:
        return None


async def test_report_files_of_a_year_without_cases_is_empty() -> None:
    store = FakeStore({2025: year(2025, 30, 1)})
    assert await report_files(store, 2024, locale="fr", deployment=DEPLOYMENT) == []
    names = [f.name for f in await report_files(store, 2025, locale="en",
                                                deployment=DEPLOYMENT)]
    assert names[:2] == ["report-2025.md", "report-2025.html"]


def test_the_command_writes_private_files_and_names_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot import cli

    store = FakeStore({2025: year(2025, 30, 1)})

    async def open_fake(*_: object) -> FakeStore:
        return store

    monkeypatch.setattr(cli, "_open_store", open_fake)
    out = tmp_path / "out"
    assert cli.main(["report", "--year", "2025", "--out", str(out), "--locale", "en"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(list(out.iterdir())) > 20
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert str(path) in printed
    assert "activity report" in (out / "report-2025.md").read_text()
    assert cli.main(["report", "--year", "2019", "--out", str(tmp_path / "none")]) == 1
    assert "no case of 2019" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_merged_bands_are_named_by_their_outer_edges() -> None:
    fr, en = words("fr"), words("en")
    assert fr.category("band", ("1d_7d", "over_7d")) == "plus de 24 heures"
    assert fr.category("band", ("under_1h", "1h_24h")) == "moins de 24 heures"
    assert fr.category("band", ("1h_24h", "1d_7d")) == "de 1 heure à 7 jours"
    assert fr.category("age_band", ("50_60", "over_60")) == "plus de 50 ans"
    assert en.category("band", ("3_12_months", "over_12_months")) == "over 3 months"
