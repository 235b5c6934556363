"""The patient record's form: new patient and edit patient (front desk and clinicians).

One form for both. Front desk sees and edits the details and contact fields; the clinical
fields are in the form only for roles that may change them (`patient.clinical.update`), so a
front-desk page never carries them. An edit sends only what changed, with the version the form
was read at: a record changed meanwhile answers 409 and the form is shown again with the
current version, nothing saved (the optimistic check of `patients.update`).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from cicatrix.engine.terms import read_term
from cicatrix.params import Id
from cicatrix.service import patients
from cicatrix.service.errors import Conflict, Invalid, WriteConflict
from cicatrix.service.policy import allowed, roles_with
from cicatrix.service.schemas import PatientIn, PatientOut, PatientUpdate
from cicatrix.web.core import FormState, Page, Posted, WebRoute, empty_form, read_form, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)

STAFF = roles(*roles_with("patient.list"))
EDITORS = roles(*roles_with("patient.update"))

_DETAILS = ("name", "mrn", "birth_date", "sex", "phone", "email")
_FLAGS = ("pregnant", "breastfeeding", "recent_sunburn")

# A refusal's field (the service's or the schema's) → the form input it belongs to.
_INPUTS = {
    "name": "name",
    "mrn": "mrn",
    "birth_date": "birth_date",
    "sex": "sex",
    "phone": "phone",
    "email": "email",
    "clinical.phototype": "phototype",
    "clinical.isotretinoin_last_dose": "isotretinoin_last_dose",
    "clinical.medications": "medications",
    "clinical.history": "history",
    "version": "version",
}
_LABELS = {
    "name": "Full name",
    "mrn": "Record number",
    "birth_date": "Date of birth",
    "sex": "Sex",
    "phone": "Phone",
    "email": "Email",
    "phototype": "Fitzpatrick phototype",
    "isotretinoin_last_dose": "Last isotretinoin dose",
    "medications": "Medications",
    "history": "History",
    "version": "Record",
}


def _history_choices(page: Page) -> list[tuple[str, str]]:
    """The vocabulary's history codes with their labels (words that belong in a structured
    field, such as pregnant, left out)."""
    kb = page.ctx.kb
    usable = [(c, t) for c, t in kb.vocabulary.items() if t.recorded_as is None and t.kind == "history"]
    return sorted(((c, t.label) for c, t in usable), key=lambda ct: ct[1].casefold())


def _medication_examples(page: Page) -> str:
    kb = page.ctx.kb
    names = sorted(t.label for t in kb.vocabulary.values() if t.recorded_as is None and t.kind == "medication")
    return ", ".join(names)


def _form_page(page: Page, form: FormState, patient: PatientOut | None = None, status: int = 200) -> Response:
    choices = _history_choices(page)
    known = {c for c, _ in choices}
    # a term recorded as typed (a clinic that allows free text) stays a box of its own, so an
    # edit of another field never drops it
    choices += [(t, t) for t in form.lists.get("history", []) if t not in known]
    return page.render(
        "clinician/patient_form.html",
        title=f"Edit {patient.name}" if patient else "New patient",
        form=form,
        patient=patient,
        history_codes=choices,
        medication_examples=_medication_examples(page),
        show_clinical=allowed(page.actor, "patient.clinical.update"),
        status_code=status,
    )


def _posted(page: Page, form: FormState) -> dict[str, Any]:
    """The form as the patient schemas take it: details, and the clinical block when the role
    may write it."""
    v = form.values
    data: dict[str, Any] = {k: v.get(k, "").strip() or None for k in _DETAILS}
    if not data["name"]:
        form.errors["name"] = "Full name: enter the patient's name."
    if allowed(page.actor, "patient.clinical.update"):
        data["clinical"] = {
            "phototype": v.get("phototype") or None,
            **{k: bool(v.get(k)) for k in _FLAGS},
            "isotretinoin_last_dose": v.get("isotretinoin_last_dose") or None,
            "history": form.lists.get("history", []),
            # the service reads each name through the vocabulary (generic and brand names)
            "medications": [m.strip() for m in v.get("medications", "").split(",") if m.strip()],
        }
    return data


def _refused(form: FormState, field: str | None, message: str) -> None:
    name = _INPUTS.get(re.sub(r"\[\d+\]$", "", field or ""), "name")  # medications[1] → medications
    form.errors.setdefault(name, f"{_LABELS[name]}: {message.rstrip('.')}.")


def _validated(form: FormState, schema: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            _refused(form, ".".join(str(p) for p in err["loc"] if not isinstance(p, int)), str(err["msg"]))
        return None


def _see(url: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?done={done}", status_code=303)


# ---------- new ----------


@router.get("/patients/new", response_class=HTMLResponse)
def patient_new(page: Page = Depends(STAFF)) -> Response:
    return _form_page(page, empty_form())


@router.post("/patients/new", response_class=HTMLResponse)
def patient_create(posted: Posted, page: Page = Depends(STAFF)) -> Response:
    form = read_form(posted, list_fields=("history",))
    data = _posted(page, form)
    body = None if form.errors else _validated(form, PatientIn, data)
    if body is None:
        return _form_page(page, form, status=422)
    try:
        created = page.step(patients.create, body)
    except (Invalid, Conflict) as exc:  # a record number already used: 409, shown on the form
        _refused(form, exc.field, exc.message)
        return _form_page(page, form, status=exc.status)
    return _see(f"/patients/{created.id}", "patient_created")


# ---------- edit ----------


def _initial(page: Page, p: PatientOut) -> FormState:
    """The form as the record stands: the phone as people read it, the history as the
    vocabulary's codes (the check boxes), medications as recorded."""
    values = {k: "" if getattr(p, k) is None else str(getattr(p, k)) for k in _DETAILS}
    values["phone"] = p.phone_display or ""
    values["version"] = str(p.version)
    lists: dict[str, list[str]] = {}
    c = p.clinical
    if c is not None and allowed(page.actor, "patient.clinical.update"):
        values["phototype"] = c.phototype.value if c.phototype else ""
        values["isotretinoin_last_dose"] = c.isotretinoin_last_dose.isoformat() if c.isotretinoin_last_dose else ""
        values["medications"] = ", ".join(c.medications)
        for k in _FLAGS:
            values[k] = "1" if getattr(c, k) else ""
        codes = (read_term("history", term, page.ctx.kb)[0] or term for term in c.history)
        lists["history"] = list(dict.fromkeys(codes))
    return FormState(values=values, lists=lists, errors={})


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only what the form changed: a field left as shown is not sent (a phone stored before
    numbers were checked is not refused because the name was corrected)."""
    out = {k: v for k, v in after.items() if k != "clinical" and v != before.get(k)}
    clinical = {k: v for k, v in (after.get("clinical") or {}).items() if v != (before.get("clinical") or {}).get(k)}
    if clinical:
        out["clinical"] = clinical
    return out


@router.get("/patients/{patient_id}/edit", response_class=HTMLResponse)
def patient_edit(patient_id: Id, page: Page = Depends(EDITORS)) -> Response:
    p = patients.get(page.ctx, patient_id)
    return _form_page(page, _initial(page, p), p)


@router.post("/patients/{patient_id}/edit", response_class=HTMLResponse)
def patient_update(patient_id: Id, posted: Posted, page: Page = Depends(EDITORS)) -> Response:
    form = read_form(posted, list_fields=("history",))
    p = patients.get(page.ctx, patient_id)
    version = form.value("version")
    shown = _posted(page, _initial(page, p))
    data = _posted(page, form)
    if not version.isdigit():
        form.errors["version"] = "Record: reload the page and apply your change again."
    if form.errors:
        return _form_page(page, form, p, status=422)
    body = _validated(form, PatientUpdate, {"version": int(version), **_changes(shown, data)})
    if body is None:
        return _form_page(page, form, p, status=422)
    try:
        page.step(patients.update, patient_id, body)
    except (Invalid, Conflict, WriteConflict) as exc:
        _refused(form, exc.field, exc.message)
        if exc.field == "version":  # show the current record's version: saving again overwrites knowingly
            form.errors["version"] = (
                "Record: someone saved this patient while you were editing. Your changes are kept below; "
                "check them against the record and save again."
            )
            form.values["version"] = str(patients.get(page.ctx, patient_id).version)
        return _form_page(page, form, p, status=exc.status)
    return _see(f"/patients/{patient_id}", "patient_updated")

