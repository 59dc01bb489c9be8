"""The embedded Synapse: loopback only, idempotent registration, logins, a clean stop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from bot.dev.homeserver import Homeserver


def client() -> httpx.Client:
    # trust_env off: a proxy from the environment must not stand between us and loopback.
    return httpx.Client(timeout=10, trust_env=False)


def test_listens_on_loopback_only(homeserver: Homeserver) -> None:
    config = yaml.safe_load((homeserver.directory / "homeserver.yaml").read_text())
    assert [listener["bind_addresses"] for listener in config["listeners"]] == [["127.0.0.1"]]
    assert [listener["resources"][0]["names"] for listener in config["listeners"]] == [["client"]]
    assert homeserver.url.startswith("http://127.0.0.1:")
    with client() as http:
        answer = http.get(f"{homeserver.url}/_matrix/client/versions")
    assert answer.status_code == 200
    assert answer.json()["versions"]


def test_registering_twice_gives_the_same_id(homeserver: Homeserver) -> None:
    first = homeserver.register("twice", "first-password")
    assert first == f"@twice:{homeserver.server_name}"
    assert homeserver.register("twice", "first-password") == first


def test_password_login_and_key_upload(homeserver: Homeserver) -> None:
    user_id = homeserver.register("login", "a-password")
    with client() as http:
        login = http.post(
            f"{homeserver.url}/_matrix/client/v3/login",
            json={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": "login"},
                "password": "a-password",
            },
        )
        assert login.status_code == 200
        assert login.json()["user_id"] == user_id
        # End-to-end encryption needs one-time key uploads; Synapse takes them by default.
        upload = http.post(
            f"{homeserver.url}/_matrix/client/v3/keys/upload",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
            json={"one_time_keys": {"curve25519:AAAAAQ": "a" * 43}},
        )
    assert upload.status_code == 200
    assert upload.json()["one_time_key_counts"]["curve25519"] == 1


def test_a_stopped_server_no_longer_answers(tmp_path: Path, homeserver: Homeserver) -> None:
    # Its own server (the session one stays up); depending on `homeserver` skips the
    # missing-Synapse check here and keeps the failure message in one place.
    server = Homeserver(tmp_path).start()
    url = server.url
    server.stop()
    server.stop()
    with client() as http, pytest.raises(httpx.TransportError):
        http.get(f"{url}/health")
    # A second start of the same directory reuses its config, port and database.
    with server:
        assert server.url == url
        assert server.register("again", "pw") == f"@again:{server.server_name}"


def test_the_health_check_fails_when_the_homeserver_does_not_answer(
    homeserver: Homeserver,
) -> None:
    def health(url: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ, "MATRIX_HOMESERVER": url, "MATRIX_USER_ID": "@entraide:localhost",
            "MATRIX_PASSWORD": "unused-by-the-probe",
        }
        env.pop("NLU_URL", None)
        return subprocess.run(
            [sys.executable, "-m", "bot", "health"], capture_output=True, text=True, env=env,
            cwd=Path(__file__).parents[2], timeout=60,
        )

    up = health(homeserver.url)
    assert up.returncode == 0
    assert json.loads(up.stdout)["matrix"]["homeserver_reachable"] is True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = health(f"http://127.0.0.1:{closed_port}")
    assert down.returncode == 1
    assert json.loads(down.stdout)["matrix"]["homeserver_reachable"] is False
