from __future__ import annotations

from tests.storage.fixtures import _fast_argon2, settings, world  # noqa: F401 - shared fixtures
