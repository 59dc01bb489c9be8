"""A year of cases written into a real store, as the bot and the commission write them, gives
a report whose every published count is safe: at or over the threshold, "< 5", hidden or
zero, and no hidden count can be worked out from what is published (the attacker tries)."""

from __future__ import annotations

import csv
import io
import zipfile

import sqlalchemy as sa

from bot.dev.sample_year import seed_year
from bot.report.disclosure import Kind
from bot.report.publish import protected_tables, report_files
from bot.staff.console import Console, People
from flows.deployment import Deployment
from storage import Store, tables
from tests.conftest import RESOURCES
from tests.report.attacker import pinned
from tests.storage.helpers import FakeClock

DEPLOYMENT = Deployment.load()
RULES = DEPLOYMENT.report
MEMBER = "@docteur.lefebvre:ordre.example"


async def test_a_seeded_year_gives_a_report_with_no_count_to_recover(
    store: Store, clock: FakeClock
) -> None:
    await seed_year(store, 2025, 45, 3, clock=clock)
    await seed_year(store, 2026, 60, 1, clock=clock)
    lines = await store.yearly_statistics(2026)
    assert len(lines) == 60

    published = protected_tables(lines, 2026, RULES)
    assert any(cell.kind is Kind.SMALL for table in published for line in table.cells
               for cell in line), "a year of 60 cases has small counts to protect"
    for table in published:
        for line in table.cells:
            for cell in line:
                if cell.kind is Kind.SHOWN:
                    assert cell.value is not None and cell.value >= RULES.threshold
                    # Fewer than 100 cases: every count shown is a multiple of 5.
                    assert cell.value % RULES.round_to == 0, table.name
        assert pinned(table, RULES) == [], table.name

    files = await report_files(store, 2026, locale="fr", deployment=DEPLOYMENT)
    names = [file.name for file in files]
    assert "report-2026.md" in names and "report-2026.html" in names
    markdown = next(file for file in files if file.name.endswith(".md")).data.decode()
    assert "2026" in markdown and "2025" in markdown  # the year before, line by line
    async with store._engine.connect() as conn:
        case_ids = list(await conn.scalars(sa.select(tables.cases.c.id)))
    assert len(case_ids) == 105
    for file in files:
        if file.mimetype == "text/csv":
            assert list(csv.reader(io.StringIO(file.data.decode("utf-8-sig"))))
        # Nothing of a case reaches a file: not one case id.
        assert not any(case_id.encode() in file.data for case_id in case_ids)
    assert await report_files(store, 2024, locale="fr", deployment=DEPLOYMENT) == []


async def test_the_console_answers_a_report_request_with_a_handful_of_files(
    store: Store, clock: FakeClock
) -> None:
    console = Console(store, People(store, {}), RESOURCES, frozenset({MEMBER}))
    empty = await console.report(MEMBER, "2026")
    assert empty.files == ()
    assert empty.text == "Aucun dossier compté en 2026, ni aucune autre année pour l'instant."
    await seed_year(store, 2026, 30, 4, clock=clock)

    usage = await console.report(MEMBER, "l'an dernier")
    assert usage.files == () and "« !rapport 2026 »" in usage.text
    assert "Années disponibles : 2026." in usage.text
    assert (await console.report(MEMBER, "2019")).text.startswith("Aucun dossier compté en 2019")

    answer = await console.report(MEMBER, " 2026 ")
    kinds = [file.name.rsplit(".", 1)[-1] for file in answer.files]
    assert kinds[:3] == ["md", "html", "zip"] and set(kinds[3:]) == {"png"}
    assert f"{len(answer.files)} fichiers" in answer.text
    bundle = next(file for file in answer.files if file.name.endswith(".zip"))
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as archive:
        tables = archive.namelist()
        assert "report-2026-closing-sex.csv" in tables
        assert archive.read("report-2026-closing-sex.csv").decode("utf-8-sig").count("\n") >= 3
    again = await console.report(MEMBER, "2026")
    assert [file.data for file in again.files] == [file.data for file in answer.files]
