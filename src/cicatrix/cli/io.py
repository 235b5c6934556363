"""Reading cases and reporting bad input the same way in every command: one line, exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from cicatrix.knowledge.models import KnowledgeBase

EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(code)


def read_text(path: str) -> tuple[str, str]:
    """Return (label, text) for a path, or stdin for '-'."""
    if path == "-":
        return "stdin", sys.stdin.read()
    try:
        return path, Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot be read ({exc})")


def parse_json(label: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{label}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


def knowledge(overrides: str | None) -> KnowledgeBase:
    from cicatrix.knowledge.loader import KnowledgeError, load_knowledge, overrides_from_env

    try:
        return load_knowledge(overrides or overrides_from_env())
    except KnowledgeError as exc:
        fail(str(exc))
