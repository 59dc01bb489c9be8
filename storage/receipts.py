"""Receipt codes: made from 80 random bits, stored as an Argon2id hash bound to its case."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flows import crockford, receipt_code
from storage.policy import Argon2Cost, argon2id


def new_code() -> str:
    """A fresh code as the person is shown it: four groups of four."""
    value = secrets.randbits(receipt_code.BITS)
    return receipt_code.grouped(crockford.encode(value, receipt_code.CODE_CHARS))


def receipt_salt(hmac_key: bytes) -> bytes:
    """One salt for the whole server, so a hash can be looked up by equality.

    Codes are random with 80 bits, so a shared salt costs nothing against precomputation;
    keeping it out of the database means a stolen database alone cannot even test a guess.
    """
    return hmac.new(hmac_key, b"entraide/receipt-salt", hashlib.sha256).digest()[:16]


def hash_code(canonical: str, salt: bytes, cost: Argon2Cost) -> str:
    return argon2id(canonical, salt, cost).hex()


def receipt_mac_key(hmac_key: bytes) -> bytes:
    return hmac.new(hmac_key, b"entraide/receipt-mac", hashlib.sha256).digest()


def receipt_mac(mac_key: bytes, code_hash: str, hash_label: str, case_id: str) -> str:
    """Binds a receipt row to its case: whoever can write to the database but lacks the
    server's key cannot point a code at another case, nor plant a code of their own."""
    message = b"\x00".join(
        [b"entraide/receipt", code_hash.encode(), hash_label.encode(), case_id.encode()]
    )
    return hmac.new(mac_key, message, hashlib.sha256).hexdigest()
