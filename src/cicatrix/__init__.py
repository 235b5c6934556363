"""cicatrix: acne-scar care planning that supports, never replaces, clinical judgement."""

__version__ = "0.1.0"
