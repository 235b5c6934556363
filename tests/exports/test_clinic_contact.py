"""Issue 13 §4-5: the clinic's address and phone live in its settings (API and admin page),
checked where they are saved, and reach the calendar's LOCATION and the handout's "call us";
no line break or control character in them breaks a calendar (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import vobject
from icalendar import Calendar

from cicatrix.service.contact import one_line, phone_display, phone_number, postal_address
from cicatrix.service.errors import Invalid
from tests.api.fixtures import bearer

ADDRESS = "Skin Clinic; 2nd floor\r\n12 High Street, Camden\n\nLondon NW1 7AA"
ONE_LINE = "Skin Clinic; 2nd floor, 12 High Street, Camden, London NW1 7AA"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("+44 20 7946 0000", "+442079460000"), ("+44 (0)20 7946-0000", "+442079460000"), ("+1 650-253-0000", "+16502530000"), ("", None)],
)
def test_phone_numbers_are_stored_in_e164(typed: str, stored: str | None) -> None:
    assert phone_number(typed) == stored


@pytest.mark.parametrize("typed", ["020 7946 0000", "+44 20", "call reception", "+999 1234"])
def test_a_phone_number_without_a_country_code_or_invalid_is_refused(typed: str) -> None:
    with pytest.raises(Invalid) as err:
        phone_number(typed)
    assert err.value.field == "phone" and "country code" in err.value.message


def test_addresses_keep_their_lines_and_nothing_else() -> None:
    assert postal_address(ADDRESS) == "Skin Clinic; 2nd floor\n12 High Street, Camden\nLondon NW1 7AA"
    assert one_line(postal_address(ADDRESS)) == ONE_LINE
    assert postal_address("  \n ") is None
    assert postal_address("12\u2028High\x0bSt\tW1") == "12 High St W1"  # separators are spaces
    for bad in ("12 High St\x1b[31m", "12 High St\x00", "12 High St\x7f", "12\u200eHigh St", "a\nb\nc\nd\ne\nf\ng", "x" * 301):
        with pytest.raises(Invalid) as err:
            postal_address(bad)
        assert err.value.field == "address"
    assert phone_display("+442079460000") == "+44 20 7946 0000"


def _set(client, body: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.patch("/api/clinic", json=body, headers=bearer(client, "admin"))


def test_clinic_settings_reach_the_calendar_and_the_handout(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = _set(client, {"address": ADDRESS, "phone": "+44 20 7946 0000"})
    assert r.status_code == 200, r.text
    assert (r.json()["phone"], r.json()["address"]) == ("+442079460000", postal_address(ADDRESS))
    # a bad number is refused naming the field, and nothing of the request is kept
    bad = _set(client, {"address": "Elsewhere", "phone": "020 7946 0000"})
    assert bad.status_code == 422 and bad.json()["field"] == "phone"
    bad = _set(client, {"address": "12 High St\x1b"})
    assert bad.status_code == 422 and bad.json()["field"] == "address"
    assert client.get("/api/clinic", headers=bearer(client, "admin")).json()["address"] == postal_address(ADDRESS)
    assert _set(client, {"name": "Clinic A"}).json()["phone"] == "+442079460000"  # an absent field is unchanged

    p1 = client.world.patients["P1"]
    ics = client.get(f"/api/patients/{p1}/calendar.ics", headers=bearer(client, "patient"))
    assert ics.status_code == 200
    sessions = [e for e in Calendar.from_ical(ics.content).walk("VEVENT") if "session" in list(e["CATEGORIES"].cats)]
    assert sessions and all(str(e["LOCATION"]) == ONE_LINE for e in sessions)
    # another parser reads the same place: the semicolon and commas were escaped, no line broke
    cal = vobject.readOne(ics.content.decode())
    assert {ev.location.value for ev in cal.vevent_list if hasattr(ev, "location")} == {ONE_LINE}

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdf = client.get(f"/api/patients/{p1}/handout.pdf", headers=bearer(client, "clinician"))
    assert pdf.status_code == 200
    f = tmp_path / "h.pdf"
    f.write_bytes(pdf.content)
    text = " ".join(subprocess.run([pdftotext, str(f), "-"], capture_output=True, check=True).stdout.decode().split())
    assert "call us on +44 20 7946 0000" in text
    assert "12 High Street, Camden, London NW1 7AA" in text
    # clearing them goes back to "call the clinic" and the clinic's name as the place
    assert _set(client, {"address": "", "phone": ""}).json()["phone"] is None
    ics = client.get(f"/api/patients/{p1}/calendar.ics", headers=bearer(client, "patient"))
    assert {str(e["LOCATION"]) for e in Calendar.from_ical(ics.content).walk("VEVENT") if "LOCATION" in e} == {
        client.get("/api/clinic", headers=bearer(client, "admin")).json()["name"]
    }
