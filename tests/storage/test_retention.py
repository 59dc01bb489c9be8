"""Retention and erasure: expired cases leave no row anywhere, and erased ones stay unreadable."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import STATUS_CLOSED, ServerSecrets, Store, UnknownCase, tables
from storage.keystore import CaseKeyStore
from tests.storage.helpers import CHEAP_RECEIPTS, FakeClock

DAY = timedelta(days=1)


@dataclass
class SeededCase:
    case_id: str
    pseudonym: str


async def _seed(store: Store, name: str) -> SeededCase:
    """A case with a row in every table that can hold one."""
    person = store.pseudonym("telegram", name)
    case_id = await store.save_conversation(
        person, {"name": name}, channel="telegram", address=name
    )
    await store.seal_for_commission(case_id, "free_text", name.encode())
    await store.append_reply(case_id, f"reply to {name}")
    await store.link_staff_event(f"${name}-card", case_id, "card")
    await store.add_note(case_id, f"note on {name}", dedup_key=f"${name}-note")
    await store.acknowledge(case_id, "@member:example.org")
    await store.book_slot(case_id, f"slot-{name}")
    await store.enqueue(case_id, "alert", {"level": 2}, dedup_key=f"{name}:alert")
    await store.issue_receipt(case_id)
    await store.redeem_receipt("0000-0000-0000-0000", person)
    await store.record_event("turn", pseudonym=person, case_id=case_id)
    await store.record_event("turn", pseudonym=person)
    # A check-in asked for, then stopped: one still to come would hold the case back.
    await store.schedule_check_in(person, "telegram", date(2025, 4, 1))
    await store.stop_check_ins(person)
    return SeededCase(case_id, person)


async def _rows_about(store: Store, seeded: SeededCase) -> dict[str, int]:
    counts = {}
    async with store._engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            conditions = []
            if "case_id" in table.c:
                conditions.append(table.c.case_id == seeded.case_id)
            if "pseudonym" in table.c:
                conditions.append(table.c.pseudonym == seeded.pseudonym)
            if table is tables.cases:
                conditions.append(table.c.id == seeded.case_id)
            if conditions:
                query = sa.select(sa.func.count()).select_from(table).where(sa.or_(*conditions))
                counts[table.name] = await conn.scalar(query) or 0
    return counts


async def test_purge_erases_expired_cases_from_every_table_and_spares_live_ones(
    store: Store, clock: FakeClock, case_keys_file: Path
) -> None:
    stale_active = await _seed(store, "stale-active")
    clock.advance(300 * DAY)
    closed_long_ago = await _seed(store, "closed-long-ago")
    await store.update_case(closed_long_ago.case_id, status=STATUS_CLOSED)
    live_active = await _seed(store, "live-active")
    clock.advance(40 * DAY)
    await store.save_conversation(live_active.pseudonym, {"name": "live-active", "turn": 2})
    closed_recently = await _seed(store, "closed-recently")
    await store.update_case(closed_recently.case_id, status=STATUS_CLOSED)
    clock.advance(30 * DAY)
    live_before = {c.case_id: await _rows_about(store, c) for c in (live_active, closed_recently)}

    assert await store.purge_expired() == 2

    for expired in (stale_active, closed_long_ago):
        assert set((await _rows_about(store, expired)).values()) == {0}
    keystore = CaseKeyStore(case_keys_file)
    try:
        assert keystore.get(stale_active.case_id) is None
        assert keystore.get(closed_long_ago.case_id) is None
    finally:
        keystore.close()
    for live in (live_active, closed_recently):
        # Throttling records only matter within their window; purge drops older ones.
        before = {k: v for k, v in live_before[live.case_id].items() if k != "receipt_failures"}
        after = await _rows_about(store, live)
        assert after.pop("receipt_failures") == 0
        assert after == before
        conversation = await store.load_conversation(live.pseudonym)
        assert conversation is not None and conversation.case_id == live.case_id
        assert len(await store.sealed_messages(live.case_id)) == 1


async def test_erasure_is_immediate_and_complete(store: Store) -> None:
    seeded = await _seed(store, "erase-me")
    await store.erase_case(seeded.case_id)

    assert set((await _rows_about(store, seeded)).values()) == {0}
    assert await store.load_conversation(seeded.pseudonym) is None
    with pytest.raises(UnknownCase):
        await store.sealed_messages(seeded.case_id)


async def test_rows_restored_after_erasure_cannot_be_decrypted(store: Store) -> None:
    seeded = await _seed(store, "restored")
    backup: dict[str, list[dict[str, object]]] = {}
    async with store._engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            rows = (await conn.execute(sa.select(table))).mappings().all()
            backup[table.name] = [dict(row) for row in rows]

    await store.erase_case(seeded.case_id)
    async with store._engine.begin() as conn:
        for table in tables.metadata.sorted_tables:
            await conn.execute(sa.delete(table))
        for table in tables.metadata.sorted_tables:
            if backup[table.name]:
                await conn.execute(sa.insert(table), backup[table.name])

    assert (await _rows_about(store, seeded))["sealed_messages"] == 1
    with pytest.raises(UnknownCase):
        await store.sealed_messages(seeded.case_id)
    with pytest.raises(UnknownCase):
        await store.replies(seeded.case_id)
    assert await store.load_conversation(seeded.pseudonym) is None


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_an_earlier_copy_of_the_sqlite_file_is_useless_after_erasure(
    database_url: str,
    data_dir: Path,
    server_secrets: ServerSecrets,
    case_keys_file: Path,
    clock: FakeClock,
) -> None:
    async def open_store() -> Store:
        return await Store.open(
            database_url,
            server_secrets,
            case_keys_file=case_keys_file,
            receipts=CHEAP_RECEIPTS,
            clock=clock,
        )

    database = data_dir / "entraide.sqlite3"
    store = await open_store()
    seeded = await _seed(store, "backed-up")
    await store.close()
    shutil.copy2(database, data_dir / "backup.sqlite3")

    store = await open_store()
    await store.erase_case(seeded.case_id)
    await store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copy2(data_dir / "backup.sqlite3", database)

    with sqlite3.connect(database) as restored:
        (count,) = restored.execute(
            "SELECT count(*) FROM sealed_messages WHERE case_id=?", (seeded.case_id,)
        ).fetchone()
    assert count == 1
    store = await open_store()
    try:
        with pytest.raises(UnknownCase):
            await store.sealed_messages(seeded.case_id)
        assert await store.load_conversation(seeded.pseudonym) is None
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_erasure_leaves_an_empty_wal(store: Store, data_dir: Path) -> None:
    seeded = await _seed(store, "wal")
    await store.erase_case(seeded.case_id)
    wal = data_dir / "entraide.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    async with store._engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1
