"""Jinja2 rendering with the context every page needs (clinic, user, navigation, CSRF token)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from cicatrix.service.policy import PERMISSIONS, ROLES
from cicatrix.web import views

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_URL = "/static"

ROLE_LABELS = {
    "admin": "administrator",
    "clinician": "clinician",
    "front_desk": "front desk",
    "patient": "patient",
}

# Navigation: (href, label, the permission its page needs). A role sees the entries its
# permissions open (`service.policy`), so the menu never links to a page that refuses it.
STAFF_NAV: tuple[tuple[str, str, str], ...] = (
    ("/", "Today", "patient.list"),
    ("/patients", "Patients", "patient.list"),
    ("/calendar", "Appointments", "appointment.read"),
    ("/messages", "Messages", "message.clinic"),
    ("/admin/users", "Users", "user.manage"),
    ("/admin/settings", "Clinic settings", "clinic.manage"),
    ("/admin/audit", "Audit trail", "audit.read"),
    ("/admin/calendar", "Opening hours and rooms", "clinic.manage"),
    ("/knowledge", "Knowledge base", "knowledge.read"),
    ("/account", "Account", "account.password"),
)
# Patients get their own short list, in plain words.
PATIENT_NAV: tuple[tuple[str, str], ...] = (
    ("/me", "Today"),
    ("/me/timeline", "My calendar"),
    ("/me/plan", "My plan"),
    ("/me/appointments", "My appointments"),
    ("/me/learn", "Learn"),
    ("/account", "My account"),
    ("/me/messages", "My messages"),
)


def nav_for(role: str | None) -> tuple[tuple[str, str], ...]:
    if role == "patient":
        return PATIENT_NAV
    return tuple((href, label) for href, label, perm in STAFF_NAV if role in PERMISSIONS[perm])


NAV: dict[str, tuple[tuple[str, str], ...]] = {role: nav_for(role) for role in ROLES}


def _static(path: str) -> str:
    return f"{STATIC_URL}/{path}"


def _nice_date(d: date | str | None) -> str:
    if d is None or d == "":
        return ""
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return f"{d.strftime('%a')} {d.day} {d.strftime('%b %Y')}"


def _long_date(d: date | str | None) -> str:
    if d is None or d == "":
        return ""
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return f"{d.strftime('%A')} {d.day} {d.strftime('%B %Y')}"


env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["static"] = _static
env.filters["nice_date"] = _nice_date
env.filters["long_date"] = _long_date
# the audit trail's action and entity words (`session_missed` → "session missed"): an admin's log,
# not a patient's or clinician's page, which show knowledge-data labels (`label` below)
env.filters["humanize"] = lambda s: str(s).replace("_", " ")


@pass_context
def _label(context: Context, code: object, group: str | None = None) -> str:
    """`{{ s.status|label("session_status") }}`, `{{ r.targets|map("label")|join(", ") }}`:
    codes are shown by their knowledge-data labels (`web.views.labeler`), never as codes."""
    kb = context.get("kb")
    if kb is None:
        return "" if code is None else str(code)
    return views.labeler(kb)(code, group)


env.filters["label"] = _label
env.globals["role_names"] = ROLE_LABELS


def page(
    request: Request,
    template: str,
    *,
    title: str,
    user: Any = None,
    clinic_name: str = "cicatrix",
    clinic_logo: str | None = None,
    csrf_token: str = "",
    status_code: int = 200,
    body_class: str = "",
    flash: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a full page; the nav marks the current section for screen readers."""
    role = getattr(user, "role", None)
    path = request.url.path
    nav = []
    for href, label in NAV.get(role or "", ()):
        current = (
            path == href or (href not in ("/", "/me") and path.startswith(href + "/")) or (href != "/" and path == href)
        )
        nav.append({"href": href, "label": label, "current": current})
    html = env.get_template(template).render(
        request=request,
        title=title,
        user=user,
        role_label=ROLE_LABELS.get(role or "", ""),
        nav=nav,
        clinic_name=clinic_name,
        clinic_logo=clinic_logo,
        csrf_token=csrf_token,
        body_class=body_class or ("patient" if role == "patient" else "staff"),
        flash=flash,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def fragment(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a partial for an htmx swap."""
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
