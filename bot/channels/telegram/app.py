"""What serves the bot on Telegram, started and stopped as one piece: updates in, by long
polling (the default) or by a webhook, each handled before Telegram is told it arrived.

PTB's own ``Updater`` is not used, for what it does with an update (python-telegram-bot 22.5):
- polling confirms an update to Telegram with the next ``getUpdates`` offset as soon as it
  is queued, before any handler ran: a bot that dies then never sees it again;
- its webhook server (tornado) answers 200 before the update is handled, compares the
  secret token with ``!=``, and logs the body, and a wrong secret, at DEBUG.
Here the offset moves past a batch of updates once each is handled (the turn saved, the
reply sent), and the webhook answers once the update is handled, after a constant-time
check of the secret (403 otherwise, nothing read). A ledger, when given, skips the updates
a restart brings back although they were handled, so none is answered twice.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder

from bot.channels.matrix.ledger import EventLedger
from bot.channels.telegram.channel import TelegramApplication, TelegramChannel
from bot.policy.conversations import NLU_DEADLINE_SECONDS, Conversations
from bot.policy.store_keeper import StoreKeeper
from bot.settings import TelegramSettings
from flows.resources import Resources
from flows.understanding import Understanding
from storage import Store

log = logging.getLogger("bot.telegram")

# PTB logs request parameters, update bodies and, in some errors, URLs that hold the token;
# httpx and httpcore log every URL. The bot's own events say what happened instead.
SILENCED_LIBRARIES = ("telegram", "telegram.ext", "httpx", "httpcore")
ALLOWED_UPDATES = ("message", "callback_query", "channel_post")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_SECONDS = 30
# The pause after a failed poll doubles up to this.
MAX_BACKOFF_SECONDS = 30.0
# A flood answered with RetryAfter is sent again this many times, after the wait it names.
SEND_RETRIES = 3
# Telegram's updates are small; anything larger is not one.
MAX_UPDATE_BYTES = 1 << 20
STOP_SECONDS = 10.0


def silence_library_logs() -> None:
    for name in SILENCED_LIBRARIES:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


@dataclass
class TelegramBot:
    # PTB's representation of its application shows the token.
    application: TelegramApplication = field(repr=False)
    channel: TelegramChannel
    settings: TelegramSettings
    ledger: EventLedger | None = None
    _serving: asyncio.Task[Any] | None = None
    _webhook: web.AppRunner | None = None
    # None at first: Telegram then sends every update not yet confirmed, so what came while
    # the bot was down is answered, and what a crash left half-done comes again.
    _offset: int | None = None

    @classmethod
    async def start(
        cls,
        settings: TelegramSettings,
        store: Store,
        resources: Resources,
        *,
        understanding: Understanding | None = None,
        locale: str = "fr",
        commission_connected: bool = False,
        nlu_deadline: float = NLU_DEADLINE_SECONDS,
        ledger: EventLedger | None = None,
    ) -> TelegramBot:
        """Ready to handle updates; ``serve`` receives them."""
        silence_library_logs()
        application = (
            ApplicationBuilder()
            .token(settings.token)
            .base_url(f"{settings.api_url}/bot")
            .base_file_url(f"{settings.api_url}/file/bot")
            .rate_limiter(AIORateLimiter(max_retries=SEND_RETRIES))
            .updater(None)
            .build()
        )
        conversations = Conversations(
            resources=resources,
            channel="telegram",
            keeper=StoreKeeper(
                store, staff_room=commission_connected, schedule=resources.deployment.commission
            ),
            understanding=understanding,
            commission_connected=commission_connected,
            locale=locale,
            nlu_deadline=nlu_deadline,
        )
        channel = TelegramChannel(
            application, conversations, resources.texts, locale=locale,
            matrix_contact=settings.matrix_contact,
        )
        channel.install()
        conversations.on_erased = channel.erased
        await application.initialize()
        bot = cls(application, channel, settings, ledger)
        try:
            await channel.publish_commands()
        except BaseException:
            await bot.stop()
            raise
        return bot

    async def serve(self) -> None:
        """Receive updates until stopped: by the webhook when one is configured, else by
        polling (an error of Telegram's only pauses it)."""
        self._serving = asyncio.current_task()
        if self.settings.webhook_url:
            await self._open_webhook(self.settings.webhook_url, self.settings.webhook_secret or "")
            log.info("event=telegram_serving mode=webhook")
            await asyncio.Event().wait()
        else:
            # Updates go either to a webhook or to getUpdates: polling needs none set.
            await self.application.bot.delete_webhook()
            log.info("event=telegram_serving mode=polling")
            await self._poll()

    async def stop(self) -> None:
        serving = self._serving
        if serving is not None and serving is not asyncio.current_task() and not serving.done():
            serving.cancel()
            _, stuck = await asyncio.wait([serving], timeout=STOP_SECONDS)
            if stuck:
                log.error("event=telegram_stop_incomplete")
        if self._webhook is not None:
            await self._webhook.cleanup()
        await self.application.shutdown()
        log.info("event=telegram_bot_stopped")

    # -- updates in ----------------------------------------------------------------------

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                await self.poll_once()
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except TelegramError as error:  # Telegram is down or slow: wait, then again
                failures += 1
                log.warning("event=telegram_poll_failed error=%s attempt=%d",
                            type(error).__name__, failures)
                await asyncio.sleep(min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures))
                continue
            failures = 0

    async def poll_once(self, timeout: float = POLL_SECONDS) -> None:
        """One ``getUpdates``, its updates handled; the next call confirms them."""
        updates = await self.application.bot.get_updates(
            offset=self._offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
        )
        await self.handle(updates)
        if updates:
            self._offset = updates[-1].update_id + 1

    async def handle(self, updates: Sequence[Update]) -> None:
        """Each chat's updates in order, the chats side by side."""
        by_chat: dict[int, list[Update]] = {}
        for update in updates:
            chat = update.effective_chat
            by_chat.setdefault(0 if chat is None else chat.id, []).append(update)
        await asyncio.gather(*(self._handle_in_order(chat) for chat in by_chat.values()))

    async def _handle_in_order(self, updates: list[Update]) -> None:
        for update in updates:
            name = f"telegram-update:{update.update_id}"
            if self.ledger is not None and self.ledger.handled(name):
                continue
            # PTB reports a handler's exception to the channel's error handler, never here.
            await self.application.process_update(update)
            if self.ledger is not None:
                self.ledger.mark_handled(name)

    async def _open_webhook(self, url: str, secret: str) -> None:
        server = web.Application(client_max_size=MAX_UPDATE_BYTES)
        expected = secret.encode()

        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not expected or not hmac.compare_digest(given, expected):
                log.warning("event=telegram_webhook_refused")
                return web.Response(status=403)
            try:
                update = Update.de_json(await request.json(), self.application.bot)
            except (ValueError, TypeError, KeyError, AttributeError):  # not an update
                return web.Response(status=400)
            await self.handle([update])
            return web.Response(status=200)

        server.router.add_post(urlsplit(url).path or "/", receive)
        # The access log would write every request line, and nothing in it is needed.
        self._webhook = web.AppRunner(server, access_log=None)
        await self._webhook.setup()
        host, port = self.settings.webhook_listen.rsplit(":", 1)
        await web.TCPSite(self._webhook, host, int(port)).start()
        await self.application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
        )


def _seconds(period: int | timedelta) -> float:
    """PTB gives ``retry_after`` as seconds or, by its settings, as a timedelta."""
    return period.total_seconds() if isinstance(period, timedelta) else float(period)
