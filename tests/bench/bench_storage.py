"""Store round trips per second for one turn (load state, save state, seal a message).

Run with ``python tests/bench/bench_storage.py`` or ``make bench-storage``; pytest does not
collect it. SQLite runs in a temporary directory, PostgreSQL in a throwaway durable cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from storage import CommissionPrivateKey, ServerSecrets, Store

CHECKOUT = Path(__file__).resolve().parents[2]

PAYLOAD = ("Je voudrais parler à quelqu'un de la commission. " * 6).encode()


async def _turns(store: Store, person: str, turns: int) -> None:
    for turn in range(turns):
        conversation = await store.load_conversation(person)
        state = {"turn": turn, "answers": {"q": "a" * 200}}
        case_id = await store.save_conversation(person, state)
        await store.seal_for_commission(case_id, "free_text", PAYLOAD)
        assert conversation is None or conversation.case_id == case_id


async def measure(
    database_url: str, keys_dir: Path, turns: int, concurrency: int
) -> dict[str, float]:
    server_secrets = ServerSecrets.generate(CommissionPrivateKey.generate().public())
    store = await Store.open(
        database_url, server_secrets, case_keys_file=keys_dir / f"keys-{secrets.token_hex(4)}"
    )
    try:
        people = [
            store.pseudonym("bench", f"{n}-{secrets.token_hex(4)}") for n in range(concurrency)
        ]
        await _turns(store, people[0], 5)
        started = time.perf_counter()
        await _turns(store, people[0], turns)
        sequential = turns / (time.perf_counter() - started)
        per_task = max(1, turns // concurrency)
        started = time.perf_counter()
        await asyncio.gather(*(_turns(store, person, per_task) for person in people))
        concurrent = per_task * concurrency / (time.perf_counter() - started)
    finally:
        await store.close()
    return {"sequential": sequential, f"concurrent_{concurrency}": concurrent}


async def _postgres_database(admin_url: str) -> str:
    name = "bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    from tests.storage.postgres_server import find_bindir, throwaway_postgres

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="entraide-bench-") as tmp:
        root = Path(tmp)
        sqlite_url = f"sqlite+aiosqlite:///{root / 'bench.sqlite3'}"
        results["sqlite"] = asyncio.run(measure(sqlite_url, root, args.turns, args.concurrency))
        if find_bindir() is None:
            print("postgresql: skipped (no server binaries; run `make postgres-ready`)")
        else:
            with throwaway_postgres(durable=True) as server:
                name = asyncio.run(_postgres_database(server.url(driver="postgresql")))
                results["postgresql"] = asyncio.run(
                    measure(server.url(name), root, args.turns, args.concurrency)
                )
    for backend, numbers in results.items():
        shown = ", ".join(f"{label} {value:.0f}" for label, value in numbers.items())
        print(f"storage turn round trips/s on {backend}: {shown}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"storage_turns_per_second": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
