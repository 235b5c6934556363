"""POST /login follows `next` only to a path on this site (issue 12 §4): parsed and rebuilt,
never concatenated; control characters never reach the Location header."""

from __future__ import annotations

import pytest
from tests.web.conftest import DEMO_PASSWORD

from cicatrix.web.core import safe_next

OFF_SITE = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    " /x",
    "/a\r\nSet-Cookie: x=1",
    "evil.example",
    "",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_off_site_or_malformed_targets_go_home(target: str) -> None:
    assert safe_next(target, "clinician") == "/"


def test_same_site_paths_are_kept_and_encoded() -> None:
    assert safe_next("/patients/3?tab=plan", "clinician") == "/patients/3?tab=plan"
    assert safe_next("/patients?q=Zoë", "clinician") == "/patients?q=Zo%C3%AB"
    assert safe_next("/patients", "patient") == "/me"
    assert safe_next("/me/plan", "patient") == "/me/plan"
    assert safe_next("/meevil", "patient") == "/me"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/a\r\nX-Injected: 1", "//evil.example"])
def test_login_redirects_only_on_site(demo, target: str) -> None:  # type: ignore[no-untyped-def]
    demo.client.follow_redirects = False
    r = demo.client.post("/login", data={"username": "clinician", "password": DEMO_PASSWORD, "next": target})
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    assert "x-injected" not in r.headers
