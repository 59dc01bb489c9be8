"""Reading the YAML data files, with libyaml's parser when PyYAML was built with it: every
process reads them all at start, and the pure-Python parser takes most of that time."""

from __future__ import annotations

from typing import IO, Any

import yaml

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(stream: IO[str] | str) -> Any:
    """What ``yaml.safe_load`` returns, read faster."""
    return yaml.load(stream, Loader=SAFE_LOADER)
