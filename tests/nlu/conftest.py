"""Fixtures that run the real Rasa NLU service, trained by `make nlu-ready`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from nlu.service import NluService, missing

HELDOUT = Path(__file__).parent / "data" / "heldout.yml"


@pytest.fixture(scope="session")
def nlu_service() -> Iterator[NluService]:
    """One service for the whole session, on a free loopback port with a random token."""
    problem = missing()
    if problem:
        pytest.fail(problem, pytrace=False)
    service = NluService()
    try:
        service.start()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    # The first parse builds the prediction graph; do it here, not inside a timed test.
    httpx.post(
        f"{service.url}/model/parse",
        params={"token": service.token},
        json={"text": "bonjour"},
        timeout=60.0,
    ).raise_for_status()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def heldout() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return data
