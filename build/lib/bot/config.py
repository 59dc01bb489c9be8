"""Settings from the environment (see .env.example), read once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flows.deployment import DEFAULT_DEPLOYMENT
from flows.texts import DEFAULT_LOCALE, LOCALES


@dataclass(frozen=True)
class Settings:
    locale: str
    deployment_file: Path
    nlu_url: str | None
    nlu_token: str | None
    log_level: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        locale = env.get("BOT_LOCALE", DEFAULT_LOCALE)
        if locale not in LOCALES:
            raise SystemExit(f"BOT_LOCALE must be one of {', '.join(LOCALES)}")
        return cls(
            locale=locale,
            deployment_file=Path(env.get("DEPLOYMENT_FILE") or DEFAULT_DEPLOYMENT),
            nlu_url=env.get("NLU_URL") or None,
            nlu_token=env.get("NLU_TOKEN") or None,
            log_level=env.get("LOG_LEVEL", "WARNING").upper(),
        )
