"""Web forms with out-of-range values answer a 422 page, never a 500 (issue 12 §5)."""

from __future__ import annotations

import re

from tests.web.conftest import Demo


def _plan_and_session(demo: Demo) -> tuple[int, int]:
    demo.login("clinician")
    html = demo.client.get("/patients/1").text
    plan_id = int(re.search(r"/plans/(\d+)", html).group(1))  # type: ignore[union-attr]
    course = demo.client.get(f"/plans/{plan_id}/course").text
    sid = int(re.search(rf"/plans/{plan_id}/sessions/(\d+)/missed", course).group(1))  # type: ignore[union-attr]
    return plan_id, sid


def test_plan_edit_and_missed_session_refuse_year_9999(demo: Demo) -> None:
    plan_id, sid = _plan_and_session(demo)
    html = demo.client.get(f"/plans/{plan_id}").text
    version = re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    kept = re.findall(r'name="treatments" value="([a-z_]+)" checked', html)
    token = demo.csrf(f"/plans/{plan_id}")
    data = {"csrf_token": token, "version": version, "treatments": kept, "reason": "later", "start": "9999-12-01"}
    r = demo.client.post(f"/plans/{plan_id}/edit", data=data)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert "2199-12-31" in r.text
    r = demo.client.post(f"/plans/{plan_id}/sessions/{sid}/missed",
                         data={"csrf_token": token, "new_date": "9999-12-31", "action": "preview"})  # fmt: skip
    assert r.status_code == 422 and "2199-12-31" in r.text


def test_assessment_form_refuses_absurd_counts(demo: Demo) -> None:
    demo.login("clinician")
    token = demo.csrf("/patients/1/assessments/new")
    form = demo.client.get("/patients/1/assessments/new").text
    count_field = re.search(r'name="(scar-[a-z_]+-count)"', form)
    assert count_field, "no scar count field on the form"
    data = {"csrf_token": token, "date": "2026-11-20", count_field.group(1): str(10**30)}
    r = demo.client.post("/patients/1/assessments/new", data=data, follow_redirects=False)
    assert r.status_code == 422, r.status_code
    assert "10000" in r.text or "10,000" in r.text


def test_assessment_form_names_each_bound(demo: Demo) -> None:
    """Issue 14 §4 on the form: a count above what a body holds, a date before the patient's
    birth, and a form with nothing recorded are refused with a message, nothing saved."""
    demo.login("clinician")
    token = demo.csrf("/patients/1/assessments/new")
    form = demo.client.get("/patients/1/assessments/new").text
    count = re.search(r'name="(scar-[a-z_]+-count)"', form)
    assert count
    born = demo.client.get("/patients/1").text
    base = {"csrf_token": token, "date": "2026-11-20", "phototype": "III"}
    for data, says in (
        ({**base, count.group(1): "1001"}, "must be at most 1,000"),
        ({**base, count.group(1): "0"}, "records no scars, marks or active lesions"),
        ({**base}, "records no scars, marks or active lesions"),
        ({**base, "date": "1901-01-01", count.group(1): "3"}, "before the patient&#39;s birth date"),
    ):
        r = demo.client.post("/patients/1/assessments/new", data=data, follow_redirects=False)
        assert r.status_code == 422, (data, r.status_code)
        assert says in r.text, says
    assert demo.client.get("/patients/1").text.count("<td>") == born.count("<td>")  # no assessment added
