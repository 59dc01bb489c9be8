"""The routing table: which lines answer which needs, and the case's level of response."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Rule:
    id: str
    any: frozenset[str]
    all: frozenset[str]
    routes: tuple[str, ...]
    advice: tuple[str, ...] = ()

    def applies(self, facts: frozenset[str]) -> bool:
        return (not self.any or bool(self.any & facts)) and self.all <= facts


@dataclass(frozen=True)
class RoutingTable:
    rules: tuple[Rule, ...]
    order: tuple[str, ...]
    fallback: tuple[str, ...]
    levels: Mapping[int, frozenset[str]]

    @classmethod
    def load(cls, path: Path = DATA_DIR / "routing.yaml") -> RoutingTable:
        with path.open(encoding="utf-8") as handle:
            data: dict[str, Any] = load_yaml(handle)
        order = tuple(data["order"])
        rules = tuple(
            Rule(
                id=rule["id"],
                any=frozenset(rule.get("any", ())),
                all=frozenset(rule.get("all", ())),
                routes=tuple(rule["routes"]),
                advice=tuple(rule.get("advice", ())),
            )
            for rule in data["rules"]
        )
        for rule in rules:
            unknown = set(rule.routes) - set(order)
            if unknown:
                raise ValueError(f"routing rule {rule.id} names routes missing from order")
        levels = {int(level): frozenset(facts) for level, facts in data["levels"].items()}
        return cls(rules, order, tuple(data["fallback"]), levels)

    def matching_rules(self, facts: Iterable[str]) -> tuple[Rule, ...]:
        known = frozenset(facts)
        return tuple(rule for rule in self.rules if rule.applies(known))

    def routes(self, facts: Iterable[str]) -> tuple[str, ...]:
        """Every route of every applicable rule, once each, most urgent first."""
        chosen = {route for rule in self.matching_rules(facts) for route in rule.routes}
        if not chosen:
            chosen = set(self.fallback)
        return tuple(route for route in self.order if route in chosen)

    def advice(self, facts: Iterable[str]) -> tuple[str, ...]:
        """The advice sentences of every applicable rule, once each, in the table's order."""
        return tuple(dict.fromkeys(a for rule in self.matching_rules(facts) for a in rule.advice))

    def level(self, facts: Iterable[str]) -> int:
        known = frozenset(facts)
        for level in sorted(self.levels, reverse=True):
            if self.levels[level] & known:
                return level
        return 1
