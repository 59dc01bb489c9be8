"""A Synapse homeserver of our own on 127.0.0.1, for `make run` and the Matrix tests."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from storage.keys import write_private_file

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PYTHON = REPO / ".venv-synapse" / "bin" / "python"
CONFIG_NAME = "homeserver.yaml"
LOG_NAME = "homeserver.log"
HOST = "127.0.0.1"

# Synapse's own Complement setup lifts its rate limits the same way: a bot that answers every
# message, and tests that register and log in many times, would otherwise get 429s.
UNLIMITED = {"per_second": 9999, "burst_count": 9999}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": UNLIMITED,
    "rc_registration": UNLIMITED,
    "rc_registration_token_validity": UNLIMITED,
    "rc_login": {"address": UNLIMITED, "account": UNLIMITED, "failed_attempts": UNLIMITED},
    "rc_admin_redaction": UNLIMITED,
    "rc_joins": {"local": UNLIMITED, "remote": UNLIMITED},
    "rc_joins_per_room": UNLIMITED,
    "rc_key_requests": UNLIMITED,
    "rc_3pid_validation": UNLIMITED,
    "rc_invites": {"per_room": UNLIMITED, "per_user": UNLIMITED, "per_issuer": UNLIMITED},
    "rc_third_party_invite": UNLIMITED,
    "rc_media_create": UNLIMITED,
    "rc_presence": {"per_user": UNLIMITED},
    "rc_delayed_event_mgmt": UNLIMITED,
    "rc_room_creation": UNLIMITED,
    "rc_reports": UNLIMITED,
    "rc_user_directory": UNLIMITED,
    "rc_profile": UNLIMITED,
}


def missing(python: Path | None = None) -> str | None:
    """Say how to install Synapse when its venv is absent, else None."""
    if (python or DEFAULT_PYTHON).exists():
        return None
    return "Synapse is not installed: run `make synapse-ready`."


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _client(timeout: float) -> httpx.Client:
    # Loopback only: a proxy from the environment must never see these requests.
    return httpx.Client(timeout=timeout, trust_env=False)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Homeserver:
    """One Synapse process, its config, keys and SQLite database kept in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        server_name: str = "localhost",
        python: Path | None = None,
    ) -> None:
        self._directory = Path(directory).resolve()
        self._port = port
        self._server_name = server_name
        self._python = python or DEFAULT_PYTHON
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def server_name(self) -> str:
        return self._server_name

    @property
    def database(self) -> Path:
        return self._directory / "homeserver.db"

    @property
    def config_path(self) -> Path:
        return self._directory / CONFIG_NAME

    @property
    def log_path(self) -> Path:
        return self._directory / LOG_NAME

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the homeserver has no port before its first start")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 90) -> Homeserver:
        if self.running:
            return self
        problem = missing(self._python)
        if problem:
            raise RuntimeError(problem)
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.config_path.exists():
            self._write_config()
        self._read_config()
        signing_key = self._directory / "signing.key"
        if not signing_key.exists():
            self._run_synapse("--generate-keys")
        with self.log_path.open("ab") as out:
            self._process = subprocess.Popen(
                self._command(),
                cwd=self._directory,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own group: a Ctrl-C in the terminal reaches the bot, which then stops
                # Synapse cleanly, and stop() can signal Synapse with anything it spawned.
                process_group=0,
            )
        began = time.monotonic()
        try:
            self._wait_healthy(began + timeout)
        except BaseException:
            # Interrupted or failed while waiting: leave no Synapse behind.
            self.stop()
            raise
        log.info("homeserver up on port %d after %.1f s", self.port, time.monotonic() - began)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        self._signal(process, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("homeserver ignored SIGTERM for 10 s, killing it")
            self._signal(process, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> Homeserver:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Create a user through the shared-secret admin API; an existing one is fine too."""
        user_id = f"@{localpart}:{self._server_name}"
        secret = str(self._read_config()["registration_shared_secret"])
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        with _client(30) as client:
            nonce = client.get(endpoint).raise_for_status().json()["nonce"]
            mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
            for part in (nonce, localpart, password):
                mac.update(part.encode())
                mac.update(b"\x00")
            mac.update(b"admin" if admin else b"notadmin")
            answer = client.post(
                endpoint,
                json={
                    "nonce": nonce,
                    "username": localpart,
                    "password": password,
                    "admin": admin,
                    "mac": mac.hexdigest(),
                },
            )
        if answer.status_code == 400 and answer.json().get("errcode") == "M_USER_IN_USE":
            return user_id
        if answer.is_error:
            # The error code only: the body could echo the user name.
            raise RuntimeError(
                f"registration refused: HTTP {answer.status_code} "
                f"{answer.json().get('errcode', '?')}"
            )
        return str(answer.json()["user_id"])

    def _write_config(self) -> None:
        port = self._port or _free_port()
        directory = self._directory
        log_config = directory / "log.yaml"
        log_config.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {
                        "plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "plain",
                            "filename": str(self.log_path),
                        }
                    },
                    # WARNING: Synapse's INFO lines name users and rooms on every request.
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        config: dict[str, Any] = {
            "server_name": self._server_name,
            "public_baseurl": f"http://{HOST}:{port}/",
            "listeners": [
                {
                    "port": port,
                    "type": "http",
                    "tls": False,
                    "bind_addresses": [HOST],
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.database)}},
            "log_config": str(log_config),
            "media_store_path": str(directory / "media_store"),
            "signing_key_path": str(directory / "signing.key"),
            "registration_shared_secret": secrets.token_urlsafe(32),
            "macaroon_secret_key": secrets.token_urlsafe(32),
            "form_secret": secrets.token_urlsafe(32),
            "enable_registration": False,
            "report_stats": False,
            # No federation at all: no key servers, no remote servers, no previews.
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_metrics": False,
            "experimental_features": {},
            **RATE_LIMITS,
        }
        # The config holds the shared secret that makes admins: owner-only from the start.
        write_private_file(self.config_path, yaml.safe_dump(config, sort_keys=False).encode())

    def _read_config(self) -> dict[str, Any]:
        """Load the config and adopt its port; a clash with the constructor's values is refused."""
        config: dict[str, Any] = yaml.safe_load(self.config_path.read_text())
        port = int(config["listeners"][0]["port"])
        if self._port is not None and self._port != port:
            raise ValueError(f"{self.config_path} already uses port {port}, not {self._port}")
        if config["server_name"] != self._server_name:
            raise ValueError(f"{self.config_path} is for another server name")
        self._port = port
        return config

    def _command(self, *arguments: str) -> list[str]:
        app = "synapse.app.homeserver"
        return [str(self._python), "-m", app, "-c", str(self.config_path), *arguments]

    def _environment(self) -> dict[str, str]:
        # The bot's PYTHONPATH would mix its packages into Synapse's venv.
        return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}

    def _run_synapse(self, *arguments: str) -> None:
        with self.log_path.open("ab") as out:
            done = subprocess.run(
                self._command(*arguments),
                cwd=self._directory,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"synapse {' '.join(arguments)} failed:\n{_tail(self.log_path)}")

    def _wait_healthy(self, deadline: float) -> None:
        with _client(2) as client:
            while True:
                process = self._process
                if process is None or process.poll() is not None:
                    self._process = None
                    raise RuntimeError(f"synapse exited at start:\n{_tail(self.log_path)}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"synapse did not answer in time:\n{_tail(self.log_path)}")
                time.sleep(0.1)

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, number)
