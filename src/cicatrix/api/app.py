"""The application factory: `create_app(settings)` composes the API's routers and the web
pages' router on one database and one knowledge base. The two HTTP entry points do not import
each other; they share `cicatrix.credentials` and meet only here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import cicatrix
from cicatrix.api import errors
from cicatrix.api.routes import admin, aftercare, appointments, auth, care, exports, messages, patients
from cicatrix.knowledge.loader import load_knowledge
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.service.clock import Clock, utc_now
from cicatrix.storage.db import Database
from cicatrix.storage.settings import Settings
from cicatrix.web.routes import router as web_router


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from cicatrix.storage import lock

    settings: Settings = app.state.settings
    # While serving, `cicatrix db restore` refuses to replace the SQLite file (storage/lock.py).
    held = lock.hold_shared(settings.sqlite_path) if settings.is_sqlite else None
    try:
        yield
        await app.state.db.aclose()  # the event loop's database connections, before the loop ends
    finally:
        lock.release(held)


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    knowledge: KnowledgeBase | None = None,
) -> FastAPI:
    """Build the app. `clock` gives the current instant (tests pin it); each request's "today"
    is that instant's date in the caller's clinic's time zone. `knowledge` skips
    loading the knowledge base again when the caller has it."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="cicatrix clinic API",
        version=getattr(cicatrix, "__version__", "0.1.0"),
        description=(
            "Patients, assessments, plans, courses and outcomes for acne-scar care. "
            "cicatrix supports clinical judgement; a clinician approves every plan."
        ),
        openapi_url="/openapi.json",
        docs_url=None,  # served from this site by cicatrix.api.docs
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.kb = knowledge or load_knowledge(settings.knowledge_dir)
    app.state.secret = settings.resolved_secret()
    app.state.clock = clock or utc_now
    errors.install(app)

    for module in (auth, patients, care, appointments, messages, aftercare, admin):
        app.include_router(module.router, prefix="/api", responses=errors.ERROR_RESPONSES)
    app.include_router(web_router)
    app.include_router(exports.router, prefix="/api", responses=errors.ERROR_RESPONSES)

    from cicatrix.api import docs
    from cicatrix.api.headers import SecurityHeadersMiddleware
    from cicatrix.api.intake import IntakeMiddleware

    app.include_router(docs.router)
    app.add_middleware(IntakeMiddleware, settings=settings)
    app.add_middleware(errors.GuardMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)  # outermost: every response
    return app
