"""Server secrets: a 0600 file outside the data directory, or nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import (
    CommissionPrivateKey,
    SecretsError,
    ServerSecrets,
    StorageError,
    StorageSettings,
    Store,
    demo_keys,
    load_server_secrets,
    open_store,
    read_private_key,
    write_server_secrets,
)
from storage.config import SECRETS_ENV
from storage.keystore import CaseKeyStore
from storage.policy import TEST_ARGON2_COST


@pytest.fixture
def secrets_file(secrets_dir: Path, server_secrets: ServerSecrets) -> Path:
    path = secrets_dir / "server.json"
    write_server_secrets(path, server_secrets)
    return path


def test_the_secrets_file_is_written_owner_only_and_reads_back(
    secrets_file: Path, server_secrets: ServerSecrets
) -> None:
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert load_server_secrets(secrets_file, environ={}) == server_secrets


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_secrets_file_readable_by_others_is_refused(secrets_file: Path, mode: int) -> None:
    secrets_file.chmod(mode)
    with pytest.raises(SecretsError, match="chmod 600"):
        load_server_secrets(secrets_file, environ={})


def test_the_environment_is_read_only_when_the_file_is_absent(
    secrets_dir: Path, secrets_file: Path, server_secrets: ServerSecrets
) -> None:
    other = ServerSecrets.generate(CommissionPrivateKey.generate().public())
    environ = {SECRETS_ENV: other.to_json()}
    assert load_server_secrets(secrets_file, environ=environ) == server_secrets
    assert load_server_secrets(secrets_dir / "absent.json", environ=environ) == other
    with pytest.raises(SecretsError, match="keys init"):
        load_server_secrets(secrets_dir / "absent.json", environ={})


def test_malformed_secrets_are_refused_without_echoing_them(secrets_dir: Path) -> None:
    path = secrets_dir / "server.json"
    path.write_text('{"format": "entraide-server-secrets/1", "kek": "c2VjcmV0"}')
    path.chmod(0o600)
    with pytest.raises(SecretsError) as refused:
        load_server_secrets(path, environ={})
    assert "c2VjcmV0" not in str(refused.value)


def test_settings_default_to_var_and_a_secrets_file_outside_it() -> None:
    settings = StorageSettings.from_env({})
    assert settings.data_dir.name == "var"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("var/entraide.sqlite3")
    assert not settings.secrets_file.is_relative_to(settings.data_dir)
    assert not settings.case_keys_file.is_relative_to(settings.data_dir)
    postgres = StorageSettings.from_env({"DATABASE_URL": "postgresql://u:p@h/db"})
    assert postgres.database_url == "postgresql+asyncpg://u:p@h/db"


async def test_open_store_refuses_secrets_inside_the_data_directory(
    data_dir: Path, server_secrets: ServerSecrets
) -> None:
    inside = data_dir / "server.json"
    write_server_secrets(inside, server_secrets)
    settings = StorageSettings.from_env({"DATA_DIR": str(data_dir), "SECRETS_FILE": str(inside)})
    with pytest.raises(SecretsError):
        await open_store(settings)


async def test_a_key_store_from_another_installation_is_refused(
    database_url: str, server_secrets: ServerSecrets, secrets_dir: Path
) -> None:
    store = await Store.open(
        database_url, server_secrets, case_keys_file=secrets_dir / "case-keys.sqlite3"
    )
    await store.close()
    with pytest.raises(StorageError, match="does not belong"):
        await Store.open(database_url, server_secrets, case_keys_file=secrets_dir / "other.sqlite3")


def test_the_key_store_is_owner_only(secrets_dir: Path) -> None:
    path = secrets_dir / "case-keys.sqlite3"
    CaseKeyStore(path).close()
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(SecretsError):
        CaseKeyStore(path)


def test_demo_keys_are_made_once_and_open_with_their_passphrase(
    data_dir: Path, secrets_dir: Path
) -> None:
    secrets_file = secrets_dir / "server.json"
    first = demo_keys(data_dir, secrets_file, cost=TEST_ARGON2_COST)
    again = demo_keys(data_dir, secrets_file, cost=TEST_ARGON2_COST)

    assert first.created and not again.created
    assert "demo-keys=created" in str(first)
    loaded = load_server_secrets(secrets_file, environ={})
    passphrase = first.passphrase_file.read_text().strip()
    private = read_private_key(first.commission_key, passphrase)
    assert private.key_id == loaded.current_key_id
    assert not any(path.is_relative_to(data_dir) for path in (first.commission_key, secrets_file))
    with pytest.raises(SecretsError):
        demo_keys(data_dir, data_dir / "server.json", cost=TEST_ARGON2_COST)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_sqlite_files_are_owner_only(store: Store, data_dir: Path) -> None:
    await store.save_conversation(store.pseudonym("telegram", "1"), {})
    files = list(data_dir.iterdir())
    assert {path.name for path in files} >= {"entraide.sqlite3"}
    assert {path.stat().st_mode & 0o777 for path in files} == {0o600}
