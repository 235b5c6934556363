"""The new-patient form reads medications through the vocabulary: a brand name is accepted, an
unknown one is refused on the form naming it, and history is ticked from the vocabulary."""

from __future__ import annotations

from tests.web.conftest import Demo


def _create(demo: Demo, medications: str) -> object:
    token = demo.csrf("/patients/new")
    return demo.client.post(
        "/patients/new",
        data={
            "csrf_token": token,
            "name": "Form Person",
            "phototype": "III",
            "history": "immunosuppression",
            "medications": medications,
        },
        follow_redirects=False,
    )


def test_history_choices_are_the_vocabularys_labels(demo: Demo) -> None:
    demo.login("clinician")
    html = demo.client.get("/patients/new").text
    assert 'value="cardiac_disease"' in html and "Heart disease or arrhythmia" in html
    assert 'value="pregnant"' not in html  # a flag, not a history term


def test_an_unknown_medication_is_refused_on_the_form_naming_it(demo: Demo) -> None:
    demo.login("clinician")
    r = _create(demo, "Prograf, foo")
    assert r.status_code == 422  # type: ignore[attr-defined]
    html = r.text  # type: ignore[attr-defined]
    assert "unknown medication &#39;foo&#39;" in html or "unknown medication 'foo'" in html


def test_brand_names_are_accepted_and_kept_as_typed(demo: Demo) -> None:
    demo.login("clinician")
    r = _create(demo, "Prograf 1 mg, Eliquis")
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    page = demo.client.get(r.headers["location"]).text  # type: ignore[attr-defined]
    assert "Prograf 1 mg" in page and "Eliquis" in page


def test_the_knowledge_page_lists_the_vocabulary(demo: Demo) -> None:
    demo.login("clinician")
    html = demo.client.get("/knowledge").text
    assert 'id="vocabulary"' in html and "tacrolimus" in html and "other words are refused" in html


def test_a_stored_term_the_vocabulary_does_not_know_is_shown_not_hidden(demo: Demo) -> None:
    """A record written before the vocabulary (or under another knowledge base) is never shown
    as having no contraindications: the page says it cannot be screened, naming the term."""
    from sqlalchemy import select

    from cicatrix.storage.models import Assessment

    with demo.app.state.db.session() as db:
        latest = db.scalars(select(Assessment).where(Assessment.patient_id == 1).order_by(Assessment.id.desc())).first()
        assert latest is not None
        latest.input = {**latest.input, "patient": {**latest.input["patient"], "medications": ["mystery pill"]}}
        db.commit()
    demo.login("clinician")
    html = demo.client.get("/patients/1").text
    assert "cannot be screened" in html and "mystery pill" in html
