"""Command line: ``python -m bot chat`` (add ``--jsonl`` for the machine interface), ``run``
(the configured channels), ``report`` (the yearly statistics), and the operator and
commission commands (``keys``, ``staff``, ``purge``)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.channels import terminal
from bot.policy.conversations import CaseKeeper, Conversations
from bot.policy.memory_keeper import MemoryKeeper
from bot.policy.store_keeper import StoreKeeper
from bot.settings import MatrixSettings, Settings
from bot.staff.cli import add_commands
from flows.resources import Resources
from flows.texts import LOCALES
from flows.understanding import Understanding
from nlu.client import RasaUnderstanding
from nlu.service import NluService, missing
from storage import (
    SecretsError,
    StorageError,
    StorageSettings,
    Store,
    demo_keys,
    load_server_secrets,
    open_store,
)

log = logging.getLogger("bot")
# Libraries that log what no log line may hold, whatever LOG_LEVEL says: request URLs (Rasa
# takes its token in the query string), SQL statements with their parameters (pseudonyms).
QUIET_LIBRARIES = ("httpx", "httpcore", "aiosqlite", "sqlalchemy", "asyncpg")


def _understanding(settings: Settings, local: NluService | None) -> Understanding | None:
    if local is not None:
        return RasaUnderstanding(local.url, local.token, timeout_s=settings.nlu_timeout_s)
    if not settings.nlu_url:
        return None
    token = None if settings.nlu_token is None else settings.nlu_token.get_secret_value()
    return RasaUnderstanding(settings.nlu_url, token, timeout_s=settings.nlu_timeout_s)


def _start_local_nlu() -> NluService | None:
    problem = missing()
    if problem:
        sys.stderr.write(f"{problem} The bot goes on without it.\n")
        return None
    sys.stderr.write("Starting the language service on loopback (this takes a few seconds)…\n")
    try:
        return NluService().start()
    except RuntimeError as error:
        sys.stderr.write(f"The language service did not start ({error}); going on without it.\n")
        return None


async def _open_store(storage: StorageSettings, with_demo_keys: bool) -> Store | None:
    if with_demo_keys:
        status = demo_keys(storage.data_dir, storage.secrets_file)
        if status.created:
            sys.stderr.write(
                f"Throwaway demo keys written beside {status.secrets_file}: "
                "fine for trying the bot, never for a real deployment "
                "(run `python -m bot keys init` there).\n"
            )
    try:
        return await open_store(storage)
    except StorageError as error:
        if with_demo_keys:
            # The demo's keys and data no longer belong together: say how to start afresh.
            sys.stderr.write(
                f"The store cannot open: {error}. The demo keeps its keys in "
                f"{storage.secrets_file.parent} and its data in {storage.data_dir}: delete "
                "both folders to start afresh (the demo's conversations are lost).\n"
            )
        else:
            sys.stderr.write(
                f"The store cannot open: {error}. Check DATA_DIR and SECRETS_FILE: the data "
                "and the secrets must come from the same installation (`python -m bot keys "
                "init` makes new secrets for a new, empty store).\n"
            )
        return None


@dataclass
class PretendTime:
    """``chat --now``: the clock stands still at one instant, and a wait of the flood brake
    passes at once, moving only the brake's own time on. A transcript piped in replays the
    same way every time, paced as a person would be, without waiting out the pace."""

    now: datetime
    elapsed: float = 0.0

    def clock(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.elapsed += seconds


async def _chat(args: argparse.Namespace, settings: Settings) -> int:
    keeper: CaseKeeper
    store = None
    if args.memory:
        keeper = MemoryKeeper()
    else:
        store = await _open_store(settings, args.demo_keys)
        if store is None:
            return 2
        keeper = StoreKeeper(store)
    local_nlu = _start_local_nlu() if args.local_nlu else None
    conversations = Conversations(
        resources=Resources.load(settings.deployment_file),
        channel="terminal",
        keeper=keeper,
        understanding=_understanding(settings, local_nlu),
        locale=args.locale or settings.locale,
        nlu_deadline=settings.nlu_timeout_s,
    )
    if args.now is not None:
        pretend = PretendTime(args.now)
        conversations.clock = pretend.clock
        conversations.monotonic = pretend.monotonic
        conversations.sleep = pretend.sleep
    try:
        await terminal.run(conversations, jsonl=args.jsonl)
    finally:
        if store is not None:
            await store.close()
        if local_nlu is not None:
            local_nlu.stop()
    return 0


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the configured channels (Matrix, Telegram, or both in one process, the
    commission's staff room reaching the people of both); with none configured and --demo,
    the embedded demo."""
    # The channels' libraries load here, not with the module: `chat` starts twice as fast.
    from telegram.error import TelegramError

    from bot.channels.matrix.app import MatrixBot
    from bot.channels.matrix.client import MatrixLoginError, session_file_beside
    from bot.channels.matrix.ledger import EventLedger
    from bot.channels.telegram.app import TelegramBot
    from bot.staff.console import People
    from bot.staff.scheduler import Scheduler

    matrix, telegram = settings.matrix, settings.telegram
    if matrix is None and telegram is None and not args.demo:
        sys.stderr.write("No channel is configured: set MATRIX_HOMESERVER, MATRIX_USER_ID and "
                         "MATRIX_PASSWORD, or TELEGRAM_BOT_TOKEN (see .env.example), or run "
                         "`make run` for the demo.\n")
        return 2
    store = await _open_store(settings, args.demo)
    if store is None:
        return 2
    pickle_key = load_server_secrets(settings.secrets_file).matrix_pickle_key
    session_file = session_file_beside(settings.secrets_file)
    local_nlu = _start_local_nlu() if args.local_nlu else None
    understanding = _understanding(settings, local_nlu)
    resources = Resources.load(settings.deployment_file)
    parts: list[MatrixBot | TelegramBot] = []
    try:
        if matrix is None and telegram is None:
            try:
                from bot.dev.demo import run_demo  # a development tool, absent from the image
            except ImportError:
                sys.stderr.write("The demo runs from a checkout of the project (`make run`), "
                                 "not from the bot's image.\n")
                return 2
            return await run_demo(
                settings, store, settings.data_dir, session_file, pickle_key, understanding,
                settings.locale,
            )
        scheduler = None
        telegram_bot = None
        if telegram is not None:
            ledger_key = hashlib.sha256(b"entraide-telegram-ledger\0" + pickle_key).digest()
            (settings.data_dir / "telegram").mkdir(mode=0o700, exist_ok=True)
            try:
                telegram_bot = await TelegramBot.start(
                    telegram, store, resources, understanding=understanding,
                    locale=settings.locale, nlu_deadline=settings.nlu_timeout_s,
                    commission_connected=matrix is not None and matrix.staff_room is not None,
                    ledger=EventLedger(settings.data_dir / "telegram" / "updates.sqlite3",
                                       ledger_key),
                )
            except TelegramError as error:
                sys.stderr.write(f"The Telegram channel cannot start: {type(error).__name__}.\n")
                return 2
            parts.append(telegram_bot)
            if matrix is None:
                # No Matrix app to carry them: the daily purge and the interview reminders
                # run beside the Telegram channel.
                people = People(store, {"telegram": telegram_bot.channel})
                scheduler = Scheduler(store, people, resources.deployment)
        if matrix is not None:
            try:
                parts.append(await MatrixBot.start(
                    matrix, store, resources,
                    data_dir=settings.data_dir, session_file=session_file, pickle_key=pickle_key,
                    understanding=understanding, locale=settings.locale,
                    nlu_deadline=settings.nlu_timeout_s,
                    other_channels={} if telegram_bot is None
                    else {"telegram": telegram_bot.channel},
                ))
            except (MatrixLoginError, SecretsError) as error:
                sys.stderr.write(f"The Matrix channel cannot start: {error}.\n")
                return 2
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        serving = [asyncio.create_task(part.serve()) for part in parts]
        if scheduler is not None:
            serving.append(asyncio.create_task(scheduler.run()))
        await asyncio.wait(
            [*serving, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        for task in serving:
            task.cancel()
        return 0
    finally:
        for part in reversed(parts):
            await part.stop()
        await store.close()
        if local_nlu is not None:
            local_nlu.stop()


async def _health(settings: Settings) -> int:
    """One probe of each configured service, as JSON. The NLU service is optional (the bot
    answers without it, so it never fails the check); an unreachable homeserver does."""
    from bot.channels.matrix.cross_signing import IdentityState
    from bot.channels.matrix.staff_trust import staff_health, staff_trust_file_beside

    report: dict[str, object] = {"crisis_lexicon": "ok", "nlu": "not configured"}
    understanding = _understanding(settings, None)
    if isinstance(understanding, RasaUnderstanding):
        answered = await understanding.interpret("bonjour") is not None
        report["nlu"] = {"answered_probe": answered, **understanding.status()}
        await understanding.aclose()
    healthy = True
    matrix = settings.matrix
    if matrix is None:
        report["matrix"] = "not configured"
    else:
        reachable = await _homeserver_answers(matrix.homeserver)
        identity = await _identity(settings, matrix) if reachable else {"state": "not checked"}
        staff = staff_health(staff_trust_file_beside(settings.secrets_file))
        report["matrix"] = {
            "homeserver_reachable": reachable, "identity": identity, "staff_room": staff,
        }
        # A foreign identity waits for the operator (`keys matrix-identity --replace`), and
        # so do held alerts (`keys trust-staff`, or a staff member who cannot read them).
        healthy = reachable and identity["state"] != IdentityState.FOREIGN \
            and not staff["alerts_held"]
    sys.stdout.write(json.dumps(report) + "\n")
    return 0 if healthy else 1


async def _identity(settings: Settings, matrix: MatrixSettings) -> dict[str, str | None]:
    """The bot's master key as a council member compares it, and what the homeserver
    publishes of it."""
    from bot.channels.matrix.client import MatrixLoginError, read_session, session_file_beside
    from bot.channels.matrix.cross_signing import (
        CrossSigningError,
        cross_signing_file_beside,
        fingerprint,
        identity_status,
    )

    try:
        session = read_session(session_file_beside(settings.secrets_file), matrix.user_id)
        if session is None:
            return {"state": "no session yet"}
        identity = await identity_status(
            matrix.homeserver, session, cross_signing_file_beside(settings.secrets_file)
        )
    except (StorageError, MatrixLoginError, CrossSigningError) as error:
        return {"state": "unknown", "error": str(error)}
    master_key = None if identity.master_key is None else fingerprint(identity.master_key)
    return {"state": identity.state, "master_key": master_key}


async def _homeserver_answers(homeserver: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
            response = await http.get(f"{homeserver}/_matrix/client/versions")
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def _report(args: argparse.Namespace, settings: Settings) -> int:
    """Write the year's report files, 0600 in a 0700 folder, and name each one."""
    # matplotlib loads here, not with the module, as the channels' libraries do.
    from bot.report.publish import report_files
    from flows.deployment import Deployment

    store = await _open_store(settings, False)
    if store is None:
        return 2
    try:
        files = await report_files(
            store, args.year, locale=args.locale or settings.locale,
            deployment=Deployment.load(settings.deployment_file),
        )
    finally:
        await store.close()
    if not files:
        sys.stderr.write(f"The store holds no case of {args.year}: there is no report to "
                         "make.\n")
        return 1
    folder: Path = args.out or Path(f"report-{args.year}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for file in files:
        path = folder / file.name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(file.data)
        sys.stdout.write(f"{path}\n")
    return 0


def _aware_datetime(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    chat.add_argument("--locale", choices=LOCALES, help="language (default: BOT_LOCALE or fr)")
    chat.add_argument(
        "--memory", action="store_true", help="keep nothing: the conversation lives in memory"
    )
    chat.add_argument(
        "--demo-keys", action="store_true", help="create throwaway keys if none exist yet"
    )
    chat.add_argument(
        "--local-nlu", action="store_true",
        help="start the Rasa NLU service on loopback for this chat (make run)",
    )
    chat.add_argument(
        "--now",
        type=_aware_datetime,
        help="pretend the time is this ISO 8601 instant (reproducible transcripts and demos)",
    )
    chat.set_defaults(func=None)
    run = commands.add_parser("run", help="serve the configured channels (Matrix)")
    run.add_argument(
        "--demo", action="store_true",
        help="with no channel configured: a local homeserver, demo accounts and a terminal "
        "client (make run)",
    )
    run.add_argument(
        "--local-nlu", action="store_true", help="start the Rasa NLU service on loopback"
    )
    commands.add_parser(
        "health", help="probe the NLU service and the homeserver; print the health as JSON"
    )
    report = commands.add_parser(
        "report", help="the yearly statistical report: Markdown, HTML, CSV and PNG charts"
    )
    report.add_argument("--year", type=int, required=True, help="the year, e.g. 2025")
    report.add_argument("--out", type=Path, help="the folder to write (default: report-YEAR/)")
    report.add_argument("--locale", choices=LOCALES, help="language (default: BOT_LOCALE or fr)")
    add_commands(commands)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    # Logs go to stderr only: stdout belongs to the conversation.
    logging.basicConfig(stream=sys.stderr, level=settings.log_level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.root.level))
    if args.command == "health":
        return asyncio.run(_health(settings))
    if args.command == "report":
        return asyncio.run(_report(args, settings))
    if args.command in ("chat", "run"):
        try:
            return asyncio.run((_chat if args.command == "chat" else _serve)(args, settings))
        except KeyboardInterrupt:
            return 130
    code: int = args.func(args)
    return code

