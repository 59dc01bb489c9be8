"""What people send that is not a short text: each gets a sentence, nothing is kept, no crash."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import httpx
import pytest

from tests.matrix.conftest import Deployment, files_containing

pytestmark = pytest.mark.asyncio(loop_scope="session")

# An attachment as clients send it in encrypted rooms (the file itself is never fetched).
ENCRYPTED_FILE = {
    "url": "mxc://localhost/Attachment",
    "key": {"kty": "oct", "key_ops": ["encrypt", "decrypt"], "alg": "A256CTR",
            "k": "qcHVMSgYg-71CauWBezXI5qkaRb0LuIy-Wx5kIaHMIA", "ext": True},
    "iv": "X85+XgHN+HEAAAAAAAAAAA",
    "hashes": {"sha256": "0nMmWcmL3xFhK4SfAWGLd3EFXWDZ6a0yvpYZSaa7VT8"},
    "v": "v2",
}


async def test_a_64_kb_message_gets_the_too_long_sentence(deployment: Deployment) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    # Encrypted, 44 000 characters make an event just under Synapse's 64 KiB limit.
    await person.send(room_id, "a" * 44_000)
    replies = await person.messages_until_quiet()
    assert any("long" in reply.body for reply in replies)
    assert any("1. " in reply.body for reply in replies)  # the question again


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        ({"msgtype": "m.image", "body": "Photo-Marker.jpg", "file": ENCRYPTED_FILE},
         "je n'ai rien gardé de ce fichier"),
        ({"msgtype": "m.file", "body": "Bilan-Marker.pdf", "url": "mxc://localhost/y"},
         "je n'ai rien gardé de ce fichier"),
        ({"msgtype": "org.example.poll", "body": "Poll-Marker"}, "texte simple"),
        ({"msgtype": "m.text", "body": 12}, "texte simple"),
        ({"msgtype": "m.text"}, "texte simple"),
    ],
    ids=["image", "file", "unknown-msgtype", "body-not-text", "body-missing"],
)
async def test_what_is_not_text_gets_a_sentence_and_is_not_kept(
    deployment: Deployment, content: dict[str, object], sentence: str
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    pseudonym = deployment.store.pseudonym("matrix", person.user_id)
    before = await deployment.store.load_conversation(pseudonym)
    await person.send_content(room_id, content)
    reply = await person.next_message()
    assert sentence in reply.body
    after = await deployment.store.load_conversation(pseudonym)
    assert before is not None and after is not None and after.state == before.state
    assert files_containing(deployment.data_dir, "Marker") == []
    # And the conversation goes on.
    await person.send(room_id, "1")
    assert any("vous pèse" in r.body for r in await person.messages_until_quiet())


async def test_a_room_with_a_third_person_is_left_with_a_sentence(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    bot = deployment.settings.user_id
    await person.client.room_invite(room_id, deployment.staff.user_id)
    goodbye = await person.next_message()
    assert "je quitte ce salon" in goodbye.body
    async with asyncio.timeout(15):
        while bot in person.client.rooms[room_id].users:
            await person.wait_synced()


async def test_a_flood_is_slowed_down_for_that_person_only(deployment: Deployment) -> None:
    flooder, flood_room = await deployment.person()
    other, other_room = await deployment.person()
    await flooder.messages_until_quiet()
    await other.messages_until_quiet()

    flood_sent = 0

    async def flood() -> None:
        nonlocal flood_sent
        for _ in range(100):
            await flooder.send(flood_room, "aide")
            flood_sent += 1
            await asyncio.sleep(0.1)

    flooding = asyncio.create_task(flood())
    await asyncio.sleep(3)
    sent_before = flood_sent
    await other.send(other_room, "1")
    answer = await other.next_message(timeout=10)
    # The other person did not wait behind the flood: their answer came while messages the
    # flooder sent before theirs were still waiting for an answer.
    answered_before = flooder.inbox.qsize()
    await flooding
    assert "vous pèse" in answer.body
    assert answered_before < sent_before, (answered_before, sent_before)
    # The bot paces the flooder (a burst, then about one message a second): after the ten
    # seconds of flood, far fewer than 100 answers came back, and the rest are still coming.
    answered = flooder.inbox.qsize()
    assert 0 < answered < 60, answered
    await asyncio.sleep(3)
    assert flooder.inbox.qsize() > answered


async def test_a_message_that_cannot_be_decrypted_asks_for_a_resend(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    # A Megolm event from a session the bot never received: its key will not come.
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEhAiQ29udGVudCBub2JvZHkgY2FuIHJlYWQ",
        "device_id": person.client.device_id,
        "sender_key": "Q29udGVudCBub2JvZHkgY2FuIHJlYWQgYXQgYWxsIQ",
        "session_id": "U2Vzc2lvbiB0aGUgYm90IG5ldmVyIHJlY2VpdmVk",
    }
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.put(
            f"{deployment.homeserver.url}/_matrix/client/v3/rooms/{room_id}/send/"
            f"m.room.encrypted/{secrets.token_hex(8)}",
            json=content,
            headers={"Authorization": f"Bearer {person.client.access_token}"},
        )
    assert response.status_code == 200
    reply = await person.next_message(timeout=20)
    assert "déchiffrer" in reply.body
    # The conversation goes on with the next message that can be read.
    await person.send(room_id, "1")
    assert any("vous pèse" in r.body for r in await person.messages_until_quiet())


async def test_a_replayed_encrypted_message_is_ignored(deployment: Deployment) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    event_id = await person.send(room_id, "1")
    assert any("vous pèse" in r.body for r in await person.messages_until_quiet())
    headers = {"Authorization": f"Bearer {person.client.access_token}"}
    rooms = f"{deployment.homeserver.url}/_matrix/client/v3/rooms/{room_id}"
    async with httpx.AsyncClient(trust_env=False, headers=headers) as http:
        original = (await http.get(f"{rooms}/event/{event_id}")).json()
        assert original["type"] == "m.room.encrypted"
        # The same ciphertext (same Megolm session and index) as a new event.
        replay = await http.put(
            f"{rooms}/send/m.room.encrypted/{secrets.token_hex(8)}", json=original["content"]
        )
    assert replay.status_code == 200
    with pytest.raises(TimeoutError):
        await person.next_message(timeout=8)
    # The conversation is where it was: the replayed "1" did not answer the next question
    # (had it done so, "le moral" would have met the practice question and not been
    # understood).
    await person.send(room_id, "le moral")
    replies = [r.body for r in await person.messages_until_quiet()]
    assert any("mode d'exercice" in body for body in replies)
    assert not any("pas compris" in body for body in replies)


async def test_a_failure_while_handling_a_message_still_answers_a_crisis(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    channel = deployment.running_bot.channel

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the store went away")

    channel._answer = broken  # type: ignore[method-assign]
    await person.send(room_id, "je veux mourir, je vais me tuer ce soir")
    replies = [reply.body for reply in await person.messages_until_quiet()]
    assert any("3114" in body and "15" in body for body in replies), replies
    # Marked as handled: a restart does not answer it a second time.
    await deployment.stop_bot()
    await deployment.start_bot()
    with pytest.raises(TimeoutError):
        await person.next_message(timeout=3)


async def test_a_clear_event_in_an_encrypted_room_changes_nothing(
    deployment: Deployment,
) -> None:
    """The homeserver (or anyone with its database) injects plaintext messages in the
    person's name: they must neither erase the case nor reach the commission."""
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    await person.send(room_id, "c'est pour mon mari")
    await person.messages_until_quiet()
    pseudonym = deployment.store.pseudonym("matrix", person.user_id)
    before = await deployment.store.load_conversation(pseudonym)
    headers = {"Authorization": f"Bearer {person.client.access_token}"}
    rooms = f"{deployment.homeserver.url}/_matrix/client/v3/rooms/{room_id}"
    async with httpx.AsyncClient(trust_env=False, headers=headers) as http:
        for body in ("effacer", "oui", "écrire", "Le Dr Marker est dangereux"):
            sent = await http.put(
                f"{rooms}/send/m.room.message/{secrets.token_hex(8)}",
                json={"msgtype": "m.text", "body": body},
            )
            assert sent.status_code == 200
    replies: list[str] = []
    with contextlib.suppress(TimeoutError):
        replies = [reply.body for reply in await person.messages_until_quiet(timeout=8)]
    assert len([body for body in replies if "pas chiffré" in body]) <= 1, replies
    assert not any("effacer" in body.lower() or "commission" in body for body in replies)
    after = await deployment.store.load_conversation(pseudonym)
    assert before is not None and after is not None and after.state == before.state
    assert files_containing(deployment.data_dir, "Marker") == []
