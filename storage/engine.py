"""Database engines: SQLite tuned for one process that erases for real, or PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.keys import create_private_file


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(database_url: str) -> AsyncEngine:
    if not _is_sqlite(database_url):
        return create_async_engine(database_url, pool_size=5, max_overflow=5, pool_pre_ping=True)
    path = make_url(database_url).database
    if path and path != ":memory:":
        create_private_file(Path(path))
    # One connection: the process's writers queue in the pool rather than in SQLite's busy
    # loop; BEGIN IMMEDIATE keeps another process (the staff tool) from a stale snapshot.
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=120)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "secure_delete=ON",
            "foreign_keys=ON",
            "synchronous=FULL",
            "busy_timeout=30000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextlib.asynccontextmanager
async def sqlite_foreign_keys_off(conn: AsyncConnection) -> AsyncIterator[None]:
    """Foreign keys off on this SQLite connection while the block runs: a migration that
    rebuilds a table (SQLite's only way to drop a column) must not trip the rows pointing
    at it. SQLite ignores the pragma inside a transaction, so it goes straight to the driver,
    before any; the migration checks the keys itself before it commits."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await (await driver.execute("PRAGMA foreign_keys=OFF")).close()
    try:
        yield
    finally:
        await (await driver.execute("PRAGMA foreign_keys=ON")).close()


async def checkpoint(engine: AsyncEngine) -> None:
    """Fold the SQLite WAL into the database and truncate it, so deleted pages leave no copy."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await cursor.close()
