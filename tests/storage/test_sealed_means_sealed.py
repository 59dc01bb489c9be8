"""Sealed means sealed: what a person writes exists in clear for the staff room only while a
staff room delivers it, nothing in clear describes the person, and a turn's effect is kept
whole or not at all."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.policy.store_keeper import StoreKeeper
from flows.messages import CaseUpdated
from storage import Store, envelope, tables
from storage.errors import DecryptionError
from tests.storage.helpers import FakeClock

WORDS = "Je n'en peux plus, Zorbanel Quintefeuille"
SLOT = "2025-03-11T10:00"


def _update(level: int, previous: int | None = None) -> CaseUpdated:
    return CaseUpdated(
        persona="colleague",
        level=level,
        previous_level=previous,
        categories=("exhaustion", "addiction"),
    )


async def _person(keeper: StoreKeeper, identity: str = "@quintefeuille:example.org") -> str:
    pseudonym = keeper.pseudonym("matrix", identity)
    await keeper.save_state(pseudonym, {"step": "message"})
    return pseudonym


async def _outbox_rows(store: Store) -> list[sa.Row[object]]:
    async with store._engine.connect() as conn:
        return list((await conn.execute(sa.select(tables.outbox))).all())


async def test_without_a_staff_room_the_words_exist_only_sealed(store: Store) -> None:
    keeper = StoreKeeper(store)
    person = await _person(keeper)
    for _ in range(2):  # a turn replayed after a crash
        await keeper.update_case(person, _update(3))
        await keeper.seal_for_commission(person, "message", WORDS, 1)
        assert await keeper.book_slot(person, SLOT, "phone")

    case = await store.load_conversation(person)
    assert case is not None
    assert len(await store.sealed_messages(case.case_id)) == 1
    assert await _outbox_rows(store) == []
    assert await store.pending_outbox() == []


async def test_a_delivered_copy_stays_unreadable_in_a_backup_taken_before_delivery(
    store: Store,
) -> None:
    keeper = StoreKeeper(store, staff_room=True)
    person = await _person(keeper)
    await keeper.seal_for_commission(person, "message", WORDS, 1)
    (item,) = await store.pending_outbox()
    assert item.payload == {"kind": "message", "text": WORDS}
    (backup,) = await _outbox_rows(store)

    await store.mark_delivered(item.id)

    # The attacker holds the backup, the live database and the server's secrets and keys.
    assert await store._item_key(item.case_id, item.id) is None
    case_key = await store._case_key(item.case_id)
    assert case_key is not None
    with pytest.raises(DecryptionError):
        envelope.decrypt(
            case_key, backup.payload, purpose="outbox", case_id=item.case_id, context=item.id
        )
    (after,) = await _outbox_rows(store)
    assert after.payload is None and after.delivered_at is not None
    # The row stays, so the same turn played again is still caught.
    await keeper.seal_for_commission(person, "message", WORDS, 1)
    assert await store.pending_outbox() == []


async def test_the_delivery_copy_is_padded_like_the_sealed_one(store: Store) -> None:
    keeper = StoreKeeper(store, staff_room=True)
    person = await _person(keeper)
    await keeper.seal_for_commission(person, "message", "Oui.", 1)
    await keeper.seal_for_commission(person, "message", "x" * 900, 2)
    short, long = await _outbox_rows(store)
    assert len(short.payload) == len(long.payload)


async def test_an_undelivered_copy_is_shredded_after_a_week(
    store: Store, clock: FakeClock
) -> None:
    keeper = StoreKeeper(store, staff_room=True)
    person = await _person(keeper)
    await keeper.seal_for_commission(person, "message", WORDS, 1)
    clock.advance(timedelta(days=6))
    await store.purge_expired()
    assert len(await store.pending_outbox()) == 1

    clock.advance(timedelta(days=2))
    await store.purge_expired()

    assert await store.pending_outbox() == []
    (row,) = await _outbox_rows(store)
    assert row.payload is None
    case = await store.load_conversation(person)
    assert case is not None and len(await store.sealed_messages(case.case_id)) == 1


async def test_no_clear_column_describes_the_person_or_the_slot(store: Store) -> None:
    keeper = StoreKeeper(store, staff_room=True)
    person = await _person(keeper)
    await keeper.update_case(person, _update(2))
    await keeper.update_case(person, _update(1, previous=2))
    assert await keeper.book_slot(person, SLOT, "council")

    async with store._engine.connect() as conn:
        cases = (await conn.execute(sa.select(tables.cases))).all()
        bookings = (await conn.execute(sa.select(tables.bookings))).all()
    dump = repr([*cases, *bookings])
    for clear in ("colleague", "exhaustion", "addiction", SLOT, "2025-03-11"):
        assert clear not in dump
    (case,) = cases
    info = await store.get_case(case.id)
    assert info is not None
    # The level never goes down; the commission's view still reads everything.
    assert (info.persona, info.level, info.categories) == (
        "colleague", 2, ("addiction", "exhaustion"),
    )
    assert await store.bookings(case.id) == [SLOT]
    assert await keeper.taken_slots([SLOT, "2025-03-11T10:30"]) == {SLOT}


async def test_the_statistics_outlive_erasure_and_lead_to_no_one(store: Store) -> None:
    keeper = StoreKeeper(store)
    person = await _person(keeper)
    await keeper.update_case(person, _update(1))
    await keeper.update_case(person, _update(3, previous=1))
    case = await store.load_conversation(person)
    assert case is not None

    await store.erase_case(case.case_id)

    async with store._engine.connect() as conn:
        (line,) = (await conn.execute(sa.select(tables.statistics))).all()
    assert (line.month, line.persona, line.level) == ("2025-03", "colleague", 3)
    assert sorted(line.categories) == ["addiction", "exhaustion"]
    assert case.case_id not in repr(line)
    assert "case_id" not in tables.statistics.c


async def test_a_crash_in_the_middle_of_an_update_keeps_nothing_of_it(store: Store) -> None:
    keeper = StoreKeeper(store, staff_room=True)
    person = await _person(keeper)
    event_row = store._event_row

    def dies(*args: object, **kwargs: object) -> object:
        raise RuntimeError("killed")

    store._event_row = dies  # type: ignore[assignment, method-assign]
    with pytest.raises(RuntimeError):
        await keeper.update_case(person, _update(3))
    store._event_row = event_row  # type: ignore[method-assign]

    case = await store.load_conversation(person)
    assert case is not None
    info = await store.get_case(case.case_id)
    assert info is not None and info.level is None
    assert await store.pending_outbox() == []
    async with store._engine.connect() as conn:
        assert (await conn.execute(sa.select(tables.statistics))).all() == []

    await keeper.update_case(person, _update(3))
    (alert,) = await store.pending_outbox()
    assert json.dumps(alert.payload).count('"level": 3') == 1
