"""The Bot API stand-in, driven by python-telegram-bot's own `Bot`: what PTB sends is
understood, and what the stand-in answers parses and fails as Telegram's answers do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter

from bot.dev.telegram_api import SECRET_HEADER, BotApiStandIn

pytestmark = pytest.mark.asyncio(loop_scope="session")

YES_NO = InlineKeyboardMarkup([
    [InlineKeyboardButton("Oui", callback_data="q:burnout:yes")],
    [InlineKeyboardButton("Non", callback_data="q:burnout:no")],
])


@pytest_asyncio.fixture(loop_scope="session")
async def bot(bot_api: BotApiStandIn) -> AsyncIterator[Bot]:
    async with Bot(bot_api.token, base_url=f"{bot_api.url}/bot") as started:
        yield started


async def until_polling(bot_api: BotApiStandIn) -> None:
    while not bot_api.polling:
        await asyncio.sleep(0.01)


async def test_ptb_reads_the_bot_from_get_me(bot: Bot, bot_api: BotApiStandIn) -> None:
    assert bot.bot.is_bot
    assert bot.bot.id == int(bot_api.token.split(":")[0])
    assert bot.bot.username == "entraide_bot"


async def test_a_wrong_token_is_refused_as_telegram_refuses_it(bot_api: BotApiStandIn) -> None:
    stolen = Bot(f"{bot_api.token.split(':')[0]}:AAnot-the-token", base_url=f"{bot_api.url}/bot")
    with pytest.raises(InvalidToken):
        async with stolen:
            pass
    assert bot_api.calls[-1].status == 401


async def test_an_unknown_method_is_not_found(bot_api: BotApiStandIn) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{bot_api.url}/bot{bot_api.token}/sendPigeon", json={})
    assert answer.status_code == 404
    assert answer.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_json_and_form_bodies_carry_the_same_parameters(bot_api: BotApiStandIn) -> None:
    person = bot_api.user(4_815_162_342, "Camille")
    person.send("/start")
    send_message = f"{bot_api.url}/bot{bot_api.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        as_json = await client.post(send_message, json={"chat_id": person.chat_id, "text": "42",
                                                        "protect_content": True})
        as_form = await client.post(send_message, data={"chat_id": str(person.chat_id),
                                                        "text": "42", "protect_content": "true"})
    assert as_json.json()["ok"] and as_form.json()["ok"]
    # A text of digits stays a text, as Telegram reads a String parameter.
    assert [c.params for c in bot_api.calls_to("sendMessage")] == 2 * [
        {"chat_id": person.chat_id, "text": "42", "protect_content": True}
    ]


async def test_an_update_comes_back_until_a_later_offset_confirms_it(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    person = bot_api.user(4_815_162_342, "Camille", "camille_d")
    person.send("/start")
    person.send("Bonjour")

    first = await bot.get_updates(timeout=0)
    again = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["/start", "Bonjour"]
    assert [u.update_id for u in again] == [u.update_id for u in first]
    assert first[0].message and first[0].message.chat.type == "private"
    assert first[0].message.text and first[0].message.entities[0].type == "bot_command"

    rest = await bot.get_updates(offset=first[0].update_id + 1, limit=1, timeout=0)
    assert [u.update_id for u in rest] == [first[1].update_id]
    assert await bot.get_updates(offset=first[1].update_id + 1, timeout=0) == ()


async def test_a_long_poll_answers_when_the_person_writes(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    person = bot_api.user(4_815_162_342, "Camille")
    waiting = asyncio.create_task(bot.get_updates(timeout=10))
    await until_polling(bot_api)
    person.send("Bonjour")
    updates = await waiting
    assert [u.message.text for u in updates if u.message] == ["Bonjour"]


async def test_a_second_poller_ends_the_first_with_a_conflict(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await until_polling(bot_api)
    async with Bot(bot_api.token, base_url=f"{bot_api.url}/bot") as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_a_sent_message_and_its_edits_are_what_the_person_sees(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    person = bot_api.user(4_815_162_342, "Camille")
    person.send("/start")
    sent = await bot.send_message(
        person.chat_id, "<b>Vous</b> allez bien ?", parse_mode="HTML", protect_content=True,
        reply_markup=YES_NO,
    )

    shown = await person.next_reply()
    assert shown.message_id == sent.message_id == person.history()[0].message_id + 1
    assert (shown.text, shown.parse_mode, shown.protect_content) == (
        "Vous allez bien ?", "HTML", True)
    assert sent.has_protected_content
    [call] = bot_api.calls_to("sendMessage")
    assert call.params["reply_markup"] == YES_NO.to_dict()
    assert [b["text"] for b in shown.buttons] == ["Oui", "Non"]

    await bot.edit_message_text("Merci.", chat_id=person.chat_id, message_id=sent.message_id,
                                reply_markup=YES_NO)
    with pytest.raises(BadRequest, match="is not modified"):
        await bot.edit_message_reply_markup(person.chat_id, sent.message_id, reply_markup=YES_NO)
    await bot.edit_message_reply_markup(person.chat_id, sent.message_id)

    [edited] = person.messages()
    assert (edited.text, edited.buttons) == ("Merci.", [])
    assert edited.edit_date is not None


async def test_what_telegram_refuses_to_send_is_refused(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    person = bot_api.user(4_815_162_342, "Camille")
    with pytest.raises(Forbidden, match="initiate conversation"):
        await bot.send_message(person.chat_id, "Bonjour")
    person.send("/start")
    too_long_data = InlineKeyboardMarkup([[InlineKeyboardButton("Oui", callback_data="x" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(person.chat_id, "Bonjour", reply_markup=too_long_data)
    with pytest.raises(BadRequest, match="unsupported start tag"):
        await bot.send_message(person.chat_id, "<p>Bonjour</p>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="is too long"):
        await bot.send_message(person.chat_id, "a" * 4097)
    person.block()
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(person.chat_id, "Bonjour")
    assert person.messages() == []


async def test_a_pressed_button_is_a_callback_query_the_bot_answers_once(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    person = bot_api.user(4_815_162_342, "Camille")
    person.send("/start")
    sent = await bot.send_message(person.chat_id, "Vous allez bien ?", reply_markup=YES_NO)
    person.press("Non")

    [_, pressed] = await bot.get_updates(timeout=0)
    query = pressed.callback_query
    assert query is not None and query.data == "q:burnout:no"
    assert query.chat_instance and query.from_user.id == person.id
    assert query.message and query.message.message_id == sent.message_id
    assert bot_api.unanswered_callback_queries() == {query.id}

    assert await bot.answer_callback_query(query.id)
    assert bot_api.unanswered_callback_queries() == set()
    with pytest.raises(BadRequest, match="is too old"):
        await bot.answer_callback_query(query.id)


async def test_a_button_press_never_reaches_a_bot_that_asked_only_for_messages(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    person = bot_api.user(4_815_162_342, "Camille")
    person.send("/start")
    [start] = await bot.get_updates(timeout=0, allowed_updates=["message"])
    await bot.send_message(person.chat_id, "Vous allez bien ?", reply_markup=YES_NO)
    person.press("Oui")
    assert await bot.get_updates(offset=start.update_id + 1, timeout=0) == ()


async def test_commands_are_registered_as_telegram_names_them(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("/aide", "Les lignes d'aide")])
    assert await bot.set_my_commands([("aide", "Les lignes d'aide"), ("effacer", "Tout effacer")])
    assert [c.command for c in await bot.get_my_commands()] == ["aide", "effacer"]


async def test_a_flood_answer_reaches_ptb_as_retry_after(
    bot: Bot, bot_api: BotApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    person = bot_api.user(4_815_162_342, "Camille")
    person.send("/start")
    bot_api.retry_after("sendMessage", 3)

    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(person.chat_id, "Bonjour")
    assert flood.value.retry_after == timedelta(seconds=3)
    await bot.send_message(person.chat_id, "Bonjour")
    assert [m.text for m in person.messages()] == ["Bonjour"]
    assert [c.status for c in bot_api.calls_to("sendMessage")] == [429, 200]


async def test_messages_are_deleted_only_within_48_hours(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    person = bot_api.user(4_815_162_342, "Camille")
    person.send("Mon message")
    old = await bot.send_message(person.chat_id, "Ancien")
    bot_api.advance_clock(47 * 3600)
    person.send("Encore moi")
    recent = await bot.send_message(person.chat_id, "Récent")
    bot_api.advance_clock(2 * 3600)

    ids = [m.message_id for m in person.history()]
    assert await bot.delete_messages(person.chat_id, [*ids, recent.message_id + 50])
    assert [m.text for m in person.history()] == ["Mon message", "Ancien"]
    with pytest.raises(BadRequest, match="be deleted"):
        await bot.delete_message(person.chat_id, old.message_id)


async def test_a_bot_that_leaves_a_group_can_no_longer_write_there(
    bot: Bot, bot_api: BotApiStandIn
) -> None:
    colleague = bot_api.user(4_815_162_342, "Camille").in_group(-4_008_123_456)
    colleague.send("Bonjour à tous")
    [update] = await bot.get_updates(timeout=0)
    assert update.message and update.message.chat.type == "group"

    assert await bot.leave_chat(colleague.chat_id)
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(colleague.chat_id, "Bonjour")
    colleague.send("Encore là ?")
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_a_webhook_receives_updates_with_its_secret_token(
    bot: Bot, bot_api: BotApiStandIn, unused_tcp_port: int
) -> None:
    received: asyncio.Queue[tuple[str | None, dict[str, Any]]] = asyncio.Queue()

    async def webhook(request: web.Request) -> web.Response:
        await received.put((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        await bot.set_webhook(f"http://127.0.0.1:{unused_tcp_port}/telegram",
                              secret_token="s3cret-token")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        person = bot_api.user(4_815_162_342, "Camille")
        person.send("Bonjour")

        secret, update = await asyncio.wait_for(received.get(), 5)
        assert secret == "s3cret-token"
        assert update["message"]["text"] == "Bonjour"
        assert await bot_api.push_update(update, secret_token="") == 200
        assert (await received.get())[0] is None
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
