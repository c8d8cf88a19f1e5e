"""Security headers on every response; the pages get a strict Content-Security-Policy.

The pages load scripts and styles only from /ui/static (htmx, cytoscape and our own files are vendored),
so the policy can forbid inline scripts, style sheets, other origins and framing outright. Style
*attributes* stay allowed: cytoscape sizes its canvases with them, and an attribute runs no code.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# FastAPI's interactive docs pull their scripts from a CDN; they are left without a CSP.
_DOCS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = list(COMMON)
        if path.startswith("/ui"):
            extra.append((b"content-security-policy", PAGE_CSP.encode()))
            # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" even on the
            # pages' own form posts, and the pages' cross-site check needs their real origin. Other
            # sites still learn nothing of the pages' addresses.
            extra = [(k, b"same-origin" if k == b"referrer-policy" else v) for k, v in extra]
            if not path.startswith("/ui/static/"):
                extra.append((b"cache-control", b"no-store"))  # pages show what one key may see
        elif not path.startswith(_DOCS):
            extra.append((b"content-security-policy", API_CSP.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                added = [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment(filename: str) -> str:
    """A Content-Disposition for a download named partly by the caller (a release name, a date): an
    ASCII fallback with every other character replaced and no path, and the full name RFC 5987-encoded.
    No quote, separator or line break of the caller's reaches the header."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    fallback = _UNSAFE.sub("_", base).strip("._") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(base, safe='')}"
