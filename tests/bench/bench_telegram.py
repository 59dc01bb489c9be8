"""Telegram turns through the real bot next to a bare python-telegram-bot echo bot, on loopback.

Run with ``make bench-telegram`` (``python -m tests.bench.bench_telegram``). It starts the
Bot API stand-in (``bot/dev/telegram_api.py``), then serves it with ``python -m bot run``'s
own wiring (policy layer, engine, a SQLite store in a throwaway DATA_DIR, the update ledger,
no NLU), and lets 200 people write at once, each waiting for the answer before the next of
20 messages (buttons and free text). Then the same with an echo bot: a PTB ``Application``
with one handler, built with the same ``AIORateLimiter`` and request settings, on a fresh
stand-in. Each serves from a child process of its own, as in production, so that the
stand-in and the people do not share its event loop. A turn is timed in the stand-in, from
the moment the update is there for ``getUpdates`` to the bot's first ``sendMessage`` or edit
in that chat, and also from the ``getUpdates`` answer that hands the update out.
``--profile`` runs the bot alone with timers around the store, the engine, the rate
limiter, the typing action and the ledger (``--cpu-profile`` adds cProfile, which slows it
down). A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import json
import logging
import os
import platform
import pstats
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.channels.telegram.app import ALLOWED_UPDATES, POLL_SECONDS, SEND_RETRIES, TelegramBot
from bot.dev.telegram_api import BotApiStandIn, Call, Signal, StandInUser
from bot.settings import Settings, TelegramSettings
from flows.resources import Resources
from storage import CommissionPrivateKey, ServerSecrets, Store

CHECKOUT = Path(__file__).resolve().parents[2]
RESULTS = CHECKOUT / "bench-results" / "telegram.json"
PROFILE_RESULTS = CHECKOUT / "bench-results" / "telegram-profile.json"
CPU_PROFILE = CHECKOUT / "bench-results" / "telegram-bot.prof"

SELF = "Pour moi, je suis médecin (ou interne, étudiant)"
# What a physician does from /start into the first questionnaires: buttons (a toggle
# keyboard among them) and words, a thanks and a call for help on the way.
SCRIPT: list[tuple[str, str]] = [
    ("say", "/start"),
    ("press", SELF),
    ("press", "Le moral, l'épuisement, le stress"),
    ("press", "Un deuil"),
    ("press", "Valider"),
    ("say", "hospitalier"),
    ("say", "Toulon"),
    ("press", "Plusieurs jours"),
    ("say", "plus de la moitié des jours"),
    ("press", "Jamais"),
    ("say", "2"),
    ("press", "Plusieurs jours"),
    ("say", "jamais"),
    ("press", "Jamais"),
    ("say", "1"),
    ("press", "Jamais"),
    ("press", "Jamais"),
    ("say", "merci"),
    ("press", "Jamais"),
    ("say", "aide"),
]
CHATS = 200
AIM = 1.3
FIRST_USER_ID = 6_100_000_001
# Generous: with every chat waiting on a limiter of 30 messages a second, a turn waits
# about CHATS / 30 seconds in the normal course.
REPLY_TIMEOUT = 120.0
# After the last turn, an answer still arriving within this long was not expected.
QUIET_SECONDS = 2.0
START_TIMEOUT = 60.0
# What the person sees as an answer; answerCallbackQuery only stops the button's spinner.
ANSWERS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})

Expected = list[list[str]]


# -- the serving side, in its own process ----------------------------------------------------


class _EventCounter(logging.Handler):
    """Counts the bot's log records by event type; only the type is kept."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[str(record.msg).split(" ", 1)[0].removeprefix("event=")] += 1


def _count_bot_events() -> _EventCounter:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    # The bot's INFO records are counted, not printed; its warnings still reach stderr.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    events = _EventCounter()
    bot_log = logging.getLogger("bot")
    bot_log.setLevel(logging.INFO)
    bot_log.addHandler(events)
    return events


