"""After an erasure the bot holds nothing that decrypts the conversation; its Matrix session
is a secret kept beside the server secrets, never in the data directory."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.channels.matrix.client import STORE_SESSION_FILE, MatrixLoginError, move_old_session
from tests.matrix.conftest import Deployment, files_containing, say

pytestmark = pytest.mark.asyncio(loop_scope="session")


def inbound_sessions(deployment: Deployment, room_id: str) -> int:
    """The Megolm sessions of ``room_id`` in the bot's crypto store, read from the file."""
    (crypto_store,) = (deployment.data_dir / "matrix").glob("*.db")
    with sqlite3.connect(crypto_store) as db:
        count: int = db.execute(
            "SELECT count(*) FROM megolminboundsessions WHERE room_id = ?", (room_id,)
        ).fetchone()[0]
    return count


def bot_forgot(deployment: Deployment, room_id: str) -> bool:
    with sqlite3.connect(deployment.homeserver.database) as db:
        rows = db.execute(
            "SELECT membership, forgotten FROM room_memberships WHERE room_id = ? AND user_id = ?"
            " ORDER BY event_stream_ordering DESC LIMIT 1",
            (room_id, deployment.settings.user_id),
        ).fetchall()
    return rows == [("leave", 1)]


async def test_after_an_erasure_the_bot_can_no_longer_decrypt_the_conversation(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    marker = "Effacement-Marker-8812"
    await say(person, room_id, f"je n'en peux plus, {marker}")
    assert inbound_sessions(deployment, room_id) > 0
    assert any("effacer" in reply for reply in await say(person, room_id, "effacer"))

    replies = await say(person, room_id, "oui")
    # The confirmation still reached the person, encrypted, before the keys went, and it
    # says where to talk again, since the room goes.
    assert any("Tout est effacé" in reply for reply in replies)
    assert any("nouvelle discussion directe" in reply for reply in replies)
    bot = deployment.settings.user_id
    async with asyncio.timeout(15):
        while bot in person.client.rooms[room_id].users:
            await person.wait_synced()
    assert inbound_sessions(deployment, room_id) == 0
    assert room_id not in deployment.running_bot.client.rooms
    assert bot_forgot(deployment, room_id)
    # Nothing the bot keeps (crypto store, event ledger, database) names the room any more.
    assert files_containing(deployment.data_dir, room_id) == []
    pseudonym = deployment.store.pseudonym("matrix", person.user_id)
    assert await deployment.store.load_conversation(pseudonym) is None

    # The same person, back in a new direct chat, starts afresh.
    again = await person.open_direct_chat(bot)
    welcome = await person.messages_until_quiet()
    assert "chiffrée de bout en bout" in welcome[0].body
    assert any("vous pèse" in reply for reply in await say(person, again, "1"))


async def test_the_session_file_is_kept_private_beside_the_server_secrets(
    deployment: Deployment,
) -> None:
    session_file = deployment.session_file
    assert session_file.parent == deployment.secrets_dir
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    token = json.loads(session_file.read_text())["access_token"]
    assert files_containing(deployment.data_dir, token) == []


async def test_a_session_kept_in_the_old_place_moves_on_the_next_start_with_its_device(
    deployment: Deployment,
) -> None:
    device = deployment.running_bot.client.device_id
    await deployment.stop_bot()
    old = deployment.data_dir / "matrix" / STORE_SESSION_FILE
    deployment.session_file.rename(old)

    await deployment.start_bot()
    assert not old.exists()
    assert stat.S_IMODE(deployment.session_file.stat().st_mode) == 0o600
    assert deployment.running_bot.client.device_id == device
    # And the bot still answers on that device.
    person, _ = await deployment.person()
    assert any("chiffrée" in m.body for m in await person.messages_until_quiet())


async def test_a_session_in_both_places_is_refused_with_what_to_delete(tmp_path: Path) -> None:
    old, new = tmp_path / "var" / "session.json", tmp_path / "secrets" / "matrix-session.json"
    for path in (old, new):
        path.parent.mkdir()
        path.write_text("{}")
    with pytest.raises(MatrixLoginError, match=f"delete {old}"):
        move_old_session(old, new)
    assert old.exists() and new.exists()
