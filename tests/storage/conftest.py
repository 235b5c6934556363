from tests.storage.fixtures import _fast_argon2, settings  # noqa: F401 - shared fixtures
