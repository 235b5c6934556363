"""Accounts, clinic settings and the audit trail (admins), and a health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from cicatrix.api.deps import Call
from cicatrix.params import Id
from cicatrix.service import audit, users
from cicatrix.service.bounds import MAX_ID
from cicatrix.service.schemas import (
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


@router.get("/clinic", response_model=ClinicOut, tags=["admin"], summary="Clinic settings")
async def get_clinic(call: Call) -> ClinicOut:
    return await call(users.get_clinic)


@router.patch("/clinic", response_model=ClinicOut, tags=["admin"], summary="Change settings")
async def update_clinic(body: ClinicUpdate, call: Call) -> ClinicOut:
    return await call(users.update_clinic, body)


@router.get("/audit", response_model=AuditPage, tags=["admin"], summary="Audit trail")
async def audit_trail(
    call: Call,
    patient_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    return await call(audit.page, patient_id, limit, offset)
