"""Ciphertexts are refused whole when anything about them is wrong; sizes do not leak length."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import (
    CommissionPrivateKey,
    DecryptionError,
    SealedMessage,
    ServerSecrets,
    Store,
    envelope,
    open_sealed,
    read_private_key,
    sealing,
    tables,
    write_private_key,
)
from storage.policy import TEST_ARGON2_COST
from tests.storage.helpers import CHEAP_RECEIPTS, FakeClock


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _sealed(key: CommissionPrivateKey, payload: bytes, **binding: str) -> SealedMessage:
    ids = {"case_id": "case1", "message_id": "m1", "kind": "free_text", **binding}
    ciphertext = sealing.seal(key.public(), payload, **ids)
    return SealedMessage(
        id=ids["message_id"],
        case_id=ids["case_id"],
        kind=ids["kind"],
        key_id=key.key_id,
        format_version=sealing.FORMAT_VERSION,
        suite=key.suite,
        ciphertext=ciphertext,
        created_at=FakeClock().now,
    )


def test_the_pinned_cryptography_offers_and_uses_the_hybrid_post_quantum_suite() -> None:
    # Sealed reports are kept for years: the pinned release must offer ML-KEM.
    assert sealing.hybrid_available()
    assert CommissionPrivateKey.generate().suite == sealing.SUITE_HYBRID


@pytest.mark.parametrize("suite", sealing.SUITES)
def test_sealed_messages_open_with_the_right_key(suite: str) -> None:
    key = CommissionPrivateKey.generate(suite)
    assert open_sealed(_sealed(key, "Je m'appelle…".encode()), key) == "Je m'appelle…".encode()


def test_one_character_and_nine_hundred_characters_seal_to_the_same_size(
    commission_key: CommissionPrivateKey,
) -> None:
    short = _sealed(commission_key, b"x")
    long = _sealed(commission_key, ("é" * 450).encode())
    assert len(short.ciphertext) == len(long.ciphertext)


def test_tampered_sealed_messages_are_refused_without_partial_plaintext(
    commission_key: CommissionPrivateKey,
) -> None:
    message = _sealed(commission_key, b"secret words")
    other_key = CommissionPrivateKey.generate()
    broken = [
        replace(message, ciphertext=_flip(message.ciphertext, len(message.ciphertext) // 2)),
        replace(message, ciphertext=_flip(message.ciphertext, 0)),
        replace(message, ciphertext=message.ciphertext[:-1]),
        replace(message, ciphertext=message.ciphertext[:40]),
        replace(message, case_id="case2"),
        replace(message, id="m2"),
        replace(message, kind="contact"),
        replace(message, format_version=2),
    ]
    for tampered in broken:
        with pytest.raises(DecryptionError):
            open_sealed(tampered, commission_key)
    with pytest.raises(DecryptionError):
        open_sealed(replace(message, key_id=other_key.key_id), other_key)
    with pytest.raises(DecryptionError):
        open_sealed(message, other_key)


def test_envelope_ciphertexts_are_bound_to_case_purpose_and_row() -> None:
    key = envelope.new_key()
    blob = envelope.encrypt(key, b"state", purpose="state", case_id="c1", context="p1")
    assert envelope.decrypt(key, blob, purpose="state", case_id="c1", context="p1") == b"state"
    attempts = [
        (key, _flip(blob, len(blob) - 1), "state", "c1", "p1"),
        (key, blob[:-1], "state", "c1", "p1"),
        (key, blob[:5], "state", "c1", "p1"),
        (key, blob, "state", "c2", "p1"),
        (key, blob, "reply", "c1", "p1"),
        (key, blob, "state", "c1", "p2"),
        (envelope.new_key(), blob, "state", "c1", "p1"),
    ]
    for key_, blob_, purpose, case_id, context in attempts:
        with pytest.raises(DecryptionError):
            envelope.decrypt(key_, blob_, purpose=purpose, case_id=case_id, context=context)


async def test_a_stored_ciphertext_moved_to_another_case_is_refused(store: Store) -> None:
    first = await store.save_conversation(store.pseudonym("telegram", "1"), {"who": "first"})
    second = await store.save_conversation(store.pseudonym("telegram", "2"), {"who": "second"})
    await store.seal_for_commission(first, "free_text", b"first's words")
    engine = store._engine
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(tables.sealed_messages)
            .where(tables.sealed_messages.c.case_id == first)
            .values(case_id=second)
        )
    with pytest.raises(DecryptionError):
        await store.sealed_messages(second)


async def test_old_messages_still_open_after_the_commission_key_rotates(
    database_url: str,
    server_secrets: ServerSecrets,
    commission_key: CommissionPrivateKey,
    case_keys_file: Path,
    clock: FakeClock,
) -> None:
    store = await Store.open(
        database_url,
        server_secrets,
        case_keys_file=case_keys_file,
        receipts=CHEAP_RECEIPTS,
        clock=clock,
    )
    case = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    await store.seal_for_commission(case, "free_text", b"before rotation")
    await store.close()

    clock.advance(timedelta(days=1))
    new_key = CommissionPrivateKey.generate()
    rotated = server_secrets.rotated(new_key.public())
    store = await Store.open(
        database_url, rotated, case_keys_file=case_keys_file, receipts=CHEAP_RECEIPTS, clock=clock
    )
    try:
        await store.seal_for_commission(case, "free_text", b"after rotation")
        old, new = await store.sealed_messages(case)
    finally:
        await store.close()

    assert (old.key_id, new.key_id) == (commission_key.key_id, new_key.key_id)
    keys = {commission_key.key_id: commission_key, new_key.key_id: new_key}
    assert open_sealed(old, keys) == b"before rotation"
    assert open_sealed(new, keys) == b"after rotation"
    with pytest.raises(DecryptionError):
        open_sealed(old, new_key)


def test_the_private_key_file_opens_only_with_its_passphrase(tmp_path: Path) -> None:
    key = CommissionPrivateKey.generate()
    path = tmp_path / "commission.json"
    write_private_key(path, key, "correct horse battery", cost=TEST_ARGON2_COST)

    assert path.stat().st_mode & 0o777 == 0o600
    assert read_private_key(path, "correct horse battery") == key
    with pytest.raises(DecryptionError):
        read_private_key(path, "wrong horse battery")
    assert key.private_bytes not in path.read_bytes()


def test_the_private_key_is_never_written_into_the_data_directory(tmp_path: Path) -> None:
    from storage import SecretsError

    with pytest.raises(SecretsError):
        write_private_key(
            tmp_path / "var" / "key.json",
            CommissionPrivateKey.generate(),
            "correct horse battery",
            data_dir=tmp_path / "var",
            cost=TEST_ARGON2_COST,
        )
