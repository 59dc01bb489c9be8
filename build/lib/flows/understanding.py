"""The seam between the engine and a natural-language understanding service.

The engine stays pure: whoever drives it asks the NLU service first (with its own timeout)
and hands the result in with the user's text. ``None`` means "no NLU answer", and every
part of the engine must work with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Interpretation:
    """What the NLU service understood of one message."""

    intent: str
    confidence: float
    entities: Mapping[str, str] = field(default_factory=dict)


class Understanding(Protocol):
    """Anything that can interpret free text; may answer ``None`` when unavailable."""

    async def interpret(self, text: str) -> Interpretation | None: ...
