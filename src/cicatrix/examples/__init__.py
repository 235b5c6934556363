"""Bundled example cases: realistic, fictional patients used by `cicatrix demo`, docs and tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any


def example_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    root = resources.files("cicatrix.examples")
    for item in sorted(root.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            yield item.name.removesuffix(".json"), json.loads(item.read_text(encoding="utf-8"))
