"""The error exports raise for bad input; CLI exit 2 and API 422 both name its field."""

from __future__ import annotations


class ExportError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}
