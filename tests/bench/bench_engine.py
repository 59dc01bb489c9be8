"""Engine speed without NLU, and the length of each golden journey.

For every golden transcript (tests/golden/*.in): how many messages the person sends before
the bot gives its routes (or, in a crisis, the emergency numbers), and how many in all. Then
turns per second and per-turn latency (p50/p95) over all of them, replayed many times.

Last, folding hostile text (hidden, reversed and look-alike characters) at two lengths:
twenty times the text must take about twenty times as long, never four hundred.

Run with ``make bench``. A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flows.engine import UserMessage, handle, start
from flows.resources import Context, Resources
from flows.state import ConversationState
from flows.textnorm import fold

GOLDEN = Path(__file__).parent.parent / "golden"
ROUNDS = 200


def journeys() -> dict[str, list[str]]:
    return {
        path.stem: path.read_text(encoding="utf-8").splitlines()
        for path in sorted(GOLDEN.glob("*.in"))
    }


def messages_to(inputs: list[str], context: Context) -> tuple[int | None, int | None]:
    """(messages until the routes, messages until the first crisis numbers), None if never."""
    state: ConversationState = start(context).state
    to_routes = to_crisis = None
    for count, text in enumerate(inputs, start=1):
        reply = handle(state, UserMessage(text), context)
        state = reply.state
        if to_crisis is None and any(message.crisis for message in reply.messages):
            to_crisis = count
        if to_routes is None and "routes" in state.shown:
            to_routes = count
    return to_routes, to_crisis


def main() -> None:
    now = datetime(2026, 11, 22, 9, tzinfo=ZoneInfo("Europe/Paris"))
    context = Context(Resources.load(), "terminal", now)
    print("golden journeys: messages the person sends (to routes / to crisis numbers / in all)")
    for name, inputs in journeys().items():
        to_routes, to_crisis = messages_to(inputs, context)
        print(f"  {name:<22} {to_routes if to_routes else '-':>3} / "
              f"{to_crisis if to_crisis else '-':>3} / {len(inputs):>3}")
    latencies: list[float] = []
    began = time.perf_counter()
    for _ in range(ROUNDS):
        for inputs in journeys().values():
            state = start(context).state
            for text in inputs:
                t0 = time.perf_counter()
                state = handle(state, UserMessage(text), context).state
                latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    print(f"engine (no NLU): {len(latencies)} turns in {elapsed:.2f} s")
    print(f"  turns per second: {len(latencies) / elapsed:,.0f}")
    print(f"  per-turn latency: p50 {cuts[49] * 1000:.3f} ms, p95 {cuts[94] * 1000:.3f} ms "
          f"(aim: p95 < 2 ms)")
    fold("é")  # builds the tables once
    unit = "mо\u200bu\u00adr\u202eі𝐫 ｊ "
    timings = []
    for repeat in (1_000, 20_000):
        t0 = time.perf_counter()
        fold(unit * repeat)
        timings.append(time.perf_counter() - t0)
    print(f"fold, hostile text: {timings[0] * 1000:.1f} ms for 1,000 units, "
          f"{timings[1] * 1000:.1f} ms for 20,000 (aim: about 20 times, linear)")


if __name__ == "__main__":
    main()
