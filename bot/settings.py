"""Settings from the environment (see .env.example), read once at start.

``Settings`` declares every variable the bot reads: the store's (``StorageSettings``, beside
the store) and the bot's own. Each is typed and checked when the program starts; an invalid
value stops it with one sentence naming the variable and what it accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from flows.deployment import DEFAULT_DEPLOYMENT
from flows.texts import DEFAULT_LOCALE, LOCALES
from nlu.client import DEFAULT_TIMEOUT_S
from storage.config import StorageSettings
from storage.errors import SecretsError
from storage.keys import check_private_mode

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The conversation never waits long on the NLU: past this, the lexicons answer better.
MAX_NLU_TIMEOUT_S = 5.0
HTTP_URL = r"^https?://\S+$"
# A Matrix user id: @localpart:server.
USER_IDS = r"^\s*@[^\s:,]+:[^\s,]+(\s*,\s*@[^\s:,]+:[^\s,]+)*\s*$"
TELEGRAM_API = "https://api.telegram.org"
# BotFather's tokens: the bot's number, a colon, then letters, digits, "_" and "-".
TELEGRAM_TOKEN = r"^\d+:[A-Za-z0-9_-]+$"
# What Telegram accepts as a webhook's secret token.
WEBHOOK_SECRET = r"^[A-Za-z0-9_-]{16,256}$"
HOST_PORT = r"^[^\s:]+:\d{1,5}$"
# The secrets that may also come from a file named by VARIABLE_FILE, as Docker secrets are.
SECRET_FILES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")


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


@dataclass(frozen=True)
class TelegramSettings:
    """The bot's Telegram token and how updates reach it; absent when no token is set.

    ``matrix_contact`` is the bot's Matrix address when it serves Matrix too: the privacy
    notice offers it to whoever wants an end-to-end encrypted conversation.
    """

    token: str = field(repr=False)
    api_url: str = TELEGRAM_API
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "127.0.0.1:8443"
    matrix_contact: str | None = None


class Settings(StorageSettings):
    locale: str = Field(
        DEFAULT_LOCALE, alias="BOT_LOCALE", description=f"one of {', '.join(LOCALES)}"
    )
    deployment_file: Path = Field(
        DEFAULT_DEPLOYMENT, alias="DEPLOYMENT_FILE", description="a file path"
    )
    nlu_url: str | None = Field(
        None, alias="NLU_URL", pattern=HTTP_URL, description="an http:// or https:// URL"
    )
    nlu_token: SecretStr | None = Field(None, alias="NLU_TOKEN", description="a token")
    nlu_timeout_s: float = Field(
        DEFAULT_TIMEOUT_S, alias="NLU_TIMEOUT_S", gt=0, le=MAX_NLU_TIMEOUT_S,
        description=f"a number of seconds above 0 and at most {MAX_NLU_TIMEOUT_S:g}",
    )
    log_level: str = Field(
        "WARNING", alias="LOG_LEVEL", description=f"one of {', '.join(LOG_LEVELS)}"
    )
    matrix_homeserver: str | None = Field(
        None, alias="MATRIX_HOMESERVER", pattern=HTTP_URL,
        description="an http:// or https:// URL",
    )
    matrix_user_id: str | None = Field(
        None, alias="MATRIX_USER_ID", pattern=USER_IDS,
        description="a Matrix user id such as @entraide:example.org",
    )
    matrix_password: SecretStr | None = Field(
        None, alias="MATRIX_PASSWORD", description="a password"
    )
    matrix_access_token: SecretStr | None = Field(
        None, alias="MATRIX_ACCESS_TOKEN", description="an access token"
    )
    matrix_staff_room: str | None = Field(
        # Room version 12 ids carry no server name ("!abc…"); older ones do ("!abc:host").
        None, alias="MATRIX_STAFF_ROOM", pattern=r"^!\S+$",
        description="a Matrix room id, starting with !",
    )
    matrix_staff_users: str = Field(
        "", alias="MATRIX_STAFF_USERS", pattern=f"{USER_IDS}|^$",
        description="comma-separated Matrix user ids",
    )
    matrix_staff_oncall: str = Field(
        "", alias="MATRIX_STAFF_ONCALL", pattern=f"{USER_IDS}|^$",
        description="comma-separated Matrix user ids",
    )

    telegram_bot_token: SecretStr | None = Field(
        None, alias="TELEGRAM_BOT_TOKEN", description="a token from BotFather, 123456:ABC…"
    )
    telegram_bot_token_file: Path | None = Field(
        None, alias="TELEGRAM_BOT_TOKEN_FILE",
        description="the path of a file readable by this user only (mode 0600 or 0400)",
    )
    telegram_api_url: str = Field(
        TELEGRAM_API, alias="TELEGRAM_API_URL", pattern=HTTP_URL,
        description="an http:// or https:// URL",
    )
    telegram_webhook_url: str | None = Field(
        # Telegram posts updates to HTTPS addresses only.
        None, alias="TELEGRAM_WEBHOOK_URL", pattern=r"^https://\S+$",
        description="an https:// URL",
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, alias="TELEGRAM_WEBHOOK_SECRET",
        description="16 to 256 letters, digits, _ or -",
    )
    telegram_webhook_secret_file: Path | None = Field(
        None, alias="TELEGRAM_WEBHOOK_SECRET_FILE",
        description="the path of a file readable by this user only (mode 0600 or 0400)",
    )
    telegram_webhook_listen: str = Field(
        "127.0.0.1:8443", alias="TELEGRAM_WEBHOOK_LISTEN", pattern=HOST_PORT,
        description="an address and port such as 127.0.0.1:8443",
    )

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(TELEGRAM_TOKEN, value.get_secret_value()):
            raise ValueError("not a bot token")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(WEBHOOK_SECRET, value.get_secret_value()):
            raise ValueError("not a webhook secret")
        return value

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, values: object) -> object:
        """A secret given as a file (a Docker secret) is read here, then checked like the
        variable it stands for: the value never passes through the environment."""
        if not isinstance(values, dict):
            return values
        for variable in SECRET_FILES:
            path = values.get(f"{variable}_FILE")
            if path is None:
                continue
            if values.get(variable):
                raise ValueError(f"Set {variable} or {variable}_FILE, not both.")
            values = {**values, variable: _read_secret_file(Path(path), f"{variable}_FILE")}
        return values

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError("unknown locale")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value not in LOG_LEVELS:
            raise ValueError("unknown log level")
        return value

    @model_validator(mode="after")
    def _matrix_complete(self) -> Self:
        if self.matrix_homeserver and self.matrix_user_id:
            if self.matrix_password is None and self.matrix_access_token is None:
                raise ValueError(
                    "Set MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN for the bot's account."
                )
            if self.matrix_staff_room and not self.matrix_staff_users:
                raise ValueError(
                    "MATRIX_STAFF_ROOM needs MATRIX_STAFF_USERS, the commission's ids."
                )
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            # Without it, anyone who finds the address could post updates in a person's name.
            raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET.")
        return self

    @property
    def matrix(self) -> MatrixSettings | None:
        if not self.matrix_homeserver or not self.matrix_user_id:
            return None
        return MatrixSettings(
            homeserver=self.matrix_homeserver.rstrip("/"),
            user_id=self.matrix_user_id,
            password=_revealed(self.matrix_password),
            access_token=_revealed(self.matrix_access_token),
            staff_room=self.matrix_staff_room,
            staff_users=frozenset(_user_ids(self.matrix_staff_users)),
            on_call=_user_ids(self.matrix_staff_oncall),
        )


    @property
    def telegram(self) -> TelegramSettings | None:
        token = _revealed(self.telegram_bot_token)
        if token is None:
            return None
        return TelegramSettings(
            token=token,
            api_url=self.telegram_api_url.rstrip("/"),
            webhook_url=self.telegram_webhook_url,
            webhook_secret=_revealed(self.telegram_webhook_secret),
            webhook_listen=self.telegram_webhook_listen,
            matrix_contact=self.matrix_user_id if self.matrix is not None else None,
        )


def _read_secret_file(path: Path, variable: str) -> str:
    try:
        check_private_mode(path, variable)
        value = path.read_text(encoding="utf-8").strip()
    except SecretsError as error:
        raise ValueError(str(error)) from None
    except (OSError, UnicodeDecodeError):
        raise ValueError(f"{variable}: {path} cannot be read.") from None
    if not value:
        raise ValueError(f"{variable}: {path} is empty.")
    return value


def _revealed(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()
