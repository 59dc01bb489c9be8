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
from storage.records import (
    Address,
    CaseFile,
    CaseInfo,
    Conversation,
    Note,
    OutboxItem,
    Reply,
    SealedMessage,
    StaffEvent,
)
from storage.sealing import CommissionPrivateKey, CommissionPublicKey, open_sealed
from storage.store import (
    CLOSING_FIELDS,
    STATUS_CLOSED,
    STATUS_IN_PROGRESS,
    STATUS_OPEN,
    CaseWrites,
    Store,
    open_store,
    utcnow,
)

__all__ = [
    "CLOSING_FIELDS",
    "STATUS_CLOSED",
    "STATUS_IN_PROGRESS",
    "STATUS_OPEN",
    "Address",
    "Argon2Cost",
    "CaseFile",
    "CaseInfo",
    "CaseWrites",
    "CommissionPrivateKey",
    "CommissionPublicKey",
    "Conversation",
    "DecryptionError",
    "DemoKeys",
    "Note",
    "OutboxItem",
    "ReceiptPolicy",
    "ReceiptThrottled",
    "Reply",
    "RetentionPolicy",
    "SealedMessage",
    "SecretsError",
    "ServerSecrets",
    "StaffEvent",
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
