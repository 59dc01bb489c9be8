"""NLU parse latency through nlu/client.py next to a raw POST /model/parse, in one run.

Run with ``make bench-nlu``: it starts the real service (trained by ``make nlu-ready``),
sends the same held-out sentences both ways, interleaved, and prints p50/p95 and the
client's overhead as a ratio. A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx
import yaml

from nlu.client import RasaUnderstanding
from nlu.service import NluService, missing

HELDOUT = Path(__file__).resolve().parents[1] / "nlu" / "data" / "heldout.yml"
ROUNDS = 5
WARM_UP = 20


def sentences() -> list[str]:
    data = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return [s for group in data["intents"].values() for s in group]


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


async def measure(service: NluService, texts: list[str]) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"client": [], "raw": []}
    unanswered = 0
    async with (
        RasaUnderstanding(service.url, service.token) as nlu,
        httpx.AsyncClient(base_url=service.url, timeout=5.0, trust_env=False) as raw,
    ):

        async def by_client(text: str) -> None:
            nonlocal unanswered
            began = time.perf_counter()
            result = await nlu.interpret(text)
            timings["client"].append(time.perf_counter() - began)
            unanswered += result is None

        async def by_raw(text: str) -> None:
            began = time.perf_counter()
            answer = await raw.post(
                "/model/parse", params={"token": service.token}, json={"text": text}
            )
            answer.json()
            timings["raw"].append(time.perf_counter() - began)

        for text in texts[:WARM_UP]:
            await by_client(text)
            await by_raw(text)
        timings = {"client": [], "raw": []}
        unanswered = 0
        for round_ in range(ROUNDS):
            for i, text in enumerate(texts):
                # Alternate who goes first so that neither always meets a warm cache.
                first, second = (by_client, by_raw) if (i + round_) % 2 else (by_raw, by_client)
                await first(text)
                await second(text)
        status = nlu.status()
    print(f"client status: {status}")
    if unanswered:
        print(f"warning: {unanswered} client calls answered None (timeout or failure)")
    return timings


def main() -> int:
    problem = missing()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    texts = sentences()
    service = NluService().start()
    try:
        print(f"NLU service ready in {service.startup_s:.1f} s")
        timings = asyncio.run(measure(service, texts))
    finally:
        service.stop()
    client_p50, client_p95 = percentiles(timings["client"])
    raw_p50, raw_p95 = percentiles(timings["raw"])
    print(f"{len(texts)} sentences x {ROUNDS} rounds, each way")
    print(f"{'':22}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'raw POST /model/parse':22}{raw_p50:10.2f}{raw_p95:10.2f}")
    print(f"{'nlu.client':22}{client_p50:10.2f}{client_p95:10.2f}")
    print(f"{'client / raw':22}{client_p50 / raw_p50:10.2f}{client_p95 / raw_p95:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
