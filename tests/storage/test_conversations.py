"""A conversation's state survives every save and a restart, keyed by pseudonym only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage import STATUS_CLOSED, ServerSecrets, Store, UnknownCase
from tests.storage.helpers import CHEAP_RECEIPTS, FakeClock


async def test_a_new_pseudonym_has_no_conversation(store: Store) -> None:
    assert await store.load_conversation(store.pseudonym("telegram", "4242")) is None


async def test_first_save_creates_the_case_and_later_saves_keep_it(store: Store) -> None:
    person = store.pseudonym("telegram", "4242")
    case_id = await store.save_conversation(person, {"step": "persona"})
    again = await store.save_conversation(person, {"step": "needs", "answers": {"a": "é"}})

    loaded = await store.load_conversation(person)
    assert again == case_id
    assert loaded is not None
    assert loaded.case_id == case_id
    assert loaded.state == {"step": "needs", "answers": {"a": "é"}}


async def test_pseudonyms_depend_on_channel_and_key(
    store: Store, server_secrets: ServerSecrets
) -> None:
    telegram = store.pseudonym("telegram", "4242")
    assert telegram == store.pseudonym("telegram", "4242")
    assert telegram != store.pseudonym("matrix", "4242")
    assert "4242" not in telegram
    assert len(telegram) == 64


async def test_case_ids_are_random_not_derived_from_identity(store: Store) -> None:
    first = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    await store.erase_case(first)
    second = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    assert first != second


async def test_a_raw_identity_is_refused_where_a_pseudonym_is_expected(store: Store) -> None:
    with pytest.raises(ValueError) as refused:
        await store.save_conversation("telegram:4242", {})
    assert "4242" not in str(refused.value)


async def test_a_restart_resumes_every_conversation(
    database_url: str, server_secrets: ServerSecrets, case_keys_file: Path, clock: FakeClock
) -> None:
    first = await Store.open(
        database_url,
        server_secrets,
        case_keys_file=case_keys_file,
        receipts=CHEAP_RECEIPTS,
        clock=clock,
    )
    people = [first.pseudonym("telegram", str(n)) for n in range(3)]
    cases = [await first.save_conversation(p, {"turn": n}) for n, p in enumerate(people)]
    await first.close()

    second = await Store.open(
        database_url,
        server_secrets,
        case_keys_file=case_keys_file,
        receipts=CHEAP_RECEIPTS,
        clock=clock,
    )
    try:
        for n, person in enumerate(people):
            loaded = await second.load_conversation(person)
            assert loaded is not None
            assert (loaded.case_id, loaded.state) == (cases[n], {"turn": n})
    finally:
        await second.close()


async def test_case_metadata_is_updated_and_closing_is_dated(
    store: Store, clock: FakeClock
) -> None:
    case_id = await store.save_conversation(store.pseudonym("matrix", "@a:b"), {})
    await store.update_case(case_id, persona="colleague", level=3, categories=["psy", "money"])
    await store.update_case(case_id, status=STATUS_CLOSED)

    case = await store.get_case(case_id)
    assert case is not None
    assert (case.persona, case.level, case.status) == ("colleague", 3, STATUS_CLOSED)
    assert case.categories == ("money", "psy")
    assert case.closed_at == clock.now


async def test_labels_that_could_carry_text_are_refused(store: Store) -> None:
    case_id = await store.save_conversation(store.pseudonym("matrix", "@a:b"), {})
    with pytest.raises(ValueError):
        await store.update_case(case_id, persona="Jean Dupont")
    with pytest.raises(ValueError):
        await store.record_event("said: I feel bad")
    with pytest.raises(UnknownCase):
        await store.update_case("nosuchcase", level=1)


async def test_simultaneous_first_saves_of_one_person_make_one_case(store: Store) -> None:
    person = store.pseudonym("telegram", "twice")
    cases = await asyncio.gather(*(store.save_conversation(person, {"n": n}) for n in range(5)))
    assert len(set(cases)) == 1
