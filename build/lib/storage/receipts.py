"""Receipt codes: 80 random bits read aloud as four groups of four Crockford base32 characters."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from storage.policy import Argon2Cost, argon2id

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 16
GROUP = 4
# Crockford's decoding rules: letters that look like digits read as those digits.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    value = secrets.randbits(CODE_CHARS * 5)
    chars = [ALPHABET[(value >> (5 * i)) & 31] for i in range(CODE_CHARS)]
    return "-".join("".join(chars[i : i + GROUP]) for i in range(0, CODE_CHARS, GROUP))


def normalize(code: str) -> str | None:
    """The canonical 16 characters, or None when ``code`` cannot be a receipt."""
    compact = "".join(code.split()).replace("-", "").upper().translate(_ALIASES)
    if len(compact) != CODE_CHARS or any(char not in ALPHABET for char in compact):
        return None
    return compact


def receipt_salt(hmac_key: bytes) -> bytes:
    """One salt for the whole server, so a hash can be looked up by equality.

    Codes are random with 80 bits, so a shared salt costs nothing against precomputation;
    keeping it out of the database means a stolen database alone cannot even test a guess.
    """
    return hmac.new(hmac_key, b"entraide/receipt-salt", hashlib.sha256).digest()[:16]


def hash_code(canonical: str, salt: bytes, cost: Argon2Cost) -> str:
    return argon2id(canonical, salt, cost).hex()
