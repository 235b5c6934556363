"""What a request may carry before any route sees it: a bounded body, and text a database can store.

One ASGI middleware for the API and the web pages:

- **Size.** A body larger than `Settings.max_body_bytes` (1 MB) is refused with 413 before it
  is read to the end; the FHIR import takes up to `Settings.max_import_body_bytes` (10 MB). A
  `Content-Length` above the limit is refused without reading anything.
- **Text.** A JSON body that is not UTF-8, a NUL character (PostgreSQL cannot store it in
  text) or a lone UTF-16 surrogate (UTF-8 cannot encode it) anywhere in the path, the query,
  a JSON body or a form is a 422 naming the field, e.g. `assessment.scars[0].type` or `username`. Without this, such a
  string reaches the driver and the request ends as a 500.

JSON bodies are scanned for the two escapes (`\\u0000`, `\\ud800`-`\\udfff`) as bytes first;
only a body that has one is parsed here to find the field, so ordinary requests cost one
regular-expression scan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cicatrix.storage.settings import Settings

IMPORT_PATHS = ("/api/patients/import/fhir",)
_SUSPECT_JSON = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class _TooLarge(Exception):
    pass


def _bad_text(value: str) -> str | None:
    """Why a string cannot be stored, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (a lone surrogate was sent)"
    return None


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field path, problem) for every bad string in decoded JSON, keys included."""
    if isinstance(value, str):
        problem = _bad_text(value)
        if problem:
            yield path or "body", problem
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            shown = key.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\u0000")
            child = f"{path}.{shown}" if path else shown
            problem = _bad_text(key)
            if problem:
                yield child, "field names " + problem
            yield from _walk(item, child)


def _first_bad_query(raw: bytes) -> tuple[str, str] | None:
    # Decoded as Starlette decodes it (bad UTF-8 becomes U+FFFD, which is storable).
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        for text in (key, value):
            problem = _bad_text(text)
            if problem:
                return _printable(key), problem
    return None


def _printable(name: str) -> str:
    return name.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\u0000")


class IntakeMiddleware:
    """Bounds request bodies and refuses text no database can store (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limit = settings.max_body_bytes
        self.import_limit = settings.max_import_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if _bad_text(path):
            await self._refuse(scope, send, 422, "path", "the address must not contain NUL characters")
            return
        bad = _first_bad_query(scope.get("query_string", b""))
        if bad:
            await self._refuse(scope, send, 422, bad[0], bad[1])
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.import_limit if path in IMPORT_PATHS else self.limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, 413, "body", f"the request body is larger than {limit} bytes")
            return
        try:
            body, tail = await self._read(receive, limit)
        except _TooLarge:
            await self._refuse(scope, send, 413, "body", f"the request body is larger than {limit} bytes")
            return
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        problem = await self._check(scope, body, ctype)
        if problem:
            await self._refuse(scope, send, 422, problem[0], problem[1])
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return tail or await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive: Receive, limit: int) -> tuple[bytes, Message | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"".join(chunks), message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    @staticmethod
    async def _check(scope: Scope, body: bytes, ctype: str) -> tuple[str, str] | None:
        if not body:
            return None
        if "json" in ctype:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return "body", "must be JSON in UTF-8"
            if not _SUSPECT_JSON.search(body):
                return None
            try:
                doc = json.loads(body)
            except ValueError:
                return None  # the route answers malformed JSON with its own 422
            return next(_walk(doc, ""), None)
        if ctype.startswith(_FORMS[0]):
            return _first_bad_query(body)
        if ctype.startswith(_FORMS[1]):
            return await _first_bad_multipart(scope, body)
        return None

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, field: str, message: str) -> None:
        code = "invalid" if status == 422 else "too_large"
        response: Response
        if scope.get("path", "").startswith("/api/"):
            response = JSONResponse({"code": code, "field": field, "message": message}, status)
        else:
            response = _error_page(scope, status, message)

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)


async def _first_bad_multipart(scope: Scope, body: bytes) -> tuple[str, str] | None:
    sent = False

    async def once() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, once).form()
    except Exception:  # a malformed form is the page's to report
        return None
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                continue
            for text in (key, value):
                problem = _bad_text(text)
                if problem:
                    return _printable(key), problem
    finally:
        await form.close()
    return None


def _error_page(scope: Scope, status: int, message: str) -> Response:
    from cicatrix.web import render

    heading = "Bad request" if status == 422 else "Too large"
    return render.page(Request(scope), "error.html", title=heading, status_code=status, heading=heading,
                       message=message[:1].upper() + message[1:] + ".", back_href="/",
                       back_label="Go to the start page")  # fmt: skip
