"""Every sentence the bot says, read from the locale files (French first, English complete)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.datafile import load_yaml

LOCALES_DIR = Path(__file__).parent / "locales"
LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = str(value).strip()
    return flat


def _read(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as handle:
        return _flatten(load_yaml(handle))


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Texts:
    """Sentences by locale and dotted key, e.g. ``texts.get("fr", "welcome.intro")``."""

    by_locale: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR) -> Texts:
        """The person's sentences (``fr.yaml``), the commission's console
        (``console.fr.yaml``) and the yearly report (``report.fr.yaml``), read as one set of
        keys: a key in two files is an error, never one sentence silently replacing the
        other."""
        by_locale = {}
        for locale in LOCALES:
            texts = _read(directory / f"{locale}.yaml")
            for part in ("console", "report"):
                more = _read(directory / f"{part}.{locale}.yaml")
                if twice := sorted(texts.keys() & more.keys()):
                    raise ValueError(f"{part}.{locale}.yaml repeats keys of others: {twice}")
                texts.update(more)
            by_locale[locale] = texts
        return cls(by_locale)

    def get(self, locale: str, key: str, **values: object) -> str:
        return self.by_locale[locale][key].format(**values)

    def has(self, locale: str, key: str) -> bool:
        return key in self.by_locale[locale]
