"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL, fresh each time."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from storage import CommissionPrivateKey, ServerSecrets, Store
from tests.storage.helpers import CHEAP_RECEIPTS, FakeClock
from tests.storage.postgres_server import PostgresServer, find_bindir, throwaway_postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if find_bindir() is None:
        pytest.fail("PostgreSQL server binaries missing: run `make postgres-ready`", pytrace=False)
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    path = tmp_path / "secrets"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def case_keys_file(secrets_dir: Path) -> Path:
    return secrets_dir / "case-keys.sqlite3"


@pytest_asyncio.fixture(loop_scope="function")
async def database_url(
    backend: str, data_dir: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{data_dir / 'entraide.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = "t_" + secrets.token_hex(6)
    admin = await asyncpg.connect(server.url(driver="postgresql"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server.url(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def commission_key() -> CommissionPrivateKey:
    return CommissionPrivateKey.generate()


@pytest.fixture
def server_secrets(commission_key: CommissionPrivateKey) -> ServerSecrets:
    return ServerSecrets.generate(commission_key.public())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture(loop_scope="function")
async def store(
    database_url: str, server_secrets: ServerSecrets, case_keys_file: Path, clock: FakeClock
) -> AsyncIterator[Store]:
    opened = await Store.open(
        database_url,
        server_secrets,
        case_keys_file=case_keys_file,
        receipts=CHEAP_RECEIPTS,
        clock=clock,
    )
    yield opened
    await opened.close()
