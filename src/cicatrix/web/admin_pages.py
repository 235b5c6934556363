"""Admin pages: users and roles, clinic settings, and the knowledge base in force (read-only)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from cicatrix.params import Id
from cicatrix.service import users
from cicatrix.service.errors import Conflict, Invalid
from cicatrix.service.policy import ROLES, roles_with
from cicatrix.service.schemas import ClinicUpdate, UserIn, UserUpdate
from cicatrix.web.core import FormState, Page, Posted, WebRoute, empty_form, read_form, roles
from cicatrix.web.render import ROLE_LABELS

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ADMIN = roles(*roles_with("user.manage"))
LOGO_MAX_BYTES = 200_000
LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}


def _users_page(page: Page, form: FormState, errors: list[str] | None = None, status: int = 200) -> Response:
    return page.render(
        "admin/users.html",
        title="Users and roles",
        users=users.list_users(page.ctx),
        roles=ROLES,
        roles_options=[(r, ROLE_LABELS[r].capitalize()) for r in ROLES],
        form=form,
        errors=errors or [],
        status_code=status,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(page: Page = Depends(ADMIN)) -> Response:
    return _users_page(page, empty_form(role="clinician"))


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


def _settings_page(page: Page, form: FormState, status: int = 200) -> Response:
    return page.render(
        "admin/settings.html", title="Clinic settings", clinic=users.get_clinic(page.ctx), form=form, status_code=status
    )


@router.get("/admin/settings", response_class=HTMLResponse)
def settings_page(page: Page = Depends(ADMIN)) -> Response:
    c = users.get_clinic(page.ctx)
    return _settings_page(page, empty_form(name=c.name, timezone=c.timezone))


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
                ClinicUpdate(name=form.value("name"), timezone=form.value("timezone") or None, logo=logo),
            )
        except Invalid as exc:
            form.errors[exc.field or "name"] = exc.message.capitalize() + "."
        except ValidationError:
            form.errors["name"] = "The clinic name must be 1 to 200 characters."
    if form.errors:
        return _settings_page(page, form, status=422)
    return RedirectResponse("/admin/settings?done=settings_saved", status_code=303)


@router.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(page: Page = Depends(roles(*roles_with("knowledge.read")))) -> Response:
    kb = page.ctx.kb
    return page.render("knowledge.html", title="Knowledge base", overridden=lambda key: key in kb.overridden)
