"""Matrix round trips through the real bot next to a bare matrix-nio echo bot, on loopback.

Run with ``make bench-matrix``: it starts a throwaway Synapse, lets the same number of
people talk through end-to-end encryption to the bot (no NLU), then to an echo bot, and
prints p50/p95 round trips and messages per second side by side. The bot and the echo run
in a child process of their own, as in production, so that the people's own crypto and
sync parsing do not share an event loop with what is measured. A benchmark, not a test:
it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    EncryptionError,
    InviteMemberEvent,
    MegolmEvent,
    RoomMessageText,
    SyncResponse,
)

from bot.channels.matrix.app import MatrixBot
from bot.channels.matrix.client import Account, keep_keys_fresh, open_client
from bot.channels.matrix.format import contents
from bot.dev.homeserver import Homeserver, missing
from bot.dev.matrix_person import MatrixPerson
from bot.policy.conversations import Conversations
from bot.policy.memory_keeper import MemoryKeeper
from bot.settings import MatrixSettings
from flows.messages import BotMessage
from flows.resources import Resources
from storage import CommissionPrivateKey, ServerSecrets, Store

CHECKOUT = Path(__file__).resolve().parents[2]
RESULTS = CHECKOUT / "bench-results" / "matrix.json"

# Persona, practice, age, sex, department, needs, no questionnaire, then help, a word the
# alert question does not expect, and thanks: every input gets at least one reply.
SCRIPT = ["1", "financial", "liberal", "skip", "passer", "jamais", "non", "aide", "1", "merci"]
PEOPLE = 50
AIM = 1.5
# Synapse hashes every password (registration and login) with bcrypt on a thread pool; more
# requests in flight than cores only queue there.
SETUP_CONCURRENCY = 6
REPLY_TIMEOUT = 60.0
# After the last turn, a message still arriving within this long was not expected.
QUIET_SECONDS = 1.0
SERVE_ENV = "BENCH_MATRIX_SERVE"

Turns = list[tuple[str, list[str]]]


# -- the serving side, in its own process --------------------------------------------------


class _EventCounter(logging.Handler):
    """Counts the bot's log records by event type (``event=paced`` is a turn that waited for
    the token bucket); the records name no content, and only their type is kept."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[str(record.msg).split(" ", 1)[0].removeprefix("event=")] += 1


async def _start_bot(account: Account, root: Path) -> Callable[[], Awaitable[None]]:
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    from tests.storage.helpers import CHEAP_RECEIPTS

    store = await Store.open(
        f"sqlite+aiosqlite:///{root / 'entraide.sqlite3'}",
        ServerSecrets.generate(CommissionPrivateKey.generate().public()),
        case_keys_file=root / "case-keys.sqlite3",
        receipts=CHEAP_RECEIPTS,
    )
    settings = MatrixSettings(account.homeserver, account.user_id, account.password)
    bot = await MatrixBot.start(
        settings, store, Resources.load(), data_dir=root / "var",
        session_file=root / "matrix-session.json", pickle_key=secrets.token_bytes(32),
        daily_jobs=False,
    )
    await bot.wait_synced()

    async def stop() -> None:
        await bot.stop()
        await store.close()

    return stop


