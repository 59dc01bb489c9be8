"""A person whose Element keeps its room keys from the bot ("exclude insecure devices", and a
bot device its owner did not sign): Element's own crypto stack sends the bot a genuine
``m.room_key.withheld``. The person reads one sentence saying how to let the bot read them,
with the emergency numbers, once, and no request to send again. A withheld notice counts only
from the person who holds the key: a stranger's cannot silence them."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

import bot.channels.matrix.app as matrix_app
from bot.channels.matrix.cross_signing import Identity, IdentityState
from bot.dev.homeserver import Homeserver
from bot.dev.matrix_person import MatrixPerson
from tests.matrix.conftest import Deployment, deployed
from tests.matrix.test_element_stack import CRISIS, element_client, register

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Longer than the bot's whole wait for a late key: whatever it would still send has come.
QUIET_SECONDS = 8.0


async def _not_cross_signed(*_: object, **__: object) -> Identity:
    """The bot's device as before cross-signing, or when publishing it failed."""
    return Identity(IdentityState.NOT_PUBLISHED, None)


async def test_a_person_whose_client_withholds_its_keys_reads_once_how_to_reach_the_bot(
    homeserver: Homeserver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="bot.matrix")
    monkeypatch.setattr(matrix_app, "publish_identity", _not_cross_signed)
    user_id, password = await register(homeserver, "element-person")
    async with (
        deployed(homeserver, tmp_path) as deployment,
        element_client(
            homeserver, user_id, password,
            role="person", isolation="signed", bot=deployment.settings.user_id,
        ) as person,
    ):
        await person.settle(QUIET_SECONDS)
        welcome = set(person.messages)
        for text in ("bonjour", CRISIS, "vous êtes là ?"):
            await person.say(text)
        # In clear: the only message of the bot that this client will read.
        notice = await person._until(
            lambda line: line["event"] == "message" and not line["encrypted"]
            and "3114" in (line["body"] or ""),
            "message in clear with the numbers",
        )
        await person.settle(QUIET_SECONDS)

        assert set(person.messages) - welcome == {notice["id"]}, person.summary()
        assert "Exclure les appareils non sécurisés" in notice["body"]
        assert "15" in notice["body"]
        assert "event=matrix_room_key_withheld code=m.unverified" in caplog.text
        assert "kind=resend" not in caplog.text

        # Told once per room, across a restart too.
        await deployment.stop_bot()
        await deployment.start_bot()
        await person.say("toujours là ?")
        await person.settle(QUIET_SECONDS)
        assert set(person.messages) - welcome == {notice["id"]}, person.summary()


# What a client sends the bot: a Megolm event of a session whose key it kept (the nio
# person stands in for it, saying by a genuine to-device event what Element's stack says).
SESSION = "U2Vzc2lvbiB0aGUgYm90IG5ldmVyIHJlY2VpdmVk"
DEVICE_KEY = "Q29udGVudCBub2JvZHkgY2FuIHJlYWQgYXQgYWxsIQ"


async def _as(person: MatrixPerson, deployment: Deployment, path: str, body: object) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.put(
            f"{deployment.homeserver.url}/_matrix/client/v3/{path}/{secrets.token_hex(8)}",
            json=body,
            headers={"Authorization": f"Bearer {person.client.access_token}"},
        )
    assert response.status_code == 200


async def withhold(person: MatrixPerson, deployment: Deployment, room_id: str) -> None:
    bot = deployment.running_bot.client
    await _as(person, deployment, "sendToDevice/m.room_key.withheld", {"messages": {
        bot.user_id: {bot.device_id: {
            "algorithm": "m.megolm.v1.aes-sha2", "code": "m.unverified",
            "reason": "The sender has disabled encrypting to unverified devices.",
            "room_id": room_id, "session_id": SESSION, "sender_key": DEVICE_KEY,
        }},
    }})


async def send_unreadable(person: MatrixPerson, deployment: Deployment, room_id: str) -> None:
    await _as(person, deployment, f"rooms/{room_id}/send/m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEhAiQ29udGVudCBub2JvZHkgY2FuIHJlYWQ",
        "device_id": person.client.device_id,
        "sender_key": DEVICE_KEY,
        "session_id": SESSION,
    })


async def test_a_key_withheld_by_the_persons_client_is_explained_once_and_never_asked_again(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    await withhold(person, deployment, room_id)
    for _ in range(3):
        await send_unreadable(person, deployment, room_id)
    (notice,) = await person.messages_until_quiet(quiet=QUIET_SECONDS)
    assert not notice.decrypted
    assert "3114" in notice.body and "Exclure les appareils non sécurisés" in notice.body


async def test_a_withheld_notice_sent_by_someone_else_does_not_silence_the_person(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    stranger, _ = await deployment.person()
    await stranger.messages_until_quiet()
    await withhold(stranger, deployment, room_id)
    await send_unreadable(person, deployment, room_id)
    (reply,) = await person.messages_until_quiet(quiet=QUIET_SECONDS)
    assert reply.decrypted
    assert "déchiffrer" in reply.body


async def test_a_key_that_never_comes_to_an_unsigned_bot_is_explained_once(
    homeserver: Homeserver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Some clients keep their keys from a device its owner did not sign without sending a
    withheld notice: for a bot whose cross-signing failed, a key that never comes gets the
    same one sentence in clear, not a request to send again."""
    monkeypatch.setattr(matrix_app, "publish_identity", _not_cross_signed)
    async with deployed(homeserver, tmp_path) as deployment:
        person, room_id = await deployment.person()
        await person.messages_until_quiet()
        for _ in range(3):
            await send_unreadable(person, deployment, room_id)
        (notice,) = await person.messages_until_quiet(quiet=QUIET_SECONDS)
    assert not notice.decrypted
    assert "3114" in notice.body and "Exclure les appareils non sécurisés" in notice.body
