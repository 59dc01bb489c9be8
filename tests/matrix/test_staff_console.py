"""The commission works its cases in its encrypted staff room, on a real Synapse, with real
end-to-end encrypted clients for the person and for the commission member."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bot.dev.homeserver import Homeserver
from bot.dev.matrix_person import MatrixPerson, Received
from storage import CaseFile
from tests.conftest import RESOURCES
from tests.matrix.conftest import Deployment, deployed, drain, new_person, next_where, say

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every case is late a second after it arrives, and is reminded once an hour after that.
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
SOON_LATE = replace(
    RESOURCES,
    deployment=replace(
        RESOURCES.deployment,
        commission=replace(
            RESOURCES.deployment.commission,
            acknowledge_within={1: SECOND, 2: SECOND, 3: SECOND},
            remind_every={1: HOUR, 2: HOUR, 3: HOUR},
        ),
    ),
)


@pytest_asyncio.fixture(loop_scope="session")
async def console(homeserver: Homeserver, tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployed(homeserver, tmp_path, resources=SOON_LATE) as setup:
        yield setup


def is_card(message: Received) -> bool:
    return message.thread is None and message.edits is None and "Dossier" in message.body


def staff_room(setup: Deployment) -> str:
    assert setup.settings.staff_room is not None
    return setup.settings.staff_room


async def open_case(setup: Deployment) -> tuple[MatrixPerson, str, Received]:
    """A physician who writes for themself and names an addiction: a level-2 case."""
    person, room_id = await setup.person()
    await person.messages_until_quiet()
    await drain(setup.staff)
    await say(person, room_id, "1")
    card = await next_where(setup.staff, is_card)
    await say(person, room_id, "addiction")
    await until_file(setup, card, lambda file: file.level == 2)
    return person, room_id, card


async def case_file(setup: Deployment, card: Received) -> CaseFile:
    linked = await setup.store.staff_event(card.event_id)
    assert linked is not None
    file = await setup.store.case_file(linked.case_id)
    assert file is not None
    return file


async def until_file(
    setup: Deployment, card: Received, wanted: Callable[[CaseFile], bool]
) -> CaseFile:
    async with asyncio.timeout(20):
        while not wanted(file := await case_file(setup, card)):
            await asyncio.sleep(0.2)
    return file


def mentions(message: Received) -> list[str]:
    return list(message.content.get("m.mentions", {}).get("user_ids", []))


async def test_a_case_is_one_thread_where_the_commission_answers_and_the_person_answers_back(
    console: Deployment,
) -> None:
    person, room_id, card = await open_case(console)
    staff, room = console.staff, staff_room(console)
    assert card.decrypted
    assert person.user_id not in card.body
    for internal in ("need:", "persona:", "cnom_line", "self"):
        assert internal not in card.body
    # The level change is posted in the case's thread, and the card says the new level.
    await next_where(staff, lambda m: m.edits == card.event_id and "2" in m.new_body)

    await drain(person)
    await staff.send_in_thread(room, card.event_id, "!r Nous avons lu votre message. Tondeuse-8812")
    told = await next_where(person, lambda m: "Tondeuse-8812" in m.body)
    assert "commission d'entraide" in told.body
    assert "!r" not in told.body and staff.user_id not in told.body
    confirmed = await next_where(staff, lambda m: m.thread == card.event_id and "Matrix" in m.body)
    assert "Tondeuse" not in confirmed.body

    await person.send(room_id, "Merci, je veux bien en parler. Parapluie-5531")
    answer = await next_where(staff, lambda m: "Parapluie-5531" in m.body)
    assert answer.thread == card.event_id and answer.decrypted

    # A plain message in the thread is a note for the commission: the person never sees it.
    await drain(person)
    note = "À rappeler jeudi. Cornichon-3390"
    await staff.send_in_thread(room, card.event_id, note)
    assert all("Cornichon" not in m.body for m in await drain(person, quiet=3))
    file = await case_file(console, card)
    assert [kept.text for kept in await console.store.notes(file.case_id)] == [note]


async def test_a_tick_acknowledges_and_a_raised_hand_takes_the_case(console: Deployment) -> None:
    person, _, card = await open_case(console)
    staff, room = console.staff, staff_room(console)
    await drain(person)

    await staff.react(room, card.event_id, "✅")
    told = await next_where(person, lambda m: "commission" in m.body)
    assert staff.user_id not in told.body
    await next_where(staff, lambda m: m.edits == card.event_id and "pris en charge" in m.new_body)
    file = await case_file(console, card)
    assert file.status == "in_progress" and file.acknowledged_at is not None

    raised = await staff.react(room, card.event_id, "✋")
    await next_where(staff, lambda m: m.edits == card.event_id and staff.user_id in m.new_body)
    assert (await case_file(console, card)).assignee == staff.user_id

    await staff.client.room_redact(room, raised)
    await next_where(staff, lambda m: m.edits == card.event_id and staff.user_id not in m.new_body)
    assert (await case_file(console, card)).assignee is None

    # `!attribuer` with a mention pill, as Element sends it: the display name in the body.
    await staff.send_content(room, {
        "msgtype": "m.text",
        "body": "!attribuer Docteur Commission",
        "m.mentions": {"user_ids": [staff.user_id]},
        "m.relates_to": {
            "rel_type": "m.thread", "event_id": card.event_id, "is_falling_back": True,
            "m.in_reply_to": {"event_id": card.event_id},
        },
    })
    await next_where(staff, lambda m: m.edits == card.event_id and staff.user_id in m.new_body)
    assert (await case_file(console, card)).assignee == staff.user_id


async def test_an_overdue_case_is_reminded_and_a_crisis_calls_the_on_call_members_again(
    console: Deployment,
) -> None:
    staff = console.staff
    _, _, card = await open_case(console)
    await asyncio.sleep(1.5)  # past the deadline of one second
    await console.running_bot.scheduler.run_once()
    reminder = await next_where(staff, lambda m: m.thread == card.event_id and mentions(m) != [])
    assert mentions(reminder) == [staff.user_id]
    assert (await case_file(console, card)).reminders_sent == 1

    person, room_id = await console.person()
    await person.messages_until_quiet()
    await drain(staff)
    await person.send(room_id, "je vais me tuer ce soir")
    crisis = await next_where(staff, is_card)
    assert mentions(crisis) == [staff.user_id]
    await asyncio.sleep(1.5)
    await console.running_bot.scheduler.run_once()
    again = await next_where(staff, lambda m: m.thread == crisis.event_id and mentions(m) != [])
    assert staff.user_id in mentions(again)


async def test_the_council_moves_an_interview_and_the_old_slot_is_free_again(
    console: Deployment,
) -> None:
    person, room_id, card = await open_case(console)
    staff, room = console.staff, staff_room(console)
    await say(person, room_id, "je voudrais un rendez-vous")
    await say(person, room_id, "1")  # the first slot
    await say(person, room_id, "1")  # at the council
    booked = await until_file(console, card, lambda file: len(file.bookings) == 1)
    (first,) = booked.bookings

    await drain(person)
    await staff.send_in_thread(room, card.event_id, "!rdv déplacer")
    asked = await next_where(person, lambda m: "1. " in m.body)
    assert "2. " in asked.body
    assert await console.store.taken_slots([first]) == set()
    await say(person, room_id, "2")
    await say(person, room_id, "1")
    moved = await until_file(console, card, lambda file: len(file.bookings) == 1)
    assert moved.bookings != (first,)


async def test_commands_from_someone_off_the_list_do_nothing(console: Deployment) -> None:
    person, _, card = await open_case(console)
    staff, room = console.staff, staff_room(console)
    stranger = await new_person(console.homeserver, console.root, "stranger")
    console.people.append(stranger)
    await staff.client.room_invite(room, stranger.user_id)
    await stranger.wait_joined(room, stranger.user_id)
    await drain(person)

    await stranger.react(room, card.event_id, "✅")
    await stranger.send_in_thread(room, card.event_id, "!r Hameçon-1234")
    await stranger.send_in_thread(room, card.event_id, "!vu")
    assert all("Hameçon" not in m.body for m in await drain(person, quiet=3))
    await staff.client.room_kick(room, stranger.user_id)
    await console.running_bot.channel.idle()
    file = await case_file(console, card)
    assert file.acknowledged_at is None and file.status == "open"
    assert await console.store.staff_actions(file.case_id) == []


async def test_a_restart_loses_no_reminder_and_sends_none_twice(console: Deployment) -> None:
    staff = console.staff
    _, _, card = await open_case(console)
    await console.stop_bot()
    await asyncio.sleep(1.5)  # the deadline passes while the bot is down

    await console.start_bot()
    await console.running_bot.scheduler.run_once()
    reminders = [
        m for m in await drain(staff, quiet=3) if m.thread == card.event_id and mentions(m)
    ]
    assert len(reminders) == 1

    await console.stop_bot()
    await console.start_bot()
    await console.running_bot.scheduler.run_once()
    again = [m for m in await drain(staff, quiet=3) if m.thread == card.event_id and mentions(m)]
    assert again == []
    assert (await case_file(console, card)).reminders_sent == 1


async def test_closing_asks_the_report_fields_prefilled_and_a_member_confirms(
    console: Deployment,
) -> None:
    _, _, card = await open_case(console)
    staff, room = console.staff, staff_room(console)
    await staff.send_in_thread(room, card.event_id, "!aide")
    helped = await next_where(staff, lambda m: m.thread == card.event_id and "!r" in m.body)
    assert "!clore" in helped.body

    await staff.send_in_thread(room, card.event_id, "!clore")
    form = await next_where(staff, lambda m: m.thread == card.event_id and "!clore ok" in m.body)
    assert "Motif" in form.body
    await staff.send_in_thread(
        room, card.event_id,
        "!clore sexe=inconnu exercice=inconnu age=inconnu origine=demande motif=psy "
        "aide=non_financiere issue=reprise",
    )
    await next_where(staff, lambda m: m.thread == card.event_id and "!clore ok" in m.body)
    await staff.send_in_thread(room, card.event_id, "!clore ok")
    await next_where(staff, lambda m: m.edits == card.event_id and "clos" in m.new_body)
    file = await case_file(console, card)
    assert file.status == "closed" and file.closing["outcome"] == "return_to_work"


async def test_an_edit_of_a_reply_reaches_the_person_as_a_correction(
    console: Deployment,
) -> None:
    person, _, card = await open_case(console)
    staff, room = console.staff, staff_room(console)
    sent = await staff.send_in_thread(room, card.event_id, "!r Rendez-vous mardi. Girafe-1")
    await next_where(person, lambda m: "Girafe-1" in m.body)
    await staff.send_content(room, {
        "msgtype": "m.text",
        "body": "* !r Rendez-vous mercredi. Girafe-2",
        "m.new_content": {"msgtype": "m.text", "body": "!r Rendez-vous mercredi. Girafe-2"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": sent},
    })
    corrected = await next_where(person, lambda m: "Girafe-2" in m.body)
    assert "corrige" in corrected.body


async def test_the_morning_queue_and_the_interview_reminder_go_out_once_across_a_restart(
    console: Deployment,
) -> None:
    person, room_id, card = await open_case(console)
    staff = console.staff
    await say(person, room_id, "je voudrais un rendez-vous")
    await say(person, room_id, "1")
    await say(person, room_id, "1")
    (slot,) = (await until_file(console, card, lambda file: len(file.bookings) == 1)).bookings
    zone = console.resources.deployment.timezone
    eve = datetime.fromisoformat(slot).replace(tzinfo=zone) - timedelta(days=1)
    evening = eve.replace(hour=19, minute=0)

    async def run_jobs() -> None:
        scheduler = console.running_bot.scheduler
        scheduler.clock = lambda: evening
        scheduler.daily_jobs = True
        await scheduler.run_once()

    # Someone who only read the welcome has a conversation, not a case for the commission.
    passer_by, _ = await console.person()
    await passer_by.messages_until_quiet()
    await drain(person)
    await drain(staff)
    await run_jobs()
    reminded = await next_where(person, lambda m: "demain" in m.body)
    assert "rendez-vous" in reminded.body
    queue = await next_where(staff, lambda m: "Dossiers ouverts" in m.body)
    assert "Dossiers ouverts (1)" in queue.body

    await console.stop_bot()
    await console.start_bot()
    await run_jobs()
    assert all("demain" not in m.body for m in await drain(person, quiet=3))
    assert all("Dossiers ouverts" not in m.body for m in await drain(staff, quiet=1))


async def test_a_member_asks_for_the_yearly_report_and_gets_it_as_encrypted_files(
    console: Deployment,
) -> None:
    staff, room = console.staff, staff_room(console)
    await open_case(console)
    year = datetime.now(console.resources.deployment.timezone).year
    await drain(staff)

    await staff.send(room, f"!rapport {year}")
    answer = await next_where(staff, lambda m: m.body.startswith(f"Rapport {year}"))
    files = [m for m in await drain(staff, quiet=5) if "file" in m.content]
    assert f"{len(files)} fichiers" in answer.body
    names = {m.content["filename"] for m in files}
    assert any(name.endswith(".md") for name in names)
    assert any(name.endswith("-tables.zip") for name in names)
    assert any(name.endswith(".png") for name in names)
    for message in files:
        assert message.decrypted
        assert message.content["msgtype"] == (
            "m.image" if message.content["info"]["mimetype"].startswith("image/") else "m.file"
        )
        stored, opened = await staff.download(message)
        assert len(opened) == message.content["info"]["size"]
        # The homeserver keeps ciphertext only: not a line of the report is readable there.
        assert stored != opened
        if message.content["filename"].endswith(".png"):
            assert opened.startswith(b"\x89PNG") and not stored.startswith(b"\x89PNG")
        if message.content["filename"].endswith(".md"):
            assert str(year).encode() in opened and str(year).encode() not in stored
        if message.content["filename"].endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(opened)) as archive:
                tables = archive.namelist()
            assert tables and all(name.endswith(".csv") for name in tables)

    await staff.send(room, "!rapport 1999")
    refused = await next_where(staff, lambda m: "1999" in m.body)
    assert refused.body.startswith("Aucun dossier compté en 1999")
    assert str(year) in refused.body
