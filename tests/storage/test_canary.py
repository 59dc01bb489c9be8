"""Canary: unique markers go through the store, then no file, log line or error may hold them."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.receipt_code import normalize
from storage import Store, tables
from tests.storage.postgres_server import PostgresServer

LOGGERS = ("", "sqlalchemy", "sqlalchemy.engine", "aiosqlite", "asyncpg", "alembic", "storage")


def _markers() -> dict[str, str]:
    tag = secrets.token_hex(4).upper()
    return {
        "name": f"Canarinette Zorglub-{tag}",
        "phone": f"06 {tag[:2]} 47 {tag[2:4]} 13",
        "telegram_id": f"77{int(tag, 16)}",
        "matrix_id": f"@canary{tag.lower()}:example.org",
        "free_text": f"je n'en peux plus {tag}",
        "reply": f"réponse de la commission {tag}",
        "dedup": f"dedup-{tag}",
        "outbox": f"alerte {tag}",
    }


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def _hits(haystack: bytes, markers: list[str]) -> list[str]:
    lowered = haystack.lower()
    return [marker for marker in markers if marker.lower().encode() in lowered]


async def test_no_marker_reaches_any_file_log_or_error(
    store: Store,
    backend: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    m = _markers()
    errors: list[str] = []

    person = store.pseudonym("telegram", m["telegram_id"])
    state = {"answers": {"name": m["name"], "phone": m["phone"]}, "said": [m["free_text"]]}
    case_id = await store.save_conversation(person, state)
    await store.save_conversation(person, {**state, "step": "next"})
    await store.update_case(case_id, level=3, persona="self", categories=["psychiatric"])
    contact = f'{{"name": "{m["name"]}", "phone": "{m["phone"]}", "text": "{m["free_text"]}"}}'
    await store.seal_for_commission(case_id, "contact", contact.encode())
    await store.append_reply(case_id, m["reply"])
    await store.enqueue(case_id, "alert", {"text": m["outbox"]}, dedup_key=m["dedup"])
    await store.book_slot(case_id, "2025-03-04T10-00")
    code = await store.issue_receipt(case_id)
    other = store.pseudonym("matrix", m["matrix_id"])
    assert await store.redeem_receipt(code, other) == case_id
    await store.record_event("turn", pseudonym=person, case_id=case_id)
    for attempt in (
        lambda: store.update_case(case_id, persona=m["name"]),
        lambda: store.record_event(m["free_text"]),
        lambda: store.save_conversation(m["telegram_id"], state),
        lambda: store.redeem_receipt(m["phone"], m["matrix_id"]),
    ):
        with pytest.raises(ValueError) as refused:
            await attempt()
        errors.append(repr(refused.value))
    assert [item.payload for item in await store.pending_outbox()] == [{"text": m["outbox"]}]
    await store.mark_delivered((await store.pending_outbox())[0].id)

    async with store._engine.connect() as conn:
        dump = repr(
            [
                (await conn.execute(sa.select(table))).all()
                for table in tables.metadata.sorted_tables
            ]
        )
    searched = [m[key] for key in m] + [code, normalize(code) or code]
    places: dict[str, bytes] = {"logs": caplog.text.encode(), "errors": "".join(errors).encode()}
    places["rows"] = dump.encode()
    for path in _files(tmp_path):
        places[str(path)] = path.read_bytes()
    database = tmp_path / "var" / "entraide.sqlite3"
    if backend == "sqlite":
        assert database.exists()
        assert set(places) >= {str(database)}
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        async with store._engine.connect() as conn:
            await conn.execute(sa.text("CHECKPOINT"))
        for path in _files(server.data_dir.parent):
            places[str(path)] = path.read_bytes()
    assert len(places) > 3
    assert {place: hits for place, data in places.items() if (hits := _hits(data, searched))} == {}
