"""Envelope encryption: one AES-256-GCM data key per case, wrapped by the server's KEK.

Every ciphertext is bound (as associated data) to its purpose, its case id and, where one
exists, the row it belongs to, so a blob copied into another row or case is refused.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.errors import DecryptionError

FORMAT = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32
DOMAIN = b"entraide/envelope/v1"


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def associated_data(purpose: str, case_id: str, context: str = "") -> bytes:
    parts = (purpose, case_id, context)
    if any("\x00" in part for part in parts):
        raise ValueError("binding fields must not contain NUL")
    return b"\x00".join([DOMAIN, *(part.encode() for part in parts)])


def encrypt(
    key: bytes, plaintext: bytes, *, purpose: str, case_id: str, context: str = ""
) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = associated_data(purpose, case_id, context)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, *, purpose: str, case_id: str, context: str = "") -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT:
        raise DecryptionError("malformed ciphertext")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, associated_data(purpose, case_id, context))
    except InvalidTag:
        raise DecryptionError("ciphertext refused") from None


def wrap_case_key(kek: bytes, case_id: str, data_key: bytes) -> bytes:
    return encrypt(kek, data_key, purpose="case-key", case_id=case_id)


def unwrap_case_key(kek: bytes, case_id: str, wrapped: bytes) -> bytes:
    return decrypt(kek, wrapped, purpose="case-key", case_id=case_id)
