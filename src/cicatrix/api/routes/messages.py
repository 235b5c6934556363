"""Messages to patients: what was sent and how it went, and the patient's choices over them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cicatrix.api.deps import Call
from cicatrix.params import Id
from cicatrix.service import messages
from cicatrix.service.schemas import MessageChoicesIn, MessageChoicesOut, MessagePage

router = APIRouter(tags=["messages"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Status = Literal["pending", "sending", "sent", "failed", "withdrawn", "skipped"]


@router.get("/patients/{patient_id}/messages", response_model=MessagePage,
            summary="The patient's messages: what, when, by which channel, and how delivery went")  # fmt: skip
async def patient_messages(patient_id: Id, call: Call, limit: Limit = 200, offset: Offset = 0) -> MessagePage:
    return await call(messages.for_patient, patient_id, limit, offset)


@router.get("/patients/{patient_id}/message-choices", response_model=MessageChoicesOut,
            summary="The patient's choices: channels, quiet hours, kinds opted out of")  # fmt: skip
async def get_choices(patient_id: Id, call: Call) -> MessageChoicesOut:
    return await call(messages.get_choices, patient_id)


@router.put("/patients/{patient_id}/message-choices", response_model=MessageChoicesOut,
            summary="Change the patient's choices; waiting messages follow at once")  # fmt: skip
async def put_choices(patient_id: Id, body: MessageChoicesIn, call: Call) -> MessageChoicesOut:
    return await call(messages.set_choices, patient_id, body)


@router.get("/messages", response_model=MessagePage, summary="The clinic's outbox (filter by status, e.g. failed)")
async def clinic_messages(call: Call, status: Status | None = None, limit: Limit = 200,
                          offset: Offset = 0) -> MessagePage:  # fmt: skip
    return await call(messages.for_clinic, status, limit, offset)
