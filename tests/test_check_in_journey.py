"""A check-in end to end, through the policy layer, the encrypted store and the scheduler, on a
clock the test moves: asked for at the end of a journey, sent once on its day (restarts or
not), answered worse with an alert for the commission, stopped, expired, erased."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest_asyncio

from bot.policy.conversations import Conversations
from bot.policy.store_keeper import StoreKeeper
from bot.staff.console import People
from bot.staff.scheduler import Scheduler
from flows.messages import BotMessage
from storage import CommissionPrivateKey, ServerSecrets, Store
from storage.check_ins import EXPIRED, SCHEDULED, SENT, STOPPED
from tests.conftest import NOW, RESOURCES
from tests.storage.helpers import CHEAP_RECEIPTS

PERSON, ROOM = "@dr.quistrelle:example.org", "!direct:example.org"
# A physician in private practice in the Var: PHQ-2 1, CBI item 6 "Un peu"; nothing written
# for the commission, no interview.
JOURNEY = [
    "self", "psychological", "liberal", "83", "1", "0", "0", "0", "0", "0", "25",
    "non", "none", "passer", "passer",
]
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
# Sunday 22 November 2026 at 9:00 in Paris: two weeks on, at 19:00, past the hour the
# council's reminders go out (18:00).
DUE_EVENING = NOW + 14 * DAY + 10 * HOUR


class Clock:
    """The wall clock the test moves; the policy layer's pacing waits on it too, so a quick
    journey is slowed down without a real second going by."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Line:
    """The person's channel as the scheduler reaches it (``PersonLine``): it keeps what it
    delivers, and can be down."""

    conversations: Conversations
    down: bool = False
    delivered: list[tuple[str, list[BotMessage], str]] = field(default_factory=list)

    async def deliver(self, address: str, messages: list[BotMessage], key: str) -> bool:
        if self.down:
            return False
        self.delivered.append((address, messages, key))
        return True


@dataclass
class Setup:
    store: Store
    clock: Clock
    conversations: Conversations
    line: Line

    @property
    def pseudonym(self) -> str:
        return self.store.pseudonym("matrix", PERSON)

    async def say(self, *texts: str) -> list[BotMessage]:
        said: list[BotMessage] = []
        for text in texts:
            said = await self.conversations.receive(PERSON, text, address=ROOM)
        return said

    def scheduler(self) -> Scheduler:
        """A scheduler as a (re)started bot makes it: nothing in memory, all in the store."""
        people = People(self.store, {"matrix": self.line})
        return Scheduler(self.store, people, RESOURCES.deployment, daily_jobs=False,
                         clock=self.clock)

    async def statuses(self) -> list[str]:
        return [check_in.status for check_in in await self.store.check_ins(self.pseudonym)]

    async def outbox(self) -> list[str]:
        return [item.kind for item in await self.store.pending_outbox()]


@pytest_asyncio.fixture(loop_scope="function")
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    clock = Clock()
    store = await Store.open(
        f"sqlite+aiosqlite:///{tmp_path / 'entraide.sqlite3'}",
        ServerSecrets.generate(CommissionPrivateKey.generate().public()),
        case_keys_file=tmp_path / "case-keys.sqlite3",
        receipts=CHEAP_RECEIPTS,
        clock=clock,
    )
    keeper = StoreKeeper(
        store, staff_room=True, schedule=RESOURCES.deployment.commission, clock=clock
    )
    conversations = Conversations(
        resources=RESOURCES, channel="matrix", keeper=keeper, commission_connected=True,
        clock=clock, monotonic=clock.monotonic, sleep=clock.sleep,
    )
    try:
        ready = Setup(store, clock, conversations, Line(conversations))
        await conversations.welcome(PERSON, address=ROOM)
        await ready.say(*JOURNEY)
        yield ready
    finally:
        await store.close()


async def asked_in_two_weeks(setup: Setup) -> None:
    said = await setup.say("Dans 2 semaines")
    assert "dimanche 6 décembre 2026" in said[0].text
    assert await setup.statuses() == [SCHEDULED]


