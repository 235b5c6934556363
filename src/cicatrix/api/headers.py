"""Security headers on every response, API and web pages alike (issue 12 §4).

- `Content-Security-Policy`: scripts and styles only from this site, no inline script, no
  plug-ins, forms post only here, and no framing (`frame-ancestors 'none'`). A response that
  sets its own policy keeps it (the clinic logo, the API docs page).
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, `X-Frame-Options: DENY`
  (for browsers that predate `frame-ancestors`), `Cross-Origin-Opener-Policy: same-origin`,
  and a `Permissions-Policy` that turns off camera, microphone and location.
- `Cache-Control: no-store` unless a response chose its own (static files): pages, API
  answers and exports carry patient data, and a shared computer's cache must not keep them.
- `Strict-Transport-Security` when `Settings.hsts_max_age_s` is set (behind TLS only; see
  docs/security.md).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cicatrix.storage.settings import Settings

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    headers = [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if settings.hsts_max_age_s > 0:
        headers.append(("strict-transport-security", f"max-age={settings.hsts_max_age_s}; includeSubDomains"))
    return headers


class SecurityHeadersMiddleware:
    """Outermost layer: adds the headers to every response, errors and refusals included."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, _send)
