"""A stand-in for Telegram's Bot API server on loopback, for the tests and the bench.

The bot cannot be tested against Telegram itself, so this server speaks the Bot API's wire
format (``{url}/bot{token}/{method}``, ``{"ok": ..., "result": ...}`` answers, dates in
seconds, the error codes and descriptions Telegram gives) for the methods the channel uses,
and plays the people on the other side: a `StandInUser` writes, presses buttons and shares
media as the Telegram app would, and sees what the bot sent, after edits and deletions.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import random
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

JSON = dict[str, Any]

BOT_ID = 7_401_236_518
FIRST_UPDATE_ID = 713_540_001
FIRST_CALLBACK_QUERY_ID = 3_179_004_582_611_720_193
MESSAGE_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
DELETE_WINDOW_S = 48 * 3600
WEBHOOK_RETRY_S = 1.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND = re.compile(r"[a-z0-9_]{1,32}")
# Without `allowed_updates`, Telegram sends every kind of update except these.
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Form-encoded values are JSON, except for the parameters whose type is String.
STRING_PARAMETERS = frozenset(
    {"text", "parse_mode", "callback_query_id", "url", "secret_token", "action", "ip_address"}
)
HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
     "tg-emoji", "code", "pre", "blockquote"}
)
HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>")
CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
     "upload_document", "choose_sticker", "find_location", "record_video_note",
     "upload_video_note"}
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An answer with ``"ok": false``, as Telegram words it."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass(frozen=True)
class Call:
    """One request the bot made, with its decoded parameters and the HTTP status answered."""

    method: str
    params: JSON
    status: int = 200


class Signal:
    """Wakes every waiter at once; a waiter that comes later waits for the next time."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


@dataclass
class ChatMessage:
    """One message of a chat as the person's app shows it: `content` holds the fields of the
    Bot API's Message beyond its envelope (text, reply_markup, photo, edit_date...)."""

    message_id: int
    date: int
    chat: JSON
    sender: JSON | None
    content: JSON
    parse_mode: str | None = None
    deleted: bool = False

    @property
    def from_bot(self) -> bool:
        return self.sender is not None and bool(self.sender["is_bot"])

    @property
    def text(self) -> str | None:
        return self.content.get("text")

    @property
    def reply_markup(self) -> JSON | None:
        return self.content.get("reply_markup")

    @property
    def protect_content(self) -> bool:
        return bool(self.content.get("has_protected_content"))

    @property
    def edit_date(self) -> int | None:
        return self.content.get("edit_date")

    @property
    def buttons(self) -> list[JSON]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def to_api(self) -> JSON:
        message: JSON = {"message_id": self.message_id, "date": self.date, "chat": self.chat}
        if self.sender is not None:
            message["from"] = self.sender
        return message | self.content


@dataclass
class StandInChat:
    """A chat the stand-in knows: a person's private chat with the bot, or a group."""

    chat: JSON
    member: bool = True
    started: bool = False
    blocked: bool = False
    messages: list[ChatMessage] = field(default_factory=list)
    read_up_to: int = 0
    arrived: Signal = field(default_factory=Signal)

    @property
    def id(self) -> int:
        return int(self.chat["id"])

    @property
    def private(self) -> bool:
        return bool(self.chat["type"] == "private")

    @property
    def instance(self) -> str:
        """Telegram's `chat_instance`: an opaque number, the same for every press in a chat."""
        return str(-random.Random(self.id).getrandbits(63))

    def add(self, sender: JSON | None, date: int, content: JSON, parse_mode: str | None = None
            ) -> ChatMessage:
        # Both sides of a chat draw their message ids from one counter, as in Telegram.
        message_id = self.messages[-1].message_id + 1 if self.messages else 1
        message = ChatMessage(message_id, date, self.chat, sender, content, parse_mode)
        self.messages.append(message)
        return message

    def find(self, message_id: object) -> ChatMessage | None:
        return next(
            (m for m in self.messages if m.message_id == message_id and not m.deleted), None
        )

    def visible(self) -> list[ChatMessage]:
        return [m for m in self.messages if not m.deleted]


