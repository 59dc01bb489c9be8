"""Where the store lives: data directory, database URL and secrets paths, from the environment.

The store's own variables are declared here, beside the store; ``bot.settings.Settings``
adds the bot's to them, so that every variable is declared once and read in one pass.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CHECKOUT = Path(__file__).resolve().parent.parent
SQLITE_FILENAME = "entraide.sqlite3"
SECRETS_ENV = "ENTRAIDE_SERVER_SECRETS"


class StorageSettings(BaseSettings):
    """Each field is read from the environment variable its alias names."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    data_dir: Path = Field(CHECKOUT / "var", alias="DATA_DIR", description="a directory path")
    # Out of repr: a PostgreSQL URL carries the database password.
    database_url: str = Field(
        "", alias="DATABASE_URL", repr=False,
        description="a database URL (sqlite+aiosqlite:///… or postgresql://…)",
    )
    secrets_file: Path = Field(
        CHECKOUT / ".secrets" / "server.json", alias="SECRETS_FILE", description="a file path"
    )
    case_keys_file: Path = Field(Path(), alias="CASE_KEYS_FILE", description="a file path")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # from_env hands every value over, from os.environ or from the mapping a test gives:
        # pydantic-settings' own sources would read os.environ behind that mapping.
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Validated; an invalid value stops the program with one sentence naming it."""
        env = os.environ if environ is None else environ
        # An empty value counts as unset, as compose's `${VAR:-}` passes it.
        values = {name: env[name] for name in cls.variables() if env.get(name)}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SystemExit(explain(cls, error)) from None

    @classmethod
    def variables(cls) -> frozenset[str]:
        """The environment variables read, by name."""
        return frozenset(str(field.alias) for field in cls.model_fields.values())

    @model_validator(mode="after")
    def _complete(self) -> Self:
        # The model is frozen for its users; its own defaults are filled in once, here.
        data_dir = self.data_dir.resolve()
        secrets_file = self.secrets_file.resolve()
        fill = object.__setattr__
        fill(self, "data_dir", data_dir)
        fill(self, "secrets_file", secrets_file)
        fill(self, "database_url", normalize_database_url(
            self.database_url or sqlite_url(data_dir / SQLITE_FILENAME)
        ))
        fill(self, "case_keys_file", (
            self.case_keys_file.resolve() if self.case_keys_file != Path()
            else secrets_file.parent / "case-keys.sqlite3"
        ))
        return self


def explain(settings_cls: type[BaseSettings], error: ValidationError) -> str:
    """One sentence for the first invalid variable: its name and what it accepts, never the
    value (it may be a password, or someone's Matrix id)."""
    problem: Any = error.errors(include_input=False, include_url=False)[0]
    if not problem["loc"]:
        return str(problem["ctx"]["error"]) if "ctx" in problem else str(problem["msg"])
    name = str(problem["loc"][0])
    fields = {field.alias: field for field in settings_cls.model_fields.values()}
    return f"{name} must be {fields[name].description}."


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
