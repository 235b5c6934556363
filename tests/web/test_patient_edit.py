"""The patient edit page (issue 14 §4): front desk edits details and contact, clinicians the
clinical fields too; a stale form is answered 409 with the typed values kept; a record number
already in use is refused on the form (409) naming it; contact details are shown formatted."""

from __future__ import annotations

import re

from tests.web.conftest import Demo


def _form(demo: Demo, path: str) -> dict[str, str]:
    """The form's fields as the page filled them (text inputs, hidden inputs, selected options)."""
    html = demo.client.get(path).text
    fields = dict(re.findall(r'<input type="(?:text|hidden|date|tel|email)" (?:id="[^"]*" )?name="([^"]+)" value="([^"]*)"', html))
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        fields[name] = chosen.group(1) if chosen else ""
    for name, value in re.findall(r'<input type="checkbox" id="[^"]+" name="([^"]+)" value="([^"]+)" checked>', html):
        fields[name] = value
    return {k: v.replace("&#43;", "+").replace("&#39;", "'").replace("&amp;", "&") for k, v in fields.items()}


def test_front_desk_edits_contact_details_without_seeing_clinical_fields(demo: Demo) -> None:
    demo.login("frontdesk")
    page = demo.client.get("/patients/1")
    assert 'href="/patients/1/edit"' in page.text
    form = _form(demo, "/patients/1/edit")
    assert "phototype" not in form and "medications" not in form and "version" in form
    html = demo.client.get("/patients/1/edit").text
    assert "Fitzpatrick" not in html and "Pregnant" not in html
    r = demo.client.post("/patients/1/edit", data={**form, "phone": "07400 123456", "email": "Pat@Example.ORG"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    shown = demo.client.get(r.headers["location"]).text
    assert "Patient details saved." in shown
    assert 'href="tel:+447400123456">07400 123456</a>' in shown and "Pat@example.org" in shown


def test_a_clinician_edits_clinical_fields_and_nothing_else_changes(demo: Demo) -> None:
    demo.login("clinician")
    form = _form(demo, "/patients/1/edit")
    assert form["phototype"]  # the demo patient's phototype, selected
    before = demo.client.get("/patients/1").text
    r = demo.client.post("/patients/1/edit", data={**form, "phototype": "VI"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    after = demo.client.get("/patients/1").text
    assert "VI" in after
    record_number = re.search(r"Record number</th><td>([^<]*)<", before)
    assert record_number and f"Record number</th><td>{record_number.group(1)}<" in after


def test_a_stale_form_is_refused_and_keeps_what_was_typed(demo: Demo) -> None:
    demo.login("frontdesk")
    mine = _form(demo, "/patients/1/edit")
    theirs = _form(demo, "/patients/1/edit")
    assert demo.client.post("/patients/1/edit", data={**theirs, "email": "first@example.org"},
                            follow_redirects=False).status_code == 303  # fmt: skip
    r = demo.client.post("/patients/1/edit", data={**mine, "email": "second@example.org"}, follow_redirects=False)
    assert r.status_code == 409
    assert "someone saved this patient while you were editing" in r.text
    assert 'value="second@example.org"' in r.text  # kept
    assert "first@example.org" in demo.client.get("/patients/1").text  # nothing overwritten
    again = _form(demo, "/patients/1/edit")
    assert int(re.search(r'name="version" value="(\d+)"', r.text).group(1)) == int(again["version"])  # type: ignore[union-attr]


def test_a_record_number_in_use_is_refused_on_the_forms(demo: Demo) -> None:
    demo.login("frontdesk")
    taken = _form(demo, "/patients/1/edit")["mrn"]
    assert taken
    r = demo.client.post("/patients/new", data={"csrf_token": demo.csrf("/patients/new"), "name": "New Person",
                                                "mrn": taken}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 409
    assert f"Record number: record number &#39;{taken}&#39; is already used" in r.text
    assert 'value="New Person"' in r.text
    form = _form(demo, "/patients/2/edit")
    r = demo.client.post("/patients/2/edit", data={**form, "mrn": taken}, follow_redirects=False)
    assert r.status_code == 409 and "is already used by another patient" in r.text


def test_bad_contact_details_are_shown_on_the_form(demo: Demo) -> None:
    demo.login("frontdesk")
    form = _form(demo, "/patients/1/edit")
    r = demo.client.post("/patients/1/edit", data={**form, "phone": "12", "email": "x@"}, follow_redirects=False)
    assert r.status_code == 422
    assert "Phone: is not a valid phone number in GB." in r.text
    r = demo.client.post("/patients/1/edit", data={**form, "email": "x@"}, follow_redirects=False)
    assert r.status_code == 422 and "Email: There must be something after the @-sign." in r.text


def test_patients_and_admins_cannot_open_the_edit_page(demo: Demo) -> None:
    for who in ("patient", "admin"):
        demo.login(who)
        assert demo.client.get("/patients/1/edit", follow_redirects=False).status_code == 403
