"""Reading the NLU training data and the cross-validation report the way `make` sees them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
NLU = REPO / "nlu"
DATA = NLU / "data"
RESULTS = NLU / "results"

# "[Var](department)" -> "Var"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def plain(example: str) -> str:
    return _ANNOTATION.sub(r"\1", example)


def normalised(example: str) -> str:
    return " ".join(plain(example).casefold().split())


def examples_block(block: str) -> list[str]:
    return [
        line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")
    ]


def training_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for path in sorted((DATA / "nlu").glob("*.yml")):
        items.extend(yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or [])
    return items


def examples_by_intent() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in training_items():
        if "intent" in item:
            found.setdefault(item["intent"], []).extend(examples_block(item["examples"]))
    return found


def lookup(name: str) -> list[str]:
    return [
        entry
        for item in training_items()
        if item.get("lookup") == name
        for entry in examples_block(item["examples"])
    ]


def inputs_hash() -> str:
    """The hash nlu/nlu.mk keeps beside the model and the report (NLU_INPUT_HASH)."""
    files = [NLU / "config.yml", NLU / "domain.yml", NLU / "requirements.txt"]
    files += sorted(
        (p for p in DATA.rglob("*") if p.is_file()), key=lambda p: bytes(p.relative_to(REPO))
    )
    listing = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(REPO)}\n" for p in files
    )
    return hashlib.sha256(listing.encode()).hexdigest()
