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

from functools import lru_cache
from importlib import resources
from pathlib import Path

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from cicatrix.service.errors import Invalid
from cicatrix.storage.models import Clinic

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

    The one place that decides it: the clinic's `country` setting when it has one (the opening
    calendar's country, for public holidays), else the country of its time zone
    (Europe/London → GB); None for a zone such as UTC, where numbers need their country code.
    """
    if clinic is None:
        return None
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
