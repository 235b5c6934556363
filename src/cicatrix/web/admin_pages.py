"""Admin pages: users and roles, clinic settings, the audit trail, and the knowledge base in
force (read-only)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from cicatrix.params import Id
from cicatrix.service import audit_trail, patients, second_factor, users
from cicatrix.service.contact import phone_display
from cicatrix.service.errors import Conflict, Invalid
from cicatrix.service.policy import ROLES, roles_with
from cicatrix.service.schemas import AuditFilter, ClinicUpdate, UserIn, UserUpdate
from cicatrix.web.core import FormState, Page, Posted, WebRoute, empty_form, read_form, roles
from cicatrix.web.render import ROLE_LABELS

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ADMIN = roles(*roles_with("user.manage"))
LOGO_MAX_BYTES = 200_000
LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}


def _users_page(page: Page, form: FormState, errors: list[str] | None = None, status: int = 200) -> Response:
    q = (form.value("patient_q") or page.request.query_params.get("patient_q", "")).strip()[:200]
    return page.render(
        "admin/users.html",
        title="Users and roles",
        users=users.list_users(page.ctx),
        roles=ROLES,
        roles_options=[(r, ROLE_LABELS[r].capitalize()) for r in ROLES],
        form=form,
        errors=errors or [],
        patient_q=q,
        candidates=patients.link_candidates(page.ctx, q) if q else None,
        status_code=status,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(page: Page = Depends(ADMIN)) -> Response:
    q = page.request.query_params.get("patient_q", "").strip()
    return _users_page(page, empty_form(role="patient" if q else "clinician"))


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def user_password_reset(user_id: Id, posted: Posted, page: Page = Depends(ADMIN)) -> Response:
    """Set a new password for a user (who forgot theirs): every session of theirs ends."""
    try:
        body = UserUpdate.model_validate({"password": str(posted.get("password", ""))})
        page.step(users.update_user, user_id, body)
    except ValidationError:
        return _users_page(page, empty_form(role="clinician"), ["The new password must be 12 characters or more."], 422)
    except Invalid as exc:
        return _users_page(page, empty_form(role="clinician"), [exc.message.capitalize() + "."], 422)
    return RedirectResponse("/admin/users?done=password_reset", status_code=303)


@router.post("/admin/users/{user_id}/second-factor/reset", response_class=HTMLResponse)
def user_factor_reset(user_id: Id, page: Page = Depends(ADMIN)) -> Response:
    """Remove a user's second factor (a lost phone): their sessions end; they enrol again."""
    try:
        page.step(second_factor.reset, user_id)
    except Invalid as exc:
        return _users_page(page, empty_form(role="clinician"), [exc.message.capitalize() + "."], 422)
    return RedirectResponse("/admin/users?done=second_factor_reset", status_code=303)


