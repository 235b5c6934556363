"""Adapters that take cicatrix records out in standard formats: iCalendar, FHIR R4B, PDF, CSV.

Each module imports its format library itself, so importing this package stays cheap.
"""
