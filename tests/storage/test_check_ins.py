"""The check-ins table on SQLite and PostgreSQL: each status moves once, by compare-and-set;
it holds nothing of the person's; erasure takes it away, and retention waits for it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from storage import Store, tables
from storage.check_ins import ANSWERED, EXPIRED, SCHEDULED, SENT, STOPPED
from tests.storage.helpers import FakeClock

# The fake clock's day.
TODAY = date(2025, 3, 1)
DAY = timedelta(days=1)


async def conversation(store: Store, name: str = "dr-a") -> str:
    person = store.pseudonym("matrix", f"@{name}:example.org")
    await store.save_conversation(person, {"step": None}, channel="matrix", address=f"!{name}")
    return person


async def statuses(store: Store, person: str) -> list[str]:
    return [check_in.status for check_in in await store.check_ins(person)]


async def test_a_due_check_in_is_claimed_once_whatever_the_rounds(store: Store) -> None:
    person = await conversation(store)
    check_in = await store.schedule_check_in(person, "matrix", TODAY + 14 * DAY)
    assert await store.due_check_ins(TODAY + 13 * DAY) == []
    (due,) = await store.due_check_ins(TODAY + 14 * DAY)
    assert (due.id, due.pseudonym, due.channel) == (check_in, person, "matrix")
    assert due.status == SCHEDULED

    # Two rounds (or a round and the same one after a restart) race for it: one wins.
    assert await store.move_check_in(check_in, SCHEDULED, SENT)
    assert not await store.move_check_in(check_in, SCHEDULED, SENT)
    assert await store.due_check_ins(TODAY + 20 * DAY) == []
    # The person's answer moves it on once; a replayed turn finds it answered.
    assert await store.move_check_in(check_in, SENT, ANSWERED)
    assert not await store.move_check_in(check_in, SENT, ANSWERED)


async def test_a_check_in_no_channel_could_deliver_is_due_again(store: Store) -> None:
    person = await conversation(store)
    check_in = await store.schedule_check_in(person, "matrix", TODAY)
    assert await store.move_check_in(check_in, SCHEDULED, SENT)
    assert await store.move_check_in(check_in, SENT, SCHEDULED)
    assert [c.id for c in await store.due_check_ins(TODAY)] == [check_in]


@pytest.mark.parametrize(
    ("was", "becomes"), [(ANSWERED, SENT), (STOPPED, SCHEDULED), (EXPIRED, SENT)]
)
async def test_a_finished_check_in_never_comes_back(store: Store, was: str, becomes: str) -> None:
    person = await conversation(store)
    check_in = await store.schedule_check_in(person, "matrix", TODAY)
    with pytest.raises(ValueError):
        await store.move_check_in(check_in, was, becomes)


async def test_asking_again_replaces_the_check_in_to_come(store: Store) -> None:
    person = await conversation(store)
    await store.schedule_check_in(person, "matrix", TODAY + 14 * DAY)
    await store.schedule_check_in(person, "matrix", TODAY + 28 * DAY)
    assert await statuses(store, person) == [STOPPED, SCHEDULED]
    assert [c.due for c in await store.due_check_ins(TODAY + 60 * DAY)] == [TODAY + 28 * DAY]


async def test_stop_ends_what_is_to_come_and_leaves_what_was_answered(store: Store) -> None:
    person = await conversation(store)
    answered = await store.schedule_check_in(person, "matrix", TODAY)
    await store.move_check_in(answered, SCHEDULED, SENT)
    await store.move_check_in(answered, SENT, ANSWERED)
    await store.schedule_check_in(person, "matrix", TODAY + 14 * DAY)
    assert await store.stop_check_ins(person) == 1
    assert await statuses(store, person) == [ANSWERED, STOPPED]


async def test_a_check_in_left_unanswered_expires_and_is_never_sent_again(store: Store) -> None:
    person = await conversation(store)
    sent = await store.schedule_check_in(person, "matrix", TODAY)
    await store.move_check_in(sent, SCHEDULED, SENT)
    never_delivered = await store.schedule_check_in(
        await conversation(store, "dr-b"), "matrix", TODAY
    )
    later = await store.schedule_check_in(
        await conversation(store, "dr-c"), "matrix", TODAY + 9 * DAY
    )
    assert await store.expire_check_ins(TODAY + 8 * DAY) == 2
    assert [c.id for c in await store.due_check_ins(TODAY + 9 * DAY)] == [later]
    assert not await store.move_check_in(never_delivered, SCHEDULED, SENT)
    assert not await store.move_check_in(sent, SENT, ANSWERED)


async def test_a_raw_identity_never_reaches_the_table(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.schedule_check_in("@dr-a:example.org", "matrix", TODAY)
    person = await conversation(store)
    with pytest.raises(ValueError):
        await store.schedule_check_in(person, "!room:example.org", TODAY)
    await store.schedule_check_in(person, "matrix", TODAY)
    async with store._engine.connect() as conn:
        (row,) = (await conn.execute(sa.select(tables.check_ins))).mappings().all()
    assert set(row) == {"id", "pseudonym", "channel", "due", "status", "created_at"}
    assert "example.org" not in str(dict(row)) and "!dr-a" not in str(dict(row))


async def test_erasure_takes_the_conversations_check_ins_with_it(store: Store) -> None:
    person, other = await conversation(store), await conversation(store, "dr-b")
    await store.schedule_check_in(person, "matrix", TODAY + 14 * DAY)
    await store.schedule_check_in(other, "matrix", TODAY + 14 * DAY)
    case_id = await store.case_of(person)
    assert case_id is not None
    await store.erase_case(case_id)
    assert await store.check_ins(person) == []
    assert await statuses(store, other) == [SCHEDULED]


async def test_retention_waits_for_a_check_in_still_to_come(
    store: Store, clock: FakeClock
) -> None:
    """An 18-month check-in outlives the year a case may stay idle; once it is sent and
    expired, retention takes the case and its check-ins as usual."""
    person = await conversation(store)
    check_in = await store.schedule_check_in(person, "matrix", TODAY + 548 * DAY)
    clock.advance(400 * DAY)
    assert await store.purge_expired() == 0
    assert await store.case_of(person) is not None

    await store.expire_check_ins(TODAY + 600 * DAY)
    assert await statuses(store, person) == [EXPIRED]
    assert await store.purge_expired() == 1
    assert await store.case_of(person) is None
    assert await store.check_ins(person) == []
    assert not await store.move_check_in(check_in, SCHEDULED, SENT)
