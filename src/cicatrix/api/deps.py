"""What an API route depends on: the caller, as a way to run a use case in one unit of work.

A route takes `call: Call` and runs a use case with `await call(use_case, *args)`. The
credentials (bearer token, or cookie session with its CSRF token) are read by
`cicatrix.credentials`, shared with the web pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request

from cicatrix.credentials import Credentials, actor_for, client_ip, credentials
from cicatrix.service import unit_of_work
from cicatrix.service.context import Context
from cicatrix.service.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

P = ParamSpec("P")
T = TypeVar("T")


class Caller:
    """The authenticated caller of an API route, as a way to run use cases.

    `await call(use_case, *args)` runs, in one unit of work (`Database.run`): the token
    look-up, the use case's queries and its audit events, then one commit; anything raised
    rolls all of it back. The credentials are checked on every call: nothing about the caller
    is kept between requests."""

    def __init__(self, request: Request, creds: Credentials, enrolment: bool = False) -> None:
        self._state = request.app.state
        self._creds = creds
        self._ip = client_ip(request)
        self._now = request.app.state.clock()
        self._enrolment = enrolment

    @property
    def now(self) -> datetime:
        """The clock's instant for this request (second-factor codes are checked against it)."""
        return self._now

    async def __call__(self, use_case: Callable[Concatenate[Context, P], T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        state = self._state

        def work(db: Session) -> T:
            actor = actor_for(db, state.secret, self._creds)
            if actor is None:
                raise Unauthenticated("authorization", "log in, or send Authorization: Bearer <token>")
            if actor.enrol_only and not self._enrolment:
                raise Forbidden(
                    "second_factor",
                    "this account needs a second factor: set it up (POST /api/auth/second-factor, then "
                    "/api/auth/second-factor/confirm) or log in with its code",
                )
            return use_case(unit_of_work.context(db, actor, state.kb, self._now, self._ip), *args, **kwargs)

        result: T = await state.db.run(work)
        return result


async def caller(request: Request, creds: Credentials = Depends(credentials)) -> Caller:
    return Caller(request, creds)


async def enrolment_caller(request: Request, creds: Credentials = Depends(credentials)) -> Caller:
    """The caller of a second-factor route: also admitted while it may only enrol."""
    return Caller(request, creds, enrolment=True)


Call = Annotated[Caller, Depends(caller)]
EnrolCall = Annotated[Caller, Depends(enrolment_caller)]
