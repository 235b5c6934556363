"""Errors a use case can raise; the API turns each into a JSON body naming the field."""

from __future__ import annotations

import math
from typing import Any

from cicatrix.storage.db import WriteConflict


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, field: str | None, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message, **self.extra}


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"


class SecondFactorRequired(Unauthenticated):
    """The password was right; the account has a second factor and no code came with it."""

    code = "second_factor_required"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


# What every entry point answers as a refusal (a 4xx, or exit 2), never as a crash: the use
# cases' own errors, and the unit of work's `WriteConflict` (a concurrent write won; 409).
REFUSALS: tuple[type[Exception], ...] = (ServiceError, WriteConflict)


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"


def jsonable(v: Any) -> Any:
    """A value as JSON can carry it (an error body's `value`): containers kept, bytes decoded,
    NaN and Infinity as text (JSON has no such numbers), lone surrogates replaced (UTF-8 cannot
    carry them), anything else as its text."""
    if v is None or isinstance(v, (int, bool)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, str):
        return v.encode("utf-8", "replace").decode("utf-8")
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {jsonable(str(k)): jsonable(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)
