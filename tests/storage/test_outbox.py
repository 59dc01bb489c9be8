"""The outbox delivers each alert once, even when a turn is replayed."""

from __future__ import annotations

from storage import Store


async def test_the_same_dedup_key_enqueues_once(store: Store) -> None:
    case = await store.save_conversation(store.pseudonym("telegram", "7"), {})
    alert = {"level": 3, "case": case}

    assert await store.enqueue(case, "alert", alert, dedup_key=f"{case}:turn-4:alert")
    assert not await store.enqueue(case, "alert", alert, dedup_key=f"{case}:turn-4:alert")

    pending = await store.pending_outbox()
    assert [(item.case_id, item.kind, item.payload) for item in pending] == [(case, "alert", alert)]


async def test_a_delivered_item_leaves_the_queue_and_its_payload_is_dropped(store: Store) -> None:
    case = await store.save_conversation(store.pseudonym("telegram", "7"), {})
    await store.enqueue(case, "alert", {"level": 1}, dedup_key="k1")
    await store.enqueue(case, "booking", {"slot": "s"}, dedup_key="k2")
    first, second = await store.pending_outbox()

    await store.mark_delivered(first.id)

    assert [item.id for item in await store.pending_outbox()] == [second.id]
    assert not await store.enqueue(case, "alert", {"level": 1}, dedup_key="k1")
