"""Which Matrix events were handled, and from where the next start syncs again.

Events are known by a keyed hash of their id only, so the file says nothing about who wrote
or what. The sync position is saved only once every event before it is handled: a bot that
dies mid-batch syncs that batch again and skips, by their hashes, the events already done.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from pathlib import Path

from storage.keys import create_private_file

# Long enough to cover any resync after a restart; short enough to stay small.
KEEP_SECONDS = 30 * 24 * 3600


class EventLedger:
    def __init__(self, path: Path, key: bytes) -> None:
        self._key = key
        create_private_file(path)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS handled (event TEXT PRIMARY KEY, at REAL NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS position (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "sync_token TEXT NOT NULL)"
        )
        self._db.execute("DELETE FROM handled WHERE at < ?", (time.time() - KEEP_SECONDS,))

    def _hash(self, event_id: str) -> str:
        return hmac.new(self._key, event_id.encode(), hashlib.sha256).hexdigest()

    def handled(self, event_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM handled WHERE event = ?", (self._hash(event_id),)
        ).fetchone()
        return row is not None

    def mark_handled(self, event_id: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO handled (event, at) VALUES (?, ?)",
            (self._hash(event_id), time.time()),
        )

    def sync_token(self) -> str | None:
        row = self._db.execute("SELECT sync_token FROM position WHERE id = 1").fetchone()
        return None if row is None else str(row[0])

    def save_sync_token(self, token: str) -> None:
        self._db.execute(
            "INSERT INTO position (id, sync_token) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET sync_token = excluded.sync_token",
            (token,),
        )

    def close(self) -> None:
        self._db.close()
