"""The bot's Matrix identity: cross-signing keys that vouch for each of its devices.

matrix-nio has no cross-signing, so the keys and their signatures are made here, as the
Matrix specification defines them (Ed25519 over canonical JSON, unpadded base64). The
master key is the identity a council member verifies once; the self-signing key signs the
bot's device, at the first start and again for the new device a lost crypto store brings.
The private keys are secrets like the session token: a 0600 file beside ``SECRETS_FILE``,
never in ``DATA_DIR``.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from canonicaljson import encode_canonical_json
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bot.channels.matrix.client import Session
from storage import SecretsError
from storage.keys import check_private_mode, write_private_file

log = logging.getLogger("bot.matrix")

CROSS_SIGNING_FILE = "matrix-cross-signing.json"
FILE_FORMAT = "entraide-matrix-cross-signing/1"
REQUEST_SECONDS = 30.0
KEYS_QUERY = "/_matrix/client/v3/keys/query"
KEYS_UPLOAD = "/_matrix/client/v3/keys/device_signing/upload"
SIGNATURES_UPLOAD = "/_matrix/client/v3/keys/signatures/upload"


class CrossSigningError(RuntimeError):
    """The homeserver refused or lost a cross-signing step; the message names no identity."""


class IdentityState(StrEnum):
    # Our master key is on the homeserver and the current device carries its signature.
    PUBLISHED = "published"
    # The homeserver holds a master key that is not ours (our keys lost, or replaced by
    # someone with the account's password): nothing is overwritten without the operator.
    FOREIGN = "foreign"
    NOT_PUBLISHED = "not_published"
    DEVICE_UNSIGNED = "device_unsigned"


@dataclass(frozen=True)
class Identity:
    state: IdentityState
    # Ours, as unpadded base64; None while no key exists on this host.
    master_key: str | None


def cross_signing_file_beside(secrets_file: Path) -> Path:
    return secrets_file.with_name(CROSS_SIGNING_FILE)


def unpadded_base64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _from_unpadded_base64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def fingerprint(public_key: str) -> str:
    """As Element shows a key: groups of four characters."""
    return " ".join(public_key[start:start + 4] for start in range(0, len(public_key), 4))


def public_key_of(key: Ed25519PrivateKey) -> str:
    return unpadded_base64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _signed_part(document: dict[str, Any]) -> bytes:
    return encode_canonical_json(
        {name: value for name, value in document.items() if name not in ("signatures", "unsigned")}
    )


def signed(document: dict[str, Any], key: Ed25519PrivateKey, user_id: str) -> dict[str, Any]:
    """``document`` with ``key``'s signature added, as the specification's "Signing JSON"."""
    signature = unpadded_base64(key.sign(_signed_part(document)))
    signatures = {owner: dict(keys) for owner, keys in document.get("signatures", {}).items()}
    signatures.setdefault(user_id, {})[f"ed25519:{public_key_of(key)}"] = signature
    return {**document, "signatures": signatures}


def is_signed_by(document: dict[str, Any], user_id: str, public_key: str) -> bool:
    try:
        signature = document["signatures"][user_id][f"ed25519:{public_key}"]
        verifier = Ed25519PublicKey.from_public_bytes(_from_unpadded_base64(public_key))
        verifier.verify(_from_unpadded_base64(signature), _signed_part(document))
    except (KeyError, TypeError, ValueError, InvalidSignature):
        return False
    return True


def _only_key(cross_signing_key: dict[str, Any] | None) -> str | None:
    """The public key of a cross-signing key object, which holds exactly one."""
    if not cross_signing_key:
        return None
    keys = list(cross_signing_key.get("keys", {}).values())
    return keys[0] if len(keys) == 1 else None


def _seed(key: Ed25519PrivateKey) -> str:
    return unpadded_base64(key.private_bytes_raw())


def _key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_from_unpadded_base64(seed))


@dataclass(frozen=True)
class CrossSigningKeys:
    user_id: str
    master: Ed25519PrivateKey = field(repr=False)
    self_signing: Ed25519PrivateKey = field(repr=False)
    user_signing: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, user_id: str) -> CrossSigningKeys:
        return cls(user_id, Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(),
                   Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path, user_id: str) -> CrossSigningKeys | None:
        if not path.exists():
            return None
        check_private_mode(path, "Matrix cross-signing keys file")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != FILE_FORMAT:
                raise SecretsError(f"{path} is not a Matrix cross-signing keys file")
            keys = cls(document["user_id"], _key(document["master"]),
                       _key(document["self_signing"]), _key(document["user_signing"]))
        except (ValueError, KeyError, TypeError):
            raise SecretsError(f"{path} is malformed") from None
        if keys.user_id != user_id:
            raise SecretsError(f"the cross-signing keys in {path} belong to another account")
        return keys

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        document = {
            "format": FILE_FORMAT,
            "user_id": self.user_id,
            "master": _seed(self.master),
            "self_signing": _seed(self.self_signing),
            "user_signing": _seed(self.user_signing),
        }
        write_private_file(path, json.dumps(document).encode(), overwrite=overwrite)

    @property
    def master_key(self) -> str:
        return public_key_of(self.master)

    @property
    def self_signing_key(self) -> str:
        return public_key_of(self.self_signing)

    def _public(self, key: Ed25519PrivateKey, usage: str) -> dict[str, Any]:
        public = public_key_of(key)
        return {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}

    def upload_body(self) -> dict[str, Any]:
        return {
            "master_key": self._public(self.master, "master"),
            "self_signing_key": signed(
                self._public(self.self_signing, "self_signing"), self.master, self.user_id
            ),
            "user_signing_key": signed(
                self._public(self.user_signing, "user_signing"), self.master, self.user_id
            ),
        }

    def signed_device(self, device_keys: dict[str, Any]) -> dict[str, Any]:
        unsigned_part = {name: value for name, value in device_keys.items() if name != "unsigned"}
        return signed(unsigned_part, self.self_signing, self.user_id)


@dataclass(frozen=True)
class _ServerView:
    """What the homeserver publishes of the bot's account, as another client reads it."""

    master_key: str | None
    self_signing_key: str | None
    device: dict[str, Any] | None


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise CrossSigningError("the homeserver's answer is not a JSON object")
    return answer


