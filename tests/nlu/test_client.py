"""The client on its own: department codes, the breaker, and services that misbehave on the wire."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from nlu.client import BreakerState, CircuitBreaker, RasaUnderstanding


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("Var", "83"), ("var", "83"), ("83", "83"), ("2A", "2A"), ("2b", "2B"),
        ("Corse du Sud", "2A"), ("Réunion", "974"), ("la reunion", "974"), ("971", "971"),
        ("l'Ain", "01"), ("Ain", "01"), ("département 64", "64"), ("Val-d'Oise", "95"),
        ("val d oise", "95"), ("Seine St Denis", "93"), ("Côtes-d\u2019Armor", "22"),
        ("Belfort", "90"), ("herault", "34"), ("6", "06"), ("Lyon", "69"), ("Toulon", "83"),
        ("99", None), ("2C", None), ("le", None), ("", None), ("Bretagne", None), ("975", None),
    ],
)  # fmt: skip
async def test_department_values_are_read_as_the_engine_reads_places(
    value: str, code: str | None
) -> None:
    """The extractor's value goes through the engine's geography: a town names its
    department, and what names none is dropped."""
    entity = json.dumps({"entity": "department", "value": value})
    body = f'{{"intent": {{"name": "inform", "confidence": 0.9}}, "entities": [{entity}]}}'
    async with raw_server(_answer("200 OK", body.encode())) as url, RasaUnderstanding(url) as nlu:
        result = await nlu.interpret("je suis à côté")
    assert result is not None
    assert result.entities == ({} if code is None else {"department": code})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=3, cool_down_s=10.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.allow()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.allow()  # the one trial call
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # nobody else while the trial is out
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 15.0
    assert not breaker.allow()
    clock.now = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.times_opened == 2


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A loopback TCP server answering whatever `handler` writes, as a broken service would."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    lengths = [
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    ]
    return head + await reader.readexactly(lengths[0] if lengths else 0)


async def _respond(writer: asyncio.StreamWriter, status: str, body: bytes) -> None:
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()


def _answer(status: str, body: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await _respond(writer, status, body)

    return handler


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    await asyncio.sleep(5)
    writer.close()


@pytest.mark.parametrize(
    ("handler", "event"),
    [
        (_answer("200 OK", b"not json"), "bad_response"),
        (_answer("200 OK", b'{"entities": []}'), "bad_response"),
        (_answer("200 OK", b'{"intent": {"name": 3, "confidence": "x"}}'), "bad_response"),
        (_answer("500 Internal Server Error", b"{}"), "http_500"),
        (_answer("401 Unauthorized", b"{}"), "http_401"),
        (_silent, "timeout"),
    ],
)
async def test_a_misbehaving_service_gives_none_within_the_time_limit(
    handler: Handler, event: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "je veux mourir, signé Dr Martin"
    async with raw_server(handler) as url, RasaUnderstanding(url, "t0ken", timeout_s=0.3) as nlu:
        began = time.monotonic()
        with caplog.at_level(logging.INFO, logger="nlu.client"):
            assert await nlu.interpret(secret) is None
        assert time.monotonic() - began < 1.0
        status = nlu.status()
    assert status["failures"] == 1
    assert status["last_failure"] == event
    assert status["timeouts"] == (1 if event == "timeout" else 0)
    assert [r.getMessage() for r in caplog.records] == [f"nlu degraded: {event}"]
    assert "Martin" not in caplog.text and "t0ken" not in caplog.text


async def test_an_answer_is_read_and_long_text_is_cut() -> None:
    seen: list[bytes] = []
    body = (
        b'{"text": "x", "intent": {"name": "burnout", "confidence": 0.91},'
        b' "entities": [{"entity": "department", "value": "l\'Ain"},'
        b' {"entity": "department", "value": "Var"}]}'
    )

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        await _respond(writer, "200 OK", body)

    async with raw_server(handler) as url, RasaUnderstanding(url, "abc", max_chars=50) as nlu:
        result = await nlu.interpret("épuisé " * 100)
    assert result is not None
    assert (result.intent, result.confidence) == ("burnout", 0.91)
    assert result.entities == {"department": "01"}
    request = seen[0]
    assert request.startswith(b"POST /model/parse?token=abc ")
    assert len(request.split(b"\r\n\r\n", 1)[1]) < 80


async def test_blank_text_is_not_sent() -> None:
    async with RasaUnderstanding("http://127.0.0.1:9", "t") as nlu:
        assert await nlu.interpret("   ") is None
        assert nlu.status()["calls"] == 0


async def test_an_open_breaker_skips_the_service_then_a_trial_goes_through() -> None:
    clock = Clock()
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await _answer("503 Service Unavailable", b"{}")(reader, writer)

    async with (
        raw_server(handler) as url,
        RasaUnderstanding(url, "t", failures_to_open=2, cool_down_s=30.0, clock=clock) as nlu,
    ):
        for _ in range(5):
            assert await nlu.interpret("bonjour") is None
        assert calls == 2
        assert nlu.status()["breaker"] == "open"
        assert nlu.status()["skipped"] == 3
        clock.now = 31.0
        assert await nlu.interpret("bonjour") is None
        assert calls == 3
        assert nlu.status()["breaker"] == "open"
