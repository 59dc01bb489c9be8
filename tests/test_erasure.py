"""A person who asks for erasure leaves nothing behind, not even an empty new case, until
they write again; the channel is told whom to forget once the erasure is carried out."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.policy.conversations import Conversations
from bot.policy.store_keeper import StoreKeeper
from flows.resources import Resources
from storage import CommissionPrivateKey, ServerSecrets, Store
from tests.conftest import NOW
from tests.storage.helpers import CHEAP_RECEIPTS

PERSON = "@erasure.canary:example.org"


def rows(database: Path, table: str) -> int:
    with sqlite3.connect(database) as db:
        count: int = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return count


async def test_after_an_erasure_no_case_is_recreated_until_the_person_writes_again(
    tmp_path: Path,
) -> None:
    database = tmp_path / "entraide.sqlite3"
    store = await Store.open(
        f"sqlite+aiosqlite:///{database}",
        ServerSecrets.generate(CommissionPrivateKey.generate().public()),
        case_keys_file=tmp_path / "case-keys.sqlite3",
        receipts=CHEAP_RECEIPTS,
    )
    erased: list[str] = []

    async def forget(identity: str) -> None:
        erased.append(identity)

    conversations = Conversations(
        resources=Resources.load(), channel="matrix", keeper=StoreKeeper(store),
        commission_connected=True, clock=lambda: NOW, on_erased=forget,
    )
    try:
        welcome = await conversations.welcome(PERSON)
        for text in ["self", "psychological", "effacer"]:
            await conversations.receive(PERSON, text)
        assert rows(database, "cases") == 1
        assert erased == []

        confirmation = await conversations.receive(PERSON, "oui")
        assert any("Tout est effacé" in message.text for message in confirmation)
        assert erased == [PERSON]
        assert rows(database, "cases") == 0
        assert rows(database, "conversations") == 0

        again = await conversations.receive(PERSON, "bonjour")
        assert again[0].text == welcome[0].text
        assert rows(database, "conversations") == 1
    finally:
        await store.close()
