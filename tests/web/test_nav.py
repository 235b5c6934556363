"""The navigation derives from the policy table: every link a role is shown opens for it."""

from __future__ import annotations

import re

import pytest
from tests.web.conftest import Demo

from cicatrix.web.render import nav_for

ACCOUNTS = {"admin": "admin", "clinician": "clinician", "front_desk": "frontdesk", "patient": "patient"}


def _nav_links(html: str) -> list[str]:
    nav = html.split('<nav class="site-nav"')[1].split("</nav>")[0]
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize("role", sorted(ACCOUNTS))
def test_every_menu_link_opens_for_the_role_that_sees_it(demo: Demo, role: str) -> None:
    demo.login(ACCOUNTS[role])
    start = "/me" if role == "patient" else "/knowledge" if role == "admin" else "/patients"
    links = _nav_links(demo.client.get(start).text)
    assert links == [href for href, _label in nav_for(role)]
    for href in links:
        r = demo.client.get(href)
        assert r.status_code == 200, (role, href, r.status_code)


def test_the_admin_menu_has_no_patient_pages() -> None:
    hrefs = [href for href, _ in nav_for("admin")]
    assert "/patients" not in hrefs and "/" not in hrefs
    assert hrefs == ["/admin/users", "/admin/settings", "/admin/audit", "/admin/calendar", "/knowledge", "/account"]
    assert "/calendar" not in hrefs  # bookings are the front desk's and clinicians', not admins'
