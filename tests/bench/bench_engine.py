"""Engine speed without NLU: turns per second and per-turn latency (p50/p95).

Run with ``make bench``. A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flows.engine import UserMessage, handle, start
from flows.resources import Context, Resources

JOURNEYS = {
    "self": ["self", "liberal", "50_60", "skip", "83", "psychological, financial", "oui", "1",
             "2", "2", "2", "1", "1", "1", "0", "0", "0", "1", "2", "1", "1", "75", "75", "50",
             "50", "75", "50", "75", "yes", "Je suis à bout.", "passer", "1", "aide"],
    "relative": ["relative", "1,6,7", "days", "Var", "oui", "Mon mari ne dort plus.", "passer",
                 "none", "english"],
    "crisis": ["je voudrais m'endormir et ne plus me réveiller", "oui", "today", "yes",
               "passer", "self", "banane", "", "effacer", "oui"],
}
ROUNDS = 300


def main() -> None:
    now = datetime(2026, 11, 22, 9, tzinfo=ZoneInfo("Europe/Paris"))
    context = Context(Resources.load(), "terminal", now)
    latencies: list[float] = []
    began = time.perf_counter()
    for _ in range(ROUNDS):
        for inputs in JOURNEYS.values():
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


if __name__ == "__main__":
    main()