class EchoBot:
    """The floor: what any matrix-nio bot pays to sync, decrypt, encrypt and send one reply."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.synced = asyncio.Event()
        self.waiting_for_keys: list[tuple[str, MegolmEvent]] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        client, first = self.client, True
        while True:
            response = await client.sync(timeout=0 if first else 30_000, full_state=first or None)
            # The same key upkeep as the bot's channel, before the events are answered.
            await keep_keys_fresh(client)
            if isinstance(response, SyncResponse) and not first:
                for room_id, invite in response.rooms.invite.items():
                    if any(isinstance(e, InviteMemberEvent) for e in invite.invite_state):
                        self._spawn(client.join(room_id))
                for room_id, info in response.rooms.join.items():
                    for event in info.timeline.events:
                        self._answer(room_id, event)
            self._retry_undecrypted()
            first = False
            self.synced.set()

    def _answer(self, room_id: str, event: Any) -> None:
        if getattr(event, "sender", None) == self.client.user_id:
            return
        if isinstance(event, MegolmEvent):
            self.waiting_for_keys.append((room_id, event))
        elif isinstance(event, RoomMessageText):
            content = {"msgtype": "m.text", "body": event.body}
            self._spawn(self.client.room_send(
                room_id, "m.room.message", content, ignore_unverified_devices=True
            ))

    def _retry_undecrypted(self) -> None:
        waiting, self.waiting_for_keys = self.waiting_for_keys, []
        for room_id, event in waiting:
            try:
                self._answer(room_id, self.client.decrypt_event(event))
            except EncryptionError:
                self.waiting_for_keys.append((room_id, event))

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def _start_echo(account: Account, root: Path) -> Callable[[], Awaitable[None]]:
    client = await open_client(account, root / "echo", secrets.token_bytes(32))
    echo = EchoBot(client)
    runner = asyncio.create_task(echo.run())
    await asyncio.wait_for(echo.synced.wait(), 30)

    async def stop() -> None:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await client.close()

    return stop


async def serve(kind: str) -> None:
    """Serve until the parent closes our stdin, then say what the bot logged, by type."""
    account = Account(**json.loads(os.environ[SERVE_ENV]))
    root = Path(os.environ["BENCH_MATRIX_DIR"])
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING)
    events = _EventCounter()
    bot_log = logging.getLogger("bot")
    bot_log.setLevel(logging.INFO)
    bot_log.addHandler(events)
    # The bot's INFO records are counted, not printed; its warnings still reach stderr.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    stop = await (_start_bot if kind == "bot" else _start_echo)(account, root)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await stop()
    print(json.dumps({"log_events": events.counts}), flush=True)


def cpu_seconds(pid: int | None) -> float | None:
    """User and system CPU time of a process so far, or None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime, fields 14 and 15 of proc(5), counted here from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def synapse_pid(homeserver: Homeserver) -> int | None:
    """Found by its config path in /proc: Homeserver keeps its process to itself."""
    wanted = str(homeserver.config_path).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if wanted in cmdline.read_bytes().split(b"\0"):
                return int(cmdline.parent.name)
    return None


