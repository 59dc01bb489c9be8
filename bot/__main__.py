"""Command line: ``python -m bot chat`` (add ``--jsonl`` for the machine interface)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

from bot import terminal
from bot.config import Settings
from bot.memory import MemoryKeeper
from bot.service import Conversations
from flows.resources import Resources
from flows.texts import LOCALES
from flows.understanding import Understanding


def _understanding(settings: Settings) -> Understanding | None:
    if not settings.nlu_url:
        return None
    from nlu.client import RasaUnderstanding

    return RasaUnderstanding(settings.nlu_url, settings.nlu_token)


def _chat(args: argparse.Namespace, settings: Settings) -> None:
    conversations = Conversations(
        resources=Resources.load(settings.deployment_file),
        channel="terminal",
        keeper=MemoryKeeper(),
        understanding=_understanding(settings),
        locale=args.locale or settings.locale,
    )
    if args.now is not None:
        fixed = args.now
        conversations.clock = lambda: fixed
    terminal.main(conversations, jsonl=args.jsonl)


def _aware_datetime(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    chat.add_argument("--locale", choices=LOCALES, help="language (default: BOT_LOCALE or fr)")
    chat.add_argument(
        "--now",
        type=_aware_datetime,
        help="pretend the time is this ISO 8601 instant (reproducible transcripts and demos)",
    )
    chat.set_defaults(run=_chat)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    # Logs go to stderr only: stdout belongs to the conversation.
    logging.basicConfig(stream=sys.stderr, level=settings.log_level)
    args.run(args, settings)


if __name__ == "__main__":
    main()
