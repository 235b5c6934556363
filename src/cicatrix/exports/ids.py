"""Stable identifiers, derived from what a thing *is* and never from when it happens.

Re-exporting after a session moves must update the same calendar event or FHIR resource
instead of creating a second one, so identifiers hash stable keys (patient, treatment,
session number, step code) under one cicatrix namespace.
"""

from __future__ import annotations

import uuid

# uuid5(NAMESPACE_URL, "https://cicatrix.org/ids"); fixed forever, changing it re-keys every export.
NAMESPACE = uuid.UUID("6e9a1109-df75-503f-9680-7cbaff67a461")

STRUCTURE = "https://cicatrix.org/fhir/StructureDefinition"
CODE_SYSTEM = "https://cicatrix.org/fhir/CodeSystem"
PATIENT_ID_SYSTEM = "https://cicatrix.org/fhir/sid/patient-id"


def stable_uuid(*parts: object) -> uuid.UUID:
    """A UUID that is the same for the same parts, on every machine, in every run."""
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    return uuid.uuid5(NAMESPACE, key)


def urn(*parts: object) -> str:
    return f"urn:uuid:{stable_uuid(*parts)}"