class ServingProcess:
    """The bot or the echo in a child process, stopped by closing its stdin."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, kind: str, account: Account, root: Path) -> ServingProcess:
        env = {
            **os.environ,
            SERVE_ENV: json.dumps(asdict(account)),
            "BENCH_MATRIX_DIR": str(root),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", kind,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
        )
        serving = cls(process)
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 120)
            if line.strip() != b"ready":
                raise RuntimeError(f"the {kind} did not start (see the lines above)")
        except BaseException:
            serving.kill()
            raise
        return serving

    async def stop(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            output = await asyncio.wait_for(self.process.stdout.read(), 60)
            await self.process.wait()
        except BaseException:
            self.kill()
            raise
        lines = output.decode().strip().splitlines()
        return dict(json.loads(lines[-1])) if lines else {}

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


# -- the people ------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    people: int
    setup_s: float
    wall_s: float
    messages: int
    replies: int
    round_trips_ms: list[float]
    whole_turns_ms: list[float]
    wrong_replies: int
    late_replies: int
    log_events: dict[str, int]
    # CPU seconds over the timed phase: the bot or echo, Synapse, and the people's process.
    cpu_s: dict[str, float | None]

    def percentile(self, cut: int, *, whole_turn: bool = False) -> float:
        samples = self.whole_turns_ms if whole_turn else self.round_trips_ms
        return statistics.quantiles(samples, n=100)[cut - 1]

    @property
    def per_second(self) -> float:
        return self.messages / self.wall_s

    def busy(self, part: str) -> float | None:
        """The share of the timed phase this part kept one core busy (2.0 is two cores)."""
        seconds = self.cpu_s.get(part)
        return None if seconds is None else round(seconds / self.wall_s, 3)

    def summary(self) -> dict[str, Any]:
        server = self.cpu_s.get("server")
        return {
            "people": self.people,
            "messages": self.messages,
            "replies": self.replies,
            "setup_s": round(self.setup_s, 2),
            "wall_s": round(self.wall_s, 3),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "max_ms": round(max(self.round_trips_ms), 1),
            "whole_turn_p50_ms": round(self.percentile(50, whole_turn=True), 1),
            "whole_turn_p95_ms": round(self.percentile(95, whole_turn=True), 1),
            "messages_per_second": round(self.per_second, 2),
            "synapse_events_per_second": round((self.messages + self.replies) / self.wall_s, 2),
            "server_cpu_ms_per_message": None
            if server is None else round(1000 * server / self.messages, 2),
            "cpu_busy": {part: self.busy(part) for part in self.cpu_s},
            "wrong_replies": self.wrong_replies,
            "late_replies": self.late_replies,
            "log_events": self.log_events,
        }


async def _no_wait(seconds: float) -> None:
    return None


def _bodies(messages: list[BotMessage]) -> list[str]:
    return [str(content["body"]) for content in contents(messages)]


async def expected_from_engine() -> tuple[list[str], Turns]:
    """What the bot says to the script, from the same policy layer with nothing stored.

    Knowing how many messages each turn brings lets a person read exactly those, instead of
    waiting for a quiet moment that would idle in every turn and blur the throughput.
    """
    conversations = Conversations(
        resources=Resources.load(), channel="matrix", keeper=MemoryKeeper(), sleep=_no_wait
    )
    person = "@bench:localhost"
    welcome = _bodies(await conversations.welcome(person))
    turns = [
        (text, _bodies(await conversations.receive(person, text, numbers_are_positions=True)))
        for text in SCRIPT
    ]
    return welcome, turns


async def _join(
    homeserver: Homeserver, account: Account, bot_user: str, root: Path, welcome: int,
    opened: list[MatrixPerson], gate: asyncio.Semaphore,
) -> tuple[MatrixPerson, str]:
    async with gate:
        assert account.password is not None
        person = await MatrixPerson.login(
            homeserver.url, account.user_id, account.password,
            root / account.user_id.split(":")[0].lstrip("@"), secrets.token_bytes(32),
        )
        opened.append(person)
        room_id = await person.open_direct_chat(bot_user)
    for _ in range(welcome):
        await person.next_message(REPLY_TIMEOUT)
    return person, room_id


@dataclass
class Conversation:
    round_trips_ms: list[float]
    whole_turns_ms: list[float]
    wrong: int = 0


async def converse(person: MatrixPerson, room_id: str, turns: Turns) -> Conversation:
    """One message after the other; the round trip ends at the first message of the reply,
    the whole turn at its last one."""
    done = Conversation([], [])
    for text, expected in turns:
        began = time.perf_counter()
        await person.send(room_id, text)
        first = await person.next_message(REPLY_TIMEOUT)
        done.round_trips_ms.append((time.perf_counter() - began) * 1000)
        rest = [(await person.next_message(REPLY_TIMEOUT)).body for _ in expected[1:]]
        done.whole_turns_ms.append((time.perf_counter() - began) * 1000)
        done.wrong += [first.body, *rest] != expected
    return done


def cpu_snapshot(pids: dict[str, int | None]) -> dict[str, float | None]:
    snapshot = {part: cpu_seconds(pid) for part, pid in pids.items()}
    snapshot["people"] = time.process_time()
    return snapshot


def cpu_spent(
    before: dict[str, float | None], after: dict[str, float | None]
) -> dict[str, float | None]:
    return {
        part: None if (was := before[part]) is None or (now := after[part]) is None
        else now - was
        for part in before
    }


async def load_run(
    name: str, kind: str, homeserver: Homeserver, server_account: Account,
    people: list[Account], root: Path, welcome: list[str], turns: Turns,
) -> Run:
    serving = await ServingProcess.start(kind, server_account, root / kind)
    pids = {"server": serving.process.pid, "synapse": synapse_pid(homeserver)}
    opened: list[MatrixPerson] = []
    try:
        began = time.perf_counter()
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)
        chats = await asyncio.gather(*(
            _join(homeserver, account, server_account.user_id, root / f"{kind}-people",
                  len(welcome), opened, gate)
            for account in people
        ))
        setup_s = time.perf_counter() - began
        cpu_before = cpu_snapshot(pids)
        began = time.perf_counter()
        outcomes = await asyncio.gather(*(converse(person, room, turns) for person, room in chats))
        wall_s = time.perf_counter() - began
        cpu = cpu_spent(cpu_before, cpu_snapshot(pids))
        await asyncio.sleep(QUIET_SECONDS)
        late = sum(person.inbox.qsize() for person, _ in chats)
    finally:
        await asyncio.gather(*(person.close() for person in opened))
        report = await serving.stop()
    return Run(
        name=name,
        people=len(people),
        setup_s=setup_s,
        wall_s=wall_s,
        messages=len(people) * len(turns),
        replies=len(people) * sum(len(expected) for _, expected in turns),
        round_trips_ms=[ms for done in outcomes for ms in done.round_trips_ms],
        whole_turns_ms=[ms for done in outcomes for ms in done.whole_turns_ms],
        wrong_replies=sum(done.wrong for done in outcomes),
        late_replies=late,
        log_events=dict(report.get("log_events", {})),
        cpu_s=cpu,
    )


async def register_all(homeserver: Homeserver, roles: list[str]) -> list[Account]:
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    tag = secrets.token_hex(3)

    async def register(role: str) -> Account:
        password = secrets.token_urlsafe(12)
        async with gate:
            user_id = await asyncio.to_thread(homeserver.register, f"bench-{tag}-{role}", password)
        return Account(homeserver.url, user_id, password)

    return list(await asyncio.gather(*(register(role) for role in roles)))


# -- the report ----------------------------------------------------------------------------


def _percent(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.0f}%"


def report(bot: Run, echo: Run, setup_s: float) -> dict[str, Any]:
    ratios = {
        "p50_bot_over_echo": bot.percentile(50) / echo.percentile(50),
        "p95_bot_over_echo": bot.percentile(95) / echo.percentile(95),
        # Inverted so that every ratio reads "times slower than the floor".
        "throughput_echo_over_bot": echo.per_second / bot.per_second,
    }
    print(f"Matrix on loopback: {bot.people} people x {len(SCRIPT)} messages each, "
          f"all at once, {os.cpu_count()} CPUs; Synapse on SQLite")
    print(f"setup: Synapse and {2 * bot.people + 2} accounts {setup_s:.1f} s; people, chats "
          f"and welcomes {bot.setup_s:.1f} s (bot), {echo.setup_s:.1f} s (echo)")
    print(f"{'':18}{'p50 ms':>8}{'p95 ms':>8}{'msg/s':>7}{'events/s':>10}{'cpu ms/msg':>12}")
    for run in (bot, echo):
        server = run.cpu_s.get("server")
        cpu = "?" if server is None else f"{1000 * server / run.messages:.1f}"
        events = (run.messages + run.replies) / run.wall_s
        print(f"{run.name:18}{run.percentile(50):8.0f}{run.percentile(95):8.0f}"
              f"{run.per_second:7.1f}{events:10.1f}{cpu:>12}")
    print(f"{'bot / echo':18}{ratios['p50_bot_over_echo']:8.2f}"
          f"{ratios['p95_bot_over_echo']:8.2f}{ratios['throughput_echo_over_bot']:7.2f}"
          f"   aim <= {AIM} (msg/s as echo / bot)")
    print("events/s: messages in and replies out through Synapse; cpu: the bot's or echo's process")
    print(f"bot, up to the last message of each turn: p50 {bot.percentile(50, whole_turn=True):.0f}"
          f" ms, p95 {bot.percentile(95, whole_turn=True):.0f} ms "
          f"({bot.replies / bot.messages:.1f} replies per message, sent one after the other)")
    for run in (bot, echo):
        print(f"{run.name}: {run.messages} messages, {run.replies} replies in {run.wall_s:.1f} s;"
              f" busy: {run.name.split()[0]} {_percent(run.busy('server'))}, Synapse "
              f"{_percent(run.busy('synapse'))}, people {_percent(run.busy('people'))}")
        if run.wrong_replies or run.late_replies:
            print(f"  warning: {run.wrong_replies} turns with other replies than expected, "
                  f"{run.late_replies} messages after the last turn")
    paced = bot.log_events.get("paced", 0)
    if paced:
        print(f"note: {paced} turns waited for the bot's pacing (burst 8, then 1 "
              "message/s per person): that wait is inside the bot's round trips")
    else:
        print("note: no turn was paced by the bot's token bucket (burst 8, then 1/s)")
    return {name: round(value, 3) for name, value in ratios.items()}


async def measure(people: int) -> dict[str, Any]:
    welcome, turns = await expected_from_engine()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="entraide-bench-matrix-") as tmp:
        root = Path(tmp)
        homeserver = Homeserver(root / "synapse")
        try:
            homeserver.start()
            roles = ["bot", "echo", *(f"a{n}" for n in range(people)),
                     *(f"b{n}" for n in range(people))]
            accounts = await register_all(homeserver, roles)
            setup_s = time.perf_counter() - began
            bot = await load_run("bot (no NLU)", "bot", homeserver, accounts[0],
                                 accounts[2:2 + people], root, welcome, turns)
            echo = await load_run("echo (nio floor)", "echo", homeserver, accounts[1],
                                  accounts[2 + people:], root, [], [(t, [t]) for t in SCRIPT])
        finally:
            homeserver.stop()
    ratios = report(bot, echo, setup_s)
    total_s = time.perf_counter() - began
    print(f"total {total_s:.0f} s")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "script": SCRIPT,
        "setup_s": round(setup_s, 2),
        "total_s": round(total_s, 1),
        "aim": AIM,
        "bot": bot.summary(),
        "echo": echo.summary(),
        "ratios": ratios,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--serve", choices=("bot", "echo"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    problem = missing()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    results = asyncio.run(measure(args.people))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"matrix": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
