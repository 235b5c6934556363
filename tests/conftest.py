"""Fixtures shared by every test package."""

from __future__ import annotations

import copy
import os
import tempfile
from typing import Any

import pytest

from cicatrix.knowledge.loader import load_knowledge
from cicatrix.knowledge.models import KnowledgeBase

# keep the knowledge-base cache of a test run out of the user's home, shared by xdist workers
os.environ.setdefault("CICATRIX_CACHE_DIR", os.path.join(tempfile.gettempdir(), "cicatrix-test-cache"))

# Shared fixtures, registered once for every package: the databases (settings, world, fast
# argon2) and the API client over them.
pytest_plugins = ["tests.storage.fixtures", "tests.api.fixtures", "tests.messaging.sms_api"]

BASE_CASE: dict[str, Any] = {
    "patient": {"id": "t-1", "phototype": "II"},
    "assessment": {"date": "2026-11-22", "scars": [], "marks": [], "active_lesions": []},
    "preferences": {"start": "2027-01-11"},
}


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()


def make_case(
    *,
    scars: list[dict[str, Any]] | None = None,
    marks: list[dict[str, Any]] | None = None,
    lesions: list[dict[str, Any]] | None = None,
    patient: dict[str, Any] | None = None,
    assessment: dict[str, Any] | None = None,
    preferences: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A valid case dict with the given parts replaced or merged."""
    case = copy.deepcopy(BASE_CASE)
    case["assessment"]["scars"] = scars or []
    case["assessment"]["marks"] = marks or []
    case["assessment"]["active_lesions"] = lesions or []
    case["patient"].update(patient or {})
    case["assessment"].update(assessment or {})
    if preferences is not None:
        case["preferences"] = preferences
    return case
