"""The YAML data files: no key that YAML reads as a boolean or as nothing.

PyYAML (YAML 1.1) reads the keys `yes:`, `no:`, `on:`, `off:`, `true:` as booleans and
`null:`, `~:` as None: `answers: {yes: …}` in commands.yaml once made the "yes" answer the
key True, and no caller looking for "yes" ever found it. Such a key must be quoted ("yes":).
PyYAML reads `y:` and `n:` as strings, but the YAML 1.1 type list (and other parsers) reads
them as booleans too, so a bare `y`/`n` key is refused as well: quoting costs nothing. Every
mapping of every file under flows/data and flows/locales is walked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA_FILES = sorted(
    path.relative_to(ROOT).as_posix()
    for folder in ("flows/data", "flows/locales")
    for path in (ROOT / folder).rglob("*.yaml")
)


# Booleans in the YAML 1.1 type list that PyYAML leaves as strings.
ONE_LETTER_BOOLEANS = {"y", "Y", "n", "N"}


def ambiguous_keys(node: Any, where: str = "", text: str = "") -> Iterator[str]:
    """Where a mapping key is a boolean or None, as "path.to.key", in every nested mapping.

    With the file's `text`, a `y` or `n` key is reported only when written bare: a quoted
    "y" in the text is meant as a string.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key!r}" if where else repr(key)
            bare_letter = key in ONE_LETTER_BOOLEANS and not _quoted(key, text)
            if isinstance(key, bool) or key is None or bare_letter:
                yield here
            yield from ambiguous_keys(value, here, text)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from ambiguous_keys(value, f"{where}[{index}]", text)


def _quoted(key: str, text: str) -> bool:
    return f'"{key}":' in text or f"'{key}':" in text


def test_there_are_data_files_to_check() -> None:
    assert "flows/data/commands.yaml" in DATA_FILES
    assert "flows/data/answers.yaml" in DATA_FILES
    assert "flows/locales/fr.yaml" in DATA_FILES
    assert any(name.startswith("flows/data/questionnaires/") for name in DATA_FILES)


@pytest.mark.parametrize("name", DATA_FILES)
def test_no_key_is_read_as_a_boolean_or_none(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    found = list(ambiguous_keys(yaml.safe_load(text), text=text))
    assert not found, f"{name}: quote these keys, YAML reads them as booleans or null: {found}"


# The answers section of commands.yaml as it was: the check must catch it.
BEFORE_THE_FIX = """
max_words: 12
answers:
  yes: '^(oui|ouais|ok)$'
  no: '^(non|nan)$'
  skip: '^(passer)$'
"""


def test_the_check_catches_the_old_commands_file() -> None:
    assert list(ambiguous_keys(yaml.safe_load(BEFORE_THE_FIX))) == ["'answers'.True",
                                                                     "'answers'.False"]


@pytest.mark.parametrize(
    "key", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "true", "False", "null", "~"]
)
def test_the_check_catches_every_yaml_boolean_and_null_key(key: str) -> None:
    text = f"outer:\n  - inner:\n      {key}: 1\n"
    assert len(list(ambiguous_keys(yaml.safe_load(text), text=text))) == 1


@pytest.mark.parametrize(
    "key", ['"yes"', "'no'", '"y"', "'n'", "unsure", "yes_no", '"50_60"', "skip", "none"]
)
def test_quoted_and_ordinary_keys_pass(key: str) -> None:
    text = f"{key}: 1\nlist: [{{{key}: 2}}]\n"
    assert list(ambiguous_keys(yaml.safe_load(text), text=text)) == []
