"""What the yearly report counts of a case: each write sets its label once, on the case's own
transaction, and the line leads back to no case and to no moment finer than the month."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.dev.sample_year import plan_year, seed_year
from storage import STATUS_CLOSED, Store, tables
from storage.records import StatisticsRow
from tests.storage.helpers import FakeClock

MEMBER = "@docteur.lefebvre:ordre.example"
CLOSING = {
    "sex": "male",
    "practice": "self_employed",
    "age_band": "over_60",
    "origin": "own_request",
    "motive": "other_illness",
    "help": "financial",
    "outcome": "retirement",
}
SUMMARY = {
    "scores": [["phq9", 17, "moderately_severe"], ["gad7", 8, "mild"]],
    "routes": ["cnom_line", "sps", "cdom"],
}
SLOT = "2025-03-11T10:00"


async def _case(store: Store, name: str, channel: str = "telegram") -> tuple[str, str]:
    person = store.pseudonym(channel, name)
    case_id = await store.save_conversation(person, {}, channel=channel, address=f"{name}-chat")
    return person, case_id


async def _update(store: Store, person: str, **values: Any) -> None:
    async with store.writes_for(person) as case:
        assert case is not None
        await case.update(**values)


async def _alert(store: Store, person: str, clock: FakeClock) -> None:
    """What the bot writes when a case rises to level 2 with a staff room."""
    await _update(
        store, person, persona="self", level=2, categories=["need:financial"],
        summary=SUMMARY, acknowledge_by=clock.now + timedelta(hours=48),
    )  # fmt: skip


async def _line(store: Store) -> StatisticsRow:
    (line,) = await store.yearly_statistics(2025)
    return line


async def _alerted_at(store: Store, case_id: str) -> datetime | None:
    work = tables.case_work
    async with store._engine.connect() as conn:
        return await conn.scalar(sa.select(work.c.alerted_at).where(work.c.case_id == case_id))


async def _raw_lines(store: Store) -> list[sa.Row[Any]]:
    async with store._engine.connect() as conn:
        return list((await conn.execute(sa.select(tables.statistics))).all())


# -- what a case is --------------------------------------------------------------------------


async def test_counting_a_case_keeps_its_channel_routes_and_score_bands_not_its_scores(
    store: Store,
) -> None:
    person, _ = await _case(store, "anne")
    await _update(store, person, persona="self", level=1, categories=["need:psychological"],
                  summary=SUMMARY)  # fmt: skip

    line = await _line(store)
    assert (line.month, line.persona, line.level) == ("2025-03", "self", 1)
    assert line.channel == "telegram"
    assert line.categories == ("need:psychological",)
    assert line.routes == ("cnom_line", "sps", "cdom")
    assert line.score_bands == (("phq9", "moderately_severe"), ("gad7", "mild"))
    (raw,) = await _raw_lines(store)
    assert "17" not in repr(raw.score_bands)
    # Only talking to the bot is not reaching the commission, and starts no delay.
    assert line.reached_commission is False
    assert (line.acknowledged_within, line.first_reply_within, line.follow_up) == (None,) * 3


async def test_a_route_or_band_that_is_not_a_label_is_refused(store: Store) -> None:
    person, _ = await _case(store, "anne")
    with pytest.raises(ValueError):
        await _update(store, person, level=1, summary={"routes": ["Dr Anne Dupont, Toulon"]})
    with pytest.raises(ValueError):
        await _update(store, person, level=1, summary={"scores": [["phq9", 3, "vu le 3 mars"]]})
    assert await store.yearly_statistics(2025) == []


# -- reaching the commission -------------------------------------------------------------------


async def test_an_alert_reaches_the_commission_once_and_starts_the_delays_then(
    store: Store, clock: FakeClock
) -> None:
    person, case_id = await _case(store, "anne")
    clock.advance(timedelta(minutes=20))
    await _alert(store, person, clock)
    alerted = clock.now

    clock.advance(timedelta(days=3))
    # A check-in that comes out worse calls the commission again: the first alert stands.
    async with store.writes_for(person) as case:
        assert case is not None
        await case.call_again(clock.now + timedelta(minutes=15))

    assert (await _line(store)).reached_commission is True
    assert await _alerted_at(store, case_id) == alerted


@pytest.mark.parametrize("how", ["sealed message", "booking"])
async def test_a_sealed_message_or_a_booking_reaches_the_commission(
    store: Store, clock: FakeClock, how: str
) -> None:
    person, case_id = await _case(store, "anne")
    await _update(store, person, persona="relative", level=1)
    clock.advance(timedelta(hours=2))
    if how == "sealed message":
        assert await store.seal_for_commission(case_id, "message", b"...", dedup_key="m1")
    else:
        assert await store.book_slot(case_id, SLOT)
    reached = clock.now
    clock.advance(timedelta(hours=2))
    # The same turn replayed, or a second message: the case had already reached it.
    await store.seal_for_commission(case_id, "message", b"...", dedup_key="m1")
    await store.seal_for_commission(case_id, "message", b"...", dedup_key="m2")

    line = await _line(store)
    assert (line.reached_commission, line.persona) == (True, "relative")
    assert await _alerted_at(store, case_id) == reached


async def test_a_sealed_message_counts_a_case_that_had_no_line_yet(store: Store) -> None:
    _, case_id = await _case(store, "anne", channel="matrix")
    await store.seal_for_commission(case_id, "message", b"...")

    line = await _line(store)
    assert (line.reached_commission, line.channel, line.level) == (True, "matrix", None)


async def test_a_slot_taken_by_someone_else_reaches_nobody(store: Store) -> None:
    _, first = await _case(store, "anne")
    other, second = await _case(store, "bruno")
    await _update(store, other, level=1)
    assert await store.book_slot(first, SLOT)
    assert not await store.book_slot(second, SLOT)

    assert await _alerted_at(store, second) is None
    lines = await store.yearly_statistics(2025)
    assert sorted(line.reached_commission for line in lines) == [False, True]


# -- the commission's delays -------------------------------------------------------------------


async def test_the_first_acknowledgement_counts_once(store: Store, clock: FakeClock) -> None:
    person, case_id = await _case(store, "anne")
    await _alert(store, person, clock)
    clock.advance(timedelta(minutes=40))
    assert await store.acknowledge(case_id, MEMBER)
    assert (await _line(store)).acknowledged_within == "under_1h"

    await store.unacknowledge(case_id, MEMBER)
    clock.advance(timedelta(days=3))
    assert await store.acknowledge(case_id, MEMBER)

    assert (await _line(store)).acknowledged_within == "under_1h"


async def test_acknowledging_a_case_never_alerted_counts_from_its_creation(
    store: Store, clock: FakeClock
) -> None:
    person, case_id = await _case(store, "anne")
    await _update(store, person, level=1)
    clock.advance(timedelta(hours=30))
    await store.acknowledge(case_id, MEMBER)

    line = await _line(store)
    assert (line.acknowledged_within, line.reached_commission) == ("1d_7d", False)


async def test_the_first_reply_counts_once(store: Store, clock: FakeClock) -> None:
    person, case_id = await _case(store, "anne")
    clock.advance(timedelta(days=2))
    await _alert(store, person, clock)
    clock.advance(timedelta(hours=5))
    assert await store.append_reply(case_id, "Bonjour, nous vous rappelons.", dedup_key="r1")
    assert (await _line(store)).first_reply_within == "1h_24h"

    clock.advance(timedelta(days=10))
    assert await store.append_reply(case_id, "Bonjour.", dedup_key="r1") is None
    assert await store.append_reply(case_id, "Nous revenons vers vous.", dedup_key="r2")

    line = await _line(store)
    assert line.first_reply_within == "1h_24h"
    # Answering is not acknowledging: that delay waits for its own act.
    assert line.acknowledged_within is None


async def test_closing_counts_the_follow_up_and_reopening_takes_it_back(
    store: Store, clock: FakeClock
) -> None:
    person, case_id = await _case(store, "anne")
    await _alert(store, person, clock)
    clock.advance(timedelta(minutes=10))
    await store.acknowledge(case_id, MEMBER)
    clock.advance(timedelta(days=40))
    await store.close_case(case_id, CLOSING, MEMBER)

    closed = await _line(store)
    assert (closed.follow_up, closed.closing) == ("1_3_months", CLOSING)

    await store.reopen(case_id, MEMBER)
    reopened = await _line(store)
    assert (reopened.follow_up, reopened.closing) == (None, {})
    # What happened before the closing still happened.
    assert (reopened.acknowledged_within, reopened.reached_commission) == ("under_1h", True)

    clock.advance(timedelta(days=400))
    await store.set_status(case_id, STATUS_CLOSED, MEMBER)
    assert (await _line(store)).follow_up == "over_12_months"


# -- what the line leads back to ---------------------------------------------------------------


async def test_an_erased_case_leaves_its_line_and_nothing_that_finds_it_again(
    store: Store, clock: FakeClock
) -> None:
    person, case_id = await _case(store, "anne")
    await _alert(store, person, clock)
    await store.seal_for_commission(case_id, "message", b"...")
    await store.book_slot(case_id, SLOT)
    clock.advance(timedelta(hours=3))
    await store.acknowledge(case_id, MEMBER)
    await store.append_reply(case_id, "Bonjour.")
    clock.advance(timedelta(days=20))
    await store.close_case(case_id, CLOSING, MEMBER)
    counted = await _line(store)

    await store.erase_case(case_id)

    assert await _line(store) == counted
    async with store._engine.connect() as conn:
        assert (await conn.execute(sa.select(tables.case_work))).all() == []
    (raw,) = await _raw_lines(store)
    assert case_id not in repr(raw) and person not in repr(raw)
    # The person comes back: a new case, a new line, nothing joined to the old one.
    again, _ = await _case(store, "anne")
    await _update(store, again, level=1)
    assert len(await store.yearly_statistics(2025)) == 2


async def test_the_years_are_those_with_lines(store: Store, clock: FakeClock) -> None:
    assert await store.statistics_years() == []
    for moment, name in [
        (datetime(2024, 12, 31, 23, 30, tzinfo=UTC), "anne"),
        (datetime(2026, 1, 1, 0, 10, tzinfo=UTC), "bruno"),
        (datetime(2026, 12, 31, 23, 50, tzinfo=UTC), "claire"),
    ]:
        clock.now = moment
        person, _ = await _case(store, name)
        await _update(store, person, level=1)
    # A conversation that never became a case counts nowhere.
    clock.now = datetime(2025, 6, 1, tzinfo=UTC)
    await _case(store, "denis")

    assert await store.statistics_years() == [2024, 2026]
    assert [line.month for line in await store.yearly_statistics(2026)] == ["2026-01", "2026-12"]
    assert await store.yearly_statistics(2025) == []


# -- a seeded year -----------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for item in value.values() for s in _strings(item))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


async def test_a_seeded_year_has_its_cases_and_its_lines_hold_labels_and_months_only(
    store: Store, clock: FakeClock
) -> None:
    plans = plan_year(2026, 60, seed=1)
    assert plans == plan_year(2026, 60, seed=1) != plan_year(2026, 60, seed=2)

    await seed_year(store, 2026, 60, 1, clock=clock)

    lines = await store.yearly_statistics(2026)
    assert len(lines) == 60
    closed = [line for line in lines if line.follow_up is not None]
    assert len(closed) == sum(plan.closed_after is not None for plan in plans) > 0
    assert all(set(line.closing) == set(CLOSING) for line in closed)
    assert all(line.closing == {} for line in lines if line.follow_up is None)
    assert 0 < sum(line.reached_commission for line in lines) < 60
    assert {line.channel for line in lines} == {"matrix", "telegram"}
    with pytest.raises(ValueError):
        await seed_year(store, 2026, 5, 2, clock=clock)

    async with store._engine.connect() as conn:
        case_ids = set(await conn.scalars(sa.select(tables.cases.c.id)))
        pseudonyms = set(await conn.scalars(sa.select(tables.conversations.c.pseudonym)))
    assert len(case_ids) == 60
    raw = await _raw_lines(store)
    assert not {"case_id", "created_at", "pseudonym"} & set(tables.statistics.c.keys())
    for row in raw:
        values = row._asdict()
        assert re.fullmatch(r"2026-\d{2}", values.pop("month"))
        tag = values.pop("tag")
        assert tag not in case_ids | pseudonyms
        for value in values.values():
            assert not isinstance(value, datetime)
        for text in _strings(list(values.values())):
            assert _LABEL.match(text) and not _DATE.search(text)
            assert text not in case_ids | pseudonyms
