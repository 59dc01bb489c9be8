"""A throwaway PostgreSQL server on loopback, for the store tests and the storage bench.

initdb refuses to run as root, so when the tests run as root the cluster belongs to the
``postgres`` system account that the distribution's packages create.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Durability off: these clusters live for one test run, and speed is what matters there.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    data_dir: Path

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{database}"


def find_bindir() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as(owner: pwd.struct_passwd | None, command: list[str], log: Path) -> None:
    kwargs: dict[str, object] = {}
    if owner is not None:
        kwargs = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    with log.open("ab") as out:
        subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT, cwd="/", **kwargs)  # type: ignore[call-overload]


def _owner() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged account to own the cluster")


@contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[PostgresServer]:
    """Start a private cluster on 127.0.0.1 and a free port; stop and delete it afterwards."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: run `make postgres-ready`")
    owner = _owner()
    root = Path(tempfile.mkdtemp(prefix="entraide-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    password = secrets.token_urlsafe(18)
    sockets.mkdir()
    (root / "pwfile").write_text(password + "\n")
    log.touch()
    if owner is not None:
        for path in (root, sockets, root / "pwfile", log):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    options = [
        "-c listen_addresses=127.0.0.1",
        f"-c port={port}",
        f"-c unix_socket_directories={sockets}",
    ]
    if not durable:
        options += [f"-c {setting}" for setting in FAST_SETTINGS]
    started = False
    try:
        _run_as(
            owner,
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={root / 'pwfile'}",
                "--encoding=UTF8",
                "--locale=C",
            ],
            log,
        )
        _run_as(
            owner,
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
                "start",
            ],
            log,
        )
        started = True
        yield PostgresServer("127.0.0.1", port, "postgres", password, data)
    finally:
        if started:
            _run_as(
                owner, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], log
            )
        shutil.rmtree(root, ignore_errors=True)
