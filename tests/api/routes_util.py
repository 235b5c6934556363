"""Enumerate every route of the app, through FastAPI's included-router wrappers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any


def walk(routes: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(method, path, endpoint module) for every route, HEAD left out."""
    for r in routes:
        if type(r).__name__ == "_IncludedRouter":
            yield from walk(r.original_router.routes, prefix + r.include_context.prefix)
            continue
        path = getattr(r, "path", None)
        if path is None:
            continue
        methods = getattr(r, "methods", None)
        if not methods:  # a Mount (static files) or a websocket
            continue
        module = getattr(getattr(r, "endpoint", None), "__module__", "") or ""
        for m in sorted(set(methods) - {"HEAD"}):
            yield m, prefix + path, module
