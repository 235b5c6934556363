"""Every user's own account: change the password, set up the second factor (TOTP) and its
recovery codes. The second-factor page is the one page a session that must enrol may open."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cicatrix.service import second_factor, users
from cicatrix.service.errors import Conflict, Invalid
from cicatrix.service.policy import roles_with
from cicatrix.service.schemas import Enrolment, PasswordChange, RecoveryCodes
from cicatrix.web.core import ENROL_PAGE, FormState, Page, Posted, WebRoute, empty_form, read_form, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ANYONE = roles(*roles_with("account.password"))
STAFF = roles(*roles_with("account.second_factor"), enrolment=True)


def _account_page(page: Page, form: FormState, status: int = 200) -> Response:
    factor = second_factor.status(page.ctx) if page.actor.role in roles_with("account.second_factor") else None
    return page.render("account/account.html", title="Your account", form=form, factor=factor, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account_page(page: Page = Depends(ANYONE)) -> Response:
    return _account_page(page, empty_form())


@router.post("/account/password", response_class=HTMLResponse)
def password_change(posted: Posted, page: Page = Depends(ANYONE)) -> Response:
    form = read_form(posted)
    try:
        body = PasswordChange(current_password=form.value("current_password"), new_password=form.value("new_password"))
        page.step(users.change_password, body)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else "new_password"
            what = "The new password" if name == "new_password" else "The current password"
            form.errors.setdefault(name, f"{what}: {err['msg'].lower()}.")
    except Invalid as exc:
        form.errors[exc.field or "new_password"] = exc.message.capitalize() + "."
    if form.errors:
        return _account_page(page, FormState({}, {}, form.errors), status=422)  # never the passwords back
    return RedirectResponse("/account?done=password_changed", status_code=303)


def _factor_page(
    page: Page,
    *,
    enrolment: Enrolment | None = None,
    codes: RecoveryCodes | None = None,
    error: str = "",
    status: int = 200,
    just_enrolled: bool = False,
) -> Response:
    return page.render(
        "account/second_factor.html",
        title="Second factor",
        factor=second_factor.status(page.ctx),
        enrolment=enrolment,
        codes=codes,
        error=error,
        enrol_only=page.actor.enrol_only,
        just_enrolled=just_enrolled,
        status_code=status,
    )


@router.get(ENROL_PAGE, response_class=HTMLResponse)
def factor_page(page: Page = Depends(STAFF)) -> Response:
    key = page.request.app.state.secret
    return _factor_page(page, enrolment=second_factor.pending_secret(page.ctx, key))


@router.post(ENROL_PAGE + "/start", response_class=HTMLResponse)
def factor_start(page: Page = Depends(STAFF)) -> Response:
    try:
        made = page.step(second_factor.start, page.request.app.state.secret)
    except Conflict as exc:
        return _factor_page(page, error=exc.message.capitalize() + ".", status=409)
    return _factor_page(page, enrolment=made)


@router.post(ENROL_PAGE + "/confirm", response_class=HTMLResponse)
def factor_confirm(posted: Posted, page: Page = Depends(STAFF)) -> Response:
    key = page.request.app.state.secret
    code = str(posted.get("code", ""))
    try:
        codes = page.step(second_factor.confirm, key, code, page.request.app.state.clock())
    except (Invalid, Conflict) as exc:
        status = 422 if isinstance(exc, Invalid) else 409
        enrolment = second_factor.pending_secret(page.ctx, key)
        return _factor_page(page, enrolment=enrolment, error=exc.message.capitalize() + ".", status=status)
    return _factor_page(page, codes=codes, just_enrolled=True)


@router.post(ENROL_PAGE + "/recovery-codes", response_class=HTMLResponse)
def factor_recovery_codes(page: Page = Depends(STAFF)) -> Response:
    try:
        codes = page.step(second_factor.regenerate_recovery_codes)
    except Conflict as exc:
        return _factor_page(page, error=exc.message.capitalize() + ".", status=409)
    return _factor_page(page, codes=codes)
