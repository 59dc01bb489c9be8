"""Erasure reaches every copy: after a person is erased, an attacker holding a backup taken
before, the database files after, the key store and the server's secrets reads nothing the
person wrote, chose or was told."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.policy.store_keeper import StoreKeeper
from flows.messages import CaseUpdated
from storage import ServerSecrets, Store, UnknownCase, tables
from tests.storage.helpers import CHEAP_RECEIPTS
from tests.storage.postgres_server import PostgresServer

# What a restored backup brings back; the audit trail and the throttle hold no content,
# and the statistics line is never erased (it names no case).
RESTORED = ("cases", "conversations", "sealed_messages", "replies", "bookings", "outbox")


def _markers() -> dict[str, str]:
    tag = secrets.token_hex(5)
    return {
        "state": f"Octavien Brumelune {tag}",
        "sealed": f"je ne dors plus depuis des semaines {tag}",
        "delivered": f"mon associé boit {tag}",
        "reply": f"un confrère vous rappelle {tag}",
        "slot": f"2031-01-07T10:{int(tag[:2], 16) % 60:02d}-{tag[2:6]}",
    }


async def _backup(store: Store) -> dict[str, list[dict[str, Any]]]:
    async with store._engine.connect() as conn:
        return {
            name: [dict(row._mapping) for row in (await conn.execute(sa.select(table))).all()]
            for name, table in tables.metadata.tables.items()
        }


async def _restore(store: Store, backup: dict[str, list[dict[str, Any]]]) -> None:
    async with store._engine.begin() as conn:
        for name in RESTORED:
            if backup[name]:
                await conn.execute(sa.insert(tables.metadata.tables[name]), backup[name])


def _hits(data: bytes, markers: dict[str, str]) -> list[str]:
    lowered = data.lower()
    return [name for name, marker in markers.items() if marker.lower().encode() in lowered]


async def test_a_backup_and_every_file_after_erasure_give_back_nothing(
    store: Store,
    backend: str,
    database_url: str,
    server_secrets: ServerSecrets,
    case_keys_file: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    m = _markers()
    keeper = StoreKeeper(store, staff_room=True)
    person = keeper.pseudonym("matrix", "@brumelune:example.org")
    await store.save_conversation(person, {"answers": {"name": m["state"]}})
    await keeper.update_case(
        person, CaseUpdated(persona="self", level=3, previous_level=None, categories=("alcohol",))
    )
    await keeper.seal_for_commission(person, "message", m["delivered"], 1)
    for item in await store.pending_outbox():
        await store.mark_delivered(item.id)
    await keeper.seal_for_commission(person, "message", m["sealed"], 2)
    assert await keeper.book_slot(person, m["slot"], "phone")
    conversation = await store.load_conversation(person)
    assert conversation is not None
    case_id = conversation.case_id
    await store.append_reply(case_id, m["reply"])
    backup = await _backup(store)

    await keeper.erase(person)

    # The live rows, every column of every table.
    live = await _backup(store)
    assert _hits(repr(live).encode(), {**m, "case": case_id}) == []
    # The files as raw bytes: the database, its WAL, the key store and its WAL.
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    if backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        async with store._engine.connect() as conn:
            await conn.execute(sa.text("CHECKPOINT"))
        # The relation files hold the dead tuples too, until vacuum.
        files += [path for path in server.data_dir.rglob("*") if path.is_file()]
    assert case_keys_file in files
    assert {str(path): hits for path in files if (hits := _hits(path.read_bytes(), m))} == {}
    # No key is left for the case or for any of its delivery copies.
    with sqlite3.connect(case_keys_file) as keys:
        for table in ("case_keys", "item_keys"):
            count = f"SELECT count(*) FROM {table} WHERE case_id = ?"
            assert keys.execute(count, (case_id,)).fetchone() == (0,), table

    # The backup restored into the database, read with the server's secrets and key store.
    await _restore(store, backup)
    attacker = await Store.open(
        database_url, server_secrets, case_keys_file=case_keys_file, receipts=CHEAP_RECEIPTS
    )
    try:
        assert await attacker.pending_outbox() == []
        assert await attacker.get_case(case_id) is None
        for read in (attacker.sealed_messages, attacker.replies, attacker.bookings):
            with pytest.raises(UnknownCase):
                await read(case_id)
        assert await attacker.load_conversation(person) is None
        slot_hash = attacker._slot_hash(m["slot"])
        async with attacker._engine.connect() as conn:
            holder = await conn.scalar(
                sa.select(tables.bookings.c.case_id).where(tables.bookings.c.slot_hash == slot_hash)
            )
        # Reading the restored rows erased them again.
        assert holder is None
    finally:
        await attacker.close()
