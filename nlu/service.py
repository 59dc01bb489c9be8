"""Start and stop the real Rasa NLU service (from .venv-nlu) on loopback, on a free port with
a random token: for `make run`, the tests and the benchmark."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
RASA = REPO / ".venv-nlu" / "bin" / "rasa"
MODELS = REPO / "nlu" / "models"
MODEL = MODELS / "nlu.tar.gz"
# Loading TensorFlow and the model takes seconds; on a busy two-core machine, tens of them.
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0


def missing() -> str | None:
    """Why the service cannot start here, or None when it can."""
    for path in (RASA, MODEL):
        if not path.exists():
            return (
                f"The NLU service is not set up: {path.relative_to(REPO)} is missing. "
                "Run `make nlu-ready` first (it creates .venv-nlu and trains the model)."
            )
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# What the Rasa process may see of the bot's environment: enough to run, nothing of the
# bot's secrets (Matrix password, tokens, database URL).
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")


def service_env() -> dict[str, str]:
    return {
        **{name: os.environ[name] for name in PASSED_THROUGH if name in os.environ},
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_CACHE_DIRECTORY": str(REPO / ".venv-nlu" / "rasa-cache"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }


@dataclass
class NluService:
    """One `rasa run` process on loopback, with its own port, token and log file."""

    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    startup_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> NluService:
        problem = missing()
        if problem:
            raise RuntimeError(problem)
        fd, log_name = tempfile.mkstemp(prefix="nlu-service-", suffix=".log")
        self.log_path = Path(log_name)
        command = [
            str(RASA), "run", "--enable-api", f"--auth-token={self.token}",
            "-i", "127.0.0.1", "-p", str(self.port), "-m", str(MODELS),
        ]  # fmt: skip
        began = time.monotonic()
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=service_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(began + timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - began
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"the NLU service exited with code {self.process.returncode}:\n"
                        + self.log_tail()
                    )
                try:
                    answer = client.get(f"{self.url}/status", params={"token": self.token})
                    if answer.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        raise RuntimeError(
            f"the NLU service was not ready after {START_TIMEOUT_S:.0f} s:\n" + self.log_tail()
        )

    def stop(self) -> None:
        """Terminate, then kill if it does not stop in time."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
