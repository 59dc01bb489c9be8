"""The yearly report's lines: the bands delays are kept in, and how a line is written and read.

A line holds labels and a month, never a time; it is found again only through its tag (a
keyed hash under the case key), which the callers hold and this module never derives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables
from storage.records import DELAY_BANDS, FOLLOW_UP_BANDS, StatisticsRow

# The upper edge of each band but the last, in the order of records.DELAY_BANDS.
DELAY_EDGES = (timedelta(hours=1), timedelta(hours=24), timedelta(days=7))
# A month of 30 days, a year of 365: the report speaks of months, not of calendars.
FOLLOW_UP_EDGES = (timedelta(days=30), timedelta(days=90), timedelta(days=365))


def _band(elapsed: timedelta, edges: Sequence[timedelta], bands: Sequence[str]) -> str:
    for edge, band in zip(edges, bands, strict=False):
        if elapsed < edge:
            return band
    return bands[-1]


def delay_band(elapsed: timedelta) -> str:
    """From an alert to the commission's acknowledgement or first reply."""
    return _band(elapsed, DELAY_EDGES, DELAY_BANDS)


def follow_up_band(elapsed: timedelta) -> str:
    """From a case's creation to its closing."""
    return _band(elapsed, FOLLOW_UP_EDGES, FOLLOW_UP_BANDS)


def month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def routes(summary: Mapping[str, Any]) -> list[str]:
    """The directory ids of the summary, each once, in the order given."""
    return list(dict.fromkeys(str(route) for route in summary.get("routes", ())))


def score_bands(summary: Mapping[str, Any]) -> list[list[str]]:
    """(instrument, band) of each score: the score itself stays with the case."""
    pairs = ((str(instrument), str(band)) for instrument, _score, band in summary.get("scores", ()))
    return [list(pair) for pair in dict.fromkeys(pairs)]


async def write(conn: AsyncConnection, tag: str, values: Mapping[str, Any]) -> None:
    """The line's description, made on first use; its delays and closing are left as they are."""
    table = tables.statistics
    result = await conn.execute(sa.update(table).where(table.c.tag == tag).values(**values))
    if result.rowcount == 0:
        await conn.execute(sa.insert(table).values(tag=tag, **values))


async def exists(conn: AsyncConnection, tag: str) -> bool:
    table = tables.statistics
    return await conn.scalar(sa.select(table.c.tag).where(table.c.tag == tag)) is not None


async def set_values(conn: AsyncConnection, tag: str, **values: Any) -> None:
    table = tables.statistics
    await conn.execute(sa.update(table).where(table.c.tag == tag).values(**values))


async def set_once(conn: AsyncConnection, tag: str, column: str, value: str) -> None:
    """Sets ``column`` only if nothing was counted in it yet."""
    table = tables.statistics
    await conn.execute(
        sa.update(table)
        .where(table.c.tag == tag, table.c[column].is_(None))
        .values({column: value})
    )


async def yearly(conn: AsyncConnection, year: int) -> list[StatisticsRow]:
    """The lines of the cases created in ``year``, by month."""
    table = tables.statistics
    rows = await conn.execute(
        sa.select(table)
        .where(table.c.month.like(f"{year:04d}-%"))
        .order_by(table.c.month, table.c.tag)
    )
    return [_row(row) for row in rows]


async def years(conn: AsyncConnection) -> list[int]:
    """The years that have lines, oldest first."""
    table = tables.statistics
    found = await conn.scalars(sa.select(sa.func.substr(table.c.month, 1, 4)).distinct())
    return sorted(int(year) for year in found)


def _row(row: sa.Row[Any]) -> StatisticsRow:
    return StatisticsRow(
        month=row.month,
        persona=row.persona,
        level=row.level,
        categories=tuple(row.categories),
        channel=row.channel,
        routes=tuple(row.routes or ()),
        score_bands=tuple((instrument, band) for instrument, band in row.score_bands or ()),
        reached_commission=bool(row.reached_commission),
        closing=dict(row.closing or {}),
        acknowledged_within=row.acknowledged_within,
        first_reply_within=row.first_reply_within,
        follow_up=row.follow_up,
    )
