"""A plausible year of mutual-aid cases in a store, to try the yearly report on.

``python -m bot.dev.sample_year --year 2026 --cases 60 --seed 1`` writes them into the
configured store (``DATABASE_URL`` or ``--database``, throwaway demo keys if none exist), the
way the bot and the commission would have: conversations, alerts, sealed messages, bookings,
acknowledgements, replies and closings, each at its moment of a clock moved from one to the
next. The same seed writes the same year. About 60 cases, as the Var and Finistère councils
count in a year; the mix follows the Var thesis (domain brief, section 2).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.staff.closing import FIELDS
from storage import CaseWrites, StorageSettings, Store, demo_keys, open_store

# The commission member who works every sample case, as a Matrix id.
MEMBER = "@commission.exemple:ordre.example"
# What the sample person writes and the commission answers: placeholders, never read.
SAMPLE_MESSAGE = "Message d'exemple."
SAMPLE_REPLY = "Réponse d'exemple."
# The default deployment's service targets (flows/data/deployment.yaml, commission:).
ACKNOWLEDGE_WITHIN = {3: timedelta(minutes=15), 2: timedelta(hours=48), 1: timedelta(days=7)}
# The directory ids each need sends a person to, most urgent first.
NEED_ROUTES: dict[str, tuple[str, ...]] = {
    "psychological": ("cnom_line", "sps", "mots"),
    "financial": ("cdom", "carmf"),
    "administrative": ("cnom_line", "cdom"),
    "legal": ("cdom",),
    "health": ("cdom", "carmf"),
    "addiction": ("mots", "sps"),
    "grief": ("cnom_line", "sps"),
}
CRISIS_ROUTES = ("samu", "suicide_3114", "cnom_line")
PRACTICES = ("liberal", "salaried", "hospital", "student", "retired")


class MovableClock(Protocol):
    """The clock the store was opened with, set by hand (tests' FakeClock is one)."""

    now: datetime


@dataclass
class SampleClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class CasePlan:
    """One sample case and when each thing happens to it, counted from its creation."""

    number: int
    created_at: datetime
    channel: str
    persona: str
    level: int
    categories: tuple[str, ...]
    scores: tuple[tuple[str, int, str], ...]
    routes: tuple[str, ...]
    alerted: bool
    sealed_after: timedelta | None
    booked_after: timedelta | None
    acknowledged_after: timedelta | None
    replied_after: timedelta | None
    closed_after: timedelta | None
    closing: dict[str, str] = field(default_factory=dict)


def _band(score: int, edges: Sequence[tuple[int, str]]) -> str:
    return [band for start, band in edges if score >= start][-1]


PHQ9 = ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately_severe"), (20, "severe"))
GAD7 = ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))
CBI = ((0, "low"), (50, "high"))


