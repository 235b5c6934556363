"""The interactive API documentation at /api/docs, served from this site.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script; both
break the Content-Security-Policy (scripts only from this site, none inline) and would let
the CDN run code beside staff's sessions. The assets here come from the pinned
`fastapi-offline` package (Swagger UI 5, which reads OpenAPI 3.1); the start-up script is
`web/static/swagger-init.js`. The page and `/openapi.json` are public: they describe the API,
which is open source, and hold no data (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from cicatrix.api.headers import CSP

router = APIRouter(include_in_schema=False)

_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
# Swagger UI sets style attributes as it renders: this page alone allows inline styles.
_DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cicatrix clinic API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def _assets_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


@router.get("/api/docs")
def docs_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": _DOCS_CSP})


@router.get("/api/docs/{name}")
def docs_asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        return Response(status_code=404)
    return FileResponse(_assets_dir() / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip
