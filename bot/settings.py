"""Settings from the environment (see .env.example), read once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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


def _user_ids(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class MatrixSettings:
    """The bot's Matrix account and the commission's room; absent when none is configured."""

    homeserver: str
    user_id: str
    password: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    staff_room: str | None = None
    staff_users: frozenset[str] = frozenset()
    on_call: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MatrixSettings | None:
        env = dict(os.environ if env is None else env)
        homeserver = env.get("MATRIX_HOMESERVER")
        user_id = env.get("MATRIX_USER_ID")
        if not homeserver or not user_id:
            return None
        password = env.get("MATRIX_PASSWORD") or None
        token = env.get("MATRIX_ACCESS_TOKEN") or None
        if password is None and token is None:
            raise SystemExit("Set MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN for the bot's account.")
        staff_room = env.get("MATRIX_STAFF_ROOM") or None
        staff_users = frozenset(_user_ids(env.get("MATRIX_STAFF_USERS")))
        if staff_room and not staff_users:
            raise SystemExit("MATRIX_STAFF_ROOM needs MATRIX_STAFF_USERS, the commission's ids.")
        return cls(
            homeserver=homeserver.rstrip("/"),
            user_id=user_id,
            password=password,
            access_token=token,
            staff_room=staff_room,
            staff_users=staff_users,
            on_call=_user_ids(env.get("MATRIX_STAFF_ONCALL")),
        )