@router.post("/admin/users", response_class=HTMLResponse)
def user_create(request: Request, posted: Posted, page: Page = Depends(ADMIN)) -> Response:
    form = read_form(posted)
    v = form.values
    pid = v.get("patient_id", "").strip()
    if pid and not pid.isdigit():
        form.errors["patient_id"] = "The patient record number is a whole number."
    data = {
        "username": v.get("username", ""),
        "display_name": v.get("display_name", ""),
        "role": v.get("role", ""),
        "password": v.get("password", ""),
        "patient_id": int(pid) if pid.isdigit() else None,
    }
    if not form.errors:
        try:
            page.step(users.create_user, UserIn.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                name = str(err["loc"][0]) if err["loc"] else "username"
                form.errors.setdefault(name, f"{name.replace('_', ' ').capitalize()}: {err['msg']}.")
        except (Invalid, Conflict) as exc:
            form.errors[exc.field or "username"] = exc.message.capitalize() + "."
    if form.errors:
        form.values.pop("password", None)
        return _users_page(page, form, status=422)
    return RedirectResponse("/admin/users?done=user_added", status_code=303)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
def user_update(user_id: Id, request: Request, posted: Posted, page: Page = Depends(ADMIN)) -> Response:
    form = read_form(posted)
    role = form.value("role") or None
    try:
        body = UserUpdate.model_validate({"role": role, "active": bool(form.value("active"))})
        page.step(users.update_user, user_id, body)
    except (Invalid, ValidationError) as exc:
        msg = exc.message if isinstance(exc, Invalid) else "Unknown role."
        return _users_page(page, empty_form(role="clinician"), [msg], status=422)
    return RedirectResponse("/admin/users?done=user_updated", status_code=303)


# how an error names its field to a person ("The phone number is not a valid phone number...")
_LABELS = {"phone": "The phone number ", "address": "The address "}
_TOO_LONG = {
    "name": "The clinic name must be 1 to 200 characters.",
    "address": "The address must be 300 characters or fewer.",
    "phone": "The phone number is too long.",
}


def _settings_page(page: Page, form: FormState, status: int = 200) -> Response:
    return page.render(
        "admin/settings.html", title="Clinic settings", clinic=users.get_clinic(page.ctx), form=form, status_code=status
    )


@router.get("/admin/settings", response_class=HTMLResponse)
def settings_page(page: Page = Depends(ADMIN)) -> Response:
    c = users.get_clinic(page.ctx)
    factor = "1" if c.second_factor_for_clinicians else ""
    form = empty_form(
        name=c.name,
        timezone=c.timezone,
        address=c.address or "",
        phone=phone_display(c.phone) or "",
        second_factor_for_clinicians=factor,
    )
    return _settings_page(page, form)


@router.post("/admin/settings", response_class=HTMLResponse)
def settings_save(request: Request, posted: Posted, page: Page = Depends(ADMIN)) -> Response:
    form = read_form(posted)
    logo: str | None = None
    upload = posted.get("logo")
    if isinstance(upload, UploadFile) and upload.filename:
        content = upload.file.read(LOGO_MAX_BYTES + 1)
        if upload.content_type not in LOGO_TYPES:
            form.errors["logo"] = "The logo must be a PNG, JPEG or SVG image."
        elif len(content) > LOGO_MAX_BYTES:
            form.errors["logo"] = "The logo must be 200 kB or smaller."
        else:
            logo = f"data:{upload.content_type};base64,{base64.b64encode(content).decode()}"
    if not form.value("name").strip():
        form.errors["name"] = "Enter the clinic's name."
    if not form.errors:
        try:
            page.step(
                users.update_clinic,
                ClinicUpdate(
                    name=form.value("name"),
                    timezone=form.value("timezone") or None,
                    logo=logo,
                    second_factor_for_clinicians=bool(form.value("second_factor_for_clinicians")),
                    address=form.value("address"),
                    phone=form.value("phone"),
                ),
            )
        except Invalid as exc:
            field = exc.field or "name"
            label = _LABELS.get(field)
            form.errors[field] = f"{label}{exc.message}." if label else exc.message.capitalize() + "."
        except ValidationError as exc:
            field = str(exc.errors(include_url=False)[0]["loc"][0])
            form.errors[field] = _TOO_LONG.get(field, _TOO_LONG["name"])
    if form.errors:
        return _settings_page(page, form, status=422)
    return RedirectResponse("/admin/settings?done=settings_saved", status_code=303)


@router.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(page: Page = Depends(roles(*roles_with("knowledge.read")))) -> Response:
    kb = page.ctx.kb
    return page.render("knowledge.html", title="Knowledge base", overridden=lambda key: key in kb.overridden)


# ---------- the audit trail ----------

AUDIT_PAGE_SIZE = 50
AUDITOR = roles(*roles_with("audit.read"))


def _audit_filter(query: Mapping[str, str]) -> tuple[AuditFilter, dict[str, str]]:
    """The filter from the page's query string, with an error message per field that did not
    parse (the page then shows the trail unfiltered by that field)."""
    values = {k: query.get(k, "").strip() for k in ("patient_id", "user_id", "action", "since", "until")}
    data: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, value in values.items():
        if not value:
            continue
        try:
            data[name] = value
            AuditFilter.model_validate(data)
        except ValidationError as exc:
            data.pop(name)
            errors[name] = f"{AUDIT_LABELS[name]}: {exc.errors()[0]['msg'].removeprefix('Value error, ').lower()}."
    return AuditFilter.model_validate(data), errors


AUDIT_LABELS = {
    "patient_id": "Patient record number",
    "user_id": "User",
    "action": "Action",
    "since": "From",
    "until": "To",
}


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, page: Page = Depends(AUDITOR)) -> Response:
    f, errors = _audit_filter(request.query_params)
    raw_page = request.query_params.get("page", "1")
    number = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) <= 100_000 else 1
    try:
        trail = page.step(audit_trail.search, f, AUDIT_PAGE_SIZE, (number - 1) * AUDIT_PAGE_SIZE)
    except Invalid as exc:
        errors[exc.field or "until"] = exc.message.capitalize() + "."
        f = AuditFilter()
        trail = audit_trail.search(page.ctx, f, AUDIT_PAGE_SIZE, 0)
        number = 1
    query = {k: str(v) for k, v in f.model_dump(exclude_none=True).items()}
    pages = max(1, -(-trail.total // AUDIT_PAGE_SIZE))
    return page.render(
        "admin/audit.html",
        title="Audit trail",
        trail=trail,
        form=FormState({k: request.query_params.get(k, "") for k in AUDIT_LABELS}, {}, errors),
        users=users.list_users(page.ctx),
        actions=audit_trail.actions(page.ctx),
        number=number,
        pages=pages,
        query=urlencode(query),
        prev_href=f"/admin/audit?{urlencode({**query, 'page': number - 1})}" if number > 1 else None,
        next_href=f"/admin/audit?{urlencode({**query, 'page': number + 1})}" if number < pages else None,
        status_code=422 if errors else 200,
    )


@router.get("/admin/audit.csv")
def audit_csv(request: Request, page: Page = Depends(AUDITOR)) -> Response:
    f, errors = _audit_filter(request.query_params)
    if errors:
        raise Invalid(next(iter(errors)), next(iter(errors.values())))
    body = audit_trail.export_csv(page.ctx, f)
    headers = {
        "Content-Disposition": f'attachment; filename="audit-{page.ctx.today.isoformat()}.csv"',
        "Cache-Control": "no-store",
    }
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
