"""The Telegram channel: private chats in, engine replies out, through python-telegram-bot.

Telegram bots cannot use secret chats: Telegram's servers read every message. So, written
once here:
- a person's first message is preceded by a notice that says so, what the bot keeps (only
  the keyed pseudonym the policy layer makes of the Telegram user id) and how to reach the
  bot on Matrix, end-to-end encrypted; a crisis as a first message is answered first, the
  notice after;
- only private chats: in a group, supergroup or channel the bot says one sentence and
  leaves, and nothing from there reaches the conversation;
- only text is read: photos, stickers, voice, locations and contacts get a sentence, and
  nothing of them is read or kept;
- every message is sent with ``protect_content``, so it cannot be forwarded or saved;
- a person's updates are answered one after the other, people in parallel;
- after an erasure the bot deletes the messages of the chat it still can (those of this
  process, within Telegram's 48 hours), then says how to delete the rest in the app.

Message ids are the only thing kept about a chat, in memory, for that deletion.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import BotCommand, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.channels.telegram.format import read_press, telegram_messages
from bot.policy.conversations import Conversations
from flows.crisis import detect_crisis
from flows.messages import BotMessage
from flows.textnorm import clean
from flows.texts import Texts

log = logging.getLogger("bot.telegram")

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]

# The commands shown in Telegram's menu, as the words the engine already understands.
COMMANDS = {"aide": "aide", "rdv": "rendez-vous", "effacer": "effacer"}
# Telegram lets a bot delete a message for 48 hours, at most 100 in one call.
DELETABLE_SECONDS = 48 * 3600
DELETE_BATCH = 100
# Past this many chats in memory, those whose messages can no longer be deleted go.
MAX_CHATS_IN_MEMORY = 10_000


@dataclass
class TelegramChannel:
    # PTB's representation of its application shows the token.
    application: TelegramApplication = field(repr=False)
    conversations: Conversations
    texts: Texts
    locale: str = "fr"
    # The bot's Matrix address, offered in the notice; None says to ask the council.
    matrix_contact: str | None = None
    monotonic: Callable[[], float] = time.monotonic
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    # (when, message id) of the messages of each chat, the bot's and the person's.
    _messages: dict[int, deque[tuple[float, int]]] = field(default_factory=dict)
    # The message whose keyboard answers the question asked last, per chat.
    _keyboards: dict[int, int] = field(default_factory=dict)
    # Chats whose person has a conversation: no store read to know it again.
    _known: set[int] = field(default_factory=set)
    _erased: set[str] = field(default_factory=set)

    def install(self) -> None:
        """Add the handlers; the first that matches an update takes it."""
        private = filters.ChatType.PRIVATE
        add = self.application.add_handler
        add(MessageHandler(~private, self._on_group))
        add(CommandHandler("start", self._on_start, filters=private))
        for command in COMMANDS:
            add(CommandHandler(command, self._on_command, filters=private))
        add(MessageHandler(private & filters.TEXT, self._on_text))
        add(MessageHandler(private, self._on_other))
        add(CallbackQueryHandler(self._on_press))
        self.application.add_error_handler(self._on_error)

    async def publish_commands(self) -> None:
        await self.application.bot.set_my_commands([
            BotCommand(command, self.texts.get(self.locale, f"telegram.commands.{command}"))
            for command in ("start", *COMMANDS)
        ])

    # -- updates -------------------------------------------------------------------------

    async def _on_text(self, update: Update, _: object) -> None:
        message, person = update.effective_message, update.effective_user
        if message is None or person is None or message.text is None:
            return
        await self._turn(message.chat_id, person.id, message.text, message.message_id)

    async def _on_command(self, update: Update, _: object) -> None:
        message, person = update.effective_message, update.effective_user
        if message is None or person is None or message.text is None:
            return
        command = message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self._turn(message.chat_id, person.id, COMMANDS[command], message.message_id)

    async def _on_start(self, update: Update, _: object) -> None:
        message, person = update.effective_message, update.effective_user
        if message is None or person is None:
            return
        chat_id, identity = message.chat_id, str(person.id)
        async with self._lock(chat_id):
            self._remember(chat_id, message.message_id)
            try:
                if await self._is_new(chat_id, identity):
                    await self._send_notice(chat_id)
                welcome = await self.conversations.welcome(identity, address=str(chat_id))
                self._known.add(chat_id)
                await self._send(chat_id, welcome)
            except Exception as error:  # a person always gets an answer
                log.error("event=telegram_turn_failed error=%s", type(error).__name__)
                await self._answer_anyway(chat_id, "")

    async def _on_press(self, update: Update, _: object) -> None:
        query, person = update.callback_query, update.effective_user
        if query is None or person is None:
            return
        message = query.message if isinstance(query.message, Message) else None
        if message is None or message.chat.type != ChatType.PRIVATE:
            await query.answer()
            return
        chat_id = message.chat_id
        async with self._lock(chat_id):
            press = read_press(query.data or "", message.reply_markup)
            live = self._keyboards.get(chat_id, message.message_id) == message.message_id
            if press is None or not live:
                await query.answer(self.texts.get(self.locale, "telegram.outdated"))
                return
            if press.keyboard is not None:
                await query.answer()
                await self._show_keyboard(chat_id, message.message_id, press.keyboard)
                return
            if press.answer is None:
                await query.answer(self.texts.get(self.locale, "telegram.choose_first"))
                return
            await query.answer()
            await self._answer_safely(chat_id, str(person.id), press.answer)

    async def _on_other(self, update: Update, _: object) -> None:
        """A photo, a sticker, a voice message, a location, a contact…: none of it is read."""
        message = update.effective_message
        if message is None:
            return
        log.info("event=telegram_refused kind=media")
        async with self._lock(message.chat_id):
            self._remember(message.chat_id, message.message_id)
            await self._send_text(message.chat_id, self.texts.get(self.locale, "telegram.media"))

    async def _on_group(self, update: Update, _: object) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        log.info("event=telegram_left_group kind=%s", chat.type)
        try:
            await self._send_text(chat.id, self.texts.get(self.locale, "telegram.group"))
        except TelegramError as error:  # where it may not write (a channel), it still leaves
            log.info("event=telegram_group_unsaid error=%s", type(error).__name__)
        await self.application.bot.leave_chat(chat.id)
        self._messages.pop(chat.id, None)

    async def _on_error(self, _: object, context: Any) -> None:
        # PTB's own report would log the update; the type of the error says enough.
        log.error("event=telegram_update_failed error=%s", type(context.error).__name__)

    # -- turns ---------------------------------------------------------------------------

    async def _turn(self, chat_id: int, person_id: int, text: str, message_id: int) -> None:
        async with self._lock(chat_id):
            self._remember(chat_id, message_id)
            await self._answer_safely(chat_id, str(person_id), text)

    async def _answer_safely(self, chat_id: int, identity: str, text: str) -> None:
        try:
            await self._answer(chat_id, identity, text)
        except Exception as error:  # a person always gets an answer
            log.error("event=telegram_turn_failed error=%s", type(error).__name__)
            await self._answer_anyway(chat_id, text)

    async def _answer(self, chat_id: int, identity: str, text: str) -> None:
        address = str(chat_id)
        new = await self._is_new(chat_id, identity)
        crisis_first = new and detect_crisis(clean(text)) is not None
        if crisis_first:
            # Opens the conversation without its welcome: the crisis answer comes first,
            # and the welcome's first question would only stand in its way.
            await self.conversations.welcome(identity, address=address)
        elif new:
            await self._send_notice(chat_id)
        if self.conversations.understanding is not None:
            await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)
        messages = await self.conversations.receive(
            identity, text, numbers_are_positions=True, address=address
        )
        self._known.add(chat_id)
        await self._send(chat_id, messages)
        if crisis_first:
            await self._send_notice(chat_id)
        if identity in self._erased:
            self._erased.discard(identity)
            await self._delete_chat(chat_id)

    async def _answer_anyway(self, chat_id: int, text: str) -> None:
        """Something failed while answering: the person still gets the engine's answer for
        that case (the crisis answer when their words are one)."""
        try:
            await self._send(chat_id, self.conversations.unavailable(text))
        except Exception as error:  # Telegram itself is failing: the log says so
            log.error("event=telegram_answer_failed error=%s", type(error).__name__)

    async def _is_new(self, chat_id: int, identity: str) -> bool:
        if chat_id in self._known:
            return False
        keeper = self.conversations.keeper
        pseudonym = keeper.pseudonym(self.conversations.channel, identity)
        if await keeper.load_state(pseudonym) is None:
            return True
        self._known.add(chat_id)
        return False

    async def _send_notice(self, chat_id: int) -> None:
        if self.matrix_contact is None:
            matrix = self.texts.get(self.locale, "telegram.matrix_unknown")
        else:
            matrix = self.texts.get(
                self.locale, "telegram.matrix_known", address=self.matrix_contact
            )
        notice = self.texts.get(self.locale, "telegram.notice", matrix=matrix)
        await self._send_text(chat_id, notice)

    # -- erasure -------------------------------------------------------------------------

    async def erased(self, identity: str) -> None:
        """The policy layer erased this person's case: once its confirmation is sent, the
        chat's messages go too (``on_erased``)."""
        self._erased.add(identity)

    async def _delete_chat(self, chat_id: int) -> None:
        now = self.monotonic()
        ids = [
            number
            for when, number in self._messages.pop(chat_id, ())
            if now - when < DELETABLE_SECONDS
        ]
        self._keyboards.pop(chat_id, None)
        self._known.discard(chat_id)
        for start in range(0, len(ids), DELETE_BATCH):
            try:
                await self.application.bot.delete_messages(chat_id, ids[start:start + DELETE_BATCH])
            except Exception as error:  # what stays is said just below
                log.warning("event=telegram_delete_failed error=%s", type(error).__name__)
        log.info("event=telegram_chat_deleted messages=%d", len(ids))
        await self._send_text(chat_id, self.texts.get(self.locale, "telegram.erased"))
        # The sentence itself is the one message the person is asked to delete.
        self._messages.pop(chat_id, None)

    # -- sending -------------------------------------------------------------------------

    async def deliver(self, address: str, messages: list[BotMessage], key: str) -> bool:
        """What the commission did, told to a person between their own turns. Telegram has
        no transaction ids: ``key`` cannot make a resend idempotent here, the outbox's own
        record of what was delivered does."""
        try:
            chat_id = int(address)
        except ValueError:
            return False
        async with self._lock(chat_id):
            try:
                await self._send(chat_id, messages)
            except Exception as error:  # the outbox tries again later
                log.warning("event=telegram_deliver_failed error=%s", type(error).__name__)
                return False
        return True

    async def _send(self, chat_id: int, messages: list[BotMessage]) -> None:
        validate = self.texts.get(self.locale, "telegram.validate")
        for piece in telegram_messages(messages, validate):
            sent = await self._send_text(chat_id, piece.text, piece.keyboard)
            if piece.keyboard is not None:
                self._keyboards[chat_id] = sent.message_id

    async def _send_text(
        self, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None
    ) -> Message:
        sent: Message = await self.application.bot.send_message(
            chat_id, text, reply_markup=keyboard, protect_content=True
        )
        self._remember(chat_id, sent.message_id)
        return sent

    async def _show_keyboard(
        self, chat_id: int, message_id: int, keyboard: InlineKeyboardMarkup
    ) -> None:
        await self.application.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=keyboard
        )

    def _remember(self, chat_id: int, message_id: int) -> None:
        now = self.monotonic()
        if len(self._messages) > MAX_CHATS_IN_MEMORY:
            self._forget_old(now)
        recent = self._messages.setdefault(chat_id, deque())
        recent.append((now, message_id))
        while recent and now - recent[0][0] >= DELETABLE_SECONDS:
            recent.popleft()

    def _forget_old(self, now: float) -> None:
        """Everything held of the chats quiet for 48 hours: nothing there can be deleted any
        more, and knowing the person again costs one read of the store."""
        for chat_id, recent in list(self._messages.items()):
            lock = self._locks.get(chat_id)
            if (not recent or now - recent[-1][0] >= DELETABLE_SECONDS) and not (
                lock and lock.locked()
            ):
                del self._messages[chat_id]
                self._locks.pop(chat_id, None)
                self._keyboards.pop(chat_id, None)
                self._known.discard(chat_id)

    def _lock(self, chat_id: int) -> asyncio.Lock:
        return self._locks.setdefault(chat_id, asyncio.Lock())
