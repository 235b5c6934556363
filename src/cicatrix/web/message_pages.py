"""Messages: what was sent to a patient and their choices (patient and staff pages), the
clinic's outbox, and the one-click opt-out behind a message's link (`/u/{token}`, no login).

The opt-out page shows no name, no diagnosis and no date: only what the link stops and a
button. The RFC 8058 one-click POST that mail programs send applies at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cicatrix import credentials
from cicatrix.params import Id
from cicatrix.service import links, messages, patients
from cicatrix.service.errors import Invalid
from cicatrix.service.policy import roles_with
from cicatrix.service.schemas import MessageChoicesIn
from cicatrix.web import render
from cicatrix.web.core import Page, Posted, WebRoute, error_page, roles

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PATIENT = roles("patient")
STAFF_FOR_PATIENT = roles(*(r for r in roles_with("message.read") if r != "patient"))
CLINIC = roles(*roles_with("message.clinic"))

CHANNELS = (("email", "E-mail"), ("sms", "Text message (SMS)"))
STATUS_LABELS = {
    "pending": "Waiting",
    "sending": "Sending",
    "sent": "Sent",
    "failed": "Failed",
    "withdrawn": "Withdrawn (plan changed)",
    "skipped": "Not sent",
}


def _kinds(page: Page) -> list[tuple[str, str]]:
    return [(k, messages.kind_label(page.ctx.kb, k)) for k in messages.OPT_OUT_KINDS]


def _choices_from(form: Any) -> MessageChoicesIn:
    quiet_start = str(form.get("quiet_start", "")).strip() or None
    quiet_end = str(form.get("quiet_end", "")).strip() or None
    return MessageChoicesIn(
        channels=[c for c in form.getlist("channels") if c in ("email", "sms")],
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        opted_out=[k for k in form.getlist("opted_out") if k in messages.OPT_OUT_KINDS],
    )


def _page(page: Page, template: str, title: str, patient_id: int, action: str, *, error: str = "",
          status: int = 200, **extra: Any) -> Response:  # fmt: skip
    listed = messages.for_patient(page.ctx, patient_id)
    choices = messages.get_choices(page.ctx, patient_id)
    return page.render(template, title=title, messages=listed.items, total=listed.total, choices=choices,
                       status_labels=STATUS_LABELS, channels=CHANNELS, kinds=_kinds(page), action=action,
                       error=error, status_code=status, **extra)  # fmt: skip


def _save(page: Page, form: Any, patient_id: int) -> str:
    """The error to show, or "" when the choices were stored."""
    try:
        page.step(messages.set_choices, patient_id, _choices_from(form))
    except Invalid as exc:
        return exc.message
    except ValidationError as exc:
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return ""


@router.get("/me/messages", response_class=HTMLResponse)
def my_messages(page: Page = Depends(PATIENT)) -> Response:
    pid = page.actor.patient_id
    assert pid is not None
    return _page(page, "patient/messages.html", "My messages", pid, "/me/messages")


@router.post("/me/messages", response_class=HTMLResponse)
def my_messages_save(form: Posted, page: Page = Depends(PATIENT)) -> Response:
    pid = page.actor.patient_id
    assert pid is not None
    error = _save(page, form, pid)
    if error:
        return _page(page, "patient/messages.html", "My messages", pid, "/me/messages", error=error, status=422)
    return RedirectResponse("/me/messages?done=saved", status_code=303)


@router.get("/patients/{patient_id}/messages", response_class=HTMLResponse)
def patient_messages(patient_id: Id, page: Page = Depends(STAFF_FOR_PATIENT)) -> Response:
    p = patients.get(page.ctx, patient_id)
    return _page(page, "clinician/messages.html", "Messages", patient_id, f"/patients/{patient_id}/messages",
                 patient=p)  # fmt: skip


@router.post("/patients/{patient_id}/messages", response_class=HTMLResponse)
def patient_messages_save(patient_id: Id, form: Posted, page: Page = Depends(STAFF_FOR_PATIENT)) -> Response:
    error = _save(page, form, patient_id)
    if error:
        p = patients.get(page.ctx, patient_id)
        return _page(page, "clinician/messages.html", "Messages", patient_id, f"/patients/{patient_id}/messages",
                     error=error, status=422, patient=p)  # fmt: skip
    return RedirectResponse(f"/patients/{patient_id}/messages?done=saved", status_code=303)


@router.get("/messages", response_class=HTMLResponse)
def clinic_outbox(page: Page = Depends(CLINIC)) -> Response:
    status = page.request.query_params.get("status") or None
    if status not in (None, "pending", "sending", "sent", "failed", "withdrawn", "skipped"):
        status = None
    listed = messages.for_clinic(page.ctx, status=status)  # type: ignore[arg-type]
    folder = messages.dev_folder_items(page.ctx, page.request.app.state.settings.data_dir)
    return page.render("clinician/outbox.html", title="Messages", messages=listed.items, total=listed.total,
                       status=status or "", folder=folder, status_labels=STATUS_LABELS)  # fmt: skip


# ---- one-click opt-out, without a login ----


def _bare(request: Request, template: str, title: str, status: int = 200, **context: Any) -> HTMLResponse:
    return render.page(request, template, title=title, status_code=status, **context)


def _invalid(request: Request, exc: links.LinkInvalid) -> HTMLResponse:
    return error_page(request, 400, "Link not valid", str(exc))


@router.get("/u/{token}", response_class=HTMLResponse)
def opt_out_form(token: str, request: Request) -> Response:
    state = request.app.state
    try:
        _patient, kind = messages.read_opt_out(state.secret, token, state.clock())
    except links.LinkInvalid as exc:
        return _invalid(request, exc)
    return _bare(request, "optout.html", "Stop messages", what=messages.kind_label(state.kb, kind), token=token,
                 done=False)  # fmt: skip


@router.post("/u/{token}", response_class=HTMLResponse)
def opt_out_apply(token: str, request: Request) -> Response:
    """The confirm button, or a mail program's RFC 8058 one-click POST: applied at once."""
    state = request.app.state
    ip = credentials.client_ip(request)

    def work(db: Session) -> str:
        return messages.opt_out(db, state.kb, state.secret, token, state.clock(), ip)

    try:
        kind = state.db.run_sync(work)
    except links.LinkInvalid as exc:
        return _invalid(request, exc)
    return _bare(request, "optout.html", "Stop messages", what=messages.kind_label(state.kb, kind), token=token,
                 done=True)  # fmt: skip
