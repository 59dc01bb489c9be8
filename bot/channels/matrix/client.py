"""A matrix-nio client with a persistent, pickle-keyed crypto store and a device kept for good.

matrix-nio creates a new device at every password login, and a new device means new keys
that nobody has seen: so the password is used once, the device id and token are kept in a
0600 file beside the server secrets (the token is a secret: it is not data), and every
later start calls ``restore_login``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse
from nio.store.models import MegolmInboundSessions, OutgoingKeyRequests

from storage.keys import check_private_mode, write_private_file

log = logging.getLogger("bot.matrix")

SESSION_FILE = "matrix-session.json"
# The session's name inside a crypto store's directory: where throwaway accounts keep it,
# and where the bot's own was kept before it moved beside the server secrets.
STORE_SESSION_FILE = "session.json"
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


@dataclass(frozen=True)
class Session:
    """The device the bot keeps for good, and its token."""

    user_id: str
    device_id: str
    access_token: str = field(repr=False)


def read_session(path: Path, user_id: str) -> Session | None:
    if not path.exists():
        return None
    check_private_mode(path, "Matrix session file")
    kept = json.loads(path.read_text(encoding="utf-8"))
    if kept.get("user_id") != user_id:
        raise MatrixLoginError("the kept Matrix session belongs to another account")
    return Session(kept["user_id"], kept["device_id"], kept["access_token"])


def session_of(client: AsyncClient) -> Session:
    return Session(client.user_id, client.device_id, client.access_token)


def pickle_passphrase(key: bytes) -> str:
    """nio wants the pickle key as text; the secrets file holds 32 random bytes."""
    return base64.b64encode(key).decode()


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def session_file_beside(secrets_file: Path) -> Path:
    return secrets_file.with_name(SESSION_FILE)


def move_old_session(old: Path, new: Path) -> None:
    """A session kept where earlier versions kept it moves to ``new``, once."""
    if not old.exists():
        return
    if new.exists():
        raise MatrixLoginError(
            f"a Matrix session is kept both in {new} (the one in use) and in {old}: "
            f"delete {old}"
        )
    check_private_mode(old, "Matrix session file")
    write_private_file(new, old.read_bytes())
    old.unlink()
    log.info("event=matrix_session_moved")


async def open_client(
    account: Account,
    store_dir: Path,
    pickle_key: bytes,
    *,
    session_file: Path | None = None,
    device_name: str = DEVICE_NAME,
) -> AsyncClient:
    """A logged-in client whose Olm account and sessions live in ``store_dir``, and whose
    device id and token live in ``session_file`` (by default beside the crypto store: for
    throwaway accounts only)."""
    store_dir = _private_dir(store_dir)
    session_file = session_file or store_dir / STORE_SESSION_FILE
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
    try:
        session = read_session(session_file, account.user_id)
        if session is not None:
            client.restore_login(session.user_id, session.device_id, session.access_token)
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
    write_private_file(path, json.dumps(asdict(session_of(client))).encode(), overwrite=True)


def drop_room_keys(client: AsyncClient, room_id: str) -> None:
    """Forget every Megolm session of ``room_id`` (the person's and the bot's own, and the
    requests for missing ones), in memory and in the crypto store, so that nothing the bot
    holds can decrypt that room's history any more."""
    olm = client.olm
    olm.outbound_group_sessions.pop(room_id, None)
    olm.inbound_group_store[room_id].clear()
    for key, request in list(olm.outgoing_key_requests.items()):
        if request.room_id == room_id:
            del olm.outgoing_key_requests[key]
    database = client.store.database
    # nio's store turns on secure_delete, so the rows are overwritten, and foreign keys, so
    # the sessions' forwarding chains go with them.
    with database.bind_ctx([MegolmInboundSessions, OutgoingKeyRequests]), database.atomic():
        MegolmInboundSessions.delete().where(MegolmInboundSessions.room_id == room_id).execute()
        OutgoingKeyRequests.delete().where(OutgoingKeyRequests.room_id == room_id).execute()


async def keep_keys_fresh(client: AsyncClient) -> None:
    """What matrix-nio's own sync loop does after each sync, for loops of our own."""
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
