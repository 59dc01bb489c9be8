"""Exceptions raised by the store; their messages never carry identities or content."""

from __future__ import annotations

from datetime import timedelta


class StorageError(Exception):
    """Base class for every error the storage package raises on purpose."""


class SecretsError(StorageError):
    """The server secrets are missing, malformed or too widely readable."""


class DecryptionError(StorageError):
    """A ciphertext was refused: wrong key, wrong binding, or tampered bytes."""


class UnknownCase(StorageError):
    """No case has this id."""


class ReceiptThrottled(StorageError):
    """Too many wrong receipt codes lately; the caller must wait before trying again."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("too many wrong receipt codes")
        self.retry_after = retry_after
