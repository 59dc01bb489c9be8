"""Crockford base32: the one spelling of random ids meant to be read aloud or typed back."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BITS_PER_CHAR = 5
# Crockford's decoding rules: letters that look like digits read as those digits.
ALIASES = {"O": "0", "I": "1", "L": "1"}
_DECODE = str.maketrans(ALIASES)


def encode(value: int, length: int) -> str:
    """``length`` characters carrying the low ``5 * length`` bits of ``value``."""
    return "".join(ALPHABET[(value >> (BITS_PER_CHAR * i)) & 31] for i in range(length))


def canonical(text: str) -> str:
    """Upper case with the look-alike letters read as digits; it may still hold foreign
    characters, which the caller refuses."""
    return text.upper().translate(_DECODE)
