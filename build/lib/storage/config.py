"""Where the store lives: data directory, database URL and secrets paths, from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
SQLITE_FILENAME = "entraide.sqlite3"
SECRETS_ENV = "ENTRAIDE_SERVER_SECRETS"


@dataclass(frozen=True)
class StorageSettings:
    data_dir: Path
    database_url: str
    secrets_file: Path
    case_keys_file: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StorageSettings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("DATA_DIR") or CHECKOUT / "var").resolve()
        secrets_file = Path(env.get("SECRETS_FILE") or CHECKOUT / ".secrets" / "server.json")
        secrets_file = secrets_file.resolve()
        case_keys = env.get("CASE_KEYS_FILE")
        case_keys_file = (
            Path(case_keys).resolve() if case_keys else (secrets_file.parent / "case-keys.sqlite3")
        )
        url = env.get("DATABASE_URL") or sqlite_url(data_dir / SQLITE_FILENAME)
        return cls(data_dir, normalize_database_url(url), secrets_file, case_keys_file)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def normalize_database_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spellings and route them to the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def is_within(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())
