"""A matrix-nio client with a persistent, pickle-keyed crypto store and a device kept for good.

matrix-nio creates a new device at every password login, and a new device means new keys
that nobody has seen: so the password is used once, the device id and token are kept in a
0600 file beside the crypto store, and every later start calls ``restore_login``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

log = logging.getLogger("bot.matrix")

SESSION_FILE = "session.json"
DEVICE_NAME = "entraide-bot"

# nio logs room ids, user ids and event ids at every level; none of that may reach a log.
for noisy in ("nio", "peewee"):
    logging.getLogger(noisy).setLevel(logging.CRITICAL + 1)


class MatrixLoginError(RuntimeError):
    """The homeserver refused the account; the message names no identity."""


@dataclass(frozen=True)
class Account:
    homeserver: str
    user_id: str
    password: str | None = None
    access_token: str | None = None


def pickle_passphrase(key: bytes) -> str:
    """nio wants the pickle key as text; the secrets file holds 32 random bytes."""
    return base64.b64encode(key).decode()


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by this account only, never half-written."""
    descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path.with_suffix(".tmp"), path)


async def open_client(
    account: Account, store_dir: Path, pickle_key: bytes, *, device_name: str = DEVICE_NAME
) -> AsyncClient:
    """A logged-in client whose Olm account and sessions live in ``store_dir``."""
    store_dir = _private_dir(store_dir)
    config = AsyncClientConfig(
        encryption_enabled=True,
        pickle_key=pickle_passphrase(pickle_key),
        # The sync position is kept by the channel, once the events before it are handled.
        store_sync_tokens=False,
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=30,
    )
    client = AsyncClient(account.homeserver, account.user_id, store_path=str(store_dir),
                         config=config)
    session_file = store_dir / SESSION_FILE
    try:
        if session_file.exists():
            session = json.loads(session_file.read_text(encoding="utf-8"))
            if session.get("user_id") != account.user_id:
                raise MatrixLoginError("the kept Matrix session belongs to another account")
            client.restore_login(session["user_id"], session["device_id"], session["access_token"])
        elif account.access_token:
            client.access_token = account.access_token
            whoami = await client.whoami()
            if not isinstance(whoami, WhoamiResponse) or not whoami.device_id:
                raise MatrixLoginError("the Matrix access token was refused")
            client.restore_login(whoami.user_id, whoami.device_id, account.access_token)
            _save_session(session_file, client)
        elif account.password:
            response = await client.login(account.password, device_name=device_name)
            if not isinstance(response, LoginResponse):
                raise MatrixLoginError("the Matrix login was refused")
            _save_session(session_file, client)
            log.info("event=matrix_device_created")
        else:
            raise MatrixLoginError("set MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN")
        if client.should_upload_keys:
            await client.keys_upload()
    except BaseException:
        await client.close()
        raise
    return client


def _save_session(path: Path, client: AsyncClient) -> None:
    session = {
        "user_id": client.user_id,
        "device_id": client.device_id,
        "access_token": client.access_token,
    }
    write_private(path, json.dumps(session))


async def keep_keys_fresh(client: AsyncClient) -> None:
    """What matrix-nio's own sync loop does after each sync, for loops of our own."""
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
