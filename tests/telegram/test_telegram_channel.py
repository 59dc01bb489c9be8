"""The Telegram channel over the Bot API's wire format: a person through buttons and through
free text, the privacy notice, the crisis before it, groups and media refused, erasure, the
webhook's secret, and nothing of the person in a log line or a file."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.channels.matrix.ledger import EventLedger
from bot.channels.telegram.app import TelegramBot
from bot.channels.telegram.format import (
    CHOSEN,
)
from bot.dev.telegram_api import BotApiStandIn, StandInUser
from bot.policy.store_keeper import StoreKeeper
from bot.settings import TelegramSettings
from flows.messages import BotMessage
from storage import CommissionPrivateKey, ServerSecrets, Store
from tests.conftest import RESOURCES
from tests.storage.helpers import CHEAP_RECEIPTS

pytestmark = pytest.mark.asyncio(loop_scope="session")

# What the notice alone says: the welcome speaks of Telegram's servers too.
NOTICE = "empreinte de votre identifiant Telegram"
SELF = "Pour moi, je suis médecin (ou interne, étudiant)"
MATRIX_ADDRESS = "@entraide:ordre.example"


@pytest_asyncio.fixture(loop_scope="session")
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(
        f"sqlite+aiosqlite:///{tmp_path / 'entraide.sqlite3'}",
        ServerSecrets.generate(CommissionPrivateKey.generate().public()),
        case_keys_file=tmp_path / "case-keys.sqlite3",
        receipts=CHEAP_RECEIPTS,
    )
    yield opened
    await opened.close()


@pytest_asyncio.fixture(loop_scope="session")
async def telegram(bot_api: BotApiStandIn, store: Store) -> AsyncIterator[TelegramBot]:
    """The bot, not serving: it handles what the stand-in holds each time a test calls
    ``poll_once``, so every answer is there when that returns."""
    settings = TelegramSettings(
        token=bot_api.token, api_url=bot_api.url, matrix_contact=MATRIX_ADDRESS
    )
    bot = await TelegramBot.start(settings, store, RESOURCES)
    yield bot
    await bot.stop()


async def say(telegram: TelegramBot, person: StandInUser, text: str) -> None:
    person.send(text)
    await telegram.poll_once(timeout=0)


async def press(telegram: TelegramBot, person: StandInUser, button: str) -> None:
    person.press(button)
    await telegram.poll_once(timeout=0)


def asked(person: StandInUser) -> str:
    """The question of the last keyboard the person sees, read from its callback data."""
    keyboards = [message for message in person.messages() if message.buttons]
    return str(keyboards[-1].buttons[0]["callback_data"]).split("|")[1]


async def saved(store: Store, person: StandInUser) -> bool:
    keeper = StoreKeeper(store)
    return await keeper.load_state(keeper.pseudonym("telegram", str(person.id))) is not None


# -- conversations -------------------------------------------------------------------------


async def test_the_notice_comes_before_the_first_question(
    bot_api: BotApiStandIn, telegram: TelegramBot
) -> None:
    person = bot_api.user(5_101, "Camille")
    await say(telegram, person, "/start")
    notice, welcome = person.messages()
    assert NOTICE in str(notice.text)
    assert MATRIX_ADDRESS in str(notice.text)
    assert not notice.buttons
    assert welcome.buttons and asked(person) == "persona"
    await say(telegram, person, "/start")
    assert sum(NOTICE in str(m.text) for m in person.messages()) == 1


async def test_a_person_goes_through_with_buttons(
    bot_api: BotApiStandIn, telegram: TelegramBot, store: Store
) -> None:
    person = bot_api.user(5_102, "Camille")
    await say(telegram, person, "/start")
    await press(telegram, person, SELF)
    assert asked(person) == "needs"
    await press(telegram, person, "Un deuil")
    await press(telegram, person, "Valider")
    assert asked(person) == "practice"
    await press(telegram, person, "Hospitalier")
    assert "département" in str(person.messages()[-1].text)
    assert bot_api.unanswered_callback_queries() == set()
    assert await saved(store, person)


async def test_a_person_goes_through_with_free_text(
    bot_api: BotApiStandIn, telegram: TelegramBot
) -> None:
    person = bot_api.user(5_103, "Dominique")
    await say(telegram, person, "Bonjour")
    assert NOTICE in str(person.messages()[0].text)
    assert asked(person) == "persona"
    await say(telegram, person, "c'est pour moi, je suis médecin")
    assert asked(person) == "needs"
    await say(telegram, person, "1, 6")
    assert asked(person) == "practice"
    await say(telegram, person, "3")
    assert "département" in str(person.messages()[-1].text)


async def test_a_crisis_as_first_message_is_answered_before_the_notice(
    bot_api: BotApiStandIn, telegram: TelegramBot
) -> None:
    person = bot_api.user(5_104, "Alex")
    await say(telegram, person, "je veux mourir")
    texts = [str(message.text) for message in person.messages()]
    notice = next(n for n, text in enumerate(texts) if NOTICE in text)
    assert notice > 0 and "3114" in texts[0]
    assert not any(text.startswith("Bonjour") for text in texts)


async def test_a_choice_toggles_in_place_and_done_sends_the_picks(
    bot_api: BotApiStandIn, telegram: TelegramBot
) -> None:
    person = bot_api.user(5_105, "Sam")
    await say(telegram, person, "/start")
    await press(telegram, person, SELF)
    (question,) = [message for message in person.messages() if message.buttons][-1:]
    sent_before = len(bot_api.calls_to("sendMessage"))
    await press(telegram, person, "Le moral, l'épuisement, le stress")
    await press(telegram, person, "Un deuil")
    await press(telegram, person, CHOSEN + "Un deuil")
    assert len(bot_api.calls_to("sendMessage")) == sent_before
    assert len(bot_api.calls_to("editMessageReplyMarkup")) >= 3
    edited = next(m for m in person.messages() if m.message_id == question.message_id)
    chosen = [button["text"] for button in edited.buttons if button["text"].startswith(CHOSEN)]
    assert chosen == [CHOSEN + "Le moral, l'épuisement, le stress"]
    await press(telegram, person, "Valider")
    assert asked(person) == "practice"


async def test_done_with_nothing_picked_asks_for_a_pick_and_sends_nothing(
    bot_api: BotApiStandIn, telegram: TelegramBot
) -> None:
    person = bot_api.user(5_106, "Sam")
    await say(telegram, person, "/start")
    await press(telegram, person, SELF)
    sent_before = len(bot_api.calls_to("sendMessage"))
    await press(telegram, person, "Valider")
    assert len(bot_api.calls_to("sendMessage")) == sent_before
    assert "Valider" in str(bot_api.calls_to("answerCallbackQuery")[-1].params.get("text"))
    assert asked(person) == "needs"


async def test_a_group_gets_one_sentence_and_the_bot_leaves(
    bot_api: BotApiStandIn, telegram: TelegramBot, store: Store
) -> None:
    person = bot_api.user(5_107, "Claude")
    group = person.in_group(-100_555_000_1, "supergroup")
    await say(telegram, group, "Bonjour, je suis épuisé")
    (said,) = [call for call in bot_api.calls_to("sendMessage")
               if call.params["chat_id"] == group.chat_id]
    assert "je quitte ce groupe" in said.params["text"]
    assert bot_api.calls_to("leaveChat")[-1].params["chat_id"] == group.chat_id
    assert not await saved(store, person)


async def test_a_photo_a_location_or_a_contact_gets_a_sentence_and_nothing_is_kept(
    bot_api: BotApiStandIn, telegram: TelegramBot, store: Store
) -> None:
    person = bot_api.user(5_108, "Noa")
    person.send_photo(caption="mon arrêt de travail")
    person.send_location()
    person.send_contact()
    person.send_sticker()
    await telegram.poll_once(timeout=0)
    replies = [str(message.text) for message in person.messages()]
    assert len(replies) == 4 and all("je n'ai rien gardé" in text for text in replies)
    assert not await saved(store, person)


async def test_every_message_is_protected_from_forwarding(
    bot_api: BotApiStandIn, telegram: TelegramBot
) -> None:
    person = bot_api.user(5_109, "Lou")
    await say(telegram, person, "je veux mourir")
    await say(telegram, person, "/aide")
    person.send_photo()
    await say(telegram, person, "effacer")
    sent = bot_api.calls_to("sendMessage")
    assert sent and all(call.params.get("protect_content") is True for call in sent)


async def test_erasing_deletes_the_chat_and_says_how_to_remove_the_rest(
    bot_api: BotApiStandIn, telegram: TelegramBot, store: Store
) -> None:
    person = bot_api.user(5_110, "Eden")
    await say(telegram, person, "/start")
    await press(telegram, person, SELF)
    await say(telegram, person, "/effacer")
    await press(telegram, person, "Oui")
    (left,) = person.history()
    assert "Supprimer la discussion" in str(left.text)
    deleted = [n for call in bot_api.calls_to("deleteMessages") for n in call.params["message_ids"]]
    # Both sides' messages, every one before the last sentence.
    assert set(deleted) == set(range(1, left.message_id))
    assert not await saved(store, person)


async def test_a_press_on_a_question_already_passed_answers_nothing(
    bot_api: BotApiStandIn, telegram: TelegramBot
) -> None:
    person = bot_api.user(5_111, "Ange")
    await say(telegram, person, "/start")
    first = [message for message in person.messages() if message.buttons][-1]
    await press(telegram, person, SELF)
    sent_before = len(bot_api.calls_to("sendMessage"))
    query = {"id": bot_api.new_callback_query_id(), "from": person.user,
             "message": first.to_api(), "chat_instance": "1",
             "data": first.buttons[1]["callback_data"]}
    bot_api.enqueue(bot_api.new_update("callback_query", query))
    await telegram.poll_once(timeout=0)
    assert len(bot_api.calls_to("sendMessage")) == sent_before
    assert "passée" in str(bot_api.calls_to("answerCallbackQuery")[-1].params.get("text"))
    assert asked(person) == "needs"


async def test_when_the_store_fails_a_cry_for_help_still_gets_the_crisis_answer(
    bot_api: BotApiStandIn, telegram: TelegramBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(pseudonym: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(telegram.channel.conversations.keeper, "load_state", broken)
    person = bot_api.user(5_112, "Robin")
    await say(telegram, person, "je veux en finir")
    assert "3114" in str(person.messages()[0].text)


async def test_nothing_of_the_person_reaches_a_log_line_or_a_file(
    bot_api: BotApiStandIn, telegram: TelegramBot, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    person = bot_api.user(5_113_987_654, "Bérénice", "berenice_toulon")
    marker = "Zanzibar-quetzal-7731"
    await say(telegram, person, "/start")
    await press(telegram, person, SELF)
    await say(telegram, person, f"le moral, {marker}")
    await say(telegram, person, "hospitalier")
    await say(telegram, person, f"83 {marker}")
    assert len(person.messages()) >= 5
    secrets = (marker, str(person.id), "Bérénice", "berenice_toulon", bot_api.token)
    for secret in secrets:
        assert secret not in caplog.text
        for file in tmp_path.rglob("*"):
            if file.is_file():
                assert secret.encode() not in file.read_bytes(), file.name


async def test_the_webhook_refuses_a_wrong_secret_and_handles_the_right_one(
    bot_api: BotApiStandIn, store: Store, unused_tcp_port: int
) -> None:
    settings = TelegramSettings(
        token=bot_api.token, api_url=bot_api.url,
        webhook_url=f"http://127.0.0.1:{unused_tcp_port}/telegram",
        webhook_secret="s3cret-of-the-hook-1234", webhook_listen=f"127.0.0.1:{unused_tcp_port}",
    )
    bot = await TelegramBot.start(settings, store, RESOURCES)
    serving = asyncio.create_task(bot.serve())
    try:
        while not bot_api.calls_to("setWebhook"):
            await asyncio.sleep(0.01)
        person = bot_api.user(5_114, "Maxime")
        update = person.text_update("/start")
        assert await bot_api.push_update(update, secret_token="wrong-secret-of-the-hook") == 403
        assert await bot_api.push_update(update, secret_token="") == 403
        assert person.messages() == []
        person.send("/start")
        await person.next_reply(timeout=10)
        await person.next_reply(timeout=10)
        assert asked(person) == "persona"
    finally:
        await bot.stop()
    assert serving.done()


async def test_serving_by_polling_answers_and_waits_out_telegrams_flood_answer(
    bot_api: BotApiStandIn, store: Store
) -> None:
    bot = await TelegramBot.start(
        TelegramSettings(token=bot_api.token, api_url=bot_api.url), store, RESOURCES
    )
    serving = asyncio.create_task(bot.serve())
    try:
        bot_api.retry_after("sendMessage", 1)
        person = bot_api.user(5_117, "Maxime")
        person.send("/start")
        notice = await person.next_reply(timeout=10)
        await person.next_reply(timeout=10)
        assert NOTICE in str(notice.text)
        assert asked(person) == "persona"
    finally:
        await bot.stop()
    assert serving.done()


async def test_an_update_cut_short_by_a_stop_comes_again_and_is_answered(
    bot_api: BotApiStandIn, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = TelegramSettings(token=bot_api.token, api_url=bot_api.url)
    first = await TelegramBot.start(settings, store, RESOURCES)
    entered, never = asyncio.Event(), asyncio.Event()

    async def stuck(*args: object, **kwargs: object) -> list[BotMessage]:
        entered.set()
        await never.wait()
        return []

    monkeypatch.setattr(first.channel.conversations, "receive", stuck)
    person = bot_api.user(5_115, "Jules")
    person.send("je suis épuisé")
    turn = asyncio.create_task(first.poll_once(timeout=0))
    await entered.wait()
    turn.cancel()
    await first.stop()
    second = await TelegramBot.start(settings, store, RESOURCES)
    try:
        await second.poll_once(timeout=0)
    finally:
        await second.stop()
    assert NOTICE in str(person.messages()[0].text)
    assert person.messages()[-1].buttons


async def test_after_a_restart_an_update_already_handled_is_not_answered_again(
    bot_api: BotApiStandIn, store: Store, tmp_path: Path
) -> None:
    settings = TelegramSettings(token=bot_api.token, api_url=bot_api.url)
    ledger = EventLedger(tmp_path / "telegram-updates.sqlite3", b"k" * 32)
    person = bot_api.user(5_116, "Jules")
    person.send("/start")
    for _ in range(2):
        # Each bot dies after handling, before its next poll confirms the update.
        bot = await TelegramBot.start(settings, store, RESOURCES, ledger=ledger)
        await bot.poll_once(timeout=0)
        await bot.stop()
    assert len(person.messages()) == 2
