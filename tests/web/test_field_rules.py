"""The web pages show what the policy's field table lets the role see (`policy.FIELDS_SEEN`):
they render the service's models, which apply it, so a page never shows more than the API."""

from __future__ import annotations

import pytest
from tests.api.test_role_views import MARKERS, _seed_notes
from tests.storage.world import PASSWORD, World

from cicatrix.service.policy import FIELDS_SEEN

USERNAMES = {"front_desk": "front_desk@test", "patient": "p1@test", "clinician": "clinician@test"}
PAGES = {
    "front_desk": ["/", "/patients", "/patients/{P1}", "/patients/{P1}/messages", "/messages"],
    "patient": ["/me", "/me/timeline", "/me/plan", "/me/learn", "/me/messages"],
    "clinician": ["/", "/patients", "/patients/{P1}", "/plans/{plan}", "/plans/{plan}/course",
                  "/patients/{P1}/messages", "/messages"],
}


@pytest.mark.parametrize("role", sorted(PAGES))
def test_pages_show_no_field_the_role_may_not_see(client, role: str) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    _seed_notes(w)
    client.cookies.clear()
    r = client.post("/login", data={"username": USERNAMES[role], "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    for page in PAGES[role]:
        html = client.get(page.format(P1=w.patients["P1"], plan=w.plans["P1"])).text
        assert "<html" in html and "Log in" not in html, page
        for field, text in MARKERS.items():
            assert role in FIELDS_SEEN[field] or text not in html, f"{role} sees {field} on {page}"
        # "patient.clinical": the clinical block and its column are for the roles that see it
        shows_clinical = "Phototype" in html
        assert not shows_clinical or role in FIELDS_SEEN["patient.clinical"], f"{role} sees phototype on {page}"
        if page == "/patients/{P1}":
            assert shows_clinical == (role in FIELDS_SEEN["patient.clinical"]), page
