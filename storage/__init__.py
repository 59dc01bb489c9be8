"""Persistence for the bot: pseudonymous, encrypted cases, a sealed mailbox, receipts, retention."""

from storage.config import StorageSettings
from storage.errors import (
    DecryptionError,
    ReceiptThrottled,
    SecretsError,
    StorageError,
    UnknownCase,
)
from storage.keys import (
    DemoKeys,
    ServerSecrets,
    demo_keys,
    load_server_secrets,
    read_private_key,
    write_private_key,
    write_server_secrets,
)
from storage.policy import Argon2Cost, ReceiptPolicy, RetentionPolicy
from storage.records import CaseInfo, Conversation, OutboxItem, Reply, SealedMessage
from storage.sealing import CommissionPrivateKey, CommissionPublicKey, open_sealed
from storage.store import STATUS_CLOSED, STATUS_OPEN, CaseWrites, Store, open_store, utcnow

__all__ = [
    "STATUS_CLOSED",
    "STATUS_OPEN",
    "Argon2Cost",
    "CaseInfo",
    "CaseWrites",
    "CommissionPrivateKey",
    "CommissionPublicKey",
    "Conversation",
    "DecryptionError",
    "DemoKeys",
    "OutboxItem",
    "ReceiptPolicy",
    "ReceiptThrottled",
    "Reply",
    "RetentionPolicy",
    "SealedMessage",
    "SecretsError",
    "ServerSecrets",
    "StorageError",
    "StorageSettings",
    "Store",
    "UnknownCase",
    "demo_keys",
    "load_server_secrets",
    "open_sealed",
    "open_store",
    "read_private_key",
    "utcnow",
    "write_private_key",
    "write_server_secrets",
]
