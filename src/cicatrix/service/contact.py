"""A patient's (or a clinic's) phone and email: checked when they enter, shown as people read them.

Phones are stored in E.164 ("+447400123456"), so one number is one value whatever way it was
typed, messages can be sent to it and search by number is exact. A number typed without its
country code is read in the clinic's country (`clinic_region`). It is shown in the national
format when it belongs to the clinic's country ("07400 123456") and in the international
format otherwise ("+33 6 12 34 56 78"). Emails are checked by syntax only
(`email-validator`, no network: `check_deliverability=False`), and stored with the domain
normalised.

A value stored before these checks (free text) is shown as it was typed; it is checked the
next time the record is saved with it changed.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import object_session

from cicatrix.service.errors import Invalid
from cicatrix.storage.models import Clinic, ClinicCalendar

_ZONE_TAB = "zone.tab"  # the tz database's zone → country table (ISO 3166 alpha-2)


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    try:
        text = (resources.files("tzdata.zoneinfo") / _ZONE_TAB).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        system = Path("/usr/share/zoneinfo") / _ZONE_TAB
        text = system.read_text(encoding="utf-8") if system.is_file() else ""
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                table[parts[2]] = parts[0]
    return table


def clinic_region(clinic: Clinic | None) -> str | None:
    """The country a clinic's local phone numbers belong to (ISO 3166 alpha-2), or None.

    The one place that decides it: the country of the clinic's opening calendar (whose public
    holidays it keeps) when it has one, else a `country` setting, else the country of its time zone
    (Europe/London → GB); None for a zone such as UTC, where numbers need their country code.
    """
    if clinic is None:
        return None
    db = object_session(clinic)
    calendar = db.get(ClinicCalendar, clinic.id) if db is not None else None
    if calendar is not None and calendar.country:
        return calendar.country.upper()
    country = (clinic.settings or {}).get("country")
    if isinstance(country, str) and len(country) == 2 and country.isalpha():
        return country.upper()
    return _zone_countries().get(clinic.timezone)


def phone_e164(text: str, region: str | None, field: str = "phone") -> str:
    """The number in E.164, or a 422 naming `field` when it is not a possible, valid number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        if region is None and not text.strip().startswith(("+", "00")):
            raise Invalid(
                field, "give the number with its country code, e.g. +44 7400 123456", value=text
            ) from None
        raise Invalid(field, "is not a phone number", value=text) from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        raise Invalid(field, f"is not a valid phone number{f' in {where}' if where else ''}", value=text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def shown_phone(stored: str | None, region: str | None) -> str | None:
    """How a stored number is shown: national format in the clinic's country, else international."""
    if not stored:
        return stored
    try:
        number = phonenumbers.parse(stored, region)
    except phonenumbers.NumberParseException:
        return stored  # typed before numbers were checked: as it was typed
    if not phonenumbers.is_valid_number(number):
        return stored
    local = region is not None and phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if local else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def checked_email(text: str, field: str = "email") -> str:
    """The address as stored (domain normalised), or a 422 naming `field` saying what is wrong."""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise Invalid(field, str(exc), value=text) from None


# --- the clinic's own contact details (the calendar's LOCATION, the handout's "contact your
# clinic"): a clinic's number must carry its country code, since a patient abroad, a calendar
# app or a messaging service cannot guess the country; its address keeps its lines (an
# envelope's) but no other control characters, which would break a calendar line or a PDF.

ADDRESS_MAX_LINES = 6
ADDRESS_MAX_CHARS = 300


def phone_number(raw: str, field: str = "phone") -> str | None:
    """The clinic's number in E.164, or None for an empty entry (the clinic has none on file)."""
    text = raw.strip()
    if not text:
        return None
    try:
        return phone_e164(text, None, field)
    except Invalid:
        raise Invalid(
            field,
            "is not a valid phone number; enter it with its country code, for example +44 20 7946 0000",
            value=text,
        ) from None


def phone_display(e164: str | None) -> str | None:
    """A stored clinic number as people anywhere read it: `+44 20 7946 0000`."""
    return shown_phone(e164, None)


def postal_address(raw: str, field: str = "address") -> str | None:
    """The address as lines joined by "\\n" (trimmed, blank lines dropped), or None when empty."""
    lines = [" ".join(line.split()) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return None
    for line in lines:
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in line):
            raise Invalid(field, "contains a control character; type the address as plain text", value=raw)
    if len(lines) > ADDRESS_MAX_LINES:
        raise Invalid(field, f"has more than {ADDRESS_MAX_LINES} lines", value=raw)
    text = "\n".join(lines)
    if len(text) > ADDRESS_MAX_CHARS:
        raise Invalid(field, f"is longer than {ADDRESS_MAX_CHARS} characters", value=raw)
    return text


def one_line(address: str | None) -> str | None:
    """An address on one line (`12 High Street, London`), as a calendar's LOCATION shows it."""
    return ", ".join(address.split("\n")) if address else None
