"""The role matrix: every route declares one ``Access`` policy as a dependency.

``create_app`` refuses to start when a route lacks one, copies each policy into the OpenAPI document
(``x-roles``, ``x-public``) and adds the 401/403 responses; ``tests/service/test_role_matrix.py`` walks
that document and calls every operation in every role. Finer rules — an editor's departments, a
reviewer's assignments — are the services' (they raise ``Forbidden`` / ``NotFound``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import csrf
from service.auth.context import (
    REQUEST_ID_HEADER,
    REQUEST_ID_SCOPE_KEY,
    RequestContext,
    accept_request_id,
    set_context,
)
from service.auth.csrf import LOGIN_COOKIE
from service.auth.principal import ANONYMOUS, Principal, Role
from service.auth.service import parse_token
from service.errors import PROBLEM_JSON, Forbidden, LoginRequired, Unauthorized

log = logging.getLogger("service.access")
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer icat_…`")


class Access:
    """A named policy: the roles allowed, and whether anonymous callers may read (if switched on)."""

    def __init__(self, name: str, roles: Iterable[Role], *, public: bool = False, always_open: bool = False):
        self.name = name
        self.roles = frozenset(roles)
        self.public = public  # anonymous allowed when CATALOG_PUBLIC_READ=true
        self.always_open = always_open  # no key ever needed (health probes)

    def __repr__(self) -> str:
        return f"Access({self.name})"

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        principal = await self._authenticate(request, credentials)
        route = request.scope.get("route")
        set_context(
            RequestContext(
                principal=principal,
                request_id=_request_id(request),
                method=request.method,
                route=getattr(route, "path", request.url.path),
            )
        )
        request.state.principal = principal
        return principal

    async def _authenticate(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> Principal:
        if self.always_open and credentials is None:
            return ANONYMOUS
        if credentials is None:
            if self.public and request.app.state.catalog.settings.public_read:
                return ANONYMOUS
            raise Unauthorized("An API key is required: send `Authorization: Bearer <key>`")
        principal: Principal | None = await request.app.state.catalog.keys.authenticate(
            credentials.credentials
        )
        if principal is None:
            # The id part of a key is public; the secret never reaches a log line.
            parsed = parse_token(credentials.credentials)
            log.warning(
                "401 %s %s: unknown, expired or revoked key id=%s request=%s",
                request.method, request.url.path, parsed[0] if parsed else "(malformed)", _request_id(request),
            )  # fmt: skip
            raise Unauthorized("The API key is unknown, expired or revoked")
        if not self.always_open and principal.role not in self.roles:
            log.warning(
                "403 %s %s: %s (%s, key %s) lacks %s request=%s",
                request.method, request.url.path, principal.actor, principal.role_name, principal.key_id,
                self.name, _request_id(request),
            )  # fmt: skip
            raise Forbidden(
                f"The role {principal.role_name} may not do this ({self.name})",
                extra={"required_roles": sorted(r.value for r in self.roles)},
            )
        return principal


class PageAccess(Access):
    """The same policy for browser pages (``/ui``): the key comes from the log-in cookie, and a
    missing or dead key leads to the log-in page instead of a 401. An unsafe request must also come
    from this site and, when the cookie is what authenticates it, carry the page token (``csrf``)."""

    def __init__(self, name: str, roles: Iterable[Role], *, public: bool = False, always_open: bool = False,
                 token_always: bool = False):  # fmt: skip
        super().__init__(name, roles, public=public, always_open=always_open)
        # The log-in form: it sets the cookie every later page request rides on, so a key in the
        # header never excuses its token (that is the very request login CSRF forges).
        self.token_always = token_always

    async def _authenticate(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> Principal:
        unsafe = request.method not in csrf.SAFE_METHODS
        if unsafe:
            csrf.check_origin(request)
        principal = await self._page_principal(request, credentials)
        # A script's key in the header excuses the token only when that key is what authenticated the
        # request: any header at all (``Bearer junk``) would otherwise switch the check off, and on an
        # open route a junk key falls back to anonymous rather than failing.
        by_header = credentials is not None and not principal.is_anonymous
        if unsafe and (self.token_always or not by_header):
            # After the key check: a stale log-in still leads to the log-in page, not to a 403.
            await csrf.check_token(request)
        return principal

    async def _page_principal(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> Principal:
        token = credentials.credentials if credentials else request.cookies.get(LOGIN_COOKIE)
        if token is None and (self.always_open or (self.public and request.app.state.catalog.settings.public_read)):
            return ANONYMOUS
        principal: Principal | None = None
        if token:
            principal = await request.app.state.catalog.keys.authenticate(token)
        if principal is None:
            if self.always_open:
                return ANONYMOUS
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        if not self.always_open and principal.role not in self.roles:
            raise Forbidden(f"角色 {principal.role_name} 无权访问此页面 ({self.name})")
        return principal


def _request_id(request: Request) -> str:
    # RequestIdMiddleware chose the id (and echoes it); without it (a bare router in a test) choose here.
    chosen = request.scope.get(REQUEST_ID_SCOPE_KEY)
    return str(chosen) if chosen else accept_request_id(request.headers.get(REQUEST_ID_HEADER))


ALL_ROLES = frozenset(Role)
FINANCE = (Role.admin, Role.steward)

# The matrix. Reads of published indicators and reference data may be opened to the public.
HEALTH = Access("health", (), always_open=True)
PUBLIC_READ = Access("read.published", ALL_ROLES, public=True)
READ = Access("read", ALL_ROLES)
SUGGEST = Access("suggest", ALL_ROLES)
TARGETS = Access("targets", (*FINANCE, Role.editor, Role.platform))
CATALOGUE_WRITE = Access("catalogue.write", FINANCE)
DEPARTMENT_WRITE = Access("department.write", (*FINANCE, Role.editor))  # scoped by the service
POLICY_CHANGE = Access("policy.change", FINANCE)
RELEASE_PUBLISH = Access("release.publish", FINANCE)
PROPOSALS_READ = Access("proposals.read", (*FINANCE, Role.editor, Role.reviewer))  # scoped
PROPOSE = Access("proposals.write", (*FINANCE, Role.editor))  # scoped to the editor's departments
REVIEW = Access("proposals.review", (*FINANCE, Role.reviewer))  # a reviewer: assigned proposals only
ASSIGN = Access("proposals.assign", FINANCE)
QUALITY = Access("quality.read", (*FINANCE, Role.editor, Role.reviewer))
AUDIT_READ = Access("audit.read", FINANCE)
KEYS_ADMIN = Access("keys.admin", (Role.admin,))


# Referenced, not modelled: a response model added after the route was built would not be registered.
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def access_of(route: APIRoute) -> Access | None:
    found = [d.call for d in route.dependant.dependencies if isinstance(d.call, Access)]
    return found[0] if len(found) == 1 else None


def declare_matrix(routes: Iterable[object]) -> None:
    """Copy each route's policy into OpenAPI; a route without exactly one policy stops start-up."""
    for route in routes:
        if not isinstance(route, APIRoute):
            # An included router's routes are not listed here: declare that router itself instead.
            raise RuntimeError(f"{route!r} is not a plain route; declare the router it comes from")
        policy = access_of(route)
        if policy is None:
            raise RuntimeError(
                f"route {route.path} {sorted(route.methods or ())} declares no single Access policy"
            )
        route.openapi_extra = {
            **(route.openapi_extra or {}),
            "x-access": policy.name,
            "x-roles": sorted(r.value for r in policy.roles),
            "x-public": policy.public or policy.always_open,
        }
        if not policy.always_open:
            for status_code, description in (
                (401, "No valid API key"),
                (403, "The key's role may not do this"),
            ):
                route.responses.setdefault(status_code, {"description": description, "content": _PROBLEM})


# Pages: the same roles as the API reads and suggestions they show.
PAGE_OPEN = PageAccess("page.open", (), always_open=True)
PAGE_LOGIN = PageAccess("page.login", (), always_open=True, token_always=True)
PAGE_READ = PageAccess("page.read", ALL_ROLES, public=True)
PAGE_SUGGEST = PageAccess("page.suggest", ALL_ROLES)
PAGE_POLICIES = PageAccess("page.policies", READ.roles)
PAGE_PROPOSALS = PageAccess("page.proposals", PROPOSALS_READ.roles)
PAGE_PROPOSE = PageAccess("page.propose", PROPOSE.roles)
PAGE_REVIEW = PageAccess("page.review", REVIEW.roles)
PAGE_ASSIGN = PageAccess("page.assign", ASSIGN.roles)
