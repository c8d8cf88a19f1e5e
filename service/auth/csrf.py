"""Cross-site request forgery on the pages: the origin check and the token every unsafe page request needs.

Pages authenticate by the log-in cookie, which a browser attaches to any request to this site, whoever
caused it. SameSite=Strict keeps it off requests from other *sites*, but not from a sibling host of the
same site (another ``*.gov.cn`` service is same-site), nor in browsers that ignore SameSite. So:

* The origin check: an unsafe page request whose ``Origin`` is present and not this service's own is
  refused; without ``Origin`` the ``Referer``'s origin is checked instead. Without both the request
  passes this check and rests on the token: every current browser sends ``Origin`` on a cross-origin
  POST (and on a same-origin one, as the pages' Referrer-Policy is ``same-origin``), so a request with
  neither comes from a script or an old browser, and a script holds no victim's cookie. Refusing it
  would turn away command-line clients and gain nothing the token does not already give.
* The token: with a log-in cookie, an HMAC of the cookie's key (the page session) — nothing to store,
  the same in every worker and after a restart, and useless to whoever does not hold the key. Before
  log-in, a random value in its own cookie that the log-in form repeats (double submit), so nobody can
  post the log-in form for a victim and log them into the attacker's key. Forms send the token as the
  ``csrf_token`` field, htmx as the ``X-CSRF-Token`` header (set once on ``<body>``).

A request whose ``Authorization`` header carries a valid key is authenticated by that header, not the
cookie (a browser never adds it to a cross-site request by itself), so it needs no token; the origin
check still applies. A header that authenticates nothing (``Bearer junk``) excuses nothing, and the
log-in form always needs its token, whatever the header says.
The JSON API reads no cookie at all: only :class:`~service.auth.access.PageAccess` does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from service.errors import DomainError

LOGIN_COOKIE = "icat_key"
PRESESSION_COOKIE = "icat_csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CONTEXT = b"icat-ui-csrf-v1"


class CrossSiteRefused(DomainError):
    status, slug, title = 403, "cross-site-refused", "跨站请求已拒绝"


def session_token(login_key: str) -> str:
    return hmac.new(login_key.encode(), _CONTEXT, hashlib.sha256).hexdigest()


def _own_origin(request: Request) -> str:
    configured: str | None = request.app.state.catalog.settings.page_origin
    if configured:
        return configured.rstrip("/").lower()
    return f"{request.url.scheme}://{request.headers.get('host', '')}".lower()


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: Request) -> None:
    """Refuse an unsafe request that names another origin in ``Origin`` (or, without it, ``Referer``)."""
    own = _own_origin(request)
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.strip().lower() != own:
            raise CrossSiteRefused(f"请求来自其他网站({origin[:100]}),已拒绝。请在本站页面上操作。")
        return
    referer = request.headers.get("referer")
    if referer and _origin_of(referer) != own:
        raise CrossSiteRefused("请求来自其他网站的页面,已拒绝。请在本站页面上操作。")


def expected_token(request: Request) -> str | None:
    """The token this browser's pages carry: bound to the log-in cookie, or to the pre-session cookie."""
    login_key = request.cookies.get(LOGIN_COOKIE)
    if login_key:
        return session_token(login_key)
    presession = request.cookies.get(PRESESSION_COOKIE)
    return presession if presession and len(presession) >= 32 else None


async def check_token(request: Request) -> None:
    """The token sent with the request (header or form field) must be this browser's."""
    expected = expected_token(request)
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(FORM_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CrossSiteRefused("页面已过期或缺少安全校验信息,请刷新页面后重新提交。")


def page_token(request: Request) -> tuple[str, str | None]:
    """The token to put in a page, and a new pre-session cookie value when the browser needs one."""
    expected = expected_token(request)
    if expected:
        return expected, None
    fresh = secrets.token_urlsafe(32)
    return fresh, fresh


def set_presession_cookie(response: Response, value: str, *, secure: bool) -> None:
    """The pre-session cookie, with the log-in cookie's flags: only this site's pages, never scripts."""
    response.set_cookie(PRESESSION_COOKIE, value, httponly=True, secure=secure, samesite="strict", path="/ui")
