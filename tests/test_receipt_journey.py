"""The receipt code: given once a case holds something for the commission, and with it a
person comes back on any channel, reads the commission's replies and keeps writing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from bot.policy.conversations import Conversations
from bot.policy.store_keeper import StoreKeeper
from flows.engine import ReceiptChecked, ReceiptIssued, handle
from flows.messages import ReceiptPresented, ReceiptRequested
from storage import (
    CommissionPrivateKey,
    ReceiptPolicy,
    ServerSecrets,
    Store,
    receipts,
    utcnow,
)
from storage.policy import Argon2Cost
from tests.conftest import NOW, RESOURCES, Chat, context

CODE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")
CHEAP = ReceiptPolicy(hash_cost=Argon2Cost(time_cost=1, memory_cost_kib=8, parallelism=1))


async def open_store(folder: Path, clock: Callable[[], datetime] = utcnow) -> Store:
    return await Store.open(
        f"sqlite+aiosqlite:///{folder / 'entraide.sqlite3'}",
        ServerSecrets.generate(CommissionPrivateKey.generate().public()),
        case_keys_file=folder / "case-keys.sqlite3",
        receipts=CHEAP,
        clock=clock,
    )


def test_the_first_message_for_the_commission_asks_for_a_receipt_once() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(["relative", "1", "weeks", "skip", "yes"])
    reply = chat.say("Mon mari ne dort plus.")
    assert ReceiptRequested() in reply.effects
    chat.say("passer")
    chat.say("écrire")
    again = chat.say("Et il boit.")
    assert ReceiptRequested() not in again.effects


def test_the_code_is_said_once_and_never_kept() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(["relative", "1", "weeks", "skip", "yes", "Mon mari ne dort plus."])
    step = chat.step
    reply = handle(chat.state, ReceiptIssued("7K2M-9X4P-8Q1R-3S05"), context())
    assert "7K2M-9X4P-8Q1R-3S05" in reply.messages[0].text
    assert reply.messages[-1].question == step
    assert "7K2M" not in str(reply.state.to_dict())


def test_a_typed_code_is_checked_and_the_replies_are_read() -> None:
    chat = Chat()
    chat.say("self")
    reply = chat.say("7k2m 9x4p 8q1r 3s05")
    assert ReceiptPresented("7k2m 9x4p 8q1r 3s05") in reply.effects
    checked = handle(chat.state, ReceiptChecked(True, replies=("Nous vous appelons.",)), context())
    texts = [m.text for m in checked.messages]
    assert any("Nous vous appelons." in t for t in texts)
    assert checked.messages[-1].question == "needs"


async def test_coming_back_on_another_channel_with_the_code(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        def channel(name: str) -> Conversations:
            return Conversations(
                resources=RESOURCES, channel=name, keeper=StoreKeeper(store, staff_room=True),
                commission_connected=True, clock=lambda: NOW,
            )

        matrix, telegram = channel("matrix"), channel("telegram")
        await matrix.welcome("@someone:example.org")
        for text in ["relative", "1", "weeks", "skip", "yes"]:
            await matrix.receive("@someone:example.org", text)
        said = await matrix.receive("@someone:example.org", "Mon mari ne dort plus.")
        codes = {code for m in said for code in CODE.findall(m.text)}
        assert len(codes) == 1
        code = codes.pop()
        first = await store.load_conversation(store.pseudonym("matrix", "@someone:example.org"))
        assert first is not None
        case_id = first.case_id
        await store.append_reply(case_id, "Un conseiller vous appelle demain.")

        await telegram.welcome("123456")
        for wrong in ["AAAA-BBBB-CCCC-0000"] * 3:
            said = await telegram.receive("123456", wrong)
            assert any("aucun dossier" in m.text for m in said)
        said = await telegram.receive("123456", code.lower().replace("-", " "))
        assert any("Un conseiller vous appelle demain." in m.text for m in said)
        await telegram.receive("123456", "écrire")
        await telegram.receive("123456", "Merci, je serai là.")
        assert len(await store.sealed_messages(case_id)) == 2

        for _ in range(5):
            said = await telegram.receive("123456", receipts.new_code())
        assert any("Trop d'essais" in m.text for m in said)
    finally:
        await store.close()


async def test_a_turn_replayed_after_a_crash_seals_and_books_once(tmp_path: Path) -> None:
    """The same message for the commission (same sequence) and the same booking, carried
    out twice as after a crash between saving and answering, leave one record each; a
    cancelled slot is free again."""
    store = await open_store(tmp_path)
    try:
        keeper = StoreKeeper(store, staff_room=True)
        pseudonym = keeper.pseudonym("matrix", "@someone:example.org")
        await keeper.save_state(pseudonym, {"step": "message"})
        for _ in range(2):
            await keeper.seal_for_commission(pseudonym, "message", "Mes mots.", 1)
            assert await keeper.book_slot(pseudonym, "2026-11-24T10:00", "phone")
        conversation = await store.load_conversation(pseudonym)
        assert conversation is not None
        assert len(await store.sealed_messages(conversation.case_id)) == 1
        kinds = [item.kind for item in await store.pending_outbox()]
        assert kinds.count("sealed") == 1 and kinds.count("booking") == 1
        booking = next(i for i in await store.pending_outbox() if i.kind == "booking")
        assert booking.payload == {"slot": "2026-11-24T10:00", "modality": "phone"}
        await keeper.cancel_booking(pseudonym, "2026-11-24T10:00")
        assert await keeper.taken_slots(["2026-11-24T10:00"]) == frozenset()
        cancelled = [i.payload for i in await store.pending_outbox() if i.kind == "booking"]
        assert {"slot": "2026-11-24T10:00", "cancelled": True} in cancelled
    finally:
        await store.close()


async def test_a_crash_between_the_delivery_copy_and_the_seal_loses_nothing(
    tmp_path: Path,
) -> None:
    """Killed halfway through keeping a message for the commission, then the turn played
    again: the sealed record and its delivery copy are both there, once."""
    store = await open_store(tmp_path)
    try:
        keeper = StoreKeeper(store, staff_room=True)
        pseudonym = keeper.pseudonym("matrix", "@someone:example.org")
        await keeper.save_state(pseudonym, {"step": "message"})
        touch = store._touch
        calls = 0

        async def dies_once(conn: object, case_id: str) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("killed")
            await touch(conn, case_id)  # type: ignore[arg-type]

        store._touch = dies_once  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await keeper.seal_for_commission(pseudonym, "message", "Mes mots.", 1)
        await keeper.seal_for_commission(pseudonym, "message", "Mes mots.", 1)
        conversation = await store.load_conversation(pseudonym)
        assert conversation is not None
        assert len(await store.sealed_messages(conversation.case_id)) == 1
        assert [i.kind for i in await store.pending_outbox()].count("sealed") == 1
    finally:
        await store.close()


async def test_a_flood_from_others_asks_a_person_to_wait_a_minute_not_an_hour(
    tmp_path: Path,
) -> None:
    """Many accounts sending wrong codes only brake everyone for a moment: the next person
    hears to send the code again in a minute, never that they tried too often."""
    # The store's clock stands still: the brake refills with time, and a slow machine must
    # not refill it between the flood and the person.
    store = await open_store(tmp_path, clock=lambda: NOW)
    try:
        chat = Conversations(
            resources=RESOURCES, channel="telegram", keeper=StoreKeeper(store),
            clock=lambda: NOW,
        )
        for number in range(CHEAP.hash_burst + 5):
            await chat.receive(f"flood-{number}", receipts.new_code())
        said = await chat.receive("a-person", receipts.new_code())
        text = " ".join(m.text for m in said)
        assert "dans une minute" in text
        assert "une heure" not in text
    finally:
        await store.close()
