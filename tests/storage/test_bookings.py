"""A slot is booked once, whatever the race; a replayed booking is not a second booking."""

from __future__ import annotations

import asyncio

from storage import Store


async def _cases(store: Store, count: int) -> list[str]:
    return [
        await store.save_conversation(store.pseudonym("telegram", str(n)), {}) for n in range(count)
    ]


async def test_fifty_tasks_booking_one_slot_at_once_give_exactly_one_winner(store: Store) -> None:
    cases = await _cases(store, 50)

    results = await asyncio.gather(*(store.book_slot(case, "2025-03-04T10:00") for case in cases))

    assert sum(results) == 1
    winner = cases[results.index(True)]
    assert await store.bookings(winner) == ["2025-03-04T10:00"]
    assert await store.taken_slots(["2025-03-04T10:00", "2025-03-04T10:30"]) == {
        "2025-03-04T10:00"
    }


async def test_booking_again_the_slot_one_already_holds_is_not_refused(store: Store) -> None:
    (case,) = await _cases(store, 1)
    assert await store.book_slot(case, "slot-1")
    assert await store.book_slot(case, "slot-1")
    assert await store.bookings(case) == ["slot-1"]


async def test_a_cancelled_slot_can_be_booked_by_someone_else(store: Store) -> None:
    first, second = await _cases(store, 2)
    assert await store.book_slot(first, "slot-1")
    assert not await store.book_slot(second, "slot-1")

    await store.cancel_booking(first)

    assert await store.book_slot(second, "slot-1")
    assert await store.bookings(first) == []
