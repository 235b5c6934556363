"""The immutable record type of the core: knowledge entries, cases and plans.

The core uses msgspec structs rather than pydantic models because a cold `cicatrix plan`
must start in a few tens of milliseconds: importing pydantic alone takes longer than the
whole budget on the project's machine (see docs/performance.md). Validation happens where
untrusted data enters: `msgspec.convert` checks types and `Meta` constraints, and each
struct's `__post_init__` checks the rules that span fields.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Immutable, with unknown fields rejected. Subclasses repeat `frozen=True` (for type
    checkers) and add `kw_only=True`, so fields are passed by name and a required field may
    follow one with a default, as in the YAML."""


def describe(exc: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's 'message - at `$.a.b[0]`' split into ('a.b[0]', 'message'); '' is the top."""
    message, sep, where = str(exc).rpartition(" - at `")
    if not sep:
        return "", str(exc)
    return where.rstrip("`").removeprefix("$").removeprefix("."), message


def to_data(obj: Any) -> Any:
    """JSON-ready builtins (dates as ISO strings, tuples as lists), as stored and exported."""
    return msgspec.to_builtins(obj)


def non_defaults(obj: Any) -> Any:
    """JSON-ready builtins without the fields left at their defaults, at every depth: the
    entry as someone would write it in a YAML file."""
    if isinstance(obj, msgspec.Struct):
        out: dict[str, Any] = {}
        for f in msgspec.structs.fields(obj):
            value = getattr(obj, f.name)
            if f.default is not msgspec.NODEFAULT and value == f.default:
                continue
            if f.default_factory is not msgspec.NODEFAULT and value == f.default_factory():
                continue
            out[f.name] = non_defaults(value)
        return out
    if isinstance(obj, tuple | list):
        return [non_defaults(v) for v in obj]
    if isinstance(obj, dict):
        return {k: non_defaults(v) for k, v in obj.items()}
    return msgspec.to_builtins(obj)


def to_json(obj: Any, *, indent: int = 0) -> bytes:
    """UTF-8 JSON, fields in declared order; `indent` pretty-prints for people."""
    data = msgspec.json.encode(obj)
    return msgspec.json.format(data, indent=indent) if indent else data
