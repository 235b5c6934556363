"""A clinic's contact details (postal address and phone number), checked once where they are
saved, so that every place that prints them (the calendar's LOCATION, the handout's "contact
your clinic") can trust them.

The phone number is parsed with `phonenumbers` (Google's libphonenumber metadata, no network):
it must carry its country code, because a patient abroad, a calendar app or a messaging service
cannot guess the country; it is stored in E.164 (`+442079460000`) and printed in the
international format (`+44 20 7946 0000`). The address keeps its line breaks (an envelope's
lines) but no other control characters: a stray carriage return or escape byte in a pasted
address would otherwise break a calendar line or a PDF.
"""

from __future__ import annotations

import unicodedata

import phonenumbers

from cicatrix.service.errors import Invalid

ADDRESS_MAX_LINES = 6
ADDRESS_MAX_CHARS = 300


def phone_number(raw: str, field: str = "phone") -> str | None:
    """The number in E.164, or None for an empty entry (the clinic has none on file)."""
    text = raw.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Invalid(
            field,
            "is not a valid phone number; enter it with its country code, for example +44 20 7946 0000",
            value=text,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(e164: str | None) -> str | None:
    """A stored number as people read it: `+44 20 7946 0000`."""
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:  # pragma: no cover - stored numbers were checked
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


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
