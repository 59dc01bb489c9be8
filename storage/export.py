"""Exports: the sealed messages carried from the bot server to the commission's own machine.

The server writes what it holds, each message still sealed to the commission's key (only the
case data key's wrap is removed), with the little it knows about each case, and signs the
whole with its Ed25519 key. The commission opens an export with its private keys and the
server's public key, pinned once: no database, no server secret. The signature covers every
field, so a case id, date or status changed after export, or a message dropped or moved, is
refused; the HPKE binding alone already refuses a message given another case, id or kind.
A server that holds its signing key can still leave messages out of what it signs: the
signature proves where an export comes from and that nobody changed it on the way.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from storage.errors import DecryptionError, SecretsError, StorageError, UnknownCase
from storage.keys import _b64, _unb64
from storage.records import SealedMessage
from storage.sealing import CommissionPrivateKey, open_sealed
from storage.store import Store, utcnow

EXPORT_FORMAT = "entraide-export/1"
SIGNATURE_DOMAIN = b"entraide/export/v1\x00"
PUBLIC_KEY_PREFIX = "ed25519:"


class ExportUnreadable(StorageError):
    """The file is not an export in a format this version reads."""


class ExportRefused(DecryptionError):
    """The signature or a message's sealing does not match: changed, or from elsewhere."""


@dataclass(frozen=True)
class ExportedCase:
    """What the server may tell the commission about a case, beside its sealed messages."""

    case_id: str
    status: str
    created_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None
    messages: tuple[SealedMessage, ...]


@dataclass(frozen=True)
class Export:
    exported_at: datetime
    # None: each case with all its messages; else only the messages sealed since then.
    since: datetime | None
    cases: tuple[ExportedCase, ...]


# -- on the server ----------------------------------------------------------------------


async def _exported_case(store: Store, case_id: str, since: datetime | None) -> ExportedCase:
    case = await store.get_case(case_id)
    if case is None:
        raise UnknownCase("no such case")
    messages = await store.sealed_messages(case_id)
    return ExportedCase(
        case_id=case.case_id,
        status=case.status,
        created_at=case.created_at,
        last_activity_at=case.last_activity_at,
        closed_at=case.closed_at,
        messages=tuple(m for m in messages if since is None or m.created_at >= since),
    )


async def export_case(store: Store, case_id: str) -> Export:
    return Export(utcnow(), None, (await _exported_case(store, case_id, None),))


async def export_since(store: Store, since: datetime) -> Export:
    """Every case with a message sealed at or after ``since``, with those messages only."""
    case_ids = await store.cases_sealed_since(since)
    cases = tuple([await _exported_case(store, case_id, since) for case_id in case_ids])
    return Export(utcnow(), since, cases)


def signing_public_key(seed: bytes) -> str:
    """The line the commission pins: ``ed25519:`` and the public key in base64."""
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return PUBLIC_KEY_PREFIX + _b64(public.public_bytes_raw())


def signed(export: Export, seed: bytes) -> bytes:
    body = _body(export)
    signature = ed25519.Ed25519PrivateKey.from_private_bytes(seed).sign(_signed_bytes(body))
    document = {"format": EXPORT_FORMAT, "body": body, "signature": _b64(signature)}
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


# -- on the commission's machine --------------------------------------------------------


def server_public_key(line: str) -> ed25519.Ed25519PublicKey:
    text = line.strip()
    try:
        if not text.startswith(PUBLIC_KEY_PREFIX):
            raise ValueError("missing prefix")
        return ed25519.Ed25519PublicKey.from_public_bytes(_unb64(text[len(PUBLIC_KEY_PREFIX) :]))
    except (ValueError, binascii.Error):
        raise SecretsError("malformed server signing key") from None


def verified(data: bytes, server_key: ed25519.Ed25519PublicKey) -> Export:
    """The export, once its signature checks against the pinned key; nothing before."""
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise ExportUnreadable("not an export in a known format")
        body, signature = document["body"], _unb64(document["signature"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ExportUnreadable("not an export in a known format") from None
    try:
        server_key.verify(signature, _signed_bytes(body))
    except InvalidSignature:
        raise ExportRefused("the export's signature does not match the server's key") from None
    try:
        return _parsed(body)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ExportUnreadable("a signed export this version cannot read") from None


def opened(message: SealedMessage, keys: Mapping[str, CommissionPrivateKey]) -> bytes | None:
    """The payload; None when it was sealed to a key not given; ExportRefused when its
    sealing does not match what the export says of it."""
    if message.key_id not in keys:
        return None
    try:
        return open_sealed(message, keys)
    except (DecryptionError, ValueError):
        raise ExportRefused("a sealed message does not match its case, id or kind") from None


# -- the wire format --------------------------------------------------------------------


def _signed_bytes(body: Any) -> bytes:
    # What is signed is the parsed body written one canonical way, so what is checked is
    # exactly what is read afterwards, however the file's spacing or key order changed.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return SIGNATURE_DOMAIN + canonical.encode()


def _moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parsed_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment


def _body(export: Export) -> dict[str, Any]:
    return {
        "exported_at": _moment(export.exported_at),
        "since": _moment(export.since),
        "cases": [
            {
                "case_id": case.case_id,
                "status": case.status,
                "created_at": _moment(case.created_at),
                "last_activity_at": _moment(case.last_activity_at),
                "closed_at": _moment(case.closed_at),
                "messages": [
                    {
                        "id": message.id,
                        "kind": message.kind,
                        "key_id": message.key_id,
                        "suite": message.suite,
                        "format_version": message.format_version,
                        "created_at": _moment(message.created_at),
                        "ciphertext": _b64(message.ciphertext),
                    }
                    for message in case.messages
                ],
            }
            for case in export.cases
        ],
    }


def _parsed(body: dict[str, Any]) -> Export:
    cases = []
    for case in body["cases"]:
        case_id = str(case["case_id"])
        messages = tuple(
            SealedMessage(
                id=str(message["id"]),
                # The case the message is listed under: the HPKE binding checks it.
                case_id=case_id,
                kind=str(message["kind"]),
                key_id=str(message["key_id"]),
                format_version=int(message["format_version"]),
                suite=str(message["suite"]),
                ciphertext=_unb64(message["ciphertext"]),
                created_at=_parsed_moment(message["created_at"]),
            )
            for message in case["messages"]
        )
        closed_at = case["closed_at"]
        cases.append(
            ExportedCase(
                case_id=case_id,
                status=str(case["status"]),
                created_at=_parsed_moment(case["created_at"]),
                last_activity_at=_parsed_moment(case["last_activity_at"]),
                closed_at=None if closed_at is None else _parsed_moment(closed_at),
                messages=messages,
            )
        )
    since = body["since"]
    return Export(
        exported_at=_parsed_moment(body["exported_at"]),
        since=None if since is None else _parsed_moment(since),
        cases=tuple(cases),
    )
