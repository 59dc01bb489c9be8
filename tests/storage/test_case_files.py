"""The commission's console on the store: one case file per case, worked on by members whose
every act is audited, reminders sent once whatever the restarts, and nothing in clear."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage import (
    STATUS_CLOSED,
    STATUS_IN_PROGRESS,
    STATUS_OPEN,
    Address,
    ServerSecrets,
    Store,
    UnknownCase,
    tables,
)
from tests.storage.helpers import CHEAP_RECEIPTS, FakeClock
from tests.storage.postgres_server import PostgresServer

MEMBER = "@docteur.lefebvre:ordre.example"
OTHER_MEMBER = "@docteur.martin:ordre.example"
CLOSING = {
    "sex": "female",
    "practice": "self_employed",
    "age_band": "50_60",
    "origin": "reported",
    "motive": "psychiatric",
    "help": "not_financial",
    "outcome": "ongoing_elsewhere",
}
CONSOLE_TABLES = ("case_work", "staff_events", "case_notes", "staff_actions")


async def _case(store: Store, name: str, *, room: str | None = None) -> str:
    person = store.pseudonym("matrix", f"@{name}:example.org")
    address = room or f"!{name}:example.org"
    return await store.save_conversation(person, {}, channel="matrix", address=address)


async def _update(store: Store, case_id: str, **values: Any) -> None:
    async with store._writes(case_id) as case:
        await case.update(**values)


async def _file(store: Store, case_id: str) -> Any:
    found = await store.case_file(case_id)
    assert found is not None
    return found


# -- where the person is reached ----------------------------------------------------------


async def test_a_turn_saved_without_an_address_keeps_the_one_stored(store: Store) -> None:
    person = store.pseudonym("matrix", "@anne:example.org")
    case_id = await store.save_conversation(
        person, {"step": 1}, channel="matrix", address="!dm-anne:example.org"
    )
    await store.save_conversation(person, {"step": 2})

    assert await store.addresses(case_id) == [Address(person, "matrix", "!dm-anne:example.org")]
    assert (await _file(store, case_id)).channel == "matrix"
    assert await store.case_of(person) == case_id


async def test_an_address_without_its_channel_is_refused(store: Store) -> None:
    person = store.pseudonym("matrix", "@anne:example.org")
    with pytest.raises(ValueError):
        await store.save_conversation(person, {}, address="!dm-anne:example.org")
    assert await store.case_of(person) is None


async def test_a_person_back_with_a_receipt_is_reached_on_the_newest_conversation(
    store: Store, clock: FakeClock
) -> None:
    first = store.pseudonym("matrix", "@anne:example.org")
    case_id = await store.save_conversation(
        first, {}, channel="matrix", address="!dm-anne:example.org"
    )
    code = await store.issue_receipt(case_id)
    clock.advance(timedelta(days=3))
    second = store.pseudonym("telegram", "4242")
    await store.save_conversation(second, {"step": "receipt"}, channel="telegram", address="4242")

    assert await store.redeem_receipt(code, second) == case_id

    # The moved conversation keeps its own address, now under the redeemed case's key.
    assert await store.addresses(case_id) == [
        Address(second, "telegram", "4242"),
        Address(first, "matrix", "!dm-anne:example.org"),
    ]
    assert (await _file(store, case_id)).channel == "telegram"


async def test_a_case_the_commission_worked_on_survives_its_conversation_moving_away(
    store: Store,
) -> None:
    """A person who redeems another case's receipt takes their conversation along; the case
    left behind is erased only if nothing but that conversation was ever in it."""
    person = store.pseudonym("matrix", "@anne:example.org")
    worked_on = await store.save_conversation(person, {})
    assert await store.add_note(worked_on, "Appelée deux fois.", dedup_key="$note1")
    other = await store.save_conversation(store.pseudonym("telegram", "1"), {})
    code = await store.issue_receipt(other)

    assert await store.redeem_receipt(code, person) == other

    assert [note.text for note in await store.notes(worked_on)] == ["Appelée deux fois."]


# -- the case file ----------------------------------------------------------------------


async def test_a_case_file_gathers_what_the_console_shows(store: Store, clock: FakeClock) -> None:
    case_id = await _case(store, "anne")
    summary = {"scores": [["phq9", 17, "moderately_severe"]], "routes": ["cnom_line"]}
    await _update(
        store,
        case_id,
        persona="self",
        level=2,
        categories=["need:psychological", "age:50_59"],
        summary=summary,
        acknowledge_by=clock.now + timedelta(hours=48),
    )
    await store.book_slot(case_id, "2025-03-04T10:00")
    await store.set_thread_root(case_id, "$card-event:example.org")
    await store.assign(case_id, MEMBER, by=MEMBER)

    found = await _file(store, case_id)

    assert (found.status, found.level, found.persona) == (STATUS_OPEN, 2, "self")
    assert found.categories == ("age:50_59", "need:psychological")
    assert found.summary == summary
    assert (found.channel, found.assignee, found.thread_root) == (
        "matrix",
        MEMBER,
        "$card-event:example.org",
    )
    assert found.bookings == ("2025-03-04T10:00",)
    assert (found.acknowledge_by, found.acknowledged_at, found.reminders_sent) == (
        clock.now + timedelta(hours=48),
        None,
        0,
    )
    assert found.closing == {}
    assert await store.case_file("nosuchcase") is None


async def test_a_thread_root_that_is_not_an_event_id_is_refused(store: Store) -> None:
    case_id = await _case(store, "anne")
    with pytest.raises(ValueError):
        await store.set_thread_root(case_id, "Anne Dupont, 06 12 34 56 78")


async def test_the_queue_puts_the_most_urgent_first(store: Store, clock: FakeClock) -> None:
    unrated = await _case(store, "unrated")
    low = await _case(store, "low")
    await _update(store, low, level=1, acknowledge_by=clock.now + timedelta(days=7))
    later = await _case(store, "later")
    await _update(store, later, level=3, acknowledge_by=clock.now + timedelta(hours=1))
    sooner = await _case(store, "sooner")
    await _update(store, sooner, level=3, acknowledge_by=clock.now + timedelta(minutes=15))
    closed = await _case(store, "closed")
    await _update(store, closed, level=3)
    await store.set_status(closed, STATUS_CLOSED, MEMBER)

    queue = [found.case_id for found in await store.open_case_files()]

    assert queue == [sooner, later, low, unrated]


async def test_the_deadline_only_comes_closer_while_nobody_acknowledged(
    store: Store, clock: FakeClock
) -> None:
    start = clock.now
    case_id = await _case(store, "anne")
    await _update(store, case_id, level=2, acknowledge_by=start + timedelta(hours=48))
    # The person's words grow alarming: the case becomes urgent.
    await _update(store, case_id, level=3, acknowledge_by=start + timedelta(minutes=15))
    # A later, calmer turn does not push the deadline back.
    await _update(store, case_id, level=1, acknowledge_by=start + timedelta(days=7))

    assert (await _file(store, case_id)).acknowledge_by == start + timedelta(minutes=15)
    assert await store.overdue_cases(start + timedelta(minutes=14)) == []
    overdue = await store.overdue_cases(start + timedelta(minutes=15))
    assert [found.case_id for found in overdue] == [case_id]


# -- the members' acts ------------------------------------------------------------------


async def test_acknowledging_stops_the_reminders_and_undoing_it_brings_them_back(
    store: Store, clock: FakeClock
) -> None:
    start = clock.now
    case_id = await _case(store, "anne")
    await _update(store, case_id, level=3, acknowledge_by=start + timedelta(minutes=15))
    clock.advance(timedelta(minutes=20))

    assert await store.acknowledge(case_id, MEMBER)
    assert not await store.acknowledge(case_id, OTHER_MEMBER)
    acknowledged = await _file(store, case_id)
    assert (acknowledged.status, acknowledged.acknowledged_at) == (STATUS_IN_PROGRESS, clock.now)
    assert await store.overdue_cases(clock.now + timedelta(days=30)) == []

    # The reaction removed: the deadline has passed, so a reminder is due at once.
    assert await store.unacknowledge(case_id, MEMBER)
    assert not await store.unacknowledge(case_id, MEMBER)
    assert (await _file(store, case_id)).status == STATUS_OPEN
    assert [found.case_id for found in await store.overdue_cases(clock.now)] == [case_id]


async def test_an_acknowledgement_undone_before_the_deadline_waits_for_it(
    store: Store, clock: FakeClock
) -> None:
    deadline = clock.now + timedelta(hours=48)
    case_id = await _case(store, "anne")
    await _update(store, case_id, level=2, acknowledge_by=deadline)
    await store.acknowledge(case_id, MEMBER)
    await store.unacknowledge(case_id, MEMBER)

    assert await store.overdue_cases(deadline - timedelta(minutes=1)) == []
    assert len(await store.overdue_cases(deadline)) == 1


async def test_every_act_is_audited_by_a_keyed_hash_of_the_member(store: Store) -> None:
    case_id = await _case(store, "anne")
    await store.acknowledge(case_id, MEMBER)
    await store.assign(case_id, OTHER_MEMBER, by=MEMBER)
    await store.assign(case_id, None, by=OTHER_MEMBER)
    await store.set_status(case_id, STATUS_CLOSED, MEMBER)
    await store.reopen(case_id, OTHER_MEMBER)

    actions = await store.staff_actions(case_id)

    assert [(action, member) for _, action, member in actions] == [
        ("acknowledged", store.member_hash(MEMBER)),
        ("assigned", store.member_hash(MEMBER)),
        ("unassigned", store.member_hash(OTHER_MEMBER)),
        ("status:closed", store.member_hash(MEMBER)),
        ("reopened", store.member_hash(OTHER_MEMBER)),
    ]
    assert store.member_hash(MEMBER) != store.member_hash(OTHER_MEMBER)
    assert "lefebvre" not in repr(actions)
    assert (await _file(store, case_id)).assignee is None


async def test_statuses_date_the_closing_and_refuse_anything_else(
    store: Store, clock: FakeClock
) -> None:
    case_id = await _case(store, "anne")
    await store.set_status(case_id, STATUS_CLOSED, MEMBER)
    assert (await _file(store, case_id)).closed_at == clock.now

    await store.set_status(case_id, STATUS_IN_PROGRESS, MEMBER)
    assert (await _file(store, case_id)).closed_at is None
    for wrong in ("archived", "clos", "Anne Dupont"):
        with pytest.raises(ValueError):
            await store.set_status(case_id, wrong, MEMBER)


async def _statistics_closing(store: Store) -> list[Any]:
    async with store._engine.connect() as conn:
        return list(await conn.scalars(sa.select(tables.statistics.c.closing)))


async def test_closing_counts_its_fields_in_the_report_and_reopening_takes_them_back(
    store: Store,
) -> None:
    case_id = await _case(store, "anne")
    await _update(store, case_id, persona="self", level=2)
    await store.acknowledge(case_id, MEMBER)

    await store.close_case(case_id, CLOSING, MEMBER)

    closed = await _file(store, case_id)
    assert (closed.status, closed.closing) == (STATUS_CLOSED, CLOSING)
    assert await _statistics_closing(store) == [CLOSING]

    await store.reopen(case_id, MEMBER)

    reopened = await _file(store, case_id)
    # A member had acknowledged it: it is back in hand, not waiting.
    assert (reopened.status, reopened.closed_at) == (STATUS_IN_PROGRESS, None)
    assert await _statistics_closing(store) == [None]


@pytest.mark.parametrize(
    "closing",
    [
        {**CLOSING, "outcome": "Décédé le 3 mars à Toulon"},
        {key: value for key, value in CLOSING.items() if key != "motive"},
        {**CLOSING, "name": "unknown"},
    ],
    ids=["free text", "a field missing", "an unknown field"],
)
async def test_a_closing_outside_the_report_is_refused_and_nothing_changes(
    store: Store, closing: dict[str, str]
) -> None:
    case_id = await _case(store, "anne")
    with pytest.raises(ValueError) as refused:
        await store.close_case(case_id, closing, MEMBER)
    assert "Toulon" not in str(refused.value)
    assert (await _file(store, case_id)).status == STATUS_OPEN
    assert await store.staff_actions(case_id) == []


# -- reminders --------------------------------------------------------------------------


async def test_two_runs_of_the_reminder_job_at_once_queue_one_reminder(
    store: Store, clock: FakeClock
) -> None:
    case_id = await _case(store, "anne")
    await _update(store, case_id, level=3, acknowledge_by=clock.now + timedelta(minutes=15))
    clock.advance(timedelta(minutes=16))
    (overdue,) = await store.overdue_cases(clock.now)
    number = overdue.reminders_sent + 1
    next_at = clock.now + timedelta(minutes=15)

    results = await asyncio.gather(
        *(store.record_reminder(case_id, number, next_at, {"case": case_id}) for _ in range(2))
    )

    assert sorted(results) == [False, True]
    assert [item.kind for item in await store.pending_outbox()] == ["reminder"]
    assert (await _file(store, case_id)).reminders_sent == 1
    assert await store.overdue_cases(clock.now) == []
    # A run that missed the first reminder cannot send the third.
    assert not await store.record_reminder(case_id, 3, next_at, {})


async def test_no_reminder_is_queued_once_a_member_acknowledged(
    store: Store, clock: FakeClock
) -> None:
    case_id = await _case(store, "anne")
    await _update(store, case_id, level=3, acknowledge_by=clock.now)
    assert len(await store.overdue_cases(clock.now)) == 1
    # A member reacts between the job's reading and its writing.
    await store.acknowledge(case_id, MEMBER)

    assert not await store.record_reminder(case_id, 1, clock.now, {"case": case_id})
    assert await store.pending_outbox() == []


# -- the staff room's events, notes and replies ------------------------------------------


async def test_a_staff_room_event_finds_its_case_and_the_table_keeps_only_its_hash(
    store: Store,
) -> None:
    case_id = await _case(store, "anne")
    await store.link_staff_event("$alert-event:example.org", case_id, "alert")
    await store.link_staff_event("$alert-event:example.org", case_id, "alert")

    found = await store.staff_event("$alert-event:example.org")
    assert found is not None and (found.case_id, found.kind) == (case_id, "alert")
    assert await store.staff_event("$unrelated:example.org") is None
    async with store._engine.connect() as conn:
        rows = (await conn.execute(sa.select(tables.staff_events))).all()
    assert len(rows) == 1
    assert "alert-event" not in repr(rows)


async def test_an_event_seen_twice_notes_once_and_relays_once(
    store: Store, clock: FakeClock
) -> None:
    case_id = await _case(store, "anne")
    assert await store.add_note(case_id, "Appelée, messagerie.", dedup_key="$n1")
    clock.advance(timedelta(minutes=1))
    assert await store.add_note(case_id, "Rappel prévu demain.", dedup_key="$n2")
    assert not await store.add_note(case_id, "Appelée, messagerie.", dedup_key="$n1")
    assert await store.append_reply(case_id, "Nous vous rappelons.", dedup_key="$r1")
    assert await store.append_reply(case_id, "Nous vous rappelons.", dedup_key="$r1") is None

    assert [note.text for note in await store.notes(case_id)] == [
        "Appelée, messagerie.",
        "Rappel prévu demain.",
    ]
    assert [reply.text for reply in await store.replies(case_id)] == ["Nous vous rappelons."]


# -- daily jobs, bookings and the calendar ----------------------------------------------


async def test_a_daily_job_marked_done_stays_done_after_a_restart(
    store: Store, database_url: str, server_secrets: ServerSecrets, case_keys_file: Path
) -> None:
    assert not await store.done("digest:2025-03-01")
    await store.mark_done("digest:2025-03-01")
    await store.mark_done("digest:2025-03-01")

    again = await Store.open(
        database_url, server_secrets, case_keys_file=case_keys_file, receipts=CHEAP_RECEIPTS
    )
    try:
        assert await again.done("digest:2025-03-01")
        assert not await again.done("digest:2025-03-02")
    finally:
        await again.close()


async def test_every_booking_is_listed_but_those_of_a_case_whose_key_is_gone(
    store: Store,
) -> None:
    anne, bruno = await _case(store, "anne"), await _case(store, "bruno")
    await store.book_slot(bruno, "2025-03-04T10:30")
    await store.book_slot(anne, "2025-03-04T10:00")
    assert await store.all_bookings() == [
        (anne, "2025-03-04T10:00"),
        (bruno, "2025-03-04T10:30"),
    ]

    # Bruno's rows came back with a restored backup: his key was destroyed at erasure.
    await asyncio.to_thread(store._keystore.delete, bruno)
    store._keys.pop(bruno)

    assert await store.all_bookings() == [(anne, "2025-03-04T10:00")]


async def test_calendar_days_close_or_open_a_day_and_take_nothing_but_hours(
    store: Store,
) -> None:
    await store.set_calendar_day(date(2025, 3, 4), None)
    await store.set_calendar_day(date(2025, 3, 6), "14:00-16:00")
    await store.set_calendar_day(date(2025, 3, 6), "14:00-17:30")
    await store.set_calendar_day(date(2025, 3, 11), None)
    await store.clear_calendar_day(date(2025, 3, 11))

    assert await store.calendar_days() == {date(2025, 3, 4): None, date(2025, 3, 6): "14:00-17:30"}
    for wrong in ("16:00-14:00", "24:00-25:00", "9:00-12:00", "14:00-16:00 Dr X", "fermé"):
        with pytest.raises(ValueError):
            await store.set_calendar_day(date(2025, 3, 7), wrong)
    with pytest.raises(ValueError):
        await store.set_calendar_day(datetime(2025, 3, 7, 10, 0), None)
    assert date(2025, 3, 7) not in await store.calendar_days()


async def test_a_calendar_change_is_read_at_once_though_the_calendar_is_kept_between_turns(
    store: Store,
) -> None:
    assert await store.calendar_days() == {}
    await store.set_calendar_day(date(2025, 3, 4), None)
    seen = await store.calendar_days()
    assert seen == {date(2025, 3, 4): None}
    seen[date(2025, 3, 5)] = None  # what a caller does to its copy stays there
    assert await store.calendar_days() == {date(2025, 3, 4): None}
    reads = [asyncio.create_task(store.calendar_days()) for _ in range(3)]
    await store.set_calendar_day(date(2025, 3, 6), "14:00-16:00")
    await asyncio.gather(*reads)
    assert await store.calendar_days() == {date(2025, 3, 4): None, date(2025, 3, 6): "14:00-16:00"}
    await store.clear_calendar_day(date(2025, 3, 4))
    assert await store.calendar_days() == {date(2025, 3, 6): "14:00-16:00"}


async def test_the_purge_drops_old_console_traces_and_past_calendar_days(
    store: Store, clock: FakeClock
) -> None:
    await store.record_staff_action("calendar.closed", None, MEMBER)
    await store.mark_done("digest:2025-03-01")
    await store.set_calendar_day(date(2025, 3, 4), None)
    await store.set_calendar_day(date(2026, 6, 2), None)
    clock.advance(timedelta(days=400))

    await store.purge_expired()

    async with store._engine.connect() as conn:
        for table in (tables.staff_actions, tables.schedule_marks):
            assert await conn.scalar(sa.select(sa.func.count()).select_from(table)) == 0
    assert await store.calendar_days() == {date(2026, 6, 2): None}


# -- erasure and what stays unreadable --------------------------------------------------


def _markers() -> dict[str, str]:
    tag = secrets.token_hex(5)
    return {
        "address": f"!dm-{tag}:example.org",
        "note": f"son mari a appelé {tag}",
        "reply": f"un confrère vous rappelle {tag}",
        "member": f"@membre{tag}:ordre.example",
        "event": f"$reaction{tag}",
        "mark": f"digest:{tag}",
    }


async def _worked_on_case(store: Store, m: dict[str, str]) -> str:
    case_id = await _case(store, "anne", room=m["address"])
    await _update(store, case_id, level=3, acknowledge_by=store._now(), summary={"routes": []})
    await store.set_thread_root(case_id, "$card:example.org")
    await store.link_staff_event(m["event"], case_id, "card")
    await store.add_note(case_id, m["note"], dedup_key=m["event"])
    await store.append_reply(case_id, m["reply"], dedup_key=m["event"])
    await store.acknowledge(case_id, m["member"])
    await store.assign(case_id, m["member"], by=m["member"])
    await store.mark_done(m["mark"])
    return case_id


async def _dump(store: Store) -> dict[str, list[dict[str, Any]]]:
    async with store._engine.connect() as conn:
        return {
            name: [dict(row._mapping) for row in (await conn.execute(sa.select(table))).all()]
            for name, table in tables.metadata.tables.items()
        }


def _hits(data: bytes, markers: dict[str, str]) -> list[str]:
    return [name for name, marker in markers.items() if marker.lower().encode() in data.lower()]


async def _files(
    store: Store, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> list[Path]:
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    if backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        async with store._engine.connect() as conn:
            await conn.execute(sa.text("CHECKPOINT"))
        files += [path for path in server.data_dir.rglob("*") if path.is_file()]
    return files


async def test_no_clear_address_note_reply_member_or_event_id_in_any_file(
    store: Store, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    m = _markers()
    await _worked_on_case(store, m)

    assert _hits(repr(await _dump(store)).encode(), m) == []
    files = await _files(store, backend, tmp_path, request)
    assert {str(path): hits for path in files if (hits := _hits(path.read_bytes(), m))} == {}


async def test_an_erased_case_leaves_no_console_row_and_its_backup_reads_nothing(
    store: Store, database_url: str, server_secrets: ServerSecrets, case_keys_file: Path
) -> None:
    m = _markers()
    case_id = await _worked_on_case(store, m)
    backup = await _dump(store)

    await store.erase_case(case_id)

    async with store._engine.connect() as conn:
        for name in CONSOLE_TABLES:
            table = tables.metadata.tables[name]
            count = sa.select(sa.func.count()).select_from(table)
            assert await conn.scalar(count.where(table.c.case_id == case_id)) == 0, name
    assert await store.staff_event(m["event"]) is None

    # The backup taken before erasure, restored, read with the server's secrets and keys.
    async with store._engine.begin() as conn:
        for name in ("cases", "conversations", "replies", "case_work", "case_notes"):
            await conn.execute(sa.insert(tables.metadata.tables[name]), backup[name])
    attacker = await Store.open(
        database_url, server_secrets, case_keys_file=case_keys_file, receipts=CHEAP_RECEIPTS
    )
    try:
        assert await attacker.case_file(case_id) is None
        assert await attacker.open_case_files() == []
        for read in (attacker.addresses, attacker.notes, attacker.replies):
            with pytest.raises(UnknownCase):
                await read(case_id)
    finally:
        await attacker.close()
