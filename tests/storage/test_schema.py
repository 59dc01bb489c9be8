"""The migrations build exactly the schema the code declares, and run by themselves on open."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage import ServerSecrets, Store, tables
from storage.migrate import head_revision


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