class _Homeserver:
    def __init__(self, homeserver: str, session: Session) -> None:
        self.session = session
        # trust_env=False: no proxy from the environment sees the token.
        self.http = httpx.AsyncClient(
            base_url=homeserver, timeout=REQUEST_SECONDS, trust_env=False,
            headers={"Authorization": f"Bearer {session.access_token}"},
        )

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return await self.http.post(path, json=body)
        except httpx.HTTPError as error:
            raise CrossSigningError(f"the homeserver did not answer ({type(error).__name__})") \
                from None

    @staticmethod
    def _json(response: httpx.Response, step: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise CrossSigningError(f"the homeserver refused {step} (HTTP {response.status_code})")
        return _answer(response)

    async def view(self) -> _ServerView:
        user_id, device_id = self.session.user_id, self.session.device_id
        answer = self._json(
            await self._post(KEYS_QUERY, {"device_keys": {user_id: [device_id]}}), "keys/query"
        )
        return _ServerView(
            master_key=_only_key(answer.get("master_keys", {}).get(user_id)),
            self_signing_key=_only_key(answer.get("self_signing_keys", {}).get(user_id)),
            device=answer.get("device_keys", {}).get(user_id, {}).get(device_id),
        )

    async def upload_keys(self, keys: CrossSigningKeys, password: str | None) -> None:
        body = keys.upload_body()
        response = await self._post(KEYS_UPLOAD, body)
        if response.status_code == 401 and password is not None:
            # User-interactive auth: the homeserver asks for the password once the account
            # already has keys (MSC3967 spares the very first upload).
            session = _answer(response).get("session")
            auth = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": self.session.user_id},
                "password": password,
                "session": session,
            }
            response = await self._post(KEYS_UPLOAD, {**body, "auth": auth})
        self._json(response, "the cross-signing keys")

    async def upload_signature(self, signed_device: dict[str, Any]) -> None:
        user_id, device_id = self.session.user_id, self.session.device_id
        answer = self._json(
            await self._post(SIGNATURES_UPLOAD, {user_id: {device_id: signed_device}}),
            "the device's signature",
        )
        if answer.get("failures"):
            raise CrossSigningError("the homeserver rejected the device's signature")

    async def aclose(self) -> None:
        await self.http.aclose()


def _state(view: _ServerView, keys: CrossSigningKeys | None) -> IdentityState:
    if view.master_key is None:
        return IdentityState.NOT_PUBLISHED
    if keys is None or (view.master_key, view.self_signing_key) != (
        keys.master_key, keys.self_signing_key
    ):
        return IdentityState.FOREIGN
    if view.device is None or not is_signed_by(view.device, keys.user_id, keys.self_signing_key):
        return IdentityState.DEVICE_UNSIGNED
    return IdentityState.PUBLISHED


async def identity_status(homeserver: str, session: Session, keys_file: Path) -> Identity:
    """What another client sees of the bot's identity; changes nothing."""
    keys = CrossSigningKeys.load(keys_file, session.user_id)
    server = _Homeserver(homeserver, session)
    try:
        state = _state(await server.view(), keys)
    finally:
        await server.aclose()
    return Identity(state, None if keys is None else keys.master_key)


async def publish_identity(
    homeserver: str,
    session: Session,
    keys_file: Path,
    password: str | None,
    *,
    replace: bool = False,
) -> Identity:
    """Make the keys the first time, publish them, and sign the current device.

    A master key on the homeserver that is not ours is replaced only with ``replace``
    (the operator's ``keys matrix-identity --replace``): people and staff who verified the
    old identity would see it change.
    """
    keys = CrossSigningKeys.load(keys_file, session.user_id)
    server = _Homeserver(homeserver, session)
    try:
        view = await server.view()
        state = _state(view, keys)
        if state is IdentityState.FOREIGN and not replace:
            log.error("event=matrix_identity_foreign")
            return Identity(state, None if keys is None else keys.master_key)
        if state in (IdentityState.NOT_PUBLISHED, IdentityState.FOREIGN):
            if keys is None:
                keys = CrossSigningKeys.generate(session.user_id)
                # Kept before it is published: the homeserver never holds a key we lost.
                keys.save(keys_file)
            await server.upload_keys(keys, password)
            log.info("event=matrix_identity_published")
            view = await server.view()
        assert keys is not None
        if _state(view, keys) is IdentityState.DEVICE_UNSIGNED:
            if view.device is None:
                raise CrossSigningError("the homeserver holds no keys for the bot's device")
            await server.upload_signature(keys.signed_device(view.device))
            log.info("event=matrix_device_signed")
    finally:
        await server.aclose()
    return Identity(IdentityState.PUBLISHED, keys.master_key)
