"""Build result models from values the engine already holds as validated, typed data.

Planning one case builds ~80 small frozen models. Their fields come from the validated
knowledge base, the validated case and dates the engine computed, so checking them again
only costs time. pydantic's own `model_construct` skips the checks but runs a Python loop
over every field (aliases, defaults) and ends up slower than validating; `trusted` does the
same thing for our plain models (no aliases, extras or private attributes) in one step.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

# per class: its field names in declared order, and (name, default) pairs; never changes
_FIELDS: dict[type[BaseModel], tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]] = {}


def _fields(cls: type[BaseModel]) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    found = _FIELDS.get(cls)
    if found is None:
        if cls.__private_attributes__ or any(f.alias for f in cls.model_fields.values()):
            raise TypeError(f"{cls.__name__} needs model_construct")  # pragma: no cover
        defaults = tuple(
            (name, None if f.is_required() else f.get_default(call_default_factory=True))
            for name, f in cls.model_fields.items()
        )
        found = _FIELDS[cls] = (tuple(cls.model_fields), defaults)
    return found


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """Like `cls.model_construct(**values)`: fields in declared order, defaults filled in,
    `model_fields_set` = the keys given. Only for values that are already of the field types;
    the caller must not change `values` afterwards."""
    names, defaults = _fields(cls)
    given = set(values)
    if tuple(values) != names:  # a complete dict in declared order becomes the model's own
        values = {name: values.get(name, default) for name, default in defaults}
    m = cls.__new__(cls)
    set_ = object.__setattr__
    set_(m, "__dict__", values)
    set_(m, "__pydantic_fields_set__", given)
    set_(m, "__pydantic_extra__", None)
    set_(m, "__pydantic_private__", None)
    return m
