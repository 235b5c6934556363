"""Clinicians' after-care pages: acknowledge a check-in that needs attention, record and edit
an adverse event against a session (from the dashboard, the patient page or a check-in)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cicatrix.params import Id
from cicatrix.service import adverse_events, checkins
from cicatrix.service.errors import Invalid
from cicatrix.service.schemas import AdverseEventIn, AdverseEventUpdate
from cicatrix.web import views as shaping
from cicatrix.web.core import FormState, Page, Posted, WebRoute, empty_form, read_form, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)
CLINICIAN = roles("clinician")
FIELDS = ("kind", "severity", "outcome", "onset", "note")


def _version(form: FormState) -> int:
    raw = form.value("version").strip()
    if not raw.isdigit() or len(raw) > 18:
        raise Invalid("version", "the form is damaged; reload the page", value=raw)
    return int(raw)


@router.post("/check-ins/{check_in_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(check_in_id: Id, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    form = read_form(posted)
    ci = checkins.acknowledge(page.ctx, check_in_id, _version(form))
    target = (
        "/?done=acknowledged"
        if form.value("back") == "dashboard"
        else f"/patients/{ci.patient_id}?done=acknowledged#aftercare"
    )
    return RedirectResponse(target, status_code=303)


def _event_page(
    page: Page, view: adverse_events.EventForm, form: FormState, action: str, event: Any = None, status: int = 200
) -> Response:
    kb = page.ctx.kb
    selects = [
        ("kind", "What happened", kb.aftercare_terms("adverse_event")),
        ("severity", "Severity", kb.aftercare_terms("severity")),
        ("outcome", "Outcome", kb.aftercare_terms("outcome")),
    ]
    return page.render(
        "clinician/adverse_event.html",
        title="Adverse event",
        patient=view.patient,
        session=view.session,
        check_in=view.check_in,
        form=form,
        selects=selects,
        action=action,
        event=event,
        treatment_name=shaping.treatment_namer(kb),
        status_code=status,
    )


def _fields(form: FormState) -> dict[str, Any]:
    """The form's values for the request schema, which checks them (an empty onset is missing)."""
    values: dict[str, Any] = {name: form.value(name).strip() or None for name in FIELDS}
    return values


def _check_in_param(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


def _errors(form: FormState, exc: ValidationError | Invalid) -> None:
    if isinstance(exc, Invalid):
        name = (exc.field or "form").split("[")[0]
        form.errors[name if name in FIELDS else "form"] = exc.message[:1].upper() + exc.message[1:] + "."
        return
    for err in exc.errors(include_url=False):
        name = str(err["loc"][0]) if err["loc"] else "form"
        form.errors.setdefault(name if name in FIELDS else "form", "Choose or enter a valid value.")


@router.get("/sessions/{session_id}/adverse-events/new", response_class=HTMLResponse)
def event_new(session_id: Id, check_in: str = "", page: Page = Depends(CLINICIAN)) -> Response:
    view = adverse_events.form_view(page.ctx, session_id, _check_in_param(check_in))
    onset = max(view.session.date, page.ctx.today if view.check_in is None else view.check_in.changed_at.date())
    form = empty_form(onset=min(onset, page.ctx.today).isoformat())
    return _event_page(page, view, form, f"/sessions/{session_id}/adverse-events/new")


@router.post("/sessions/{session_id}/adverse-events/new", response_class=HTMLResponse)
def event_create(session_id: Id, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    form = read_form(posted)
    check_in_id = _check_in_param(form.value("check_in"))
    view = adverse_events.form_view(page.ctx, session_id, check_in_id)
    try:
        body = AdverseEventIn.model_validate({**_fields(form), "check_in_id": check_in_id})
        page.step(adverse_events.create, session_id, body)
    except (ValidationError, Invalid) as exc:
        _errors(form, exc)
    if form.errors:
        return _event_page(page, view, form, f"/sessions/{session_id}/adverse-events/new", status=422)
    return RedirectResponse(f"/patients/{view.patient.id}?done=event_recorded#aftercare", status_code=303)


@router.get("/adverse-events/{event_id}", response_class=HTMLResponse)
def event_edit(event_id: Id, page: Page = Depends(CLINICIAN)) -> Response:
    e = adverse_events.get(page.ctx, event_id)
    view = adverse_events.form_view(page.ctx, e.session_id, e.check_in_id)
    form = empty_form(
        kind=e.kind,
        severity=e.severity,
        outcome=e.outcome,
        onset=e.onset.isoformat(),
        note=e.note or "",
        version=str(e.version),
    )
    return _event_page(page, view, form, f"/adverse-events/{event_id}", event=e)


@router.post("/adverse-events/{event_id}", response_class=HTMLResponse)
def event_update(event_id: Id, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    form = read_form(posted)
    e = adverse_events.get(page.ctx, event_id)
    view = adverse_events.form_view(page.ctx, e.session_id, e.check_in_id)
    try:
        body = AdverseEventUpdate.model_validate({**_fields(form), "version": _version(form)})
        page.step(adverse_events.update, event_id, body)
    except (ValidationError, Invalid) as exc:
        if isinstance(exc, Invalid) and exc.field == "version":
            raise
        _errors(form, exc)
    if form.errors:
        return _event_page(page, view, form, f"/adverse-events/{event_id}", event=e, status=422)
    return RedirectResponse(f"/patients/{view.patient.id}?done=event_updated#aftercare", status_code=303)