class StandInUser:
    """A Telegram user talking to the bot in one chat, as their app would."""

    def __init__(self, api: BotApiStandIn, user: JSON, chat: StandInChat) -> None:
        self._api = api
        self.user = user
        self._chat = chat

    @property
    def id(self) -> int:
        return int(self.user["id"])

    @property
    def chat_id(self) -> int:
        return self._chat.id

    def in_group(self, chat_id: int, chat_type: str = "group", title: str = "Cabinet"
                 ) -> StandInUser:
        """The same user writing in a group, a supergroup or a channel the bot was added to."""
        return StandInUser(self._api, self.user, self._api.group(chat_id, chat_type, title))

    def text_update(self, text: str) -> JSON:
        """The update Telegram makes of this text, without delivering it to the bot."""
        content: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            length = len(command.encode("utf-16-le")) // 2
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._message_update(content)

    def send(self, text: str) -> None:
        self._deliver(self.text_update(text))

    def send_photo(self, caption: str | None = None) -> None:
        sizes = [_file() | {"width": w, "height": h, "file_size": w * h // 8}
                 for w, h in ((90, 67), (800, 600))]
        self._deliver(self._message_update(
            {"photo": sizes} | ({"caption": caption} if caption else {})
        ))

    def send_sticker(self) -> None:
        sticker = _file() | {"type": "regular", "width": 512, "height": 512,
                             "is_animated": False, "is_video": False, "emoji": "🙂"}
        self._deliver(self._message_update({"sticker": sticker}))

    def send_voice(self) -> None:
        voice = _file() | {"duration": 4, "mime_type": "audio/ogg", "file_size": 9_120}
        self._deliver(self._message_update({"voice": voice}))

    def send_location(self, latitude: float = 43.1242, longitude: float = 5.928) -> None:
        self._deliver(self._message_update(
            {"location": {"latitude": latitude, "longitude": longitude}}
        ))

    def send_contact(self, phone_number: str = "+33612345678") -> None:
        contact = {"phone_number": phone_number, "first_name": self.user["first_name"],
                   "user_id": self.id}
        self._deliver(self._message_update({"contact": contact}))

    def press(self, button: str) -> None:
        """Presses the button with this label or callback data on the last inline keyboard the
        bot sent in this chat."""
        keyboards = [m for m in self._chat.visible() if m.from_bot and m.buttons]
        if not keyboards:
            raise LookupError("the bot sent no inline keyboard in this chat")
        message = keyboards[-1]
        found = next((b for b in message.buttons if button in (b["text"], b.get("callback_data"))),
                     None)
        if found is None or "callback_data" not in found:
            labels = [b["text"] for b in message.buttons]
            raise LookupError(f"no callback button {button!r} on the keyboard {labels}")
        query = {"id": self._api.new_callback_query_id(), "from": self.user,
                 "message": message.to_api(), "chat_instance": self._chat.instance,
                 "data": found["callback_data"]}
        self._deliver(self._api.new_update("callback_query", query))

    def block(self) -> None:
        """Stops the bot, as the app's "Block bot" does: the bot can no longer write here."""
        self._chat.blocked = True

    def messages(self) -> list[ChatMessage]:
        """What the bot sent in this chat and the person still sees, as last edited."""
        return [m for m in self._chat.visible() if m.from_bot]

    def history(self) -> list[ChatMessage]:
        """Every message still in this chat, from both sides."""
        return self._chat.visible()

    async def next_reply(self, timeout: float = 5.0) -> ChatMessage:
        """The bot's next message in this chat that this person has not read yet."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            unread = next((m for m in self.messages() if m.message_id > self._chat.read_up_to),
                          None)
            if unread is not None:
                self._chat.read_up_to = unread.message_id
                return unread
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"the bot sent nothing within {timeout} s")
            await self._chat.arrived.wait(remaining)

    async def replies_until_quiet(self, quiet: float = 1.0) -> list[ChatMessage]:
        """Every reply until the bot has said nothing for `quiet` seconds."""
        replies: list[ChatMessage] = []
        while True:
            try:
                replies.append(await self.next_reply(quiet))
            except TimeoutError:
                return replies

    def _message_update(self, content: JSON) -> JSON:
        channel = self._chat.chat["type"] == "channel"
        sender = None if channel else self.user
        message = self._chat.add(sender, self._api.now(), content).to_api()
        if channel:
            message["sender_chat"] = self._chat.chat
        return self._api.new_update("channel_post" if channel else "message", message)

    def _deliver(self, update: JSON) -> None:
        if self._chat.private:
            self._chat.started, self._chat.blocked = True, False
        # Telegram tells a bot nothing of a group it has left.
        if self._chat.member:
            self._api.enqueue(update)


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


Method = Callable[[JSON], Awaitable[Any]]


class BotApiStandIn:
    """The Bot API server on 127.0.0.1 and a free port, for one bot (`token`); `calls` records
    every request in the order they were answered."""

    def __init__(self) -> None:
        self.token = f"{BOT_ID}:AA{secrets.token_urlsafe(25)[:33]}"
        self.bot_user: JSON = {
            "id": BOT_ID, "is_bot": True, "first_name": "Entraide", "username": "entraide_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        # Called with each call answered "ok" and its result, as it is answered: the bench
        # times an update from the getUpdates that hands it out to the bot's reply.
        self.on_answer: Callable[[Call, Any], None] | None = None
        self._chats: dict[int, StandInChat] = {}
        self._pending: list[JSON] = []
        self._updates_changed = Signal()
        self._update_ids = itertools.count(FIRST_UPDATE_ID)
        self._callback_query_ids = itertools.count(FIRST_CALLBACK_QUERY_ID)
        self._unanswered: set[str] = set()
        self._allowed_updates: set[str] = set()
        self._pollers = itertools.count(1)
        self._current_poller = 0
        self._waiting_polls = 0
        self._throttled: dict[str, int] = {}
        self._commands: dict[str, list[JSON]] = {}
        self._webhook = Webhook()
        self._clock_offset = 0
        self._closed = asyncio.Event()
        self._url = ""
        self._methods: dict[str, tuple[str, Method]] = {
            name.lower(): (name, method) for name, method in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "leaveChat": self._leave_chat,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "sendChatAction": self._send_chat_action,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
            }.items()
        }

    @property
    def url(self) -> str:
        """The server's root, as `TELEGRAM_API_URL` takes it."""
        if not self._url:
            raise RuntimeError("the stand-in is not started")
        return self._url

    async def __aenter__(self) -> BotApiStandIn:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._serve)
        # The access log would write the token, which is in every path.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self._url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._pusher = asyncio.create_task(self._push_pending())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self._closed.set()
        self._updates_changed.fire()
        self._pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pusher
        await self._runner.cleanup()
        await self._session.close()

    def user(self, user_id: int, first_name: str, username: str | None = None, *,
             language_code: str = "fr") -> StandInUser:
        """A Telegram user; their private chat with the bot starts when they first write."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name,
                      "language_code": language_code}
        chat: JSON = {"id": user_id, "type": "private", "first_name": first_name}
        if username is not None:
            user["username"] = chat["username"] = username
        return StandInUser(self, user, self._chats.setdefault(user_id, StandInChat(chat)))

    def group(self, chat_id: int, chat_type: str, title: str) -> StandInChat:
        if chat_type not in ("group", "supergroup", "channel"):
            raise ValueError(f"not a group type: {chat_type}")
        chat = {"id": chat_id, "type": chat_type, "title": title}
        return self._chats.setdefault(chat_id, StandInChat(chat))

    def now(self) -> int:
        """The stand-in's clock, in seconds as the Bot API counts dates."""
        return int(time.time()) + self._clock_offset

    def advance_clock(self, seconds: int) -> None:
        self._clock_offset += seconds

    def retry_after(self, method: str, seconds: int) -> None:
        """The next call of `method` is refused with 429 and `retry_after`, as in a flood."""
        self._throttled[self._methods[method.lower()][0]] = seconds

    @property
    def polling(self) -> bool:
        """Whether a getUpdates long poll is waiting for updates now."""
        return self._waiting_polls > 0

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def unanswered_callback_queries(self) -> set[str]:
        return set(self._unanswered)

    def new_update(self, kind: str, body: JSON) -> JSON:
        return {"update_id": next(self._update_ids), kind: body}

    def new_callback_query_id(self) -> str:
        query_id = str(next(self._callback_query_ids))
        self._unanswered.add(query_id)
        return query_id

    def enqueue(self, update: JSON) -> None:
        """Hands an update to the bot: by its next getUpdates, or its webhook when one is set."""
        self._pending.append(update)
        self._updates_changed.fire()

    async def push_update(self, update: JSON, *, secret_token: str | None = None) -> int:
        """POSTs one update to the webhook as Telegram does, with the webhook's secret token
        unless another is given ("" sends no header); returns the HTTP status."""
        if not self._webhook.url:
            raise RuntimeError("no webhook is set")
        secret = self._webhook.secret_token if secret_token is None else secret_token
        headers = {SECRET_HEADER: secret} if secret else {}
        async with self._session.post(self._webhook.url, json=update, headers=headers) as answer:
            return answer.status

    async def _serve(self, request: web.Request) -> web.Response:
        known = self._methods.get(request.match_info["method"].lower())
        name = known[0] if known else request.match_info["method"]
        params: JSON = {}
        try:
            if not secrets.compare_digest(request.match_info["token"], self.token):
                raise ApiError(401, "Unauthorized")
            if known is None:
                raise ApiError(404, "Not Found")
            params = await _parameters(request)
            if name in self._throttled:
                seconds = self._throttled.pop(name)
                raise ApiError(429, f"Too Many Requests: retry after {seconds}",
                               {"retry_after": seconds})
            result = await known[1](params)
        except ApiError as error:
            self.calls.append(Call(name, params, error.code))
            body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.code)
        call = Call(name, params)
        self.calls.append(call)
        if self.on_answer is not None:
            self.on_answer(call, result)
        return web.json_response({"ok": True, "result": result})

    async def _get_me(self, params: JSON) -> JSON:
        return self.bot_user

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self._webhook.url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        # A newer getUpdates ends the one still waiting, as when two instances of a bot poll.
        poller = self._current_poller = next(self._pollers)
        self._updates_changed.fire()
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        if "allowed_updates" in params:
            self._allowed_updates = set(params["allowed_updates"] or [])
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(params.get("timeout") or 0), 0)
        while True:
            if poller != self._current_poller:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                    "that only one bot instance is running")
            ready = self._deliverable()[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closed.is_set():
                return ready
            self._waiting_polls += 1
            try:
                await self._updates_changed.wait(remaining)
            finally:
                self._waiting_polls -= 1

    async def _send_message(self, params: JSON) -> JSON:
        chat = self._writable_chat(params)
        parse_mode = params.get("parse_mode")
        content: JSON = {"text": _visible_text(params.get("text"), parse_mode)}
        markup = _checked_markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        if params.get("protect_content"):
            content["has_protected_content"] = True
        message = chat.add(self.bot_user, self.now(), content, parse_mode)
        chat.arrived.fire()
        return message.to_api()

    async def _edit_message_text(self, params: JSON) -> JSON:
        message = self._bot_message(params)
        text = _visible_text(params.get("text"), params.get("parse_mode"))
        return self._edit(message, text, _checked_markup(params.get("reply_markup")))

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        message = self._bot_message(params)
        return self._edit(message, message.text, _checked_markup(params.get("reply_markup")))

    def _edit(self, message: ChatMessage, text: str | None, markup: JSON | None) -> JSON:
        # As on Telegram, an edit without reply_markup takes the inline keyboard away.
        if text == message.text and markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        content = {k: v for k, v in message.content.items() if k != "reply_markup"}
        content |= {"text": text, "edit_date": self.now()}
        if markup is not None:
            content["reply_markup"] = markup
        message.content = content
        return message.to_api()

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._unanswered:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or "
                                "query ID is invalid")
        self._unanswered.discard(query_id)
        return True

    async def _delete_message(self, params: JSON) -> bool:
        chat = self._known_chat(params)
        message = chat.find(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if not self._deletable(chat, message):
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        message.deleted = True
        return True

    async def _delete_messages(self, params: JSON) -> bool:
        chat = self._known_chat(params)
        message_ids = params.get("message_ids")
        if not isinstance(message_ids, list) or not 1 <= len(message_ids) <= 100:
            raise ApiError(400, "Bad Request: message_ids must hold 1 to 100 identifiers")
        # Telegram skips the messages it cannot delete and still answers true.
        for message_id in message_ids:
            message = chat.find(message_id)
            if message is not None and self._deletable(chat, message):
                message.deleted = True
        return True

    def _deletable(self, chat: StandInChat, message: ChatMessage) -> bool:
        # A bot deletes what it sent, and in a private chat what it received, for 48 hours.
        recent = self.now() - message.date < DELETE_WINDOW_S
        return recent and (message.from_bot or chat.private)

    async def _leave_chat(self, params: JSON) -> bool:
        chat = self._known_chat(params)
        if chat.private:
            raise ApiError(400, "Bad Request: chat member status can't be changed in private "
                                "chats")
        # A group the bot has already left answers as a message sent there would.
        self._writable_chat(params)
        chat.member = False
        return True

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            if not COMMAND.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[_commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        return self._commands.get(_commands_key(params), [])

    async def _send_chat_action(self, params: JSON) -> bool:
        self._writable_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in params:
            self._allowed_updates = set(params["allowed_updates"] or [])
        self._webhook = Webhook(url, str(secret) if url and secret else None)
        self._updates_changed.fire()
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = Webhook()
        self._updates_changed.fire()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {"url": self._webhook.url, "has_custom_certificate": False,
                      "pending_update_count": len(self._deliverable()), "max_connections": 40}
        if self._webhook.last_error_date is not None:
            info["last_error_date"] = self._webhook.last_error_date
            info["last_error_message"] = self._webhook.last_error_message
        if self._allowed_updates:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _deliverable(self) -> list[JSON]:
        # An update of a kind the bot did not ask for is never sent, and not kept either.
        self._pending = [u for u in self._pending if self._wanted(u)]
        return self._pending

    def _wanted(self, update: JSON) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in NOT_SENT_BY_DEFAULT

    async def _push_pending(self) -> None:
        """Delivers pending updates to the webhook one at a time, in order, as long as one is
        set; an update the webhook refuses is offered again later, as Telegram does."""
        while not self._closed.is_set():
            pending = self._deliverable() if self._webhook.url else []
            if not pending:
                await self._updates_changed.wait(None)
                continue
            update = pending[0]
            try:
                status = await self.push_update(update)
                problem = None if 200 <= status < 300 else (
                    f"Wrong response from the webhook: {status}")
            except aiohttp.ClientError as error:
                problem = f"Connection failed: {type(error).__name__}"
            if problem is None:
                if update in self._pending:
                    self._pending.remove(update)
                continue
            self._webhook.last_error_date = self.now()
            self._webhook.last_error_message = problem
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), WEBHOOK_RETRY_S)

    def _known_chat(self, params: JSON) -> StandInChat:
        if params.get("chat_id") is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chats.get(_chat_id(params["chat_id"]))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _writable_chat(self, params: JSON) -> StandInChat:
        chat = self._known_chat(params)
        if chat.private and not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat.private and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.chat['type']} chat")
        return chat

    def _bot_message(self, params: JSON) -> ChatMessage:
        message = self._writable_chat(params).find(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message


async def _parameters(request: web.Request) -> JSON:
    """The call's parameters from its query string and its JSON, form or multipart body."""
    params: JSON = {name: _form_value(name, value) for name, value in request.query.items()}
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as error:
            raise ApiError(400, "Bad Request: can't parse JSON object") from error
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: can't parse JSON object")
        return params | body
    for name, value in (await request.post()).items():
        if not isinstance(value, str):
            raise ApiError(400, "Bad Request: the stand-in takes no file uploads")
        params[name] = _form_value(name, value)
    return params


def _form_value(name: str, value: str) -> Any:
    if name in STRING_PARAMETERS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_id(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        # A channel's @username: the stand-in knows chats by id only.
        return 0


def _visible_text(text: object, parse_mode: object) -> str:
    """The text as the person reads it, refused as Telegram refuses it."""
    if not isinstance(text, str) or not text:
        raise ApiError(400, "Bad Request: message text is empty")
    if parse_mode in (None, "", "Markdown", "MarkdownV2"):
        visible = text
    elif str(parse_mode).upper() == "HTML":
        visible = _html_text(text)
    else:
        raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
    if not visible.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(visible) > MESSAGE_LIMIT:
        raise ApiError(400, "Bad Request: message is too long")
    return visible


def _html_text(text: str) -> str:
    """Telegram's HTML parse mode: a few tags, all closed in order, and any other `<` refused."""
    visible: list[str] = []
    open_tags: list[str] = []
    position = 0
    while (start := text.find("<", position)) != -1:
        visible.append(html.unescape(text[position:start]))
        tag = HTML_TAG.match(text, start)
        offset = len(text[:start].encode())
        name = tag[2].lower() if tag else ""
        if tag is None or name not in HTML_TAGS:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unsupported start tag '
                                f'"{name}" at byte offset {offset}')
        if not tag[1]:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            raise ApiError(400, f"Bad Request: can't parse entities: Unmatched end tag at byte "
                                f'offset {offset}, found "</{name}>"')
        position = tag.end()
    visible.append(html.unescape(text[position:]))
    if open_tags:
        raise ApiError(400, "Bad Request: can't parse entities: Can't find end tag "
                            f'corresponding to start tag "{open_tags[-1]}"')
    return "".join(visible)


def _checked_markup(markup: object) -> JSON | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _commands_key(params: JSON) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)


def _file() -> JSON:
    return {"file_id": "AgACAgQAAxkBAAI" + secrets.token_urlsafe(24),
            "file_unique_id": "AQAD" + secrets.token_urlsafe(9)}
