"""Exports from the server to the commission's machine: what they carry, and what they refuse."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

import pytest

from storage import CommissionPrivateKey, Store
from storage.export import (
    ExportRefused,
    export_case,
    export_since,
    opened,
    server_public_key,
    signed,
    signing_public_key,
    verified,
)
from tests.storage.helpers import FakeClock

SEED = secrets.token_bytes(32)
PINNED = server_public_key(signing_public_key(SEED))


async def test_since_a_day_brings_each_case_with_only_its_newer_messages(
    store: Store, clock: FakeClock, commission_key: CommissionPrivateKey
) -> None:
    quiet = await store.save_conversation(store.pseudonym("matrix", "@a:x"), {})
    busy = await store.save_conversation(store.pseudonym("matrix", "@b:x"), {})
    await store.seal_for_commission(quiet, "message", b"il y a longtemps")
    await store.seal_for_commission(busy, "message", b"avant-hier")
    clock.advance(timedelta(days=2))
    since = clock.now
    await store.seal_for_commission(busy, "contact", b"aujourd'hui")

    export = verified(signed(await export_since(store, since), SEED), PINNED)

    assert [case.case_id for case in export.cases] == [busy]
    (case,) = export.cases
    assert [opened(m, {commission_key.key_id: commission_key}) for m in case.messages] == [
        b"aujourd'hui"
    ]
    assert export.since == since


async def test_a_server_that_signs_a_moved_message_is_still_caught_by_the_sealing(
    store: Store, commission_key: CommissionPrivateKey
) -> None:
    # Even with the server's own signature, a sealed message keeps the case, id and kind it
    # was sealed for: HPKE binds them.
    first = await store.save_conversation(store.pseudonym("matrix", "@a:x"), {})
    other = await store.save_conversation(store.pseudonym("matrix", "@b:x"), {})
    await store.seal_for_commission(first, "message", b"pour la commission")
    genuine = await export_case(store, first)
    (case,) = genuine.cases
    (message,) = case.messages
    keys = {commission_key.key_id: commission_key}
    assert opened(message, keys) == b"pour la commission"

    moved = replace(case, case_id=other)
    renamed = replace(case, messages=(replace(message, kind="contact"),))
    for lie in (moved, renamed):
        forged = verified(signed(replace(genuine, cases=(lie,)), SEED), PINNED)
        with pytest.raises(ExportRefused):
            opened(forged.cases[0].messages[0], keys)
