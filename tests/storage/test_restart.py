"""A process killed between two turns loses nothing it saved and enqueues nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from storage import ServerSecrets, Store, write_server_secrets
from tests.storage.helpers import CHEAP_RECEIPTS

TURN = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from storage import Store, load_server_secrets

    async def turn() -> None:
        secrets = load_server_secrets(Path(os.environ["SECRETS_FILE"]))
        store = await Store.open(
            os.environ["DATABASE_URL"], secrets, case_keys_file=Path(os.environ["CASE_KEYS_FILE"])
        )
        person = store.pseudonym("telegram", "restart")
        case_id = await store.save_conversation(person, {"step": sys.argv[1]})
        await store.enqueue(case_id, "alert", {"level": 3}, dedup_key="turn-1:alert")
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(turn())
    """
)


def _killed_turn(step: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", TURN, step], env=env, check=False, timeout=120)
    assert done.returncode == -signal.SIGKILL


async def test_a_killed_process_resumes_where_it_was_and_sends_once(
    database_url: str, server_secrets: ServerSecrets, secrets_dir: Path, case_keys_file: Path
) -> None:
    secrets_file = secrets_dir / "server.json"
    write_server_secrets(secrets_file, server_secrets)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRETS_FILE": str(secrets_file),
        "CASE_KEYS_FILE": str(case_keys_file),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    await asyncio.to_thread(_killed_turn, "asked-practice", env)
    await asyncio.to_thread(_killed_turn, "asked-needs", env)

    store = await Store.open(
        database_url, server_secrets, case_keys_file=case_keys_file, receipts=CHEAP_RECEIPTS
    )
    try:
        conversation = await store.load_conversation(store.pseudonym("telegram", "restart"))
        assert conversation is not None
        assert conversation.state == {"step": "asked-needs"}
        pending = await store.pending_outbox()
        assert [(item.case_id, item.payload) for item in pending] == [
            (conversation.case_id, {"level": 3})
        ]
    finally:
        await store.close()
