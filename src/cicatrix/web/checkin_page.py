"""The one-tap check-in page a message links to: `/c/{token}`, no login.

The signed link is the only credential (`service.checkins`); the page shows that day's
instructions for that session and the check-in form, nothing that names the patient, a
diagnosis or another date. Its form carries a CSRF token bound to the link
(`credentials.link_csrf`), since there is no cookie session to bind it to. A link that is
forged, expired or stale gets a friendly page, never a code.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cicatrix import credentials
from cicatrix.service import checkins, unit_of_work
from cicatrix.service.errors import Conflict, Invalid, RateLimited, WriteConflict
from cicatrix.service.links import LinkInvalid
from cicatrix.service.schemas import CheckInAnswerIn
from cicatrix.web import render
from cicatrix.web.core import Posted

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(include_in_schema=False)

# What a token from `links.sign` looks like; anything else gets the invalid-link page without
# touching the database (a JSON 422 would be a code on a patient's phone).
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{10,1000}")
_NOT_VALID = "This link is not valid. Please use the latest message from your clinic."


def _invalid(request: Request, message: str, status: int = 404) -> HTMLResponse:
    return render.page(
        request, "checkin/invalid.html", title="Check-in", message=message, status_code=status, body_class="patient"
    )


def _page(
    request: Request,
    token: str,
    view: checkins.CheckInPage,
    *,
    error: str = "",
    chosen: str | None = None,
    signs: tuple[str, ...] | None = None,
    note: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    labels = {a.id: a.label for a in view.answers}
    return render.page(
        request,
        "checkin/page.html",
        title="How is your skin today?",
        clinic_name=view.clinic_name,
        body_class="patient",
        token=token,
        link_csrf=credentials.link_csrf(request.app.state.secret, token),
        view=view,
        chosen=chosen if chosen is not None else view.answer,
        chosen_signs=signs if signs is not None else view.signs,
        note=note if note is not None else view.note,
        answered_label=labels.get(view.answer or "", ""),
        saved=request.query_params.get("saved") == "1" and view.answer is not None,
        error=error,
        status_code=status,
    )


@router.get("/c/{token}", response_class=HTMLResponse)
def check_in(token: str, request: Request) -> Response:
    if not _TOKEN.fullmatch(token):
        return _invalid(request, _NOT_VALID)
    state = request.app.state
    now, ip = state.clock(), credentials.client_ip(request)
    try:
        view = state.db.run_sync(lambda db: checkins.view(db, state.kb, state.secret, token, now, ip))
    except LinkInvalid as exc:
        return _invalid(request, str(exc))
    return _page(request, token, view)


@router.post("/c/{token}", response_class=HTMLResponse)
def check_in_answer(token: str, request: Request, form: Posted) -> Response:
    if not _TOKEN.fullmatch(token):
        return _invalid(request, _NOT_VALID)
    state = request.app.state
    now, ip = state.clock(), credentials.client_ip(request)
    sent = form.get(credentials.CSRF_FIELD)
    if not credentials.link_csrf_matches(state.secret, token, sent if isinstance(sent, str) else None):
        return _invalid(request, "This form has expired. Please open the link from your message again.", 403)
    answer = str(form.get("answer") or "")
    signs = tuple(str(v) for v in form.getlist("signs") if isinstance(v, str))
    note = str(form.get("note") or "")
    message = ""
    body: CheckInAnswerIn | None = None
    try:
        body = CheckInAnswerIn(answer=answer, signs=list(signs), note=note or None)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else "answer"
        message = {
            "answer": "Please choose one of the answers.",
            "signs": "Please tick only the signs offered.",
            "note": "Please keep your message under 2,000 characters.",
        }.get(field, "Please check your answer.")

    def work(db: Session) -> tuple[checkins.CheckInPage, str]:
        if body is not None:
            try:
                with unit_of_work.step(db):
                    return checkins.answer(db, state.kb, state.secret, token, body, now, ip), ""
            except (Invalid, Conflict, RateLimited) as exc:
                return checkins.view(db, state.kb, state.secret, token, now, ip), exc.message[:1].upper() + exc.message[
                    1:
                ]
        return checkins.view(db, state.kb, state.secret, token, now, ip), message

    try:
        view, error = state.db.run_sync(work)
    except LinkInvalid as exc:
        return _invalid(request, str(exc))
    except WriteConflict:  # answered at the same moment elsewhere (a double tap): show the one kept
        return RedirectResponse(f"/c/{token}", status_code=303)
    if error:
        return _page(request, token, view, error=error, chosen=answer, signs=signs, note=note, status=422)
    return RedirectResponse(f"/c/{token}?saved=1", status_code=303)
