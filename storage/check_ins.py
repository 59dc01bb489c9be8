"""The check-ins table: when the bot writes to a person again, and where each check-in stands.

A row holds a random id, the pseudonym of the conversation that asked, its channel, the
day and a status: no address (the conversation keeps it under its case key) and no score
(the conversation's state keeps them, under the same key). Every change of status is a
compare-and-set in one statement, so two rounds of the scheduler, or a restart between
them, send a check-in once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables

SCHEDULED = "scheduled"
SENT = "sent"
ANSWERED = "answered"
STOPPED = "stopped"
EXPIRED = "expired"
# Still to come: the scheduler sends it, or waits for its answer.
PENDING = (SCHEDULED, SENT)
# The only moves a status makes: sent when the scheduler claims it, back to scheduled when
# no channel could deliver it, then answered, stopped or expired for good.
MOVES = frozenset({
    (SCHEDULED, SENT), (SENT, SCHEDULED), (SENT, ANSWERED),
    (SCHEDULED, STOPPED), (SENT, STOPPED), (SCHEDULED, EXPIRED), (SENT, EXPIRED),
})


@dataclass(frozen=True)
class CheckIn:
    id: str
    pseudonym: str
    channel: str
    due: date
    status: str


def cases_waiting() -> sa.Select[tuple[str]]:
    """The cases holding a check-in still to come: retention waits for it, so an 18-month
    check-in is not erased with a case a year idle."""
    conversations, check_ins = tables.conversations, tables.check_ins
    return (
        sa.select(conversations.c.case_id)
        .join(check_ins, check_ins.c.pseudonym == conversations.c.pseudonym)
        .where(check_ins.c.status.in_(PENDING))
    )


class CheckInBook:
    """The store's check-ins. The store checks pseudonyms and labels before they get here,
    and gives days as ISO strings, as the table keeps them."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    async def schedule(self, pseudonym: str, channel: str, due: str) -> str:
        """A check-in of this conversation on ``due``, in place of any still to come."""
        table = tables.check_ins
        check_in = secrets.token_hex(16)
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(table)
                .where(table.c.pseudonym == pseudonym, table.c.status.in_(PENDING))
                .values(status=STOPPED)
            )
            await conn.execute(sa.insert(table).values(
                id=check_in, pseudonym=pseudonym, channel=channel, due=due,
                status=SCHEDULED, created_at=self._clock(),
            ))
        return check_in

    async def stop(self, pseudonym: str) -> int:
        """Every check-in of this conversation still to come is stopped; how many were."""
        table = tables.check_ins
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(table)
                .where(table.c.pseudonym == pseudonym, table.c.status.in_(PENDING))
                .values(status=STOPPED)
            )
        return result.rowcount

    async def of(self, pseudonym: str) -> list[CheckIn]:
        """This conversation's check-ins, the earliest due first."""
        table = tables.check_ins
        return await self._select(table.c.pseudonym == pseudonym)

    async def due(self, today: str) -> list[CheckIn]:
        """The check-ins to send: scheduled on or before ``today``."""
        table = tables.check_ins
        return await self._select(table.c.status == SCHEDULED, table.c.due <= today)

    async def move(self, check_in: str, was: str, becomes: str) -> bool:
        """From ``was`` to ``becomes``, only if it still is ``was``: False when another round
        (or the person) moved it first."""
        if (was, becomes) not in MOVES:
            raise ValueError(f"a check-in does not go from {was} to {becomes}")
        table = tables.check_ins
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(table)
                .where(table.c.id == check_in, table.c.status == was)
                .values(status=becomes)
            )
        return bool(result.rowcount)

    async def expire(self, due_before: str) -> int:
        """Check-ins due before that day and still unanswered: never sent, nor sent again."""
        table = tables.check_ins
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(table)
                .where(table.c.status.in_(PENDING), table.c.due < due_before)
                .values(status=EXPIRED)
            )
        return result.rowcount

    async def _select(self, *conditions: sa.ColumnElement[bool]) -> list[CheckIn]:
        table = tables.check_ins
        query = sa.select(table).where(*conditions).order_by(table.c.due, table.c.created_at)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [
                CheckIn(row.id, row.pseudonym, row.channel, date.fromisoformat(row.due),
                        row.status)
                for row in rows
            ]

