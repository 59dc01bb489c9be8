"""The migrations build exactly the schema the code declares, and run by themselves on open."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage import ServerSecrets, Store, tables
from storage.engine import create_engine
from storage.migrate import alembic_config, head_revision


def _differences(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, tables.metadata))


async def test_opening_migrates_to_head_and_matches_the_declared_schema(store: Store) -> None:
    async with store._engine.connect() as conn:
        revision = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        differences = await conn.run_sync(_differences)
    assert revision == head_revision()
    assert differences == []


async def test_opening_again_is_harmless(
    database_url: str, server_secrets: ServerSecrets, case_keys_file: Path
) -> None:
    for _ in range(2):
        store = await Store.open(database_url, server_secrets, case_keys_file=case_keys_file)
        await store.close()


NOW = datetime(2026, 11, 30, 9, 0)


async def _database_at(database_url: str, revision: str, rows: dict[str, dict[str, Any]]) -> None:
    """A database as that revision left it, holding these rows."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
            for table, values in rows.items():
                names = ", ".join(values)
                marks = ", ".join(f":{name}" for name in values)
                insert = sa.text(f"INSERT INTO {table} ({names}) VALUES ({marks})")
                await conn.execute(insert, values)
    finally:
        await engine.dispose()


async def test_a_database_of_the_first_release_with_cases_in_it_upgrades_on_open(
    database_url: str, server_secrets: ServerSecrets, case_keys_file: Path
) -> None:
    """An installation that already holds cases, bookings, mail and receipts opens on the
    new release: rebuilding a table that others point at must not trip their foreign keys."""
    await _database_at(
        database_url,
        "0001",
        {
            "cases": {"id": "c1", "status": "open", "categories": "[]", "persona": "self",
                      "level": 2, "created_at": NOW, "last_activity_at": NOW},
            "conversations": {"pseudonym": "a" * 64, "case_id": "c1", "state": b"x",
                              "updated_at": NOW},
            "sealed_messages": {"id": "m1", "case_id": "c1", "kind": "message",
                                "key_id": "k", "format_version": 1, "suite": "s",
                                "ciphertext": b"x", "created_at": NOW},
            "replies": {"id": "r1", "case_id": "c1", "text": b"x", "created_at": NOW},
            "bookings": {"slot_id": "2026-12-03T10:00", "case_id": "c1", "created_at": NOW},
            "outbox": {"id": "o1", "case_id": "c1", "kind": "alert", "dedup_hash": "d" * 64,
                       "payload": b"x", "created_at": NOW},
            "receipts": {"code_hash": "h" * 64, "hash_label": "argon2id", "case_id": "c1",
                         "created_at": NOW},
        },
    )  # fmt: skip

    store = await Store.open(database_url, server_secrets, case_keys_file=case_keys_file)
    try:
        async with store._engine.connect() as conn:
            revision = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            differences = await conn.run_sync(_differences)
            cases = await conn.scalar(sa.text("SELECT count(*) FROM cases"))
        assert revision == head_revision()
        assert differences == []
        assert cases == 1
    finally:
        await store.close()


async def test_a_database_at_revision_0004_with_cases_opens_with_the_console_tables(
    database_url: str, server_secrets: ServerSecrets, case_keys_file: Path
) -> None:
    """The release before the commission's console, with cases in it: every new column
    starts empty and the store works on those cases at once."""
    await _database_at(
        database_url,
        "0004",
        {
            "cases": {"id": "c1", "status": "open", "created_at": NOW, "last_activity_at": NOW},
            "conversations": {"pseudonym": "a" * 64, "case_id": "c1", "state": b"x",
                              "updated_at": NOW},
            "replies": {"id": "r1", "case_id": "c1", "text": b"x", "created_at": NOW},
            "statistics": {"tag": "t" * 64, "month": "2026-11", "categories": "[]"},
        },
    )  # fmt: skip

    store = await Store.open(database_url, server_secrets, case_keys_file=case_keys_file)
    try:
        async with store._engine.connect() as conn:
            revision = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            differences = await conn.run_sync(_differences)
            address = await conn.scalar(sa.select(tables.conversations.c.address))
            reply = await conn.scalar(sa.select(tables.replies.c.dedup_hash))
            closing = await conn.scalar(sa.select(tables.statistics.c.closing))
            await conn.execute(sa.insert(tables.case_work).values(case_id="c1"))
            reminders = await conn.scalar(sa.select(tables.case_work.c.reminders_sent))
        assert revision == head_revision() == "0008"
        assert differences == []
        assert (address, reply, closing, reminders) == (None, None, None, 0)
    finally:
        await store.close()


async def test_a_database_at_revision_0007_keeps_its_report_lines_with_the_new_columns_empty(
    database_url: str, server_secrets: ServerSecrets, case_keys_file: Path
) -> None:
    """Lines counted before the yearly report's columns existed: nothing known of them is
    lost, and nothing is made up (no case reached the commission that was not seen to)."""
    await _database_at(
        database_url,
        "0007",
        {
            "cases": {"id": "c1", "status": "open", "created_at": NOW, "last_activity_at": NOW},
            "case_work": {"case_id": "c1", "acknowledged_at": NOW},
            "statistics": {"tag": "t" * 64, "month": "2026-11", "level": 2,
                           "categories": "[]"},
        },
    )  # fmt: skip

    store = await Store.open(database_url, server_secrets, case_keys_file=case_keys_file)
    try:
        async with store._engine.connect() as conn:
            differences = await conn.run_sync(_differences)
            line = (await conn.execute(sa.select(tables.statistics))).one()
            alerted_at = await conn.scalar(sa.select(tables.case_work.c.alerted_at))
        assert differences == []
        assert (line.month, line.level, line.reached_commission) == ("2026-11", 2, False)
        assert (line.channel, line.routes, line.score_bands, line.follow_up) == (
            None, None, None, None,
        )
        assert alerted_at is None
    finally:
        await store.close()


async def test_the_report_revision_goes_back_down(
    database_url: str, server_secrets: ServerSecrets, case_keys_file: Path
) -> None:
    store = await Store.open(database_url, server_secrets, case_keys_file=case_keys_file)
    await store.close()
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0007"))
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("statistics")}
            )
            revision = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()
    assert revision == "0007"
    assert columns == {"tag", "month", "persona", "level", "categories", "closing"}
