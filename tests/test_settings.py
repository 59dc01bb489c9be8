"""The configuration: every variable read in one place, checked at start, documented the same
way in README.md, .env.example and docker-compose.yml, and no secret ever shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import _understanding
from bot.settings import Settings
from nlu.client import RasaUnderstanding
from tests.test_compose import ENV_EXAMPLE, FULL_STACK, ROOT, _environment

# What the bot service of docker-compose.yml leaves unset on purpose, and why.
NOT_SET_IN_COMPOSE = {
    "DEPLOYMENT_FILE": "the image carries the default deployment; a council that mounts its "
    "own sets it (the comment in the bot service says how)",
    "CASE_KEYS_FILE": "its default, beside SECRETS_FILE, is already in the secrets volume",
    "TELEGRAM_BOT_TOKEN": "compose gives it as a secret file, TELEGRAM_BOT_TOKEN_FILE",
    "TELEGRAM_WEBHOOK_SECRET": "compose gives it as a secret file, TELEGRAM_WEBHOOK_SECRET_FILE",
}
# .env.example's variables past this line are for docker-compose.yml only.
COMPOSE_ONLY_MARKER = "# docker-compose.yml only"
PASSWORD = "correct-horse-battery-staple"


def _readme_variables() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = (line.split("|")[1] for line in section.splitlines() if line.startswith("| `"))
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row)}


def _env_example_variables() -> tuple[set[str], set[str]]:
    """(the bot's, compose's only) as .env.example lists them."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    bot, compose_only = text.split(COMPOSE_ONLY_MARKER, 1)
    pattern = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(bot)), set(pattern.findall(compose_only))


def test_readme_env_example_compose_and_the_settings_name_the_same_variables() -> None:
    read = Settings.variables()
    assert _readme_variables() == read
    in_example, compose_only = _env_example_variables()
    assert in_example == read
    assert not compose_only & read
    assert set(_environment(FULL_STACK["services"]["bot"])) == read - set(NOT_SET_IN_COMPOSE)


def _bot(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    kept = {name: value for name, value in os.environ.items() if name not in Settings.variables()}
    return subprocess.run(
        [sys.executable, "-m", "bot", *arguments],
        cwd=ROOT, env={**kept, **environment}, capture_output=True, text=True, timeout=60,
    )


def test_a_mistyped_value_stops_the_bot_with_one_sentence_and_no_traceback() -> None:
    stopped = _bot("health", NLU_TIMEOUT_S="0,8")
    assert stopped.returncode != 0
    assert stopped.stdout == ""
    assert stopped.stderr.strip().splitlines() == [
        "NLU_TIMEOUT_S must be a number of seconds above 0 and at most 5."
    ]


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"BOT_LOCALE": "de"}, "BOT_LOCALE"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"NLU_TIMEOUT_S": "30"}, "NLU_TIMEOUT_S"),
        ({"NLU_URL": "nlu:5005"}, "NLU_URL"),
        ({"MATRIX_HOMESERVER": "matrix.example.org"}, "MATRIX_HOMESERVER"),
        ({"MATRIX_STAFF_USERS": "docteur.martin@example.org"}, "MATRIX_STAFF_USERS"),
        ({"MATRIX_HOMESERVER": "https://m.example.org", "MATRIX_USER_ID": "@bot:example.org"},
         "MATRIX_PASSWORD"),
    ],
)
def test_each_invalid_value_is_named_without_repeating_it(
    environment: dict[str, str], named: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env(environment)
    sentence = str(stopped.value)
    assert named in sentence
    for value in environment.values():
        assert value not in sentence


def test_a_password_never_shows_in_the_settings_nor_in_an_error() -> None:
    environment = {
        "MATRIX_HOMESERVER": "https://m.example.org",
        "MATRIX_USER_ID": "@bot:example.org",
        "MATRIX_PASSWORD": PASSWORD,
        "NLU_TOKEN": PASSWORD,
        "DATABASE_URL": f"postgresql://entraide:{PASSWORD}@postgres/entraide",
    }
    settings = Settings.from_env(environment)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert settings.matrix is not None and PASSWORD not in repr(settings.matrix)
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env({**environment, "MATRIX_USER_ID": PASSWORD})
    assert PASSWORD not in str(stopped.value)


def test_empty_values_count_as_unset_as_compose_passes_them() -> None:
    settings = Settings.from_env({"MATRIX_STAFF_ROOM": "", "NLU_URL": "", "LOG_LEVEL": ""})
    assert settings.matrix_staff_room is None and settings.nlu_url is None
    assert settings.log_level == "WARNING"


async def test_the_nlu_timeout_bounds_the_client() -> None:
    settings = Settings.from_env({"NLU_URL": "http://127.0.0.1:5005", "NLU_TIMEOUT_S": "0.3"})
    understanding = _understanding(settings, None)
    assert isinstance(understanding, RasaUnderstanding)
    assert understanding.timeout_s == 0.3
    await understanding.aclose()


@pytest.mark.parametrize(
    "room_id", ["!abcdefghijklmnop:example.org", "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"]
)
def test_a_staff_room_id_of_any_room_version_is_accepted(room_id: str) -> None:
    """Room version 12 (the default of current Synapse) makes ids without a server name."""
    settings = Settings.from_env({
        "MATRIX_HOMESERVER": "http://127.0.0.1:8008", "MATRIX_USER_ID": "@bot:example.org",
        "MATRIX_PASSWORD": "x", "MATRIX_STAFF_ROOM": room_id,
        "MATRIX_STAFF_USERS": "@member:example.org",
    })
    assert settings.matrix is not None and settings.matrix.staff_room == room_id


TOKEN = "123456789:AAE-token-from-BotFather"


def _secret_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "telegram_bot_token"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_token_comes_from_a_secret_file_only_its_user_reads(tmp_path: Path) -> None:
    path = _secret_file(tmp_path, TOKEN + "\n", 0o400)
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN_FILE": str(path)})
    assert settings.telegram is not None and settings.telegram.token == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in repr(settings.telegram)


@pytest.mark.parametrize(
    ("text", "mode", "sentence"),
    [
        (TOKEN, 0o644, "is readable by others"),
        ("", 0o600, "is empty"),
        ("not-a-token", 0o600, "must be a token from BotFather"),
    ],
)
def test_a_secret_file_others_can_read_or_holding_no_token_stops_the_bot(
    tmp_path: Path, text: str, mode: int, sentence: str
) -> None:
    path = _secret_file(tmp_path, text, mode)
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env({"TELEGRAM_BOT_TOKEN_FILE": str(path)})
    assert sentence in str(stopped.value)
    assert TOKEN not in str(stopped.value) and "not-a-token" not in str(stopped.value)


def test_a_secret_given_both_ways_or_from_a_missing_file_stops_the_bot(tmp_path: Path) -> None:
    path = _secret_file(tmp_path, TOKEN, 0o600)
    with pytest.raises(SystemExit, match="not both"):
        Settings.from_env({"TELEGRAM_BOT_TOKEN_FILE": str(path), "TELEGRAM_BOT_TOKEN": TOKEN})
    with pytest.raises(SystemExit, match="cannot be read"):
        Settings.from_env({"TELEGRAM_WEBHOOK_SECRET_FILE": str(tmp_path / "absent")})
