"""Telegram fixtures: a Bot API stand-in on loopback, fresh for each test.

Its server runs on the session's event loop, as the Matrix fixtures do, so that one test can
drive a Telegram person and a Matrix person together: a test module using it says
``pytestmark = pytest.mark.asyncio(loop_scope="session")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from bot.dev.telegram_api import BotApiStandIn


@pytest_asyncio.fixture(loop_scope="session")
async def bot_api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as api:
        yield api
