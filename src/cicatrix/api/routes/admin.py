"""Accounts, clinic settings and the audit trail (admins), and a health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from cicatrix.api.deps import Call
from cicatrix.params import Id
from cicatrix.service import audit_trail, second_factor, users
from cicatrix.service.bounds import MAX_ID, Day
from cicatrix.service.schemas import (
    AuditFilter,
    AuditPage,
    ClinicOut,
    ClinicUpdate,
    UserIn,
    UserOut,
    UserUpdate,
)

router = APIRouter()


class Health(BaseModel):
    status: str
    knowledge_version: str


@router.get("/health", response_model=Health, tags=["admin"], summary="Liveness (no data)")
def health(request: Request) -> Health:
    request.app.state.db.ping()
    return Health(status="ok", knowledge_version=request.app.state.kb.label)


@router.get("/users", response_model=list[UserOut], tags=["admin"], summary="List accounts")
async def list_users(call: Call) -> list[UserOut]:
    return await call(users.list_users)


@router.post("/users", response_model=UserOut, status_code=201, tags=["admin"], summary="Create an account")
async def create_user(body: UserIn, call: Call) -> UserOut:
    return await call(users.create_user, body)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["admin"], summary="Change")
async def update_user(user_id: Id, body: UserUpdate, call: Call) -> UserOut:
    return await call(users.update_user, user_id, body)


@router.delete("/users/{user_id}/second-factor", status_code=204, tags=["admin"], summary="Reset a second factor")
async def reset_second_factor(user_id: Id, call: Call) -> Response:
    """Remove another account's second factor (a lost phone): its sessions and tokens end, and
    its next login by password enrols again where one is required. Audited."""
    await call(second_factor.reset, user_id)
    return Response(status_code=204)


@router.get("/clinic", response_model=ClinicOut, tags=["admin"], summary="Clinic settings")
async def get_clinic(call: Call) -> ClinicOut:
    return await call(users.get_clinic)


@router.patch("/clinic", response_model=ClinicOut, tags=["admin"], summary="Change settings")
async def update_clinic(body: ClinicUpdate, call: Call) -> ClinicOut:
    return await call(users.update_clinic, body)


@router.get("/audit", response_model=AuditPage, tags=["admin"], summary="Audit trail")
async def read_audit_trail(
    call: Call,
    patient_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[Day | None, Query(description="first day, in the clinic's time zone")] = None,
    until: Annotated[Day | None, Query(description="last day, in the clinic's time zone")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    """The clinic's audit trail, newest first, filtered; reading it is itself audited."""
    f = AuditFilter(patient_id=patient_id, user_id=user_id, action=action, since=since, until=until)
    return await call(audit_trail.search, f, limit, offset)
