"""The shape of a receipt code, shared by the engine that spots one in what a person types
and by the store that makes and checks them.

It lives here, in the engine, because the engine may import nothing outside itself while
the store already depends on the engine's vocabulary: the code is something a person reads
and types, so its shape belongs to the conversation, and the store only adds randomness
and hashing.
"""

from __future__ import annotations

import re

from flows import crockford

BITS = 80
CODE_CHARS = BITS // crockford.BITS_PER_CHAR
GROUP = 4
SEPARATOR = "-"

_CHAR = "[" + crockford.ALPHABET + "".join(crockford.ALIASES) + "]"
# Groups of four as printed, with spaces or hyphens (or nothing) between them; at least one
# digit is asked for as well (see ``looks_like_code``), so no ordinary word is taken for one.
_SPOKEN = re.compile(
    rf"{_CHAR}{{{GROUP}}}(?:[\s-]*{_CHAR}{{{GROUP}}}){{{CODE_CHARS // GROUP - 1}}}",
    re.IGNORECASE,
)


def grouped(canonical: str) -> str:
    """``canonical``'s 16 characters as four groups of four, the way a person is shown them."""
    return SEPARATOR.join(canonical[i : i + GROUP] for i in range(0, len(canonical), GROUP))


def normalize(code: str) -> str | None:
    """The canonical 16 characters, or None when ``code`` cannot be a receipt."""
    compact = crockford.canonical("".join(code.split()).replace(SEPARATOR, ""))
    if len(compact) != CODE_CHARS or any(char not in crockford.ALPHABET for char in compact):
        return None
    return compact


def looks_like_code(text: str) -> bool:
    """Whether a message is a person typing a receipt code rather than answering."""
    return (
        bool(_SPOKEN.fullmatch(text.strip()))
        and any(char.isdigit() for char in text)
        and normalize(text) is not None
    )
