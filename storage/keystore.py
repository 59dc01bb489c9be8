"""The case key store: wrapped data keys, kept in a file apart from the database.

Keeping the keys out of the database is what makes erasure reach backups: a restored copy
of the database still holds the ciphertexts, but the key that opened them is gone from here.
Besides one key per case it holds one key per staff-room delivery copy, destroyed once the
copy is delivered, so that copy dies with it wherever the database was copied to.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from storage.errors import StorageError
from storage.keys import check_private_mode, create_private_file

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS case_keys ("
    " case_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS item_keys ("
    " item_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, wrapped BLOB NOT NULL,"
    " created_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS item_keys_case_id ON item_keys (case_id)",
    "CREATE INDEX IF NOT EXISTS item_keys_created_at ON item_keys (created_at)",
)


class CaseKeyStore:
    """Synchronous and small; the store calls it from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        create_private_file(path)
        check_private_mode(path, "case key store")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL never copies the old page aside (a rollback journal would keep the key there);
        # secure_delete zeroes what is deleted, and each write is checkpointed at once.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self._db.execute(statement)
        row = self._db.execute("SELECT value FROM meta WHERE name='id'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('id', ?)", (secrets.token_hex(16),))
            row = self._db.execute("SELECT value FROM meta WHERE name='id'").fetchone()
        self.id: str = row[0]

    def get(self, case_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT wrapped FROM case_keys WHERE case_id=?", (case_id,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, case_id: str, wrapped: bytes, now: datetime) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO case_keys VALUES (?, ?, ?)", (case_id, wrapped, now.isoformat())
                )
            except sqlite3.IntegrityError:
                raise StorageError("case key already exists") from None
            self._checkpoint()

    def delete(self, case_id: str) -> None:
        """The case key and every item key of the case."""
        with self._lock:
            self._db.execute("DELETE FROM case_keys WHERE case_id=?", (case_id,))
            self._db.execute("DELETE FROM item_keys WHERE case_id=?", (case_id,))
            self._checkpoint()

    def get_item(self, item_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT wrapped FROM item_keys WHERE item_id=?", (item_id,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def put_item(self, item_id: str, case_id: str, wrapped: bytes, now: datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO item_keys VALUES (?, ?, ?, ?)",
                (item_id, case_id, wrapped, now.isoformat()),
            )
            self._checkpoint()

    def delete_items(self, item_ids: list[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM item_keys WHERE item_id=?", [(i,) for i in item_ids])
            self._checkpoint()

    def item_ids_created_before(self, moment: datetime) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id FROM item_keys WHERE created_at < ?", (moment.isoformat(),)
            ).fetchall()
        return [row[0] for row in rows]

    def case_ids_created_before(self, moment: datetime) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT case_id FROM case_keys WHERE created_at < ?", (moment.isoformat(),)
            ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        with self._lock:
            self._checkpoint()
            self._db.close()

    def _checkpoint(self) -> None:
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
