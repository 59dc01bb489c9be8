"""Everything the engine reads but never changes, loaded once per process."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from flows.deployment import DEFAULT_DEPLOYMENT, Deployment
from flows.directory import Directory
from flows.routing import RoutingTable
from flows.textnorm import fold
from flows.texts import Texts

DATA_DIR = Path(__file__).parent / "data"
CHANNELS = ("terminal", "matrix", "telegram")


@dataclass(frozen=True)
class Resources:
    texts: Texts
    directory: Directory
    routing: RoutingTable
    deployment: Deployment
    departments: Mapping[str, str]

    @classmethod
    def load(cls, deployment_file: Path = DEFAULT_DEPLOYMENT) -> Resources:
        deployment = Deployment.load(deployment_file)
        with (DATA_DIR / "departments.yaml").open(encoding="utf-8") as handle:
            departments = {str(k): str(v) for k, v in yaml.safe_load(handle)["departments"].items()}
        return cls(
            texts=Texts.load(),
            directory=Directory.load(
                deployment.directory_overrides(), deployment.regional_association
            ),
            routing=RoutingTable.load(),
            deployment=deployment,
            departments=departments,
        )

    def department_of(self, text: str) -> str | None:
        """A department code from "83", "2a", "971", "Var" or "je suis dans le Var"."""
        folded = fold(text)
        for token in folded.split():
            code = token.upper().zfill(2) if token.isascii() and token.isdigit() else token.upper()
            if code in self.departments:
                return code
        for code, name in sorted(self.departments.items(), key=lambda kv: -len(kv[1])):
            if re.search(rf"\b{re.escape(fold(name))}\b", folded):
                return code
        return None


@dataclass(frozen=True)
class Context:
    """What the driver hands the engine with each event, so the engine needs no I/O."""

    resources: Resources
    channel: str
    now: datetime
    taken_slots: frozenset[str] = frozenset()
    # False where nothing reaches a commission (the terminal demo): the bot then says so.
    commission_connected: bool = False

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel}")
        if self.now.tzinfo is None:
            raise ValueError("the engine needs an aware datetime")
