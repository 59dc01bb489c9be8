"""`python -m bot run` with a Telegram token serves Telegram, as an operator starts it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.dev.telegram_api import BotApiStandIn

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_bot_run_with_a_telegram_token_answers_on_telegram_and_stops_cleanly(
    bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_API_URL": bot_api.url,
        "DATA_DIR": str(tmp_path / "var"),
        "SECRETS_FILE": str(tmp_path / "secrets" / "server.json"),
        "LOG_LEVEL": "DEBUG",
    }
    for name in ("MATRIX_HOMESERVER", "MATRIX_USER_ID", "NLU_URL"):
        env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--demo", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        person = bot_api.user(777001, "Claude", "claude_gp")
        person.send("/start")
        first = await person.next_reply(timeout=60)
        assert "Telegram" in (first.text or "")
        person.send("1")
        assert await person.replies_until_quiet(quiet=2.0)
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, errors.decode()
    logged = errors.decode()
    for trace in (bot_api.token, "777001", "Claude", "claude_gp"):
        assert trace not in logged
