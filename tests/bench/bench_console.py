"""The commission's console on loopback, through the real bot, a throwaway Synapse and end-to-end
encrypted clients for the person and the commission member.

Run with ``make bench-console`` (``python -m tests.bench.bench_console``). It measures,
``--rounds`` times: how long a crisis sentence takes to show as the level-3 card in the
staff room (the on-call member's notification), and how long a member's ``!r`` takes to
reach the person's screen. A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.dev.homeserver import Homeserver, missing
from tests.matrix.conftest import Deployment, deployed, drain, is_case_card, next_where

CHECKOUT = Path(__file__).resolve().parents[2]
RESULTS = CHECKOUT / "bench-results" / "console.json"
CRISIS = "je vais me tuer ce soir"


def percentiles(values_ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values_ms, n=20)
    return {
        "p50_ms": round(statistics.median(values_ms), 1),
        "p95_ms": round(cuts[18], 1),
        "max_ms": round(max(values_ms), 1),
    }


async def one_round(setup: Deployment, marker: str) -> tuple[float, float]:
    """A new person's crisis to the staff room's card, then a reply to the person (ms)."""
    staff, staff_room = setup.staff, setup.settings.staff_room
    assert staff_room is not None
    person, room_id = await setup.person()
    await person.messages_until_quiet()
    await drain(staff, quiet=0.5)

    began = time.perf_counter()
    await person.send(room_id, CRISIS)
    card = await next_where(staff, lambda m: m.thread is None and is_case_card(m.body), 60)
    alert = (time.perf_counter() - began) * 1000
    await person.messages_until_quiet()

    began = time.perf_counter()
    await staff.send_in_thread(staff_room, card.event_id, f"!r {marker}")
    await next_where(person, lambda m: marker in m.body, 60)
    return alert, (time.perf_counter() - began) * 1000


async def measure(rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch, Homeserver(Path(scratch) / "synapse") as hs:
        async with deployed(hs, Path(scratch)) as setup:
            timings = [await one_round(setup, f"Réponse-{number}") for number in range(rounds)]
    return {
        "rounds": rounds,
        "crisis_to_staff_card": percentiles([alert for alert, _ in timings]),
        "reply_to_person": percentiles([reply for _, reply in timings]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    problem = missing()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    results = asyncio.run(measure(args.rounds))
    print(json.dumps(results, indent=2))
    args.json.parent.mkdir(exist_ok=True)
    args.json.write_text(json.dumps({"console": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
