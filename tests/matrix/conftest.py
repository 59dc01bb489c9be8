"""Matrix fixtures: one real Synapse on loopback for the whole session."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from bot.channels.matrix.app import MatrixBot
from bot.channels.matrix.client import session_file_beside
from bot.dev.homeserver import Homeserver, missing
from bot.dev.matrix_person import ENCRYPTION_STATE, MatrixPerson, Received
from bot.settings import MatrixSettings
from bot.staff.console import PersonLine
from flows.resources import Resources
from storage import CommissionPrivateKey, ServerSecrets, Store
from tests.conftest import RESOURCES
from tests.storage.helpers import CHEAP_RECEIPTS


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    problem = missing()
    if problem:
        pytest.fail(problem, pytrace=False)
    with Homeserver(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@dataclass
class Deployment:
    """One bot with its own account, store and data directory, a commission member in its
    staff room, and people who open encrypted direct chats with it."""

    homeserver: Homeserver
    store: Store
    root: Path
    settings: MatrixSettings
    pickle_key: bytes
    staff: MatrixPerson
    resources: Resources = RESOURCES
    # Channels served beside Matrix by the same process (Telegram), reached by the console.
    other_channels: dict[str, PersonLine] = field(default_factory=dict)
    bot: MatrixBot | None = None
    people: list[MatrixPerson] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "var"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def session_file(self) -> Path:
        return session_file_beside(self.secrets_dir / "server.json")

    async def start_bot(self) -> MatrixBot:
        self.bot = await MatrixBot.start(
            self.settings, self.store, self.resources, data_dir=self.data_dir,
            session_file=self.session_file, pickle_key=self.pickle_key, daily_jobs=False,
            other_channels=self.other_channels,
        )
        await self.bot.wait_synced()
        return self.bot

    @property
    def running_bot(self) -> MatrixBot:
        assert self.bot is not None, "the bot is not running"
        return self.bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None

    async def person(self, *, encrypted: bool = True) -> tuple[MatrixPerson, str]:
        person = await new_person(self.homeserver, self.root)
        self.people.append(person)
        room_id = await person.open_direct_chat(self.settings.user_id, encrypted=encrypted)
        return person, room_id

    async def close(self) -> None:
        await self.stop_bot()
        for person in [*self.people, self.staff]:
            await person.close()
        await self.store.close()


def is_case_card(body: str) -> bool:
    """The first post of a case in the staff room, its card (an edit of it starts with "* ",
    and events of the case come in its thread, after the card)."""
    first_line = body.split("\n", 1)[0]
    return first_line.startswith(("Dossier ", "⚠ URGENCE"))


def files_containing(directory: Path, marker: str) -> list[Path]:
    needle = marker.encode()
    return [
        path for path in directory.rglob("*") if path.is_file() and needle in path.read_bytes()
    ]


async def drain(person: MatrixPerson, quiet: float = 1.0) -> list[Received]:
    """Whatever arrives until ``quiet`` seconds pass without a message."""
    received = []
    while True:
        try:
            received.append(await person.next_message(timeout=quiet))
        except TimeoutError:
            return received


async def next_where(
    person: MatrixPerson, wanted: Callable[[Received], bool], timeout: float = 20
) -> Received:
    """The first message that arrives and is ``wanted``; the others are passed over."""
    async with asyncio.timeout(timeout):
        while True:
            message = await person.next_message(timeout)
            if wanted(message):
                return message


async def say(person: MatrixPerson, room_id: str, text: str) -> list[str]:
    """What the bot answers to ``text``, once it has said everything."""
    await person.send(room_id, text)
    return [message.body for message in await person.messages_until_quiet()]


async def new_person(homeserver: Homeserver, root: Path, prefix: str = "person") -> MatrixPerson:
    localpart = f"{prefix}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    user_id = await asyncio.to_thread(homeserver.register, localpart, password)
    return await MatrixPerson.login(
        homeserver.url, user_id, password, root / localpart, secrets.token_bytes(32)
    )


@contextlib.asynccontextmanager
async def deployed(
    homeserver: Homeserver, root: Path, *, also_staff: frozenset[str] = frozenset(),
    resources: Resources = RESOURCES,
) -> AsyncIterator[Deployment]:
    """A started bot whose staff room holds one commission member, who reads every alert;
    ``also_staff`` are more members of the commission, invited into the room beside it."""
    staff = await new_person(homeserver, root, "commission")
    bot_password = secrets.token_urlsafe(12)
    bot_user = await asyncio.to_thread(
        homeserver.register, f"bot-{secrets.token_hex(4)}", bot_password
    )
    room = await staff.client.room_create(
        name="Commission", invite=[bot_user, *also_staff], initial_state=[ENCRYPTION_STATE]
    )
    settings = MatrixSettings(
        homeserver=homeserver.url,
        user_id=bot_user,
        password=bot_password,
        staff_room=room.room_id,
        staff_users=frozenset({staff.user_id, *also_staff}),
        on_call=(staff.user_id,),
    )
    commission = CommissionPrivateKey.generate()
    secrets_dir = root / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (root / "var").mkdir(mode=0o700)
    store = await Store.open(
        f"sqlite+aiosqlite:///{root / 'var' / 'entraide.sqlite3'}",
        ServerSecrets.generate(commission.public()),
        case_keys_file=secrets_dir / "case-keys.sqlite3",
        receipts=CHEAP_RECEIPTS,
    )
    setup = Deployment(
        homeserver, store, root, settings, secrets.token_bytes(32), staff, resources
    )
    try:
        await setup.start_bot()
        await staff.wait_joined(room.room_id, bot_user)
        yield setup
    finally:
        await setup.close()


@pytest_asyncio.fixture(loop_scope="session")
async def deployment(homeserver: Homeserver, tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployed(homeserver, tmp_path) as setup:
        yield setup
