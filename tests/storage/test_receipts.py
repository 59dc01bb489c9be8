"""Receipts: easy to read aloud, stored only as a hash, and not worth brute-forcing."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage import ReceiptThrottled, Store, receipts, tables
from storage.policy import Argon2Cost
from tests.storage.helpers import CHEAP_RECEIPTS, FakeClock

GROUPED = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}\Z")


def _wrong_code(real: str) -> str:
    while True:
        guess = receipts.new_code()
        if guess != real:
            return guess


def test_codes_carry_eighty_bits_in_four_groups_of_four() -> None:
    code = receipts.new_code()
    assert GROUPED.match(code)
    assert len(receipts.ALPHABET) ** receipts.CODE_CHARS >= 2**80


def test_reading_mistakes_are_forgiven() -> None:
    code = "7K2M-9X4P-8Q1R-3S05"
    for spoken in ("7k2m 9x4p 8q1r 3s05", "7K2M9X4P8Q1R3SO5", " 7k2m-9x4p 8qlr-3s05 "):
        assert receipts.normalize(spoken) == receipts.normalize(code)
    assert receipts.normalize("7K2M-9X4P-8Q1R") is None
    assert receipts.normalize("7K2M-9X4P-8Q1R-3S0U") is None


def test_the_default_hash_cost_is_the_real_one() -> None:
    assert Store.open.__kwdefaults__ is not None
    assert Store.open.__kwdefaults__["receipts"].hash_cost == Argon2Cost()
    assert Argon2Cost().memory_cost_kib >= 64 * 1024


async def test_a_receipt_brings_a_person_back_on_another_channel(store: Store) -> None:
    telegram = store.pseudonym("telegram", "11")
    case_id = await store.save_conversation(telegram, {"step": "written"})
    code = await store.issue_receipt(case_id)
    await store.append_reply(case_id, "Nous vous proposons un rendez-vous.")

    matrix = store.pseudonym("matrix", "@someone:example.org")
    assert await store.redeem_receipt(code.lower().replace("-", " "), matrix) == case_id

    conversation = await store.load_conversation(matrix)
    assert conversation is not None and conversation.case_id == case_id
    assert [reply.text for reply in await store.replies(case_id)] == [
        "Nous vous proposons un rendez-vous."
    ]


async def test_an_ongoing_conversation_moves_to_the_redeemed_case(store: Store) -> None:
    old_case = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    code = await store.issue_receipt(old_case)
    newcomer = store.pseudonym("matrix", "@m:x")
    shell = await store.save_conversation(newcomer, {"step": "receipt"}, address="room:1")

    assert await store.redeem_receipt(code, newcomer) == old_case

    conversation = await store.load_conversation(newcomer)
    assert conversation is not None
    assert (conversation.case_id, conversation.state) == (old_case, {"step": "receipt"})
    assert conversation.address == "room:1"
    assert await store.get_case(shell) is None


async def test_only_a_hash_of_the_code_is_stored(store: Store) -> None:
    case_id = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    code = await store.issue_receipt(case_id)
    async with store._engine.connect() as conn:
        rows = (await conn.execute(sa.select(tables.receipts))).all()
    assert len(rows) == 1
    canonical = receipts.normalize(code)
    assert canonical is not None
    assert canonical not in repr(rows) and code not in repr(rows)
    assert rows[0].hash_label == CHEAP_RECEIPTS.hash_cost.label()


async def test_ten_thousand_wrong_codes_find_nothing_and_throttling_starts_within_five(
    store: Store, clock: FakeClock
) -> None:
    case_id = await store.save_conversation(store.pseudonym("telegram", "victim"), {})
    code = await store.issue_receipt(case_id)
    attacker = store.pseudonym("telegram", "attacker")

    outcomes: list[str | None] = []
    for _ in range(10_000):
        try:
            outcomes.append(await store.redeem_receipt(_wrong_code(code), attacker))
        except ReceiptThrottled as throttled:
            assert timedelta(0) < throttled.retry_after <= CHEAP_RECEIPTS.window
            outcomes.append("throttled")

    first_refusal = outcomes.index("throttled")
    assert first_refusal < 5
    assert set(outcomes[:first_refusal]) == {None}
    assert set(outcomes[first_refusal:]) == {"throttled"}
    with pytest.raises(ReceiptThrottled):
        await store.redeem_receipt(code, attacker)
    clock.advance(CHEAP_RECEIPTS.window)
    assert await store.redeem_receipt(code, attacker) == case_id


async def test_guesses_spread_over_many_accounts_are_throttled_globally(store: Store) -> None:
    limit = CHEAP_RECEIPTS.failures_global
    guessed = 0
    with pytest.raises(ReceiptThrottled):
        for n in range(limit + 1):
            await store.redeem_receipt(
                receipts.new_code(), store.pseudonym("telegram", f"sock-{n}")
            )
            guessed += 1
    assert guessed == limit


async def test_garbage_counts_as_a_wrong_code(store: Store) -> None:
    person = store.pseudonym("telegram", "1")
    assert await store.redeem_receipt(secrets.token_hex(3), person) is None
    async with store._engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(tables.receipt_failures))
    assert count == 1