async def test_sent_once_on_its_day_answered_worse_and_the_commission_told(setup: Setup) -> None:
    await asked_in_two_weeks(setup)
    setup.clock.now = DUE_EVENING - DAY
    await setup.scheduler().run_once()
    assert setup.line.delivered == []

    setup.clock.now = DUE_EVENING
    # Two rounds at once (a bot restarted while the old one still runs): one claims it.
    await asyncio.gather(setup.scheduler().run_once(), setup.scheduler().run_once())
    ((address, messages, _),) = setup.line.delivered
    assert address == ROOM and len(messages) == 1
    assert "le point que vous m'aviez demandé" in messages[0].text
    assert await setup.statuses() == [SENT]

    # The same round again, a restarted bot, a later hour: still one message.
    scheduler = setup.scheduler()
    await scheduler.run_once()
    await scheduler.run_once()
    setup.clock.now += 2 * HOUR
    await setup.scheduler().run_once()
    assert len(setup.line.delivered) == 1

    await drain_outbox(setup)
    said = await setup.say("presque tous les jours", "presque tous les jours", "beaucoup")
    assert {"cnom_line", "sps"} <= {c for m in said for c in m.contacts}
    assert said[-1].question == "checkin.alert"
    assert await setup.outbox() == []

    await setup.say("oui")
    items = {item.kind: item.payload for item in await setup.store.pending_outbox()}
    assert set(items) == {"alert", "check_in"}  # the level raised, and the check-in itself
    assert items["check_in"] == {
        "level": 2, "scores": [["phq2", 6, "positive"], ["cbi1", 75, "high"]]
    }
    case_id = await setup.store.case_of(setup.pseudonym)
    assert case_id is not None
    file = await setup.store.case_file(case_id)
    assert file is not None and file.level == 2 and file.acknowledge_by is not None


async def drain_outbox(setup: Setup) -> None:
    """The staff room has posted what the journey queued."""
    for item in await setup.store.pending_outbox():
        await setup.store.mark_delivered(item.id)


async def test_a_case_already_acknowledged_waits_for_the_commission_again(setup: Setup) -> None:
    await asked_in_two_weeks(setup)
    case_id = await setup.store.case_of(setup.pseudonym)
    assert case_id is not None
    await setup.store.acknowledge(case_id, "@membre:example.org")
    setup.clock.now = DUE_EVENING
    await setup.scheduler().run_once()
    await setup.say("3", "3", "100", "oui")
    file = await setup.store.case_file(case_id)
    assert file is not None
    assert file.status == "open" and file.acknowledged_at is None
    assert file.acknowledge_by is not None and file.acknowledge_by > setup.clock.now


async def test_stop_unsubscribes_and_nothing_comes_after(setup: Setup) -> None:
    await asked_in_two_weeks(setup)
    setup.clock.now = DUE_EVENING
    await setup.scheduler().run_once()
    said = await setup.say("jamais", "jamais", "très peu")
    assert said[-1].question == "checkin.offer"
    await setup.say("Dans 2 semaines")
    setup.clock.now += 14 * DAY
    await setup.scheduler().run_once()
    assert len(setup.line.delivered) == 2

    (stopped,) = await setup.say("stop")
    assert "je ne vous écrirai plus" in stopped.text
    assert (await setup.statuses())[-1] == STOPPED
    setup.clock.now += 60 * DAY
    await setup.scheduler().run_once()
    assert len(setup.line.delivered) == 2


async def test_a_channel_down_on_the_day_sends_it_later_once(setup: Setup) -> None:
    await asked_in_two_weeks(setup)
    setup.clock.now = DUE_EVENING
    setup.line.down = True
    await setup.scheduler().run_once()
    assert await setup.statuses() == [SCHEDULED]

    setup.line.down = False
    await setup.scheduler().run_once()
    assert setup.line.delivered == []  # tried again within the hour, not at every round
    setup.clock.now += HOUR
    await setup.scheduler().run_once()
    await setup.scheduler().run_once()
    assert len(setup.line.delivered) == 1
    assert await setup.statuses() == [SENT]


async def test_no_answer_is_not_chased(setup: Setup) -> None:
    await asked_in_two_weeks(setup)
    setup.clock.now = DUE_EVENING
    await setup.scheduler().run_once()
    for _ in range(10):
        setup.clock.now += DAY
        await setup.scheduler().run_once()
    assert len(setup.line.delivered) == 1
    assert await setup.statuses() == [EXPIRED]


async def test_erasing_the_conversation_erases_its_check_in(setup: Setup) -> None:
    await asked_in_two_weeks(setup)
    await setup.say("effacer", "oui")
    assert await setup.store.check_ins(setup.pseudonym) == []
    setup.clock.now = DUE_EVENING
    await setup.scheduler().run_once()
    assert setup.line.delivered == []
