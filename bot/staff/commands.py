"""What a commission member types in the staff room, read as a command or a note.

Commands start with "!" (Element keeps "/" for its own commands), in French with accents
optional or in English. Anything else a member writes in a case thread is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flows.textnorm import fold

# Every name a member may type, and the command it stands for.
ALIASES = {
    alias: name
    for name, aliases in {
        "r": ("r", "repondre", "reply"),
        "vu": ("vu", "seen", "ack"),
        "prendre": ("prendre", "take"),
        "attribuer": ("attribuer", "assign"),
        "liberer": ("liberer", "release"),
        "statut": ("statut", "status"),
        "clore": ("clore", "close"),
        "rouvrir": ("rouvrir", "reopen"),
        "note": ("note",),
        "file": ("file", "queue"),
        "modeles": ("modeles", "templates"),
        "modele": ("modele", "template"),
        "rdv": ("rdv", "appointment"),
        "creneaux": ("creneaux", "slots"),
        "aide": ("aide", "help"),
        "rapport": ("rapport", "report"),
    }.items()
    for alias in aliases
}
# The first word of the argument of these commands names what to do.
VERBS = {
    "rdv": {"annuler": "annuler", "cancel": "annuler", "deplacer": "deplacer", "move": "deplacer"},
    "creneaux": {"fermer": "fermer", "close": "fermer", "ouvrir": "ouvrir", "open": "ouvrir"},
}
UNKNOWN = "unknown"
STATUSES = {
    "enattente": "open", "attente": "open", "waiting": "open", "open": "open",
    "prisencharge": "in_progress", "encours": "in_progress", "inprogress": "in_progress",
    "clos": "closed", "closed": "closed",
}  # fmt: skip
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("janvier", "january", "jan"), ("fevrier", "february", "feb", "fev"),
            ("mars", "march", "mar"), ("avril", "april", "apr", "avr"), ("mai", "may"),
            ("juin", "june", "jun"), ("juillet", "july", "jul", "juil"),
            ("aout", "august", "aug"), ("septembre", "september", "sep", "sept"),
            ("octobre", "october", "oct"), ("novembre", "november", "nov"),
            ("decembre", "december", "dec"),
        ),
        start=1,
    )
    for name in names
}

_COMMAND = re.compile(r"!(\S*)\s*(.*)", re.DOTALL)
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC_DAY = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{4}))?")
_WORDED_DAY = re.compile(r"(\d{1,2})(?:er)? ([a-z]+)(?: (\d{4}))?")
_HOURS = re.compile(r"(\d{1,2})\s*[h:]\s*(\d{2})?\s*-\s*(\d{1,2})\s*[h:]\s*(\d{2})?", re.IGNORECASE)
_REPLY_BLOCK = "<mx-reply>"
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def strip_fallback(body: str, formatted: str | None = None) -> str:
    """The member's own words, without the quote of the message they answer.

    Clients that reply put the quoted message ahead of the body ("> <@alice:…> …" lines and
    a blank line) and ahead of the HTML (an ``<mx-reply>`` block). When the HTML has no such
    block, quoted lines at the top of the body are the member's own quotation, and stay.
    """
    if formatted is not None and _REPLY_BLOCK not in formatted:
        return body.strip()
    lines = body.split("\n")
    quoted = 0
    while quoted < len(lines) and lines[quoted].startswith(">"):
        quoted += 1
    if quoted and quoted < len(lines) and not lines[quoted].strip():
        quoted += 1
    return "\n".join(lines[quoted:]).strip()


def parse(body: str, formatted: str | None = None) -> Command | None:
    """The command a member typed, or None for a note. The argument keeps what was typed
    (a reply goes to the person as written); only a verb such as "cancel" is translated."""
    text = strip_fallback(body, formatted)
    match = _COMMAND.fullmatch(text)
    if match is None:
        return None
    word, argument = fold(match.group(1)).replace(" ", ""), match.group(2).strip()
    name = ALIASES.get(word)
    if name is None:
        return Command(UNKNOWN, match.group(1))
    verbs = VERBS.get(name)
    if verbs and argument:
        verb, *rest = argument.split(maxsplit=1)
        if (canonical := verbs.get(fold(verb))) is not None:
            argument = " ".join((canonical, *rest))
    return Command(name, argument)


def parse_status(argument: str) -> str | None:
    """ "en_attente", "Pris en charge", "clos", "waiting"… as the status the store keeps."""
    return STATUSES.get(fold(argument).replace(" ", ""))


def parse_day(argument: str, today: date) -> date | None:
    """ "2026-12-24", "24/12/2026", "24/12" or "24 décembre" (without a year: the next
    such day, today included); None when it names no day of the calendar."""
    words = argument.strip()
    folded = fold(words)
    year: int | None
    if match := _ISO_DAY.fullmatch(words):
        year, month, day = (int(part) for part in match.groups())
    elif match := _NUMERIC_DAY.fullmatch(words):
        day, month = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else None
    elif (match := _WORDED_DAY.fullmatch(folded)) and match.group(2) in MONTHS:
        day, month = int(match.group(1)), MONTHS[match.group(2)]
        year = int(match.group(3)) if match.group(3) else None
    else:
        return None
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:  # 31/02, or 29/02 out of a leap year
        return None


def parse_hours(argument: str) -> str | None:
    """ "14:00-17:00", "14h-17h", "9h30 - 12h" as "HH:MM-HH:MM"; None unless it opens
    before it closes, within the day."""
    match = _HOURS.fullmatch(argument.strip())
    if match is None:
        return None
    start_hour, start_minute, end_hour, end_minute = (int(part or 0) for part in match.groups())
    if max(start_hour, end_hour) > 23 or max(start_minute, end_minute) > 59:
        return None
    if (start_hour, start_minute) >= (end_hour, end_minute):
        return None
    return f"{start_hour:02d}:{start_minute:02d}-{end_hour:02d}:{end_minute:02d}"


def parse_year(argument: str) -> int | None:
    """ "2026" as the year of a report; None for anything else."""
    match = _YEAR.fullmatch(argument.strip())
    return int(match.group(1)) if match else None
