"""The client against the real Rasa service: intents, departments, the token, outages."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nlu.client import RasaUnderstanding
from nlu.service import NluService, free_port, service_env

# Held-out sentences (tests/nlu/data/heldout.yml), five per intent: at least four right in
# each intent and 85 % overall; every crisis sentence right.
PER_INTENT_FLOOR = 0.8
OVERALL_FLOOR = 0.85
# Accuracy is what is checked here, not speed: a loaded machine must not fail these.
GENEROUS_TIMEOUT_S = 5.0


def client(service: NluService, **options: Any) -> RasaUnderstanding:
    options.setdefault("timeout_s", GENEROUS_TIMEOUT_S)
    return RasaUnderstanding(service.url, service.token, **options)


async def test_heldout_sentences_get_their_intent(
    nlu_service: NluService, heldout: dict[str, Any]
) -> None:
    wrong: dict[str, list[tuple[str, str]]] = {}
    total = right = 0
    async with client(nlu_service) as nlu:
        for intent, sentences in heldout["intents"].items():
            for sentence in sentences:
                result = await nlu.interpret(sentence)
                assert result is not None, sentence
                total += 1
                if result.intent == intent:
                    right += 1
                else:
                    wrong.setdefault(intent, []).append((sentence, result.intent))
    assert wrong.get("crisis", []) == [], "every held-out crisis must be recognised"
    below_floor = {
        intent: wrong[intent]
        for intent, sentences in heldout["intents"].items()
        if 1 - len(wrong.get(intent, [])) / len(sentences) < PER_INTENT_FLOOR
    }
    assert below_floor == {}
    assert right / total >= OVERALL_FLOOR, wrong


async def test_departments_come_back_as_codes(
    nlu_service: NluService, heldout: dict[str, Any]
) -> None:
    async with client(nlu_service) as nlu:
        for case in heldout["departments"]:
            result = await nlu.interpret(case["text"])
            assert result is not None
            assert result.entities.get("department") == case["code"], case["text"]
        for text in heldout["no_department"]:
            result = await nlu.interpret(text)
            assert result is not None
            assert "department" not in result.entities, text


def test_the_service_refuses_requests_without_its_token(nlu_service: NluService) -> None:
    parse = f"{nlu_service.url}/model/parse"
    with httpx.Client(timeout=GENEROUS_TIMEOUT_S, trust_env=False) as http:
        assert http.post(parse, json={"text": "bonjour"}).status_code == 401
        assert http.post(parse, params={"token": "wrong"}, json={"text": "x"}).status_code == 401
        assert http.get(f"{nlu_service.url}/status").status_code == 401
        # Loading another model is the dangerous part of the API.
        assert (
            http.put(f"{nlu_service.url}/model", json={"model_file": "/tmp/x"}).status_code == 401
        )
        assert http.post(parse, params={"token": nlu_service.token}, json={"text": "x"}).is_success


async def test_a_client_with_the_wrong_token_gets_none(nlu_service: NluService) -> None:
    async with RasaUnderstanding(nlu_service.url, "not-the-token") as nlu:
        assert await nlu.interpret("je suis épuisé") is None
        assert nlu.status()["last_failure"] == "http_401"


async def test_default_settings_answer_within_the_time_limit(nlu_service: NluService) -> None:
    async with RasaUnderstanding(nlu_service.url, nlu_service.token) as nlu:
        for text in ("bonjour", "je veux un rendez-vous", "je bois trop", "mon associé me harcèle"):
            assert await nlu.interpret(text) is not None
        status = nlu.status()
    assert status["answered"] == 4
    assert status["failures"] == 0
    assert status["breaker"] == "closed"


async def test_a_closed_port_answers_none_fast_and_opens_the_breaker() -> None:
    async with RasaUnderstanding(
        f"http://127.0.0.1:{free_port()}", "t", failures_to_open=3, cool_down_s=60.0
    ) as nlu:
        for _ in range(5):
            began = time.monotonic()
            assert await nlu.interpret("je veux mourir") is None
            assert time.monotonic() - began < 1.0
        status = nlu.status()
    assert status["breaker"] == "open"
    assert (status["failures"], status["skipped"]) == (3, 2)
    assert status["last_failure"] == "unreachable"


@pytest.fixture
def own_service() -> Iterator[NluService]:
    """A service of this test's own, which the test may stop and start again."""
    # A token that looks like an option must still reach Rasa as the token.
    service = NluService(token="-" + secrets.token_urlsafe(24)).start()
    yield service
    service.stop()


async def test_service_stopped_mid_conversation_then_back(own_service: NluService) -> None:
    async with client(own_service, timeout_s=0.8, failures_to_open=2, cool_down_s=0.5) as nlu:
        before = await nlu.interpret("mon mari parle de se tuer")
        assert before is not None and before.intent == "crisis"

        own_service.stop()
        for _ in range(4):
            began = time.monotonic()
            assert await nlu.interpret("je ne vais pas bien") is None
            assert time.monotonic() - began < 1.0
        down = nlu.status()
        assert down["breaker"] == "open"
        assert down["skipped"] >= 1

        own_service.start()  # same port, same token
        await asyncio.sleep(0.6)  # past the cool-down: the next call is the trial
        after = await nlu.interpret("mon mari parle de se tuer")
        assert after is not None and after.intent == "crisis"
        assert nlu.status()["breaker"] == "closed"


def test_the_service_sees_none_of_the_bots_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Rasa process is started with what it needs to run, never the bot's environment."""
    for name, value in (("MATRIX_PASSWORD", "Quiproquo-7731"), ("DATABASE_URL", "postgresql://x"),
                        ("NLU_TOKEN", "Quiproquo-token"), ("PATH", "/usr/bin")):
        monkeypatch.setenv(name, value)
    passed = service_env()
    assert "MATRIX_PASSWORD" not in passed and "DATABASE_URL" not in passed
    assert "Quiproquo" not in str(passed)
    assert passed["PATH"] == "/usr/bin"
