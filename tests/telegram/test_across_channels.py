"""Telegram beside Matrix in one process, as `python -m bot run` serves them: the
commission's staff room works Telegram cases too, and a receipt code carries a case from one
channel to the other. A real Synapse, real end-to-end encrypted Matrix clients, and the Bot
API stand-in for Telegram."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from bot.channels.telegram.app import TelegramBot
from bot.dev.homeserver import Homeserver
from bot.dev.telegram_api import BotApiStandIn, StandInUser
from bot.settings import TelegramSettings
from tests.conftest import RESOURCES
from tests.matrix.conftest import (  # noqa: F401 (the fixture, for this module)
    Deployment,
    deployed,
    homeserver,
    is_case_card,
    next_where,
    say,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

RECEIPT = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")
# A relative who writes to the commission: the shortest way to a receipt code.
TO_THE_MAILBOX = ["2", "1", "weeks", "83", "oui"]


@dataclass
class BothChannels:
    matrix: Deployment
    telegram: TelegramBot


@pytest_asyncio.fixture(loop_scope="session")
async def both(
    homeserver: Homeserver, bot_api: BotApiStandIn, tmp_path: Path  # noqa: F811
) -> AsyncIterator[BothChannels]:
    async with deployed(homeserver, tmp_path) as setup:
        telegram = await TelegramBot.start(
            TelegramSettings(token=bot_api.token, api_url=bot_api.url), setup.store, RESOURCES,
            commission_connected=True,
        )
        serving = asyncio.create_task(telegram.serve())
        await setup.stop_bot()
        setup.other_channels = {"telegram": telegram.channel}
        await setup.start_bot()
        try:
            yield BothChannels(setup, telegram)
        finally:
            serving.cancel()
            await telegram.stop()


async def tell(person: StandInUser, text: str) -> list[str]:
    person.send(text)
    return [message.text or "" for message in await person.replies_until_quiet(quiet=2.0)]


async def receipt_on_telegram(person: StandInUser, words: str) -> str:
    for text in ["/start", *TO_THE_MAILBOX]:
        await tell(person, text)
    said = await tell(person, words)
    found = [match.group() for text in said if (match := RECEIPT.search(text))]
    assert found, said
    return found[0]


async def test_a_commission_reply_reaches_a_person_on_telegram(
    both: BothChannels, bot_api: BotApiStandIn
) -> None:
    staff, room = both.matrix.staff, both.matrix.settings.staff_room
    assert room is not None
    person = bot_api.user(424242, "Camille", "camille_md")
    await receipt_on_telegram(person, "Mon mari ne dort plus. Gazelle-5120")
    card = await next_where(staff, lambda m: m.thread is None and is_case_card(m.body))
    assert "Telegram" in card.body
    assert "424242" not in card.body and "camille" not in card.body.casefold()
    await next_where(staff, lambda m: "Gazelle-5120" in m.body)

    await staff.send_in_thread(room, card.event_id, "!r Nous pouvons en parler. Hibou-7781")
    async with asyncio.timeout(20):
        while not any("Hibou-7781" in (m.text or "") for m in person.messages()):
            await asyncio.sleep(0.2)
    await next_where(staff, lambda m: m.thread == card.event_id and "Telegram" in m.body)
    await tell(person, "Merci beaucoup. Castor-3304")
    answer = await next_where(staff, lambda m: "Castor-3304" in m.body)
    assert answer.thread == card.event_id


async def test_a_receipt_from_telegram_opens_the_case_on_matrix_and_back(
    both: BothChannels, bot_api: BotApiStandIn
) -> None:
    on_telegram = bot_api.user(515151, "Dominique")
    code = await receipt_on_telegram(on_telegram, "Mon associé boit. Loutre-2231")
    on_matrix, room_id = await both.matrix.person()
    await on_matrix.messages_until_quiet()
    assert any("retrouvé votre dossier" in reply for reply in await say(on_matrix, room_id, code))
    case_of_telegram = await both.matrix.store.case_of(
        both.matrix.store.pseudonym("telegram", str(on_telegram.id))
    )
    case_of_matrix = await both.matrix.store.case_of(
        both.matrix.store.pseudonym("matrix", on_matrix.user_id)
    )
    assert case_of_matrix == case_of_telegram is not None

    # And back: a case begun on Matrix is found again from Telegram.
    writer, writer_room = await both.matrix.person()
    await writer.messages_until_quiet()
    for text in TO_THE_MAILBOX:
        await say(writer, writer_room, text)
    said = await say(writer, writer_room, "Ma femme ne mange plus. Hérisson-9")
    codes = [match.group() for text in said if (match := RECEIPT.search(text))]
    assert codes, said
    reader = bot_api.user(616161, "Alex")
    await tell(reader, "/start")
    assert any("retrouvé votre dossier" in reply for reply in await tell(reader, codes[0]))
