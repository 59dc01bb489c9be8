"""Statistics lines of made-up years, the same for the same seed."""

from __future__ import annotations

import random

from bot.staff.closing import FIELDS
from storage.records import DELAY_BANDS, FOLLOW_UP_BANDS, StatisticsRow

ROUTES = ("cnom_line", "sps", "mots", "cdom", "carmf", "suicide_3114", "afem", "cng")


def row(
    month: str = "2025-03", *, level: int | None = 2, persona: str | None = "self",
    channel: str | None = "matrix", routes: tuple[str, ...] = ("cnom_line",),
    reached: bool = True, closing: dict[str, str] | None = None,
    acknowledged: str | None = "1h_24h", replied: str | None = "1d_7d",
    follow_up: str | None = None,
) -> StatisticsRow:
    return StatisticsRow(
        month=month, persona=persona, level=level, categories=(), channel=channel,
        routes=routes, score_bands=(), reached_commission=reached, closing=closing or {},
        acknowledged_within=acknowledged if reached else None,
        first_reply_within=replied if reached else None,
        follow_up=follow_up if closing else None,
    )


def closed(**fields: str) -> dict[str, str]:
    """A full closing form: what is not given is "unknown" (or no help)."""
    form = {field: "none" if field == "help" else "unknown" for field in FIELDS}
    form["outcome"] = "other"
    form.update(fields)
    return form


def year(year: int, cases: int, seed: int) -> list[StatisticsRow]:
    rng = random.Random(seed)
    lines = []
    for _ in range(cases):
        reached = rng.random() < 0.7
        is_closed = rng.random() < 0.6
        closing = {
            field: rng.choices(labels, weights=range(len(labels), 0, -1))[0]
            for field, labels in FIELDS.items()
        } if is_closed else None
        lines.append(row(
            f"{year}-{rng.randint(1, 12):02d}",
            level=rng.choices([1, 2, 3, None], weights=[5, 4, 1, 1])[0],
            persona=rng.choices(["self", "relative", "colleague"], weights=[6, 2, 1])[0],
            channel=rng.choice(["matrix", "telegram"]),
            routes=tuple(rng.sample(ROUTES, rng.randint(0, 3))),
            reached=reached, closing=closing,
            acknowledged=rng.choice(DELAY_BANDS), replied=rng.choice(DELAY_BANDS),
            follow_up=rng.choice(FOLLOW_UP_BANDS),
        ))
    return lines
