"""Everything the engine reads but never changes, loaded once per process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flows import geography
from flows.canned import CannedReplies
from flows.deployment import DEFAULT_DEPLOYMENT, Calendar, Deployment
from flows.directory import Directory
from flows.routing import RoutingTable
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
    # What the commission may start its replies from (`!modèle` in the staff room).
    canned: CannedReplies

    @classmethod
    def load(cls, deployment_file: Path = DEFAULT_DEPLOYMENT) -> Resources:
        deployment = Deployment.load(deployment_file)
        departments = {code: dep.name for code, dep in geography.departments().items()}
        return cls(
            texts=Texts.load(),
            directory=Directory.load(
                deployment.directory_overrides(), deployment.regional_association
            ),
            routing=RoutingTable.load(),
            deployment=deployment,
            departments=departments,
            canned=CannedReplies.load(),
        )

    def department_of(self, text: str, *, names_only: bool = False) -> str | None:
        """A department code from "83", "2a", "971", "Var", "dans le Var" or "Toulon";
        with `names_only`, never from a bare number (an age, a count)."""
        return geography.department_of(text, names_only=names_only)

    def council_name(self, department: str, locale: str) -> str:
        """ "conseil départemental de l'Ordre des médecins des Alpes-Maritimes"."""
        return geography.council_name(department, locale)


@dataclass(frozen=True)
class Context:
    """What the driver hands the engine with each event, so the engine needs no I/O."""

    resources: Resources
    channel: str
    now: datetime
    taken_slots: frozenset[str] = frozenset()
    # False where nothing reaches a commission (the terminal demo): the bot then says so.
    commission_connected: bool = False
    # The days the commission closed or opened beyond the weekly slots (`!créneaux`).
    calendar: Calendar = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel}")
        if self.now.tzinfo is None:
            raise ValueError("the engine needs an aware datetime")
