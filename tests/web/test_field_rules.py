"""The web pages show what the policy's field table lets the role see (`policy.FIELDS_SEEN`):
they render the service's models, which apply it, so a page never shows more than the API."""

from __future__ import annotations

import pytest
from tests.api.test_role_views import MARKERS, _seed_notes
from tests.storage.world import PASSWORD, World

from cicatrix.service.policy import FIELDS_SEEN, PERMISSIONS

USERNAMES = {"front_desk": "front_desk@test", "patient": "p1@test", "clinician": "clinician@test",
             "admin": "admin@test"}  # fmt: skip
PAGES = {
    "front_desk": ["/", "/patients", "/patients/{P1}", "/patients/{P1}/edit", "/account", "/account/second-factor", "/calendar",
                   "/calendar?view=week&by=room", "/patients/{P1}/bookings", "/patients/{P1}/handout", "/patients/{P1}/messages", "/messages"],
    "patient": ["/me", "/me/timeline", "/me/plan", "/me/learn", "/me/appointments", "/me/messages", "/account"],
    "clinician": ["/", "/patients", "/patients/{P1}", "/patients/{P1}/edit", "/plans/{plan}", "/plans/{plan}/course", "/account", "/calendar",
                  "/patients/{P1}/bookings", "/patients/{P1}/messages", "/messages"],
    # the admin sees names when linking a login (name, record number, birth date) and ids in
    # the audit trail: nothing clinical
    "admin": ["/admin/users", "/admin/users?patient_q=Patient", "/admin/audit", "/admin/audit?patient_id={P1}",
              "/admin/audit.csv", "/account", "/account/second-factor"],
}  # fmt: skip


@pytest.mark.parametrize("role", sorted(PAGES))
def test_pages_show_no_field_the_role_may_not_see(client, role: str) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    _seed_notes(w)
    client.cookies.clear()
    r = client.post("/login", data={"username": USERNAMES[role], "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    if role in w.totp:  # the admin has a second factor: the code comes next
        import pyotp
        from tests.today import NOW

        r = client.post("/login/code", data={"code": pyotp.TOTP(w.totp[role]).at(NOW)}, follow_redirects=False)
        assert r.status_code == 303, r.text
    for page in PAGES[role]:
        r = client.get(page.format(P1=w.patients["P1"], plan=w.plans["P1"]))
        assert r.status_code == 200, (role, page, r.status_code)
        html = r.text
        assert ("<html" in html or page.endswith(".csv")) and "Log in" not in html, page
        for field, text in MARKERS.items():
            assert role in FIELDS_SEEN[field] or text not in html, f"{role} sees {field} on {page}"
        # "patient.clinical": the clinical block and its column are for the roles that see it
        shows_clinical = "Phototype" in html
        assert not shows_clinical or role in FIELDS_SEEN["patient.clinical"], f"{role} sees phototype on {page}"
        if page == "/patients/{P1}":
            assert shows_clinical == (role in FIELDS_SEEN["patient.clinical"]), page
        if page == "/patients/{P1}/edit":  # the clinical inputs only for the roles that write them
            assert ('name="phototype"' in html) == (role in PERMISSIONS["patient.clinical.update"]), page


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_contact_details_are_shown_to_front_desk_and_clinicians(client, role: str) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    with w.database.transaction() as db:
        from cicatrix.storage.models import Patient

        p = db.get(Patient, w.patients["P1"])
        assert p is not None
        p.phone, p.email = "+447400123456", "p1@example.org"
    client.cookies.clear()
    client.post("/login", data={"username": USERNAMES[role], "password": PASSWORD})
    html = client.get(f"/patients/{w.patients['P1']}").text
    assert "07400 123456" in html and "p1@example.org" in html  # national format: clinic A is in GB
