"""The commission's canned replies: reviewed texts a member adapts before sending them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml
from flows.texts import LOCALES, placeholders

DEFAULT_CANNED = Path(__file__).parent / "data" / "canned_replies.yaml"
# Each blank a reply may hold, and the field of the deployment's `council:` that fills it.
COUNCIL_FIELDS = {"council_name": "name", "council_phone": "phone", "council_email": "email"}
_NAME = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


@dataclass(frozen=True)
class CannedReplies:
    """Replies by name and locale, and what each blank says when the council left it empty."""

    replies: Mapping[str, Mapping[str, str]]
    when_unknown: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, path: Path = DEFAULT_CANNED) -> CannedReplies:
        """Every reply is checked here, so a wrong file stops the bot at start rather than
        failing in front of a commission member."""
        with path.open(encoding="utf-8") as handle:
            data: dict[str, Any] = load_yaml(handle)
        fallbacks = data.get("when_unknown") or {}
        when_unknown = {
            blank: _in_every_locale(fallbacks.get(blank), f"when_unknown.{blank}")
            for blank in COUNCIL_FIELDS
        }
        replies = {}
        for name, texts in data["replies"].items():
            if not _NAME.match(str(name)):
                raise ValueError(f"canned reply name {name!r}: lower case words joined by _")
            replies[str(name)] = _in_every_locale(texts, f"canned reply {name}")
            for locale, text in replies[str(name)].items():
                unknown = _blanks(text, f"canned reply {name} ({locale})") - set(COUNCIL_FIELDS)
                if unknown:
                    raise ValueError(
                        f"canned reply {name} ({locale}) has unknown blanks: "
                        f"{', '.join(sorted(unknown))}; allowed: {', '.join(COUNCIL_FIELDS)}"
                    )
        if not replies:
            raise ValueError("the canned replies file holds no reply")
        return cls(replies, when_unknown)

    def names(self) -> tuple[str, ...]:
        return tuple(self.replies)

    def render(self, name: str, locale: str, council: Mapping[str, Any]) -> str:
        """The reply with the council's own name, phone and e-mail (``council`` is the
        deployment's ``council:`` section)."""
        if name not in self.replies:
            raise ValueError(f"no canned reply named {name}")
        if locale not in LOCALES:
            raise ValueError(f"unknown locale {locale}")
        values = {}
        for blank, field_name in COUNCIL_FIELDS.items():
            value = council.get(field_name)
            if isinstance(value, Mapping):
                # The council's name is given in each locale.
                value = value.get(locale)
            values[blank] = str(value).strip() if value else self.when_unknown[blank][locale]
        return self.replies[name][locale].format(**values)


def _blanks(text: str, what: str) -> set[str]:
    try:
        return placeholders(text)
    except ValueError:
        raise ValueError(f"{what}: a brace that opens no blank (write {{{{ for a brace)") from None


def _in_every_locale(texts: object, what: str) -> dict[str, str]:
    if not isinstance(texts, Mapping):
        raise ValueError(f"{what} must give a text for each locale ({', '.join(LOCALES)})")
    missing = [locale for locale in LOCALES if not str(texts.get(locale) or "").strip()]
    if missing:
        raise ValueError(f"{what} has no text in {', '.join(missing)}")
    return {locale: str(texts[locale]).strip() for locale in LOCALES}
