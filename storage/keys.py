"""Server secrets and commission keys: what the bot host holds, and what only the commission holds.

The bot host keeps a 0600 JSON file with the pseudonym HMAC key, the key-encryption key, the
Matrix store pickle key, the key that signs exports for the commission and the commission's
*public* keys by key id. The commission's private key is written, encrypted under a
passphrase (Argon2id then AES-256-GCM), to a path the operator chooses, never into the data
directory.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.config import SECRETS_ENV, is_within
from storage.errors import DecryptionError, SecretsError
from storage.policy import Argon2Cost, argon2id
from storage.sealing import CommissionPrivateKey, CommissionPublicKey

SECRETS_FORMAT = "entraide-server-secrets/1"
PRIVATE_KEY_FORMAT = "entraide-commission-key/1"
SECRET_BYTES = 32
# The private key file may be kept for years on a laptop: make each guess expensive.
PRIVATE_KEY_COST = Argon2Cost(time_cost=3, memory_cost_kib=256 * 1024, parallelism=4)
SALT_BYTES = 16
NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass(frozen=True)
class ServerSecrets:
    hmac_key: bytes = field(repr=False)
    kek: bytes = field(repr=False)
    matrix_pickle_key: bytes = field(repr=False)
    commission_keys: Mapping[str, CommissionPublicKey]
    current_key_id: str
    # The Ed25519 seed that signs exports; None in files written before exports were signed,
    # until `keys signing-key` adds one.
    signing_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def generate(cls, commission_key: CommissionPublicKey) -> ServerSecrets:
        return cls(
            hmac_key=secrets.token_bytes(SECRET_BYTES),
            kek=secrets.token_bytes(SECRET_BYTES),
            matrix_pickle_key=secrets.token_bytes(SECRET_BYTES),
            commission_keys={commission_key.key_id: commission_key},
            current_key_id=commission_key.key_id,
            signing_key=secrets.token_bytes(SECRET_BYTES),
        )

    def with_signing_key(self) -> ServerSecrets:
        if self.signing_key is not None:
            return self
        return replace(self, signing_key=secrets.token_bytes(SECRET_BYTES))

    @property
    def current_commission_key(self) -> CommissionPublicKey:
        return self.commission_keys[self.current_key_id]

    def rotated(self, new_key: CommissionPublicKey) -> ServerSecrets:
        """New messages go to ``new_key``; old key ids stay listed beside their messages."""
        keys = {**self.commission_keys, new_key.key_id: new_key}
        return replace(self, commission_keys=keys, current_key_id=new_key.key_id)

    def to_json(self) -> str:
        document = {
            "format": SECRETS_FORMAT,
            "hmac_key": _b64(self.hmac_key),
            "kek": _b64(self.kek),
            "matrix_pickle_key": _b64(self.matrix_pickle_key),
            "current_key_id": self.current_key_id,
            "commission_keys": {
                key_id: {"suite": key.suite, "public_key": _b64(key.public_bytes)}
                for key_id, key in self.commission_keys.items()
            },
        }
        if self.signing_key is not None:
            document["signing_key"] = _b64(self.signing_key)
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ServerSecrets:
        try:
            document: dict[str, Any] = json.loads(text)
            if document.get("format") != SECRETS_FORMAT:
                raise SecretsError("unknown server secrets format")
            keys = {
                key_id: CommissionPublicKey(key_id, entry["suite"], _unb64(entry["public_key"]))
                for key_id, entry in document["commission_keys"].items()
            }
            loaded = cls(
                hmac_key=_unb64(document["hmac_key"]),
                kek=_unb64(document["kek"]),
                matrix_pickle_key=_unb64(document["matrix_pickle_key"]),
                commission_keys=keys,
                current_key_id=document["current_key_id"],
                signing_key=_unb64(document["signing_key"]) if "signing_key" in document else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SecretsError("malformed server secrets") from None
        signing_ok = loaded.signing_key is None or len(loaded.signing_key) == SECRET_BYTES
        if loaded.current_key_id not in keys or len(loaded.kek) != SECRET_BYTES or not signing_ok:
            raise SecretsError("malformed server secrets")
        return loaded


def check_private_mode(path: Path, what: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretsError(f"{what} {path} is readable by others (mode {mode:o}): chmod 600 it")


def load_server_secrets(path: Path, environ: Mapping[str, str] | None = None) -> ServerSecrets:
    """From the file; the environment variable is read only when the file does not exist."""
    env = os.environ if environ is None else environ
    if path.exists():
        check_private_mode(path, "secrets file")
        return ServerSecrets.from_json(path.read_text())
    if env.get(SECRETS_ENV):
        return ServerSecrets.from_json(env[SECRETS_ENV])
    raise SecretsError(f"no server secrets at {path}: run `python -m bot keys init`")


def create_private_file(path: Path) -> None:
    """An empty file readable by its owner only, unless it already exists (a database the
    next line opens: created here first so that it is never readable by others, not even
    for a moment)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def write_private_file(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` readable by its owner only, atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise SecretsError(f"{path} already exists")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_server_secrets(
    path: Path, server_secrets: ServerSecrets, *, overwrite: bool = False
) -> None:
    write_private_file(path, server_secrets.to_json().encode(), overwrite=overwrite)


def derive_key(passphrase: str, salt: bytes, cost: Argon2Cost) -> bytes:
    return argon2id(passphrase, salt, cost)


def _private_key_aad(key_id: str, suite: str) -> bytes:
    return b"\x00".join([PRIVATE_KEY_FORMAT.encode(), key_id.encode(), suite.encode()])


def write_private_key(
    path: Path,
    key: CommissionPrivateKey,
    passphrase: str,
    *,
    data_dir: Path | None = None,
    cost: Argon2Cost = PRIVATE_KEY_COST,
) -> None:
    if data_dir is not None and is_within(path, data_dir):
        raise SecretsError("the commission private key must not be written into the data directory")
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(derive_key(passphrase, salt, cost)).encrypt(
        nonce, key.private_bytes, _private_key_aad(key.key_id, key.suite)
    )
    document = {
        "format": PRIVATE_KEY_FORMAT,
        "key_id": key.key_id,
        "suite": key.suite,
        "kdf": {"name": "argon2id", "label": cost.label(), "salt": _b64(salt)},
        "nonce": _b64(nonce),
        "ciphertext": _b64(sealed),
    }
    write_private_file(path, (json.dumps(document, indent=2) + "\n").encode())


def read_private_key(path: Path, passphrase: str) -> CommissionPrivateKey:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
        if document.get("format") != PRIVATE_KEY_FORMAT:
            raise DecryptionError("not a commission key file")
        cost = Argon2Cost.from_label(document["kdf"]["label"])
        key = derive_key(passphrase, _unb64(document["kdf"]["salt"]), cost)
        private = AESGCM(key).decrypt(
            _unb64(document["nonce"]),
            _unb64(document["ciphertext"]),
            _private_key_aad(document["key_id"], document["suite"]),
        )
        loaded = CommissionPrivateKey(document["key_id"], document["suite"], private)
        if loaded.public().key_id != loaded.key_id:
            raise DecryptionError("commission key file does not match its key id")
    except InvalidTag:
        raise DecryptionError("wrong passphrase or damaged key file") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DecryptionError("damaged commission key file") from None
    return loaded


@dataclass(frozen=True)
class DemoKeys:
    created: bool
    secrets_file: Path
    commission_key: Path
    passphrase_file: Path

    def __str__(self) -> str:
        return (
            f"demo-keys={'created' if self.created else 'existing'} "
            f"secrets={self.secrets_file} commission-key={self.commission_key} "
            f"passphrase-file={self.passphrase_file}"
        )


def demo_keys(
    data_dir: Path, secrets_path: Path, *, cost: Argon2Cost = PRIVATE_KEY_COST
) -> DemoKeys:
    """Throwaway keys for a first local run; a real deployment runs ``keys init`` instead."""
    directory = secrets_path.parent
    result = DemoKeys(
        created=False,
        secrets_file=secrets_path,
        commission_key=directory / "demo-commission-key.json",
        passphrase_file=directory / "demo-passphrase.txt",
    )
    if secrets_path.exists():
        return result
    if is_within(secrets_path, data_dir):
        raise SecretsError("the secrets file must live outside the data directory")
    private = CommissionPrivateKey.generate()
    passphrase = secrets.token_urlsafe(18)
    write_private_file(result.passphrase_file, (passphrase + "\n").encode(), overwrite=True)
    if result.commission_key.exists():
        result.commission_key.unlink()
    write_private_key(result.commission_key, private, passphrase, data_dir=data_dir, cost=cost)
    write_server_secrets(secrets_path, ServerSecrets.generate(private.public()))
    return replace(result, created=True)
