"""The one client of the Rasa NLU service: a parse bounded in time, behind a circuit breaker.

The conversation must never wait on the NLU: every call is bounded (0.8 s by default), any
failure answers ``None`` so that the engine goes on with its lexicon and options, and after a
few failures in a row the breaker skips the service for a while. Degradations are counted
(``status()``) and logged by event type only, never with the text or who wrote it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

import httpx

from flows import geography
from flows.understanding import Interpretation

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "http://127.0.0.1:5005"
# Below the 1 s a person may wait for the NLU, transport included.
DEFAULT_TIMEOUT_S: Final = 0.8
# A message longer than this says what it is about well before the end; the rest would only
# slow the service down.
MAX_TEXT_CHARS: Final = 2000
FAILURES_TO_OPEN: Final = 3
COOL_DOWN_S: Final = 30.0
DEPARTMENT: Final = "department"


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed until ``failures_to_open`` failures in a row, then open for ``cool_down_s``.

    After the cool-down one trial call goes through (half-open): its success closes the
    breaker, its failure opens it again for another cool-down.

    Written here rather than taken from a package: purgatory 3.0 times its cool-down with the
    wall clock (``time.time()``, which jumps with NTP) and lets every concurrent call through
    while half-open; aiobreaker 1.2 (2021) mixes ``datetime.now()`` and ``utcnow()``;
    pybreaker 1.4 awaits through Tornado. None takes an injectable monotonic clock, which the
    tests drive, nor keeps the one-trial-at-a-time rule that spares a sick service.
    """

    def __init__(
        self,
        failures_to_open: int = FAILURES_TO_OPEN,
        cool_down_s: float = COOL_DOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures_to_open < 1:
            raise ValueError("failures_to_open must be at least 1")
        self.failures_to_open = failures_to_open
        self.cool_down_s = cool_down_s
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.times_opened = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    def allow(self) -> bool:
        """Whether a call may go to the service now."""
        if self.state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.cool_down_s:
                return False
            self.state = BreakerState.HALF_OPEN
            log.info("nlu breaker half_open")
        if self.state is BreakerState.HALF_OPEN:
            # One trial at a time: concurrent conversations do not pile onto a sick service.
            if self._trial_in_flight:
                return False
            self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        self._trial_in_flight = False
        self.consecutive_failures = 0
        if self.state is not BreakerState.CLOSED:
            self.state = BreakerState.CLOSED
            log.info("nlu breaker closed")

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failures_to_open
        ):
            self.state = BreakerState.OPEN
            self._opened_at = self._clock()
            self.times_opened += 1
            log.warning("nlu breaker open")


class RasaUnderstanding:
    """``flows.understanding.Understanding`` backed by Rasa's ``POST /model/parse``."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        failures_to_open: int = FAILURES_TO_OPEN,
        cool_down_s: float = COOL_DOWN_S,
        max_chars: int = MAX_TEXT_CHARS,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_chars = max_chars
        self.breaker = CircuitBreaker(failures_to_open, cool_down_s, clock)
        # Rasa 3.6's --auth-token is checked against the `token` query parameter only.
        self._params = {"token": token} if token else {}
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            trust_env=False,
        )
        self._counters = {
            "calls": 0,
            "answered": 0,
            "skipped": 0,
            "failures": 0,
            "timeouts": 0,
        }
        self._last_failure: str | None = None

    async def interpret(self, text: str) -> Interpretation | None:
        if not text.strip():
            return None
        self._counters["calls"] += 1
        if not self.breaker.allow():
            self._counters["skipped"] += 1
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._client.post(
                    "/model/parse",
                    params=self._params,
                    json={"text": text[: self.max_chars]},
                )
        except (TimeoutError, httpx.TimeoutException):
            self._fail("timeout")
            return None
        except httpx.TransportError:
            self._fail("unreachable")
            return None
        if response.status_code != httpx.codes.OK:
            self._fail(f"http_{response.status_code}")
            return None
        try:
            interpretation = self._read(response.json())
        except ValueError:
            self._fail("bad_response")
            return None
        self.breaker.record_success()
        self._counters["answered"] += 1
        return interpretation

    def status(self) -> dict[str, object]:
        """Health counters; no message content and no user identifier."""
        return {
            "breaker": self.breaker.state.value,
            "consecutive_failures": self.breaker.consecutive_failures,
            "times_opened": self.breaker.times_opened,
            "last_failure": self._last_failure,
            **self._counters,
        }

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> RasaUnderstanding:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _fail(self, event: str) -> None:
        self._counters["failures"] += 1
        if event == "timeout":
            self._counters["timeouts"] += 1
        self._last_failure = event
        log.warning("nlu degraded: %s", event)
        self.breaker.record_failure()

    def _read(self, body: Any) -> Interpretation | None:
        """The interpretation in a /model/parse answer; ValueError when it is malformed."""
        if not isinstance(body, dict) or not isinstance(body.get("intent"), dict):
            raise ValueError("no intent object")
        name = body["intent"].get("name")
        confidence = body["intent"].get("confidence")
        if name is None:
            return None
        if not isinstance(name, str) or not isinstance(confidence, int | float):
            raise ValueError("malformed intent")
        return Interpretation(name, float(confidence), self._entities(body.get("entities")))

    def _entities(self, raw: Any) -> dict[str, str]:
        entities: dict[str, str] = {}
        if not isinstance(raw, list):
            return entities
        for item in raw:
            if not isinstance(item, dict):
                continue
            name, value = item.get("entity"), item.get("value")
            if not isinstance(name, str) or not isinstance(value, str | int) or name in entities:
                continue
            if name == DEPARTMENT:
                code = geography.department_of(str(value))
                if code is not None:
                    entities[name] = code
            else:
                entities[name] = str(value)
        return entities
