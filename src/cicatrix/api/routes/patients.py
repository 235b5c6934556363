"""Patients and their assessments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel
from pydantic_core import to_json

from cicatrix.api.deps import Call
from cicatrix.params import Id
from cicatrix.service import assessments, patients, plans
from cicatrix.service.errors import Invalid
from cicatrix.service.schemas import (
    AssessmentCreated,
    AssessmentIn,
    AssessmentOut,
    AssessmentPage,
    PatientIn,
    PatientOut,
    PatientPage,
    PatientUpdate,
)

router = APIRouter(tags=["patients"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """The model serialised once, straight to bytes. Returning the model instead makes FastAPI
    validate it again against `response_model` (kept on the route for the OpenAPI document)
    and then serialise it: for a plan, ~19 KB of engine JSON, that costs more than the queries."""
    return Response(to_json(model), status_code=status_code, media_type="application/json")


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip().strip("W/").strip('"')
    if not v.isdigit():
        raise Invalid("If-Match", "must be the record's version number", value=value)
    return int(v)


@router.get("/patients", response_model=PatientPage, summary="Search and list patients")
async def list_patients(
    call: Call,
    q: Annotated[str | None, Query(max_length=200, description="name fragment or MRN")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    include_archived: bool = False,
) -> PatientPage:
    return await call(patients.search, q, limit, offset, include_archived)


@router.post("/patients", response_model=PatientOut, status_code=201, summary="Create a patient")
async def create_patient(body: PatientIn, call: Call) -> PatientOut:
    return await call(patients.create, body)


@router.get("/patients/{patient_id}", response_model=PatientOut, summary="Read a patient")
async def get_patient(patient_id: Id, call: Call) -> PatientOut:
    return await call(patients.get, patient_id)


@router.patch(
    "/patients/{patient_id}",
    response_model=PatientOut,
    summary="Update a patient (409 if `version` or If-Match is stale)",
)
async def update_patient(
    call: Call,
    patient_id: Id,
    body: PatientUpdate,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> PatientOut:
    return await call(patients.update, patient_id, body, _if_match(if_match))


@router.post("/patients/{patient_id}/archive", response_model=PatientOut, summary="Archive")
async def archive_patient(patient_id: Id, call: Call) -> PatientOut:
    return await call(patients.set_archived, patient_id, True)


@router.post("/patients/{patient_id}/unarchive", response_model=PatientOut, summary="Unarchive")
async def unarchive_patient(patient_id: Id, call: Call) -> PatientOut:
    return await call(patients.set_archived, patient_id, False)


@router.get(
    "/patients/{patient_id}/assessments",
    response_model=AssessmentPage,
    summary="A patient's assessments, newest first",
)
async def list_assessments(
    call: Call, patient_id: Id, limit: Limit = 50, offset: Offset = 0
) -> AssessmentPage:
    return await call(assessments.history, patient_id, limit, offset)


@router.post(
    "/patients/{patient_id}/assessments",
    response_model=AssessmentCreated,
    status_code=201,
    summary="Record an assessment: scores, and by default a proposed plan",
)
async def create_assessment(patient_id: Id, body: AssessmentIn, call: Call) -> Response:
    return json_response(await call(plans.assess, patient_id, body), 201)


@router.get("/assessments/{assessment_id}", response_model=AssessmentOut, summary="An assessment")
async def get_assessment(assessment_id: Id, call: Call) -> AssessmentOut:
    return await call(assessments.get, assessment_id)
