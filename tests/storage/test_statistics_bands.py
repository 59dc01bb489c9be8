"""The bands the yearly report keeps delays in: each edge falls in the band above it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.records import DELAY_BANDS, FOLLOW_UP_BANDS
from storage.statistics import delay_band, follow_up_band, routes, score_bands

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("elapsed", "band"),
    [
        (timedelta(0), "under_1h"),
        (HOUR - MINUTE, "under_1h"),
        (HOUR, "1h_24h"),
        (24 * HOUR - MINUTE, "1h_24h"),
        (24 * HOUR, "1d_7d"),
        (7 * DAY - MINUTE, "1d_7d"),
        (7 * DAY, "over_7d"),
        (400 * DAY, "over_7d"),
    ],
)
def test_a_delay_falls_in_its_band(elapsed: timedelta, band: str) -> None:
    assert delay_band(elapsed) == band
    assert band in DELAY_BANDS


@pytest.mark.parametrize(
    ("elapsed", "band"),
    [
        (HOUR, "under_1_month"),
        (30 * DAY - MINUTE, "under_1_month"),
        (30 * DAY, "1_3_months"),
        (90 * DAY - MINUTE, "1_3_months"),
        (90 * DAY, "3_12_months"),
        (365 * DAY - MINUTE, "3_12_months"),
        (365 * DAY, "over_12_months"),
        (3 * 365 * DAY, "over_12_months"),
    ],
)
def test_a_follow_up_falls_in_its_band(elapsed: timedelta, band: str) -> None:
    assert follow_up_band(elapsed) == band
    assert band in FOLLOW_UP_BANDS


def test_the_summary_gives_its_routes_once_and_its_bands_without_the_scores() -> None:
    summary = {
        "scores": [["phq9", 17, "moderately_severe"], ["cbi", 62, "high"]],
        "routes": ["suicide_3114", "cnom_line", "suicide_3114"],
    }
    assert routes(summary) == ["suicide_3114", "cnom_line"]
    assert score_bands(summary) == [["phq9", "moderately_severe"], ["cbi", "high"]]
    assert (routes({}), score_bands({})) == ([], [])
