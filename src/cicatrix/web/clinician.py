"""Clinician and front-desk pages: dashboard, patients, assessment, plan review, the course."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cicatrix.params import Id
from cicatrix.service import assessments, dashboard, patients, plans, procedures, views
from cicatrix.service.booking_schemas import SessionUndoIn
from cicatrix.service.errors import Conflict, Invalid, NotFound
from cicatrix.service.policy import ROLES, allowed, may_see_field, roles_with
from cicatrix.service.schemas import (
    AssessmentIn,
    OverrideIn,
    PlanEditIn,
    PlanOut,
    ProcedureIn,
    SessionDoneIn,
    SessionMissedIn,
    WithdrawIn,
)
from cicatrix.web import chart, render
from cicatrix.web import views as shaping
from cicatrix.web.assessment_form import parse_assessment_form, scar_inputs
from cicatrix.web.core import FormState, Page, Posted, WebRoute, empty_form, read_form, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)

STAFF = roles(*roles_with("patient.list"))
CLINICIAN = roles("clinician")


def _see(url: str, done: str | None = None) -> RedirectResponse:
    """Redirect after a successful post; `done` is a FLASH key."""
    if done:
        url += ("&" if "?" in url else "?") + "done=" + done
    return RedirectResponse(url, status_code=303)


# ---------- dashboard ----------


@router.get("/", response_class=HTMLResponse)
def home(page: Page = Depends(roles(*ROLES))) -> Response:
    if page.actor.role == "patient":
        return RedirectResponse("/me", status_code=303)
    if page.actor.role == "admin":
        return RedirectResponse("/admin/users", status_code=303)
    d = dashboard.build(page.ctx)
    return page.render(
        "clinician/dashboard.html",
        title="Today",
        sessions_today=d.sessions_today,
        due=d.due,
        due_days=dashboard.DUE_DAYS,
        awaiting=d.awaiting,
        attention=d.attention,
        show_clinical=allowed(page.actor, "plan.approve"),
        can_record_event=allowed(page.actor, "adverse_event.write"),
    )


# ---------- patients ----------


@router.get("/patients", response_class=HTMLResponse)
def patient_list(q: str = "", offset: int = 0, page: Page = Depends(STAFF)) -> Response:
    limit = 50
    result = patients.search(page.ctx, q=q or None, limit=limit, offset=max(offset, 0))
    return page.render(
        "clinician/patients.html",
        title="Patients",
        q=q,
        show_clinical=may_see_field(page.actor, "patient.clinical"),
        items=result.items,
        total=result.total,
        offset=result.offset,
        limit=limit,
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(patient_id: Id, page: Page = Depends(STAFF)) -> Response:
    ctx = page.ctx
    ov = views.patient_overview(ctx, patient_id)
    p = ov.patient
    clinical = p.clinical
    if clinical is None:  # front desk: the schedule, no clinical record
        return page.render(
            "clinician/patient.html",
            title=p.name,
            patient=p,
            can_edit=allowed(page.actor, "patient.update"),
            c=None,
            contraindications=[],
            can_assess=False,
            assessments=[],
            plans_by_assessment={},
            plan=None,
            schedule=ov.schedule,
            course_items=[],
            check_ins=[],
            adverse_events=[],
        )
    history = ov.assessments
    plan = ov.current
    plans_by_assessment: dict[int, list[Any]] = {}
    for summ in ov.plans:
        plans_by_assessment.setdefault(summ.assessment_id, []).append(summ)
    contraindications = [{"name": c.name, "why": c.why} for c in ov.contraindications]
    points = [(a.date, a.goodman_baron_quantitative, a.ecca) for a in history]
    gb = chart.series(
        "Goodman & Baron quantitative",
        "#0a4f8a",
        [(d, g) for d, g, _ in points],
        ctx.kb.scales.goodman_baron_quantitative.maximum,
    )
    ec = chart.series("ECCA", "#8a3a00", [(d, e) for d, _, e in points], ctx.kb.scales.ecca.maximum)
    return page.render(
        "clinician/patient.html",
        title=p.name,
        patient=p,
        can_edit=allowed(page.actor, "patient.update"),
        c=clinical,
        contraindications=contraindications,
        can_assess=allowed(page.actor, "assessment.create"),
        assessments=history,
        plans_by_assessment=plans_by_assessment,
        gb_series=gb,
        ecca_series=ec,
        plan=plan,
        schedule=None,
        course_items=shaping.course_items(plan, ctx.kb) if plan else [],
        change=ov.change,
        check_ins=ov.check_ins,
        adverse_events=ov.adverse_events,
        can_acknowledge=allowed(page.actor, "checkin.acknowledge"),
        can_record_event=allowed(page.actor, "adverse_event.write"),
        treatment_name=shaping.treatment_namer(ctx.kb),
    )


# ---------- assessment ----------


def _assessment_page(page: Page, patient: Any, form: Any, scores: Any, status: int = 200) -> Response:
    return page.render(
        "clinician/assessment.html",
        title=f"New assessment for {patient.name}",
        patient=patient,
        form=form,
        scars=scar_inputs(page.ctx.kb),
        scores=scores,
        score_errors={},
        action=f"/patients/{patient.id}/assessments/new",
        status_code=status,
    )


@router.get("/patients/{patient_id}/assessments/new", response_class=HTMLResponse)
def assessment_new(patient_id: Id, page: Page = Depends(CLINICIAN)) -> Response:
    p = patients.get(page.ctx, patient_id)
    form = parse_assessment_form({}, page.ctx.kb)
    form.errors.clear()
    form.values = {"date": page.ctx.today.isoformat(), "phototype": (p.clinical.phototype or "") if p.clinical else ""}
    return _assessment_page(page, p, form, None)


@router.post("/patients/{patient_id}/assessments/new", response_class=HTMLResponse)
def assessment_create(patient_id: Id, request: Request, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    p = patients.get(page.ctx, patient_id)
    data = {k: str(v) for k, v in posted.items() if k != "csrf_token" and isinstance(v, str)}
    form = parse_assessment_form(data, page.ctx.kb)
    start = _preferred_start(page, form)
    if form.ok and form.case is not None:
        body = AssessmentIn(
            assessment=form.case["assessment"],
            patient={"phototype": form.case["patient"]["phototype"]},
            preferences={"start": start.isoformat()} if start else None,
        )
        try:
            created = page.step(plans.assess, patient_id, body)
        except Invalid as exc:
            field = exc.field or ""
            name = "date" if field.startswith("assessment.date") else "phototype" if "phototype" in field else "form"
            form.errors[name] = exc.message if name == "form" else f"{exc.message.capitalize()}."
            form.case = None
        else:
            if created.plan is not None:
                return _see(f"/plans/{created.plan.id}", "assessed")
            return _see(f"/patients/{patient_id}", "assessed_no_plan")
    scores = None
    return _assessment_page(page, p, form, scores, status=422)


@router.post("/assess/score", response_class=HTMLResponse)
def live_score(request: Request, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    """The score panel for the form as it stands, for the live update while typing."""
    data = {k: str(v) for k, v in posted.items() if k != "csrf_token" and isinstance(v, str)}
    # Phototype and date do not change the scores; fill them so a half-filled visit still scores.
    data.setdefault("phototype", "I")
    if not data.get("phototype"):
        data["phototype"] = "I"
    if not data.get("date"):
        data["date"] = page.ctx.today.isoformat()
    form = parse_assessment_form(data, page.ctx.kb)
    scores = None
    if form.ok and form.case is not None:
        scores = assessments.live_scores(page.ctx, form.case)
    return render.fragment("partials/scores.html", scores=scores, score_errors=form.errors)


# ---------- plan review ----------


def _plan_page(
    page: Page, plan_id: int, errors: list[str] | None = None, status: int = 200, edit_open: bool = False
) -> Response:
    kb = page.ctx.kb
    view = views.plan_view(page.ctx, plan_id)
    plan, patient = view.plan, view.patient
    start = plan.preferences.get("start") or ""
    if not start:
        sess = plan.plan.get("course", {}).get("sessions", [])
        start = sess[0]["date"] if sess else ""
    return page.render(
        "clinician/plan.html",
        title=f"Plan {plan.id}",
        plan=plan,
        p=plan.plan,
        patient=patient,
        errors=errors or [],
        can_edit=allowed(page.actor, "plan.edit"),
        course_items=shaping.course_items(plan, kb),
        cite=shaping.citer(kb),
        start_value=start,
        edit_open=edit_open,
        status_code=status,
    )


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(plan_id: Id, page: Page = Depends(CLINICIAN)) -> Response:
    return _plan_page(page, plan_id)


def _version(form: FormState) -> int:
    try:
        return max(int(form.value("version", "1")), 1)
    except ValueError:
        return 1


def _approve_page(
    page: Page,
    plan_id: int,
    version: int,
    errors: list[str] | None = None,
    status: int = 200,
    start: date | None = None,
) -> Response:
    """The approval's preview: what happens to each booked session, then one confirm button
    (carrying the start chosen at approval, if any)."""
    view = views.plan_view(page.ctx, plan_id)
    change = plans.approval_preview(page.ctx, plan_id, version, start)
    return page.render(
        "clinician/approve.html",
        title=f"Approve plan {plan_id}",
        plan=view.plan,
        patient=view.patient,
        change=change,
        version=version,
        start=start.isoformat() if start else "",
        treatment_name=shaping.treatment_namer(page.ctx.kb),
        errors=errors or [],
        status_code=status,
    )


@router.get("/plans/{plan_id}/approve", response_class=HTMLResponse)
def plan_approve_preview(plan_id: Id, version: int = 0, page: Page = Depends(CLINICIAN)) -> Response:
    plan = plans.get(page.ctx, plan_id)
    return _approve_page(page, plan_id, version if version >= 1 else plan.version)


@router.post("/plans/{plan_id}/approve", response_class=HTMLResponse)
def plan_approve(plan_id: Id, request: Request, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    """Approve. When sessions of the running course are booked, the first post shows what
    happens to each (kept, moved, cancelled) and the confirmation carries that preview's token:
    approving then does exactly what was shown, or answers 409 if the bookings changed since."""
    form = read_form(posted)
    start = _preferred_start(page, form)
    if form.errors:
        return _plan_page(page, plan_id, errors=[form.errors["start"]], status=422)
    version = _version(form)
    token = form.value("expected_change").strip() or None
    if token is None:
        change = plans.approval_preview(page.ctx, plan_id, version, start)
        if change.running_plan_id is not None:
            return _approve_page(page, plan_id, version, start=start)
        token = change.token
    try:
        page.step(plans.approve, plan_id, version, token, start)
    except Conflict as exc:
        if exc.field != "expected_change":
            raise
        return _approve_page(page, plan_id, version, [exc.message], status=409, start=start)
    return _see(f"/plans/{plan_id}", "approved")


def _preferred_start(page: Page, form: FormState) -> date | None:
    """The optional preferred start of the assessment form and the approval step (issue 14 §1):
    empty means the default, the first open day after every pre-care step."""
    raw = form.value("start").strip()
    if not raw:
        return None
    try:
        start = date.fromisoformat(raw)
    except ValueError:
        form.errors["start"] = "Enter the preferred start as YYYY-MM-DD, or leave it empty."
        return None
    if start < page.ctx.today:
        form.errors["start"] = "The preferred start cannot be in the past."
        return None
    return start


@router.post("/plans/{plan_id}/withdraw", response_class=HTMLResponse)
def plan_withdraw(plan_id: Id, request: Request, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    form = read_form(posted)
    reason = form.value("reason").strip()
    if len(reason) < 3:
        return _plan_page(page, plan_id, ["Give a reason to withdraw the proposal (3 characters or more)."], status=422)
    try:
        page.step(plans.withdraw, plan_id, WithdrawIn(version=_version(form), reason=reason))
    except Invalid as exc:
        return _plan_page(page, plan_id, [exc.message], status=422)
    return _see(f"/plans/{plan_id}", "withdrawn")


@router.post("/plans/{plan_id}/edit", response_class=HTMLResponse)
def plan_edit(plan_id: Id, request: Request, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    form = read_form(posted, list_fields=("treatments",))
    reason = form.value("reason").strip()
    errors: list[str] = []
    start: date | None = None
    if len(reason) < 3:
        errors.append("Give a reason for the change (3 characters or more).")
    if form.value("start"):
        try:
            start = date.fromisoformat(form.value("start"))
        except ValueError:
            errors.append("The start date must be a date (YYYY-MM-DD).")
    treatments = form.lists.get("treatments", [])
    if not treatments:
        errors.append("Keep at least one treatment in the course.")
    if not errors:
        try:
            body = PlanEditIn(version=_version(form), reason=reason, treatments=treatments, start=start)
            edited = page.step(plans.edit, plan_id, body)
        except Invalid as exc:
            errors.append(exc.message)
        else:
            return _see(f"/plans/{edited.id}", "edited" if edited.id == plan_id else "edited_proposal")
    return _plan_page(page, plan_id, errors, status=422, edit_open=True)


@router.post("/plans/{plan_id}/override", response_class=HTMLResponse)
def plan_override(plan_id: Id, request: Request, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    form = read_form(posted)
    reason = form.value("reason").strip()
    treatment = form.value("treatment").strip()
    errors: list[str] = []
    if len(reason) < 3:
        errors.append("An override needs a reason (3 characters or more); it is kept in the audit trail.")
    if not errors:
        try:
            current = plans.get(page.ctx, plan_id)
            scheduled = [s["treatment"] for s in shaping.scheduled_options(current.plan)]
            body = PlanEditIn(
                version=_version(form),
                reason=reason,
                overrides=[OverrideIn(treatment=treatment, reason=reason)],
                treatments=sorted({*scheduled, treatment}),
            )
            edited = page.step(plans.edit, plan_id, body)
        except Invalid as exc:
            errors.append(exc.message)
        except ValidationError:
            errors.append("The override could not be read; reload the page and try again.")
        else:
            return _see(f"/plans/{edited.id}", "overridden")
    return _plan_page(page, plan_id, errors, status=422)


# ---------- running the course ----------


def _course_page(page: Page, plan_id: int, errors: list[str] | None = None, status: int = 200) -> Response:
    view = views.course_view(page.ctx, plan_id)
    plan = view.plan
    kb = page.ctx.kb
    notes = {
        s.id: procedures.describe(kb, s.treatment, s.procedure) for s in [*plan.sessions, *view.earlier] if s.procedure
    }
    return page.render(
        "clinician/course.html",
        title=f"Course, plan {plan.id}",
        plan=plan,
        patient=view.patient,
        sessions=shaping.live_sessions(plan.sessions),
        earlier=view.earlier,
        notes=notes,
        treatment_name=shaping.treatment_namer(kb),
        can_record=allowed(page.actor, "session.record"),
        can_note=allowed(page.actor, "session.procedure"),
        errors=errors or [],
        status_code=status,
    )


@router.get("/plans/{plan_id}/course", response_class=HTMLResponse)
def course_page(plan_id: Id, page: Page = Depends(CLINICIAN)) -> Response:
    return _course_page(page, plan_id)


def _session_of(plan: PlanOut, session_id: int) -> Any:
    for s in plan.sessions:
        if s.id == session_id:
            return s
    raise NotFound("session_id", "no such session")


def _session_version(form: FormState) -> int | None:
    """The session version the page showed (a hidden field), so a stale page gets a 409."""
    raw = form.value("session_version").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid("session_version", "the form is damaged; reload the page", value=raw)
    return int(raw)


def _record_session(page: Page, plan_id: int, session_id: int, posted: Any, undo: bool) -> Response:
    """Done, or its same-day undo, from the course page (with the session version it showed)."""
    _session_of(views.plan_view(page.ctx, plan_id).plan, session_id)
    version = _session_version(read_form(posted))
    try:
        if undo:
            page.step(plans.undo_done, session_id, SessionUndoIn(session_version=version))
        else:
            page.step(plans.record_done, session_id, SessionDoneIn(session_version=version))
    except Conflict as exc:
        return _course_page(page, plan_id, [exc.message], status=409)
    return _see(f"/plans/{plan_id}/course", None if undo else "done")


@router.post("/plans/{plan_id}/sessions/{session_id}/done", response_class=HTMLResponse)
def session_done(plan_id: Id, session_id: Id, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    return _record_session(page, plan_id, session_id, posted, undo=False)


@router.post("/plans/{plan_id}/sessions/{session_id}/undo", response_class=HTMLResponse)
def session_undo(plan_id: Id, session_id: Id, posted: Posted, page: Page = Depends(CLINICIAN)) -> Response:
    """Undo "done" recorded today (issue 14 §1: an undo within the same day, audited)."""
    return _record_session(page, plan_id, session_id, posted, undo=True)


def _missed_page(
    page: Page,
    view: views.PlanView,
    session: Any,
    form: FormState,
    preview: Any = None,
    fu: Any = None,
    status: int = 200,
) -> Response:
    return page.render(
        "clinician/missed.html",
        title="Missed session",
        plan=view.plan,
        patient=view.patient,
        session=session,
        form=form,
        preview=preview,
        preview_follow_up=fu,
        treatment_name=shaping.treatment_namer(page.ctx.kb),
        status_code=status,
    )


@router.get("/plans/{plan_id}/sessions/{session_id}/missed", response_class=HTMLResponse)
def session_missed_form(plan_id: Id, session_id: Id, page: Page = Depends(CLINICIAN)) -> Response:
    view = views.plan_view(page.ctx, plan_id)
    s = _session_of(view.plan, session_id)
    default = max(page.ctx.today, s.date) + timedelta(days=1)
    return _missed_page(page, view, s, empty_form(new_date=default.isoformat()))


@router.post("/plans/{plan_id}/sessions/{session_id}/missed", response_class=HTMLResponse)
def session_missed(
    plan_id: Id, session_id: Id, request: Request, posted: Posted, page: Page = Depends(CLINICIAN)
) -> Response:
    form = read_form(posted)
    view = views.plan_view(page.ctx, plan_id)
    plan = view.plan
    s = _session_of(plan, session_id)
    new_date: date | None = None
    try:
        new_date = date.fromisoformat(form.value("new_date").strip())
    except ValueError:
        form.errors["new_date"] = "Enter the new date as YYYY-MM-DD."
    if new_date is not None and new_date < s.date:
        form.errors["new_date"] = "The new date must be on or after the missed date."
    if form.errors:
        return _missed_page(page, view, s, form, status=422)
    saving = form.value("action") == "save" and form.value("confirmed_date") == form.value("new_date")
    body = SessionMissedIn(
        version=plan.version,
        session_version=_session_version(form),
        new_date=new_date,
        note=form.value("note") or None,
        dry_run=not saving,
    )
    try:
        result = page.step(plans.record_missed, session_id, body)
    except (Invalid, Conflict) as exc:
        form.errors["new_date"] = exc.message
        return _missed_page(page, view, s, form, status=422)
    if saving:
        return _see(f"/plans/{plan_id}/course", "missed")
    before = {(x.treatment, x.number): x.date for x in shaping.live_sessions(plan.sessions)}
    rows = []
    for x in shaping.live_sessions(result.sessions):
        if x.status != "planned":
            continue
        old = before.get((x.treatment, x.number), x.date)
        rows.append({"treatment": x.treatment, "number": x.number, "old": old, "new": x.date, "moved": old != x.date})
    fu = result.plan.get("course", {}).get("follow_up")
    return _missed_page(page, view, s, form, preview=rows, fu=fu)


# ---------- procedure notes ----------


def _course_session(page: Page, plan_id: int, session_id: int) -> tuple[views.CourseView, Any]:
    """The course view and one of its sessions (this plan's or an earlier one's); 404 if neither."""
    view = views.course_view(page.ctx, plan_id)
    s = next((x for x in [*view.plan.sessions, *view.earlier] if x.id == session_id), None)
    if s is None:
        raise NotFound("session_id", "no such session")
    return view, s


def _procedure_page(page: Page, plan_id: int, session_id: int, form: FormState, status: int = 200) -> Response:
    view, s = _course_session(page, plan_id, session_id)
    kb = page.ctx.kb
    return page.render(
        "clinician/procedure.html",
        title="Procedure note",
        plan=view.plan,
        patient=view.patient,
        session=s,
        fields=procedures.fields_for(kb, s.treatment),
        regions=list(kb.regions.values()),
        form=form,
        treatment_name=shaping.treatment_namer(kb),
        status_code=status,
    )


def _as_text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


@router.get("/plans/{plan_id}/sessions/{session_id}/procedure", response_class=HTMLResponse)
def procedure_form(plan_id: Id, session_id: Id, page: Page = Depends(CLINICIAN)) -> Response:
    stored = _course_session(page, plan_id, session_id)[1].procedure or {}
    form = empty_form(**{k: _as_text(v) for k, v in stored.items() if not isinstance(v, list)})
    form.lists = {k: v for k, v in stored.items() if isinstance(v, list)}
    return _procedure_page(page, plan_id, session_id, form)


@router.post("/plans/{plan_id}/sessions/{session_id}/procedure", response_class=HTMLResponse)
def procedure_save(
    plan_id: Id, session_id: Id, request: Request, posted: Posted, page: Page = Depends(CLINICIAN)
) -> Response:
    s = _course_session(page, plan_id, session_id)[1]
    fields = procedures.fields_for(page.ctx.kb, s.treatment)
    lists = tuple(f.id for f in fields if f.kind == "regions")
    form = read_form(posted, list_fields=lists)
    values: dict[str, Any] = {f.id: form.value(f.id) for f in fields if f.kind != "regions"}
    values.update({k: form.lists.get(k, []) for k in lists})
    try:
        version = _session_version(form)
        body = ProcedureIn(session_version=version or s.version, values=values)
        page.step(procedures.record, session_id, body)
    except Invalid as exc:
        key = (exc.field or "").removeprefix("values.").split("[")[0]
        form.errors[key if key in {f.id for f in fields} else "form"] = exc.message.capitalize() + "."
        return _procedure_page(page, plan_id, session_id, form, status=422)
    except Conflict as exc:
        form.errors["form"] = exc.message.capitalize() + "."
        return _procedure_page(page, plan_id, session_id, form, status=409)
    return _see(f"/plans/{plan_id}/course", "procedure")


# ---------- handout ----------


@router.get("/plans/{plan_id}/handout", response_class=HTMLResponse)
def handout(plan_id: Id, page: Page = Depends(CLINICIAN)) -> Response:
    return handout_page(page, views.plan_view(page.ctx, plan_id))


def handout_page(page: Page, view: views.PlanView) -> Response:
    """The printable handout of a plan (clinicians from the plan, front desk from the patient)."""
    kb = page.ctx.kb
    plan, patient = view.plan, view.patient
    return page.render(
        "clinician/handout.html",
        title=f"Handout for {patient.name}",
        plan=plan,
        patient=patient,
        scheduled=shaping.scheduled_options(plan.plan),
        sessions=shaping.live_sessions(plan.sessions),
        follow_up=plan.plan.get("course", {}).get("follow_up"),
        days=shaping.group_by_start(plan.plan.get("timeline", [])),
        education=plan.plan.get("education", []),
        notice=plan.plan.get("notice", ""),
        plain_name=shaping.plain_namer(kb),
        summary=shaping.summarizer(kb),
    )
