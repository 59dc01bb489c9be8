"""The directory of lines and services, with the deployment's own entries laid over it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml

DATA_DIR = Path(__file__).parent / "data"

# The routing table names "the regional association" without knowing which one a council
# works with; the deployment says.
REGIONAL = "regional"


@dataclass(frozen=True)
class Entry:
    id: str
    name: Mapping[str, str]
    purpose: Mapping[str, str]
    hours: Mapping[str, str] | None
    phone: str | None
    other: Mapping[str, str] | None
    source: str
    source_date: str | None
    status: str

    @classmethod
    def from_data(cls, entry_id: str, data: Mapping[str, Any]) -> Entry:
        if not data.get("source"):
            raise ValueError(f"directory entry {entry_id} has no source")
        if not data.get("phone") and not data.get("other"):
            raise ValueError(f"directory entry {entry_id} gives no way to reach it")
        return cls(
            id=entry_id,
            name=data["name"],
            purpose=data["purpose"],
            hours=data.get("hours"),
            phone=data.get("phone"),
            other=data.get("other"),
            source=str(data["source"]).strip(),
            source_date=data.get("source_date"),
            status=data["status"],
        )


@dataclass(frozen=True)
class Directory:
    entries: Mapping[str, Entry]
    regional_association: str

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Mapping[str, Any]],
        regional_association: str,
        path: Path = DATA_DIR / "directory.yaml",
    ) -> Directory:
        with path.open(encoding="utf-8") as handle:
            raw: dict[str, dict[str, Any]] = load_yaml(handle)["entries"]
        for entry_id, fields in overrides.items():
            raw[entry_id] = {**raw.get(entry_id, {}), **fields}
        entries = {entry_id: Entry.from_data(entry_id, data) for entry_id, data in raw.items()}
        if regional_association not in entries:
            raise ValueError(f"unknown regional association {regional_association}")
        return cls(entries, regional_association)

    def resolve(self, route: str) -> str:
        return self.regional_association if route == REGIONAL else route

    def phones(self) -> dict[str, str]:
        return {entry_id: e.phone for entry_id, e in self.entries.items() if e.phone}

    def __getitem__(self, entry_id: str) -> Entry:
        return self.entries[self.resolve(entry_id)]
