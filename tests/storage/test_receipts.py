"""Receipts: easy to read aloud, stored only as a hash, and not worth brute-forcing."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flows import crockford, receipt_code
from storage import ReceiptThrottled, Store, receipts, tables
from storage.policy import Argon2Cost
from tests.storage.helpers import CHEAP_RECEIPTS, FakeClock

# The longest a person with the right code and no failures of their own may be kept
# waiting by other people's wrong codes: the brake's refill time for one verification.
BRAKE_WAIT = timedelta(minutes=1) / CHEAP_RECEIPTS.hashes_per_minute

GROUPED = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}\Z")


def _wrong_code(real: str) -> str:
    while True:
        guess = receipts.new_code()
        if guess != real:
            return guess


async def _case_with_receipt(store: Store) -> tuple[str, str]:
    case_id = await store.save_conversation(store.pseudonym("telegram", "victim"), {})
    return case_id, await store.issue_receipt(case_id)


def test_codes_carry_eighty_bits_in_four_groups_of_four() -> None:
    code = receipts.new_code()
    assert GROUPED.match(code)
    assert len(crockford.ALPHABET) ** receipt_code.CODE_CHARS >= 2**80


def test_the_engine_spots_exactly_the_codes_the_store_makes() -> None:
    code = receipts.new_code()
    assert receipt_code.looks_like_code(code)
    assert receipt_code.looks_like_code(code.lower().replace("-", " "))
    assert not receipt_code.looks_like_code("sans domicile fixe")
    assert receipt_code.normalize(code) is not None


def test_reading_mistakes_are_forgiven() -> None:
    code = "7K2M-9X4P-8Q1R-3S05"
    for spoken in ("7k2m 9x4p 8q1r 3s05", "7K2M9X4P8Q1R3SO5", " 7k2m-9x4p 8qlr-3s05 "):
        assert receipt_code.normalize(spoken) == receipt_code.normalize(code)
    assert receipt_code.normalize("7K2M-9X4P-8Q1R") is None
    assert receipt_code.normalize("7K2M-9X4P-8Q1R-3S0U") is None


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
    shell = await store.save_conversation(newcomer, {"step": "receipt"})

    assert await store.redeem_receipt(code, newcomer) == old_case

    conversation = await store.load_conversation(newcomer)
    assert conversation is not None
    assert (conversation.case_id, conversation.state) == (old_case, {"step": "receipt"})
    assert await store.get_case(shell) is None


async def test_only_a_hash_of_the_code_is_stored(store: Store) -> None:
    case_id = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    code = await store.issue_receipt(case_id)
    async with store._engine.connect() as conn:
        rows = (await conn.execute(sa.select(tables.receipts))).all()
    assert len(rows) == 1
    canonical = receipt_code.normalize(code)
    assert canonical is not None
    assert canonical not in repr(rows) and code not in repr(rows)
    assert rows[0].hash_label == CHEAP_RECEIPTS.hash_cost.label()


async def test_ten_thousand_wrong_codes_find_nothing_and_throttling_starts_within_five(
    store: Store, clock: FakeClock
) -> None:
    case_id, code = await _case_with_receipt(store)
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


async def _redeem_waiting_for_the_brake(
    store: Store, clock: FakeClock, code: str, pseudonym: str
) -> tuple[str | None, timedelta]:
    """Redeem as a person does: told to wait, wait that long, try again."""
    waited = timedelta(0)
    for _ in range(10):
        try:
            return await store.redeem_receipt(code, pseudonym), waited
        except ReceiptThrottled as throttled:
            waited += throttled.retry_after
            clock.advance(throttled.retry_after)
    raise AssertionError("still refused after ten waits")


async def test_wrong_codes_from_a_hundred_accounts_do_not_lock_a_person_out(
    store: Store, clock: FakeClock
) -> None:
    case_id, code = await _case_with_receipt(store)
    for n in range(100):
        sock = store.pseudonym("matrix", f"@sock-{n}:example.org")
        try:
            assert await store.redeem_receipt(_wrong_code(code), sock) is None
        except ReceiptThrottled as throttled:
            assert throttled.retry_after <= BRAKE_WAIT

    person = store.pseudonym("matrix", "@back:example.org")
    found, waited = await _redeem_waiting_for_the_brake(store, clock, code, person)
    assert found == case_id
    assert waited <= BRAKE_WAIT


async def test_a_flood_of_guesses_runs_at_most_the_brakes_rate(
    store: Store, clock: FakeClock
) -> None:
    answered = 0
    for n in range(100):
        try:
            await store.redeem_receipt(receipts.new_code(), store.pseudonym("telegram", f"{n}"))
            answered += 1
        except ReceiptThrottled:
            pass
    assert answered == CHEAP_RECEIPTS.hash_burst


async def test_five_wrong_codes_still_lock_that_pseudonym_out(
    store: Store, clock: FakeClock
) -> None:
    case_id, code = await _case_with_receipt(store)
    guesser = store.pseudonym("matrix", "@guesser:example.org")
    for _ in range(CHEAP_RECEIPTS.failures_per_pseudonym):
        assert await store.redeem_receipt(_wrong_code(code), guesser) is None

    clock.advance(timedelta(minutes=5))
    for attempt in (_wrong_code(code), code):
        with pytest.raises(ReceiptThrottled) as throttled:
            await store.redeem_receipt(attempt, guesser)
        assert throttled.value.retry_after > timedelta(minutes=50)
    someone_else = store.pseudonym("matrix", "@someone:example.org")
    assert await store.redeem_receipt(code, someone_else) == case_id


async def test_the_same_wrong_code_typed_again_and_again_exhausts_nothing(
    store: Store, clock: FakeClock
) -> None:
    case_id = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    code = await store.issue_receipt(case_id)
    mistyped = _wrong_code(code)
    person = store.pseudonym("matrix", "@person:example.org")
    for _ in range(1_000):
        assert await store.redeem_receipt(mistyped, person) is None

    async with store._engine.connect() as conn:
        failures = await conn.scalar(
            sa.select(sa.func.count()).select_from(tables.receipt_failures)
        )
    assert failures == 1
    assert await store.redeem_receipt(code, person) == case_id


async def test_a_receipt_row_pointed_at_another_case_opens_nothing(store: Store) -> None:
    victim_case = await store.save_conversation(store.pseudonym("telegram", "victim"), {})
    await store.append_reply(victim_case, "Le Dr Martin vous rappellera mardi.")
    intruder = store.pseudonym("matrix", "@intruder:example.org")
    own_case = await store.save_conversation(intruder, {})
    own_code = await store.issue_receipt(own_case)

    table = tables.receipts
    async with store._engine.begin() as conn:
        await conn.execute(
            sa.update(table).where(table.c.case_id == own_case).values(case_id=victim_case)
        )

    assert await store.redeem_receipt(own_code, intruder) is None
    conversation = await store.load_conversation(intruder)
    assert conversation is not None and conversation.case_id == own_case
    events = tables.events
    async with store._engine.connect() as conn:
        tampered = list(
            await conn.execute(
                sa.select(events.c.pseudonym, events.c.case_id).where(
                    events.c.event_type == "receipt.tampered"
                )
            )
        )
    assert [tuple(row) for row in tampered] == [(intruder, None)]


async def test_garbage_counts_as_a_wrong_code(store: Store) -> None:
    person = store.pseudonym("telegram", "1")
    assert await store.redeem_receipt(secrets.token_hex(3), person) is None
    async with store._engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(tables.receipt_failures))
    assert count == 1
