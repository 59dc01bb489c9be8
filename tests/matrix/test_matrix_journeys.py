"""A person talks to the bot through real end-to-end encryption on a real Synapse."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, cast

import pytest

from storage import Store
from tests.matrix.conftest import Deployment, drain, files_containing, is_case_card, say

pytestmark = pytest.mark.asyncio(loop_scope="session")

TO_ROUTES = ["1", "financial", "liberal", "skip", "passer", "jamais"]


def synapse_event_types(deployment: Deployment, room_id: str) -> set[str]:
    with sqlite3.connect(deployment.homeserver.database) as db:
        rows = db.execute(
            "SELECT type FROM events WHERE room_id = ? AND state_key IS NULL", (room_id,)
        ).fetchall()
    return {row[0] for row in rows}


async def test_an_encrypted_direct_chat_goes_from_greeting_to_routes_and_leaves_no_words(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    welcome = await person.messages_until_quiet()
    assert welcome[0].decrypted
    assert "chiffrée de bout en bout" in welcome[0].body
    assert "1. " in welcome[-1].body  # the persona options, numbered

    marker = "Zorglub-épuisé-7319"
    replies = await say(person, room_id, f"bonjour, je suis {marker}")
    for answer in TO_ROUTES:
        replies = await say(person, room_id, answer)
    assert any("Voici vers qui vous tourner" in reply for reply in replies)
    assert any("Ordre" in reply or "Conseil" in reply for reply in replies)

    # What the person writes for the commission reaches its room, in their words.
    await drain(deployment.staff)
    words = "Quiproquo-cotisations-4471"
    await say(person, room_id, "oui")
    await say(person, room_id, f"Je n'arrive plus à payer, {words}")
    received = await drain(deployment.staff, quiet=2)
    assert any(words in message.body and message.decrypted for message in received)

    # The homeserver saw only encrypted events, and no word of either side.
    assert synapse_event_types(deployment, room_id) == {"m.room.encrypted"}
    deployment.homeserver.stop()
    try:
        for word in (marker, words, "Voici vers qui vous tourner"):
            assert files_containing(deployment.homeserver.directory, word) == []
            assert files_containing(deployment.data_dir, word) == []
    finally:
        deployment.homeserver.start()


async def test_a_room_without_encryption_is_refused_and_nothing_is_kept(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person(encrypted=False)
    explanation = await person.next_message()
    assert "n'est pas chiffré" in explanation.body
    marker = "Plaintext-Marker-5521"
    ledger = deployment.running_bot.channel.ledger
    position = ledger.sync_token()
    await person.send(room_id, f"je bois trop {marker}")
    # The bot has seen the message once its sync position moved past it.
    async with asyncio.timeout(15):
        while ledger.sync_token() == position:
            await asyncio.sleep(0.1)
    await deployment.running_bot.channel.idle()
    pseudonym = deployment.store.pseudonym("matrix", person.user_id)
    assert await deployment.store.load_conversation(pseudonym) is None
    assert files_containing(deployment.data_dir, marker) == []
    assert files_containing(deployment.data_dir, person.user_id) == []


async def test_the_bot_restarted_mid_conversation_resumes_and_answers_each_event_once(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    assert any("vous pèse" in reply for reply in await say(person, room_id, "1"))
    await deployment.stop_bot()
    # Written while the bot is down: answered after the restart, exactly once.
    await person.send(room_id, "le moral")
    await deployment.start_bot()
    replies = await person.messages_until_quiet(quiet=3)
    assert [reply.body for reply in replies if "mode d'exercice" in reply.body] != []
    assert len(replies) == 1, [reply.body[:40] for reply in replies]
    await deployment.stop_bot()
    await deployment.start_bot()
    with pytest.raises(TimeoutError):
        await person.next_message(timeout=3)
    assert any("département" in reply for reply in await say(person, room_id, "skip"))


async def test_a_level_3_message_alerts_the_staff_room(
    deployment: Deployment,
) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    await drain(deployment.staff)
    await person.send(room_id, "je vais me tuer ce soir")
    while True:
        alert = await deployment.staff.next_message(timeout=10)
        if "niveau 3" in alert.body:
            break
    assert alert.decrypted
    assert "URGENCE" in alert.body
    assert person.user_id not in alert.body
    assert alert.content["m.mentions"]["user_ids"] == [deployment.staff.user_id]


async def test_the_staff_room_gets_one_alert_when_the_bot_dies_between_send_and_ack(
    deployment: Deployment,
) -> None:
    staff = deployment.running_bot.staff
    assert staff is not None
    store = deployment.store

    class DiesBeforeRecording:
        """The store as the staff room sees it, in a bot killed right after each send."""

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        async def mark_delivered(self, item_id: str) -> None:
            raise RuntimeError("killed between send and ack")

    staff.store = cast(Store, DiesBeforeRecording())
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    await drain(deployment.staff)
    await say(person, room_id, "1")
    first = await drain(deployment.staff, quiet=2)
    assert len([m for m in first if is_case_card(m.body)]) == 1
    await deployment.stop_bot()
    assert await store.pending_outbox() != []

    await deployment.start_bot()
    async with asyncio.timeout(20):
        while await store.pending_outbox():
            await asyncio.sleep(0.2)
    again = await drain(deployment.staff, quiet=2)
    assert [m.body for m in again if is_case_card(m.body)] == []


async def test_alerts_wait_while_the_staff_room_holds_someone_off_the_list(
    deployment: Deployment,
) -> None:
    staff = deployment.staff
    staff_room = deployment.settings.staff_room
    assert staff_room is not None
    stranger, _ = await deployment.person()
    await staff.client.room_invite(staff_room, stranger.user_id)
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    await drain(staff)
    await say(person, room_id, "1")
    held = await drain(staff, quiet=3)
    assert [m.body for m in held if is_case_card(m.body)] == []
    assert await deployment.store.pending_outbox() != []

    await staff.client.room_kick(staff_room, stranger.user_id)
    async with asyncio.timeout(20):
        while await deployment.store.pending_outbox():
            await asyncio.sleep(0.2)
    delivered = await drain(staff, quiet=2)
    assert len([m for m in delivered if is_case_card(m.body)]) == 1
