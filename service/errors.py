"""Domain errors and their one mapping to RFC 9457 problem+json responses."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from service.security.strict_json import InvalidJSONBody

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://indicator-catalog.example/problems/"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, optionally in one row of an imported file."""

    field: str | None
    message: str
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        return out


class DomainError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str, *, errors: list[FieldError] | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}
        self.headers: dict[str, str] | None = None


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class LoginRequired(DomainError):
    """A browser page needs a key: the answer is a redirect to the log-in page, then back."""

    status, slug, title = 303, "login-required", "Log-in required"

    def __init__(self, back_to: str) -> None:
        from urllib.parse import quote

        super().__init__("请先登录; log in with an API key")
        self.headers = {"Location": f"/ui/login?next={quote(back_to, safe='')}"}


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class RequestTimeout(DomainError):
    status, slug, title = 408, "request-timeout", "Request timeout"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


class UnsupportedMedia(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(DomainError):
    status, slug, title = 422, "validation-failed", "Validation failed"


class PreconditionRequired(DomainError):
    status, slug, title = 428, "precondition-required", "Precondition required"


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if extra:
        # Extension members never replace the standard ones (a report's own "status" stays in the report).
        body.update({k: v for k, v in extra.items() if k not in body and k != "errors"})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# A page's error headline is in the reader's language whatever the service's own title says.
PAGE_TITLES = {
    400: "请求有误",
    401: "需要登录",
    403: "无权执行此操作",
    404: "找不到该对象",
    405: "不支持此操作",
    409: "当前状态不允许此操作",
    412: "内容已被他人修改,请刷新页面后重试",
    413: "提交的内容过大",
    422: "填写的内容有误",
    428: "缺少版本信息,请刷新页面后重试",
    429: "操作过于频繁,请稍后再试",
    500: "服务器内部错误",
    503: "服务暂时不可用,请稍后再试",
}
# What pydantic says of a form or query field, as the page says it (its ``type`` -> Chinese).
PAGE_MESSAGES = {
    "missing": "必填",
    "string_too_long": "过长",
    "string_too_short": "不能为空",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "greater_than_equal": "超出允许范围",
    "less_than_equal": "超出允许范围",
    "greater_than": "超出允许范围",
    "less_than": "超出允许范围",
    "enum": "不是可选的值",
    "literal_error": "不是可选的值",
    "value_error": "不符合要求",
}


def _html_error(status: int, title: str, detail: str, headers: dict[str, str] | None) -> Response:
    """Browser pages get a readable page, not problem+json (and a redirect stays a redirect)."""
    if title.isascii():  # the service's English title; a page error raised in Chinese keeps its own
        title = PAGE_TITLES.get(status, title)
    body = (
        f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{status} {html.escape(title)}</title>'
        f'<link rel="stylesheet" href="/ui/static/app.css"><main class="error"><h1>{status} {html.escape(title)}</h1><p>{html.escape(detail)}</p>'
        '<p><a href="/ui/search">返回指标检索</a></p></main></html>'
    )
    return HTMLResponse(body, status_code=status, headers=headers)


def page_error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """The page form of an error for code that answers before any route (middleware)."""
    return _html_error(status, PAGE_TITLES.get(status, str(status)), detail, headers)


def blamed_field(error: Mapping[str, Any]) -> str | None:
    """The field a model-level check blames (a ``ValueError`` with a ``field``, e.g. ``FieldValueError``).

    Pydantic locates an error raised by a model validator at the model itself (``("body",)`` for a
    request body), not at the field the check is about; the exception says which field that is.
    """
    return getattr((error.get("ctx") or {}).get("error"), "field", None)


def error_field(error: Mapping[str, Any], *, drop: Sequence[str] = ()) -> str | None:
    """A pydantic error's field as a dotted path: its location, then the field a model check blames."""
    parts = [str(p) for p in error.get("loc", ()) if p not in drop]
    if (blamed := blamed_field(error)) is not None:
        parts.append(blamed)
    return ".".join(parts) or None


def error_message(error: Mapping[str, Any]) -> str:
    # "Value error, " is pydantic's prefix for a validator's ValueError, not part of the message.
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _loc_to_field(error: Mapping[str, Any]) -> str:
    return error_field(error, drop=("body", "query", "path", "header")) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the service as problem+json, rendered here and nowhere else."""

    def _render(request: Request, exc: DomainError) -> Response:
        if request.url.path.startswith("/ui"):
            return _html_error(exc.status, exc.title, exc.detail, exc.headers)
        return problem(exc.status, exc.title, exc.detail, slug=exc.slug, instance=request.url.path,
                       errors=[e.as_dict() for e in exc.errors], extra=exc.extra, headers=exc.headers)  # fmt: skip

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return _render(request, exc)

    # Safety nets for what reaches the database unchecked: a unique key taken meanwhile (two writers
    # racing for one natural key) is a conflict; a number too large for its column is the caller's.
    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        logging.getLogger("service").warning("integrity error on %s: %s", request.url.path, exc.orig)
        # A code taken meanwhile (the unique index on code_key, in any spelling) is the code's fault.
        taken = re.search(r"[._(]code(?:_key)?\b", str(exc.orig)) is not None
        errors = [FieldError(field="code", message="code taken meanwhile")] if taken else []
        return _render(
            request,
            Conflict("The write conflicts with a record stored meanwhile; reload and retry", errors=errors),
        )

    # The database away (restarting, unreachable) or SQLite's lock held past the busy timeout: a
    # temporary condition the caller can retry, answered in full so the connection stays usable.
    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> Response:
        logging.getLogger("service").warning("database unavailable on %s: %s", request.url.path, exc.orig)
        error = ServiceUnavailable("The database is not reachable just now; retry shortly")
        error.headers = {"Retry-After": "1"}
        return _render(request, error)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> Response:
        return _render(request, ValidationFailed("A number or value is outside the range the catalogue stores"))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": _loc_to_field(e), "message": error_message(e)} for e in exc.errors()]
        if request.url.path.startswith("/ui"):
            listed = ";".join(
                f"{_loc_to_field(e)}:{PAGE_MESSAGES.get(e.get('type', ''), '格式不正确')}"
                for e in exc.errors()
            )
            return _html_error(422, "填写的内容有误", listed, None)
        return problem(
            422,
            ValidationFailed.title,
            "The request does not match the schema",
            slug=ValidationFailed.slug,
            instance=request.url.path,
            errors=errors,
        )

    # A model built inside a page from form input (``SuggestRequest(text=" ")``) may refuse what the
    # form helper let through: that is the user's input, so a 422 page, not a 500 and a reset
    # connection. Outside the pages such an error is the service's own (a model it built wrongly).
    @app.exception_handler(PydanticValidationError)
    async def _model_refused(request: Request, exc: PydanticValidationError) -> Response:
        if not request.url.path.startswith("/ui"):
            raise exc
        listed = ";".join(
            f"{_loc_to_field(e)}:{PAGE_MESSAGES.get(e.get('type', ''), '格式不正确')}"
            for e in exc.errors()
        )
        return _html_error(422, "填写的内容有误", listed, None)

    @app.exception_handler(InvalidJSONBody)
    async def _invalid_json(request: Request, exc: InvalidJSONBody) -> Response:
        if request.url.path.startswith("/ui"):
            listed = ";".join(f"{e['field']}:{e['message']}" for e in exc.errors)
            return _html_error(422, "填写的内容有误", listed, None)
        return problem(
            422, ValidationFailed.title, str(exc.detail), slug=ValidationFailed.slug,
            instance=request.url.path, errors=exc.errors,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/ui"):
            title = {404: "页面不存在", 408: "请求内容未能在规定时间内送达"}.get(exc.status_code, str(exc.detail))
            headers = dict(exc.headers) if exc.headers else None
            return _html_error(exc.status_code, title, str(exc.detail), headers)
        known = {408: RequestTimeout, 413: PayloadTooLarge}.get(exc.status_code)
        return problem(
            exc.status_code,
            known.title if known else (str(exc.detail) if exc.status_code != 404 else "Not found"),
            str(exc.detail),
            slug=known.slug if known else f"http-{exc.status_code}",
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up while sending its body: nobody reads an answer, and no unit of work began
        # (bodies are read before the write turn). Routine for a public service, so no traceback.
        logging.getLogger("service").info("client went away during the body of %s", request.url.path)
        return Response(status_code=400, headers={"Connection": "close"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never leak internals; the traceback goes to the server log via uvicorn.
        logging.getLogger("service").exception("unhandled error on %s", request.url.path)
        if request.url.path.startswith("/ui"):
            return _html_error(500, "服务器内部错误", "出现了意外错误,已记录在服务日志中", None)
        return problem(
            500,
            "Internal server error",
            "An unexpected error occurred",
            slug="internal",
            instance=request.url.path,
        )


class ProblemError(BaseModel):
    field: str | None = None
    message: str
    row: int | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is rendered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] | None = None


_DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid API key",
    403: "The key's role may not do this",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed (stale ETag)",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    428: "Precondition required (If-Match missing, or the wildcard *)",
    429: "Too many requests (rate limit; see Retry-After)",
    503: "Service unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route can answer."""
    return {
        s: {"model": Problem, "description": _DESCRIPTIONS.get(s, "Error"), "content": {PROBLEM_JSON: {}}}
        for s in statuses
    }


def problems_in_contract(spec: dict[str, Any]) -> dict[str, Any]:
    """Every error response of the OpenAPI document as it really leaves the service: problem+json in the
    Problem shape (FastAPI would declare its own JSON validation error, and JSON next to problem+json)."""
    ref = {"$ref": "#/components/schemas/Problem"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": ref}}
                    if status == "422":
                        response["description"] = _DESCRIPTIONS[422]
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    return spec