class Timers:
    """Wall time spent inside some functions of the bot, summed by part (profile only)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] += seconds
        self.calls[part] += 1

    def wrap_async(self, owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.add(part, time.perf_counter() - began)

        setattr(owner, name, timed)

    def wrap_sync(self, owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(part, time.perf_counter() - began)

        setattr(owner, name, timed)

    def install(self) -> None:
        import aiosqlite
        from telegram.ext import AIORateLimiter, Application, ExtBot

        import bot.policy.conversations as policy
        from bot.channels.matrix.ledger import EventLedger
        from bot.policy.store_keeper import StoreKeeper

        for name in ("load_state", "save_state", "calendar", "taken_slots", "update_case"):
            self.wrap_async(StoreKeeper, name, f"store: {name}")
        for name in ("start", "handle", "resume"):
            self.wrap_sync(policy, name, "engine")
        self.wrap_async(policy.Conversations, "receive", "policy layer (store and engine in)")
        self.wrap_sync(EventLedger, "handled", "ledger")
        self.wrap_sync(EventLedger, "mark_handled", "ledger")
        self.wrap_async(ExtBot, "send_chat_action", "typing action")
        self.wrap_async(ExtBot, "get_updates", "getUpdates")
        # One connection serves the whole store on SQLite: its statements, timed where
        # aiosqlite hands them to its thread, show how busy that connection is.
        self.wrap_async(aiosqlite.Connection, "_execute", "SQLite statements (one connection)")
        self.wrap_async(Application, "process_update", "update handled (whole turn)")
        original = AIORateLimiter.process_request
        timers = self

        async def limited(limiter: Any, callback: Callable[..., Awaitable[Any]], args: Any,
                          kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                          rate_limit_args: int | None) -> Any:
            # The request's own time, retries included, is taken out of the wait.
            spans: list[float] = []

            async def request(*a: Any, **k: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await callback(*a, **k)
                finally:
                    spans.append(time.perf_counter() - began)
                    timers.add("HTTP request to the stand-in", spans[-1])

            began = time.perf_counter()
            try:
                return await original(limiter, request, args, kwargs, endpoint, data,
                                      rate_limit_args)
            finally:
                timers.add(f"rate limiter wait ({endpoint})",
                           time.perf_counter() - began - sum(spans))

        AIORateLimiter.process_request = limited  # type: ignore[method-assign,assignment]


def serve_bot(timed: bool, cpu_profile: Path | None) -> None:
    """``python -m bot run`` as configured by the environment the parent gives."""
    from bot.cli import main as bot_main
    from storage import demo_keys

    events = _count_bot_events()
    settings = Settings.from_env()
    # Throwaway keys, made quietly: `run --demo` would make the same and say so on stderr.
    demo_keys(settings.data_dir, settings.secrets_file)
    timers = Timers() if timed else None
    if timers is not None:
        timers.install()
    if cpu_profile is None:
        code = bot_main(["run"])
    else:
        profiler = cProfile.Profile()
        code = profiler.runcall(bot_main, ["run"])
        profiler.dump_stats(cpu_profile)
    report: dict[str, Any] = {"exit": code, "log_events": events.counts}
    if timers is not None:
        by_time = sorted(timers.seconds.items(), key=lambda item: -item[1])
        report["timers"] = {part: {"seconds": round(seconds, 3), "calls": timers.calls[part]}
                            for part, seconds in by_time}
    print(json.dumps(report), flush=True)


async def _serve_echo() -> None:
    from telegram import Update
    from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, MessageHandler
    from telegram.ext import filters as only

    from bot.channels.telegram.app import silence_library_logs

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text is not None:
            await message.reply_text(message.text)

    settings = Settings.from_env().telegram
    assert settings is not None
    silence_library_logs()
    # The bot's builder, but with PTB's own Updater and update processing.
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{settings.api_url}/bot")
        .base_file_url(f"{settings.api_url}/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=SEND_RETRIES))
        .build()
    )
    application.add_handler(MessageHandler(only.TEXT, echo))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(
            timeout=POLL_SECONDS, allowed_updates=list(ALLOWED_UPDATES)
        )
        await application.start()
        await stop.wait()
        await application.updater.stop()
        await application.stop()


def serve_echo() -> None:
    asyncio.run(_serve_echo())
    print(json.dumps({"exit": 0, "log_events": {}}), flush=True)


def _child_env(api: BotApiStandIn, root: Path) -> dict[str, str]:
    # Nothing of the caller's own configuration (a Matrix account, an NLU, PostgreSQL) may
    # reach the bot: only Telegram, on the stand-in, with a throwaway store.
    env = {name: value for name, value in os.environ.items()
           if name not in Settings.variables()}
    return env | {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "DATA_DIR": str(root / "data"),
        "SECRETS_FILE": str(root / "secrets" / "server.json"),
        "LOG_LEVEL": "WARNING",
    }


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process so far, or None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime, fields 14 and 15 of proc(5), counted here from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServingProcess:
    """The bot or the echo in a child process, ready once it waits in ``getUpdates``,
    stopped by SIGTERM as a service manager stops it."""

    def __init__(self, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr

    @classmethod
    async def start(cls, kind: str, api: BotApiStandIn, root: Path,
                    extra: list[str]) -> ServingProcess:
        root.mkdir(mode=0o700, parents=True)
        stderr = root / "stderr.log"
        with stderr.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.bench.bench_telegram", "--serve", kind, *extra,
                cwd=CHECKOUT, env=_child_env(api, root), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=errors,
            )
        serving = cls(process, stderr)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not api.polling:
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {kind} did not start:\n{serving.errors()}")
                await asyncio.sleep(0.05)
        except BaseException:
            serving.kill()
            raise
        return serving

    def errors(self) -> str:
        with contextlib.suppress(OSError):
            return self.stderr.read_text(errors="replace")[-4000:]
        return ""

    async def stop(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        self.process.terminate()
        try:
            output = await asyncio.wait_for(self.process.stdout.read(), 120)
            await self.process.wait()
        except BaseException:
            self.kill()
            raise
        lines = output.decode().strip().splitlines()
        return dict(json.loads(lines[-1])) if lines else {}

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


# -- what the stand-in sees -----------------------------------------------------------------


def _chat_of(update: dict[str, Any]) -> int | None:
    body = update.get("message") or update.get("callback_query", {}).get("message")
    return None if body is None else int(body["chat"]["id"])


def _seen(call: Call) -> str:
    """An answer as the person sees it: the text, or the buttons of an edited keyboard."""
    if call.method == "editMessageReplyMarkup":
        rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
        return " | ".join(button["text"] for row in rows for button in row)
    return str(call.params.get("text"))


@dataclass
class ChatTimeline:
    # Each update of the chat, in order, with when getUpdates first handed it out.
    handed_out: list[tuple[int, float]] = field(default_factory=list)
    answers: list[tuple[float, str]] = field(default_factory=list)
    arrived: Signal = field(default_factory=Signal)


class Timeline:
    """The stand-in's answers as they go out (its ``on_answer``): updates handed out by
    ``getUpdates`` and the bot's answers, by chat, timed on this process's clock."""

    def __init__(self) -> None:
        self.chats: defaultdict[int, ChatTimeline] = defaultdict(ChatTimeline)
        self.handed_out: Counter[int] = Counter()
        self.limited_calls = 0
        self.methods: Counter[str] = Counter()

    def __call__(self, call: Call, result: Any) -> None:
        now = time.perf_counter()
        self.methods[call.method] += 1
        if call.params.get("chat_id") is not None:
            # What AIORateLimiter counts against its 30 a second: a call naming a chat.
            self.limited_calls += 1
        if call.method == "getUpdates":
            for update in result:
                update_id = int(update["update_id"])
                self.handed_out[update_id] += 1
                chat = _chat_of(update)
                if chat is not None and self.handed_out[update_id] == 1:
                    self.chats[chat].handed_out.append((update_id, now))
        elif call.method in ANSWERS:
            timeline = self.chats[int(call.params["chat_id"])]
            timeline.answers.append((now, _seen(call)))
            timeline.arrived.fire()

    @property
    def handed_out_again(self) -> int:
        return sum(times - 1 for times in self.handed_out.values())

    async def answers(self, chat: int, count: int, timeout: float) -> bool:
        """Whether the chat has `count` answers, waiting up to `timeout` for them."""
        timeline = self.chats[chat]
        deadline = time.perf_counter() + timeout
        while len(timeline.answers) < count:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            await timeline.arrived.wait(remaining)
        return True


# -- the people ------------------------------------------------------------------------------


@dataclass
class Conversation:
    first_answer_ms: list[float] = field(default_factory=list)
    from_handed_out_ms: list[float] = field(default_factory=list)
    whole_turn_ms: list[float] = field(default_factory=list)
    lost: int = 0
    incomplete: int = 0
    unsent: int = 0
    wrong: int = 0


def _act(person: StandInUser, step: tuple[str, str]) -> None:
    kind, text = step
    if kind == "press":
        person.press(text)
    else:
        person.send(text)


async def converse(person: StandInUser, timeline: Timeline, steps: list[tuple[str, str]],
                   expected: Expected) -> Conversation:
    """One message after the other, each once the whole answer to the one before is there."""
    done = Conversation()
    chat = timeline.chats[person.chat_id]
    answered = 0
    for turn, (step, answers) in enumerate(zip(steps, expected, strict=True)):
        began = time.perf_counter()
        _act(person, step)
        if not await timeline.answers(person.chat_id, answered + 1, REPLY_TIMEOUT):
            done.lost += 1
            done.unsent = len(steps) - turn - 1
            return done
        first = chat.answers[answered][0]
        done.first_answer_ms.append((first - began) * 1000)
        if len(chat.handed_out) > turn:
            done.from_handed_out_ms.append((first - chat.handed_out[turn][1]) * 1000)
        if not await timeline.answers(person.chat_id, answered + len(answers), REPLY_TIMEOUT):
            done.incomplete += 1
            done.unsent = len(steps) - turn - 1
            return done
        done.whole_turn_ms.append((chat.answers[answered + len(answers) - 1][0] - began) * 1000)
        seen = [text for _, text in chat.answers[answered:answered + len(answers)]]
        done.wrong += seen != answers
        answered += len(answers)
    return done


async def expected_from_bot(steps: list[tuple[str, str]]) -> Expected:
    """What the bot answers to the script, each turn handled alone, in this process.

    Knowing how many answers each turn brings lets a person wait for exactly those, instead
    of a quiet moment that would idle in every turn and blur the load.
    """
    from tests.storage.helpers import CHEAP_RECEIPTS

    expected: Expected = []
    with tempfile.TemporaryDirectory(prefix="entraide-bench-telegram-") as tmp:
        root = Path(tmp)
        store = await Store.open(
            f"sqlite+aiosqlite:///{root / 'entraide.sqlite3'}",
            ServerSecrets.generate(CommissionPrivateKey.generate().public()),
            case_keys_file=root / "case-keys.sqlite3",
            receipts=CHEAP_RECEIPTS,
        )
        try:
            async with BotApiStandIn() as api:
                timeline = Timeline()
                api.on_answer = timeline
                bot = await TelegramBot.start(
                    TelegramSettings(token=api.token, api_url=api.url), store, Resources.load()
                )
                try:
                    person = api.user(FIRST_USER_ID - 1, "Camille")
                    for step in steps:
                        before = len(timeline.chats[person.chat_id].answers)
                        _act(person, step)
                        await bot.poll_once(timeout=0)
                        answers = timeline.chats[person.chat_id].answers[before:]
                        expected.append([text for _, text in answers])
                finally:
                    await bot.stop()
        finally:
            await store.close()
    return expected


@dataclass
class Run:
    name: str
    chats: int
    messages: int
    answers_expected: int
    answers_seen: int
    wall_s: float
    first_answer_ms: list[float]
    from_handed_out_ms: list[float]
    whole_turn_ms: list[float]
    lost: int
    incomplete: int
    unsent: int
    wrong: int
    handed_out_again: int
    limited_calls: int
    methods: dict[str, int]
    cpu_s: float | None
    # This process's: the stand-in and the people.
    standin_cpu_s: float
    served: dict[str, Any]

    @property
    def duplicated(self) -> int:
        return max(0, self.answers_seen - self.answers_expected)

    @property
    def per_second(self) -> float:
        return len(self.first_answer_ms) / self.wall_s

    def percentile(self, cut: int, samples: list[float] | None = None) -> float:
        values = self.first_answer_ms if samples is None else samples
        return statistics.quantiles(values, n=100)[cut - 1]

    def summary(self) -> dict[str, Any]:
        return {
            "chats": self.chats,
            "messages": self.messages,
            "answered": len(self.first_answer_ms),
            "answers_expected": self.answers_expected,
            "answers_seen": self.answers_seen,
            "wall_s": round(self.wall_s, 2),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "max_ms": round(max(self.first_answer_ms), 1),
            "from_getupdates_p50_ms": round(self.percentile(50, self.from_handed_out_ms), 1),
            "from_getupdates_p95_ms": round(self.percentile(95, self.from_handed_out_ms), 1),
            "whole_turn_p50_ms": round(self.percentile(50, self.whole_turn_ms), 1),
            "whole_turn_p95_ms": round(self.percentile(95, self.whole_turn_ms), 1),
            "messages_per_second": round(self.per_second, 2),
            "lost": self.lost,
            "incomplete_turns": self.incomplete,
            "not_sent_after_a_loss": self.unsent,
            "duplicated_answers": self.duplicated,
            "turns_with_other_answers": self.wrong,
            "updates_handed_out_again": self.handed_out_again,
            "rate_limited_calls": self.limited_calls,
            "rate_limited_calls_per_message": round(self.limited_calls / self.messages, 3),
            "bot_api_calls": self.methods,
            "cpu_ms_per_message": None
            if self.cpu_s is None else round(1000 * self.cpu_s / self.messages, 2),
            "cpu_busy": None if self.cpu_s is None else round(self.cpu_s / self.wall_s, 3),
            "standin_and_people_cpu_busy": round(self.standin_cpu_s / self.wall_s, 3),
            "log_events": self.served.get("log_events", {}),
        }


async def load_run(name: str, kind: str, chats: int, steps: list[tuple[str, str]],
                   expected: Expected, root: Path, extra: tuple[str, ...] = ()) -> Run:
    async with BotApiStandIn() as api:
        timeline = Timeline()
        api.on_answer = timeline
        serving = await ServingProcess.start(kind, api, root / kind, list(extra))
        try:
            people = [api.user(FIRST_USER_ID + n, f"Personne {n}") for n in range(chats)]
            setup_calls = timeline.limited_calls
            methods_before = Counter(timeline.methods)
            cpu_before = cpu_seconds(serving.process.pid)
            standin_before = time.process_time()
            began = time.perf_counter()
            outcomes = await asyncio.gather(
                *(converse(person, timeline, steps, expected) for person in people)
            )
            wall_s = time.perf_counter() - began
            cpu_after = cpu_seconds(serving.process.pid)
            standin_cpu_s = time.process_time() - standin_before
            limited = timeline.limited_calls - setup_calls
            methods = dict(Counter(timeline.methods) - methods_before)
            await asyncio.sleep(QUIET_SECONDS)
        finally:
            served = await serving.stop()
        if served.get("exit") not in (0, None):
            print(f"warning: the {kind} exited with {served.get('exit')}:\n{serving.errors()}",
                  file=sys.stderr)
    return Run(
        name=name,
        chats=chats,
        messages=chats * len(steps),
        answers_expected=chats * sum(len(answers) for answers in expected),
        answers_seen=sum(len(timeline.chats[p.chat_id].answers) for p in people),
        wall_s=wall_s,
        first_answer_ms=[ms for done in outcomes for ms in done.first_answer_ms],
        from_handed_out_ms=[ms for done in outcomes for ms in done.from_handed_out_ms],
        whole_turn_ms=[ms for done in outcomes for ms in done.whole_turn_ms],
        lost=sum(done.lost for done in outcomes),
        incomplete=sum(done.incomplete for done in outcomes),
        unsent=sum(done.unsent for done in outcomes),
        wrong=sum(done.wrong for done in outcomes),
        handed_out_again=timeline.handed_out_again,
        limited_calls=limited,
        methods=methods,
        cpu_s=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        standin_cpu_s=standin_cpu_s,
        served=served,
    )


# -- the report ------------------------------------------------------------------------------


def _echo_steps() -> list[tuple[str, str]]:
    # The same words, typed: a press becomes its label.
    return [("say", text) for _, text in SCRIPT]


def _percent(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.0f}%"


def report(bot: Run, echo: Run) -> dict[str, float]:
    handed = bot.from_handed_out_ms, echo.from_handed_out_ms
    ratios = {
        "p50_bot_over_echo": bot.percentile(50) / echo.percentile(50),
        "p95_bot_over_echo": bot.percentile(95) / echo.percentile(95),
        "from_getupdates_p50_bot_over_echo":
            bot.percentile(50, handed[0]) / echo.percentile(50, handed[1]),
        "from_getupdates_p95_bot_over_echo":
            bot.percentile(95, handed[0]) / echo.percentile(95, handed[1]),
    }
    print(f"Telegram on loopback (Bot API stand-in): {bot.chats} chats x {len(SCRIPT)} "
          f"messages each, all at once, {os.cpu_count()} CPUs; AIORateLimiter "
          f"(30 calls/s, max_retries={SEND_RETRIES}) in both")
    print("from the update being there for getUpdates to the first answer in its chat:")
    print(f"{'':18}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'lost':>6}{'dupl':>6}{'msg/s':>7}"
          f"{'calls/msg':>10}{'cpu ms/msg':>11}{'wall s':>8}")
    for run in (bot, echo):
        cpu = "?" if run.cpu_s is None else f"{1000 * run.cpu_s / run.messages:.2f}"
        print(f"{run.name:18}{run.percentile(50):8.0f}{run.percentile(95):8.0f}"
              f"{max(run.first_answer_ms):8.0f}{run.lost + run.incomplete:6d}"
              f"{run.duplicated:6d}{run.per_second:7.1f}{run.limited_calls / run.messages:10.2f}"
              f"{cpu:>11}{run.wall_s:8.1f}")
    print(f"{'bot / echo':18}{ratios['p50_bot_over_echo']:8.2f}"
          f"{ratios['p95_bot_over_echo']:8.2f}   aim <= {AIM}")
    print("calls/msg: Bot API calls naming a chat (what the limiter counts) per message")
    print("from the getUpdates answer that handed the update out to the first answer:")
    for run, samples in zip((bot, echo), handed, strict=True):
        print(f"{run.name:18}{run.percentile(50, samples):8.0f}{run.percentile(95, samples):8.0f}")
    print(f"{'bot / echo':18}{ratios['from_getupdates_p50_bot_over_echo']:8.2f}"
          f"{ratios['from_getupdates_p95_bot_over_echo']:8.2f}")
    for run in (bot, echo):
        print(f"{run.name}: whole turn p50 {run.percentile(50, run.whole_turn_ms):.0f} ms; "
              f"busy: {run.name.split()[0]} {_percent(run.summary()['cpu_busy'])}, stand-in "
              f"and people {_percent(run.standin_cpu_s / run.wall_s)}")
        if run.wrong or run.incomplete or run.handed_out_again or run.unsent:
            print(f"  warning: {run.wrong} turns with other answers than expected, "
                  f"{run.incomplete} incomplete, {run.unsent} messages not sent after a loss, "
                  f"{run.handed_out_again} updates handed out again")
    failures = {event: count for event, count in bot.served.get("log_events", {}).items()
                if "failed" in event or event == "paced"}
    if failures:
        print(f"note: the bot logged {failures}")
    return {name: round(value, 3) for name, value in ratios.items()}


def _machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}


async def measure(chats: int) -> dict[str, Any]:
    began = time.perf_counter()
    expected = await expected_from_bot(SCRIPT)
    echoed = [[text] for _, text in SCRIPT]
    with tempfile.TemporaryDirectory(prefix="entraide-bench-telegram-") as tmp:
        bot = await load_run("bot (no NLU)", "bot", chats, SCRIPT, expected, Path(tmp))
        echo = await load_run("echo (PTB floor)", "echo", chats, _echo_steps(), echoed,
                              Path(tmp))
    ratios = report(bot, echo)
    total_s = time.perf_counter() - began
    print(f"total {total_s:.0f} s")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "script": [f"{kind}: {text}" for kind, text in SCRIPT],
        "answers_per_turn": [len(answers) for answers in expected],
        "total_s": round(total_s, 1),
        "aim": AIM,
        "bot": bot.summary(),
        "echo": echo.summary(),
        "ratios": ratios,
    }


PARTS = (
    ("idle (waiting for I/O)", ("select.epoll",)),
    # aiosqlite hands each statement to its thread through a SimpleQueue.
    ("store", ("/storage/", "sqlalchemy", "aiosqlite", "greenlet", "_queue.SimpleQueue")),
    ("engine", ("/flows/",)),
    ("policy layer", ("/bot/policy/",)),
    ("Telegram channel", ("/bot/channels/telegram/",)),
    ("ledger", ("/bot/channels/matrix/ledger.py", "sqlite3.Connection")),
    ("rate limiter", ("aiolimiter", "_aioratelimiter")),
    ("PTB", ("/telegram/",)),
    ("HTTP client", ("httpx", "httpcore", "h11", "anyio", "ssl", "socket")),
    ("JSON", ("json",)),
    # httpcore imports sniffio on every request, which fails when it is not installed.
    ("imports at run time", ("importlib", "posix.stat")),
    ("asyncio", ("asyncio", "selectors", "contextvars")),
)


def cpu_by_part(profile: Path) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """The main thread's CPU profile, its own time summed by the part of the code it is
    in (the store's SQLite work runs in aiosqlite's thread, outside it), and the functions
    of no part that took the most."""
    stats: Any = pstats.Stats(str(profile))
    parts: defaultdict[str, float] = defaultdict(float)
    others: defaultdict[str, float] = defaultdict(float)
    for (filename, line, function), (_, _, own, _, _) in stats.stats.items():
        where = f"{filename} {function}"
        part = next((name for name, marks in PARTS if any(m in where for m in marks)), None)
        parts[part or "other"] += own
        if part is None:
            others[f"{Path(filename).name}:{line} {function}"] += own
    rounded = {part: round(seconds, 3)
               for part, seconds in sorted(parts.items(), key=lambda item: -item[1])}
    top = sorted(others.items(), key=lambda item: -item[1])[:8]
    return rounded, [(name, round(seconds, 3)) for name, seconds in top]


async def profile_run(chats: int, cpu_profile: bool) -> dict[str, Any]:
    expected = await expected_from_bot(SCRIPT)
    extra = ("--timers", *(("--cpu-profile-to", str(CPU_PROFILE)) if cpu_profile else ()))
    CPU_PROFILE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="entraide-bench-telegram-") as tmp:
        bot = await load_run("bot (timed)", "bot", chats, SCRIPT, expected, Path(tmp), extra)
    timers = bot.served.get("timers", {})
    print(f"bot with timers{' and cProfile' if cpu_profile else ''}: {chats} chats x "
          f"{len(SCRIPT)} messages, p50 {bot.percentile(50):.0f} ms, p95 "
          f"{bot.percentile(95):.0f} ms, {bot.per_second:.1f} msg/s, {bot.wall_s:.0f} s")
    print("wall time inside each part, summed over the turns (they overlap: the chats of a "
          "batch run side by side); share: of the run's wall time")
    for part, value in timers.items():
        print(f"  {part:46}{value['seconds']:9.1f} s {value['calls']:7d} calls "
              f"{1000 * value['seconds'] / max(value['calls'], 1):9.2f} ms each "
              f"{100 * value['seconds'] / bot.wall_s:6.0f}%")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "bot": bot.summary(),
        "wall_s_by_part": timers,
    }
    if cpu_profile:
        cpu, others = cpu_by_part(CPU_PROFILE)
        print(f"main thread's own time by part (cProfile, {CPU_PROFILE.name}), over "
              f"{bot.messages} messages:")
        for part, seconds in cpu.items():
            print(f"  {part:46}{seconds:9.2f} s {1000 * seconds / bot.messages:8.2f} ms/message")
        print("  of which, in no part above: " + ", ".join(f"{n} {t:.1f} s" for n, t in others))
        results["cpu_s_by_part"] = cpu
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=CHATS)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", action="store_true",
                        help="the bot alone, with timers around its parts")
    parser.add_argument("--cpu-profile", action="store_true",
                        help="with --profile: cProfile too (slower), bench-results/"
                        f"{CPU_PROFILE.name}")
    parser.add_argument("--serve", choices=("bot", "echo"), help=argparse.SUPPRESS)
    parser.add_argument("--timers", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "bot":
        serve_bot(args.timers, args.cpu_profile_to)
        return 0
    if args.serve == "echo":
        serve_echo()
        return 0
    if args.profile or args.cpu_profile:
        results = asyncio.run(profile_run(args.chats, args.cpu_profile))
        key, path = "telegram_profile", args.json or PROFILE_RESULTS
    else:
        results = asyncio.run(measure(args.chats))
        key, path = "telegram", args.json or RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({key: results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