def _scores(rng: random.Random, level: int) -> tuple[tuple[str, int, str], ...]:
    worse = 6 * (level - 1)
    phq9 = min(27, rng.randint(0, 14) + worse)
    gad7 = min(21, rng.randint(0, 11) + worse)
    cbi = min(100, rng.randint(20, 70) + 8 * worse // 6)
    return (("phq9", phq9, _band(phq9, PHQ9)), ("gad7", gad7, _band(gad7, GAD7)),
            ("cbi", cbi, _band(cbi, CBI)))  # fmt: skip


def _closing(rng: random.Random, persona: str, needs: Sequence[str]) -> dict[str, str]:
    def pick(name: str, weights: Sequence[int]) -> str:
        return rng.choices(FIELDS[name], weights=weights)[0]

    closing = {
        "sex": pick("sex", (5, 5, 1)),
        "practice": pick("practice", (3, 6, 1, 2, 1, 1)),
        "age_band": pick("age_band", (4, 4, 3, 1)),
        "origin": "own_request" if persona == "self" else "reported",
        # The Var's 36 cases: psychiatric 7, other illness 15, not ill 14.
        "motive": pick("motive", (7, 15, 14, 2)),
        "help": "financial" if "financial" in needs else pick("help", (2, 6, 2, 1)),
        "outcome": pick("outcome", (8, 2, 3, 3, 1, 1, 2, 3, 1)),
    }
    if rng.random() < 0.1:
        closing["origin"] = "unknown"
    return closing


def plan_case(rng: random.Random, year: int, number: int) -> CasePlan:
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    created_at = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
    persona = rng.choices(("self", "relative", "colleague"), weights=(65, 20, 15))[0]
    needs = rng.sample(sorted(NEED_ROUTES), k=rng.choice((1, 1, 2, 2, 3)))
    crisis = rng.random() < 0.08
    level = 3 if crisis else rng.choices((1, 2), weights=(45, 55))[0]
    scores = _scores(rng, level) if persona == "self" else ()
    categories = {f"need:{need}" for need in needs}
    categories.add(f"practice:{rng.choice(PRACTICES)}")
    if crisis:
        categories.add("crisis")
    routes = (CRISIS_ROUTES if crisis else ()) + tuple(
        route for need in needs for route in NEED_ROUTES[need]
    )
    # A quarter of the people read the routes and leave without asking the commission.
    alerted = crisis or rng.random() < 0.75
    reaches = alerted or rng.random() < 0.3
    sealed_after = _minutes(rng, 0.6, 2, 40) if reaches else None
    booked_after = _minutes(rng, 0.35, 5, 60) if reaches else None
    if reaches and not alerted and booked_after is None:
        # Without an alert, a case reaches the commission by what the person writes to it.
        sealed_after = sealed_after or timedelta(minutes=rng.randint(2, 40))
    acknowledged_after = replied_after = closed_after = None
    closing: dict[str, str] = {}
    if reaches:
        acknowledged_after = _acknowledgement(rng, level)
        if rng.random() < 0.8:
            wait = rng.choice((10, 45, 180, 600, 1440, 3000, 7200))
            replied_after = acknowledged_after + timedelta(minutes=wait)
        if rng.random() < 0.75:
            closed_after = timedelta(days=rng.choice((10, 25, 45, 70, 120, 200, 300, 420)))
            closed_after += timedelta(hours=rng.randint(0, 23))
            closing = _closing(rng, persona, needs)
    return CasePlan(
        number=number, created_at=created_at, channel=rng.choice(("matrix", "telegram")),
        persona=persona, level=level, categories=tuple(sorted(categories)), scores=scores,
        routes=tuple(dict.fromkeys(routes)), alerted=alerted, sealed_after=sealed_after,
        booked_after=booked_after, acknowledged_after=acknowledged_after,
        replied_after=replied_after, closed_after=closed_after, closing=closing,
    )  # fmt: skip


def _minutes(rng: random.Random, chance: float, low: int, high: int) -> timedelta | None:
    return timedelta(minutes=rng.randint(low, high)) if rng.random() < chance else None


def _acknowledgement(rng: random.Random, level: int) -> timedelta:
    """Mostly within the deployment's target for the level, sometimes late."""
    target = ACKNOWLEDGE_WITHIN[level]
    late = rng.random() < 0.15
    return target * rng.uniform(1.0, 3.0) if late else target * rng.uniform(0.05, 1.0)


def plan_year(year: int, cases: int, seed: int) -> list[CasePlan]:
    rng = random.Random(seed)
    return [plan_case(rng, year, number) for number in range(cases)]


async def seed_year(store: Store, year: int, cases: int, seed: int, *, clock: MovableClock) -> None:
    """Writes ``cases`` sample cases created in ``year`` into ``store``, which must have been
    opened with ``clock``: each write happens at its moment, the cases interleaved."""
    if year in await store.statistics_years():
        raise ValueError("the store already counts cases of that year")
    plans = plan_year(year, cases, seed)
    steps: list[tuple[datetime, int, int]] = []
    for plan in plans:
        for order, after in enumerate(_moments(plan)):
            if after is not None:
                heapq.heappush(steps, (plan.created_at + after, plan.number, order))
    case_ids: dict[int, str] = {}
    while steps:
        at, number, order = heapq.heappop(steps)
        clock.now = at
        await _STEPS[order](store, plans[number], case_ids, seed)


def _moments(plan: CasePlan) -> tuple[timedelta | None, ...]:
    """When each of _STEPS happens to the case, None for never."""
    return (
        timedelta(0),
        plan.sealed_after,
        plan.booked_after,
        plan.acknowledged_after,
        plan.replied_after,
        plan.closed_after,
    )


def _pseudonym(store: Store, plan: CasePlan, seed: int) -> str:
    return store.pseudonym(plan.channel, f"sample:{seed}:{plan.created_at.year}:{plan.number}")


async def _open(store: Store, plan: CasePlan, case_ids: dict[int, str], seed: int) -> None:
    person = _pseudonym(store, plan, seed)
    address = f"sample-{plan.number}"
    case_ids[plan.number] = await store.save_conversation(
        person, {"sample": plan.number}, channel=plan.channel, address=address
    )
    async with store.writes_for(person) as case:
        assert case is not None
        deadline = plan.created_at + ACKNOWLEDGE_WITHIN[plan.level] if plan.alerted else None
        await case.update(
            persona=plan.persona,
            level=plan.level,
            categories=plan.categories,
            summary={"scores": [list(s) for s in plan.scores], "routes": list(plan.routes)},
            acknowledge_by=deadline,
        )


async def _seal(store: Store, plan: CasePlan, case_ids: dict[int, str], seed: int) -> None:
    async with store.writes_for(_pseudonym(store, plan, seed)) as case:
        assert case is not None
        await case.seal("message", SAMPLE_MESSAGE.encode(), dedup_key=f"sample:{plan.number}")


async def _book(store: Store, plan: CasePlan, case_ids: dict[int, str], seed: int) -> None:
    async with store.writes_for(_pseudonym(store, plan, seed)) as case:
        assert case is not None
        await _first_free_tuesday(case, plan.created_at + (plan.booked_after or timedelta(0)))


async def _first_free_tuesday(case: CaseWrites, after: datetime) -> None:
    """The Var council's open slot: Tuesdays 10:00-12:00, half-hour interviews."""
    day = after.date() + timedelta(days=1)
    while True:
        if day.weekday() == 1:
            for minutes in (0, 30, 60, 90):
                slot = f"{day.isoformat()}T{10 + minutes // 60:02d}:{minutes % 60:02d}"
                if await case.book_slot(slot):
                    return
        day += timedelta(days=1)


async def _acknowledge(store: Store, plan: CasePlan, case_ids: dict[int, str], seed: int) -> None:
    await store.acknowledge(case_ids[plan.number], MEMBER)


async def _reply(store: Store, plan: CasePlan, case_ids: dict[int, str], seed: int) -> None:
    await store.append_reply(case_ids[plan.number], SAMPLE_REPLY)


async def _close(store: Store, plan: CasePlan, case_ids: dict[int, str], seed: int) -> None:
    await store.close_case(case_ids[plan.number], plan.closing, MEMBER)


_STEPS = (_open, _seal, _book, _acknowledge, _reply, _close)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.dev.sample_year", description=__doc__)
    parser.add_argument("--database", help="a database URL (default: DATABASE_URL or DATA_DIR)")
    parser.add_argument("--year", type=int, default=datetime.now(UTC).year)
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    if args.database:
        environ["DATABASE_URL"] = args.database
    settings = StorageSettings.from_env(environ)
    status = demo_keys(settings.data_dir, settings.secrets_file)
    if status.created:
        sys.stderr.write(f"Throwaway demo keys written beside {status.secrets_file}.\n")
    clock = SampleClock(datetime.now(UTC))
    store = await open_store(settings, clock=clock)
    try:
        await seed_year(store, args.year, args.cases, args.seed, clock=clock)
    except ValueError as refusal:
        sys.stderr.write(f"Nothing written: {refusal}.\n")
        return 1
    finally:
        await store.close()
    sys.stdout.write(f"{args.cases} sample cases of {args.year} written.\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(_arguments(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
