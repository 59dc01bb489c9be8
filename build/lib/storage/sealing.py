"""The sealed mailbox: HPKE (RFC 9180) to the commission's public key, padded to size buckets.

The bot host only ever holds public keys; a message sealed here opens only with the private
key a commission member keeps. Each ciphertext is bound to its case, key id, message id,
kind and format version through the HPKE ``info``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from storage.errors import DecryptionError
from storage.records import SealedMessage

FORMAT_VERSION = 1
SUITE_X25519 = "DHKEM-X25519/HKDF-SHA256/ChaCha20Poly1305"
SUITE_HYBRID = "MLKEM768-X25519/HKDF-SHA256/ChaCha20Poly1305"
SUITES = (SUITE_HYBRID, SUITE_X25519)

# Sealed messages are padded to the next bucket so their size tells little about their
# length; a one-line message and a long one both fit the first bucket.
FIRST_BUCKET = 2048
BUCKET_GROWTH = 4
MAX_BUCKET = 2 * 1024 * 1024
LENGTH_BYTES = 4

MLKEM_SEED_BYTES = 64
MLKEM768_PUBLIC_BYTES = 1184
X25519_BYTES = 32

PublicKey = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
PrivateKey = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey


def hybrid_available() -> bool:
    """True when the installed cryptography and its backend offer ML-KEM-768+X25519."""
    if not hasattr(hpke.KEM, "MLKEM768_X25519"):
        return False
    try:
        mlkem.MLKEM768PrivateKey.generate()
    except UnsupportedAlgorithm:
        return False
    return True


def preferred_suite() -> str:
    return SUITE_HYBRID if hybrid_available() else SUITE_X25519


def _suite(name: str) -> hpke.Suite:
    if name == SUITE_HYBRID:
        kem = hpke.KEM.MLKEM768_X25519
    elif name == SUITE_X25519:
        kem = hpke.KEM.X25519
    else:
        raise ValueError("unknown HPKE suite")
    return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def key_id_for(suite: str, public_bytes: bytes) -> str:
    return "k" + hashlib.sha256(suite.encode() + b"\x00" + public_bytes).hexdigest()[:16]


@dataclass(frozen=True)
class CommissionPublicKey:
    key_id: str
    suite: str
    public_bytes: bytes = field(repr=False)

    def load(self) -> PublicKey:
        raw = self.public_bytes
        if self.suite == SUITE_X25519:
            return x25519.X25519PublicKey.from_public_bytes(raw)
        if self.suite == SUITE_HYBRID:
            if len(raw) != MLKEM768_PUBLIC_BYTES + X25519_BYTES:
                raise ValueError("malformed hybrid public key")
            return hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(raw[:MLKEM768_PUBLIC_BYTES]),
                x25519.X25519PublicKey.from_public_bytes(raw[MLKEM768_PUBLIC_BYTES:]),
            )
        raise ValueError("unknown HPKE suite")


@dataclass(frozen=True)
class CommissionPrivateKey:
    key_id: str
    suite: str
    private_bytes: bytes = field(repr=False)

    @classmethod
    def generate(cls, suite: str | None = None) -> CommissionPrivateKey:
        suite = suite or preferred_suite()
        x_key = x25519.X25519PrivateKey.generate()
        if suite == SUITE_X25519:
            private = x_key.private_bytes_raw()
            public = x_key.public_key().public_bytes_raw()
        elif suite == SUITE_HYBRID:
            m_key = mlkem.MLKEM768PrivateKey.generate()
            private = m_key.private_bytes_raw() + x_key.private_bytes_raw()
            public = m_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
        else:
            raise ValueError("unknown HPKE suite")
        return cls(key_id_for(suite, public), suite, private)

    def load(self) -> PrivateKey:
        raw = self.private_bytes
        if self.suite == SUITE_X25519:
            return x25519.X25519PrivateKey.from_private_bytes(raw)
        if self.suite == SUITE_HYBRID:
            if len(raw) != MLKEM_SEED_BYTES + X25519_BYTES:
                raise ValueError("malformed hybrid private key")
            return hpke.MLKEM768X25519PrivateKey(
                mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:MLKEM_SEED_BYTES]),
                x25519.X25519PrivateKey.from_private_bytes(raw[MLKEM_SEED_BYTES:]),
            )
        raise ValueError("unknown HPKE suite")

    def public(self) -> CommissionPublicKey:
        key = self.load()
        if isinstance(key, x25519.X25519PrivateKey):
            public = key.public_key().public_bytes_raw()
        else:
            m_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.private_bytes[:MLKEM_SEED_BYTES])
            x_key = x25519.X25519PrivateKey.from_private_bytes(
                self.private_bytes[MLKEM_SEED_BYTES:]
            )
            public = m_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
        return CommissionPublicKey(self.key_id, self.suite, public)


def pad(payload: bytes) -> bytes:
    needed = LENGTH_BYTES + len(payload)
    bucket = FIRST_BUCKET
    while bucket < needed:
        bucket *= BUCKET_GROWTH
    if bucket > MAX_BUCKET:
        raise ValueError("sealed payload too large")
    return len(payload).to_bytes(LENGTH_BYTES, "big") + payload + bytes(bucket - needed)


def unpad(padded: bytes) -> bytes:
    length = int.from_bytes(padded[:LENGTH_BYTES], "big")
    if LENGTH_BYTES + length > len(padded):
        raise DecryptionError("malformed sealed payload")
    return padded[LENGTH_BYTES : LENGTH_BYTES + length]


def info(*, case_id: str, key_id: str, message_id: str, kind: str, version: int) -> bytes:
    fields = (f"v{version}", case_id, key_id, message_id, kind)
    if any("\x00" in value for value in fields):
        raise ValueError("binding fields must not contain NUL")
    return b"\x00".join([b"entraide/sealed", *(value.encode() for value in fields)])


def seal(
    public_key: CommissionPublicKey, payload: bytes, *, case_id: str, message_id: str, kind: str
) -> bytes:
    binding = info(
        case_id=case_id,
        key_id=public_key.key_id,
        message_id=message_id,
        kind=kind,
        version=FORMAT_VERSION,
    )
    return _suite(public_key.suite).encrypt(pad(payload), public_key.load(), info=binding)


def open_sealed(
    message: SealedMessage,
    keys: CommissionPrivateKey | Mapping[str, CommissionPrivateKey],
) -> bytes:
    """The payload, or DecryptionError; never a partial plaintext."""
    key = keys.get(message.key_id) if isinstance(keys, Mapping) else keys
    if key is None or key.key_id != message.key_id or key.suite != message.suite:
        raise DecryptionError("no private key for this key id")
    if message.format_version != FORMAT_VERSION:
        raise DecryptionError("unknown sealed format")
    binding = info(
        case_id=message.case_id,
        key_id=message.key_id,
        message_id=message.id,
        kind=message.kind,
        version=message.format_version,
    )
    try:
        padded = _suite(key.suite).decrypt(message.ciphertext, key.load(), info=binding)
    except (InvalidTag, ValueError):
        raise DecryptionError("sealed message refused") from None
    return unpad(padded)
