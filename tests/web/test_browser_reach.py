"""What stays in reach on a tablet (issue 14 §6), in Debian's chromium: Approve on a long plan
without scrolling, the live scores while typing, excluded treatments folded with their
override boxes closed until asked for."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}


def _in_view(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        page.evaluate(
            "s => { const r = document.querySelector(s).getBoundingClientRect();"
            " return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }",
            selector,
        )
    )


def test_approve_stays_in_reach_on_a_long_plan(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    page.set_viewport_size(TABLET)
    web.login("clinician")
    web.submit(page.locator('section[aria-labelledby="h-approve"] a[href^="/plans/"]').first)
    assert page.evaluate("document.body.scrollHeight > 2 * window.innerHeight")  # a long page
    approve = page.get_by_role("button", name="Approve plan")
    assert approve.count() == 1 and approve.is_visible()
    for y in (1500, 4000, 100000):
        page.evaluate(f"window.scrollTo(0, {y})")
        assert _in_view(page, ".action-bar button"), f"Approve out of reach after scrolling to {y}"
    # excluded treatments are folded: the reasons one click away, the override box closed
    excluded = page.locator("details.excluded").first
    if excluded.count():
        assert excluded.get_attribute("open") is None
        assert not page.locator("details.excluded textarea").first.is_visible()
        excluded.locator("summary").first.click()
        assert excluded.locator("li").first.is_visible()
        assert not excluded.locator("textarea").is_visible()
        excluded.locator("details.override summary").click()
        assert excluded.locator("textarea").is_visible()


def test_live_scores_stay_in_view_while_typing_on_a_tablet(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    page.set_viewport_size(TABLET)
    web.login("clinician")
    web.goto("/patients/1/assessments/new")
    last = page.locator("input[inputmode=numeric]").last
    last.scroll_into_view_if_needed()
    last.fill("2")
    assert _in_view(page, ".score-panel"), "the live scores scrolled away"
