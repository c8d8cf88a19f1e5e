"""The request context (who, which request, which route), reachable from any layer.

Access checks set it once per request; the audit trail and the provenance of revisions read it, so no
service signature has to thread the caller through. Outside a request (start-up, the command line) it is
the ``SYSTEM`` principal.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth.principal import SYSTEM, Principal, Role

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_SCOPE_KEY = "catalog.request_id"  # where the middleware leaves the id for the Access check


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    method: str | None = None
    route: str | None = None  # the route template, e.g. /v1/indicators/{code}


_CONTEXT: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current_context() -> RequestContext:
    return _CONTEXT.get() or RequestContext(principal=SYSTEM, request_id="system")


def current_principal() -> Principal:
    return current_context().principal


def set_context(context: RequestContext) -> None:
    _CONTEXT.set(context)


def require_department(code: str | None, doing: str) -> None:
    """Editors act only for their own departments; finance and machines are not scoped here."""
    from service.errors import Forbidden

    principal = current_principal()
    if principal.role is Role.editor and not principal.covers_department(code):
        scope = ", ".join(sorted(principal.departments))
        raise Forbidden(f"An editor of {scope} may not {doing} for department {code or '(none)'}")


def accept_request_id(given: str | None) -> str:
    """The caller's X-Request-ID when it is short and printable ASCII (kept for correlation), else a new one."""
    if given and len(given) <= 64 and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every HTTP request an id (the caller's X-Request-ID, or a new one) and echoes it in the
    response's X-Request-ID; the Access check puts the same id into the request context.

    Pure ASGI, not ``BaseHTTPMiddleware``: it adds one header and no task or body copy per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = accept_request_id(given.decode("latin-1"))
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, send_with_id)
