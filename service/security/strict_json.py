"""Every JSON request body is checked once, as it is read, before any route or schema sees it.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON), keeps the last of two
equal keys, and decodes ``"\\u0000"``, ``"\\uffff"`` or a lone ``"\\ud800"`` into strings that XML 1.0
cannot hold, so one such value stored once breaks every XLSX export and every re-import of a JSONL
export. Checking in the schemas would need every float and every string field of every schema to
remember it; checking the bytes here covers every JSON write operation, present and future, in one
place. The refusal is a 422 problem+json whose ``errors[]`` name the field by its path in the body.

Tab, line feed and carriage return stay allowed: multi-line text is legitimate in descriptions.
"""

from __future__ import annotations

import email.message
import json
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What XML 1.0 refuses (C0 controls other than tab/LF/CR, U+FFFE/U+FFFF) and lone surrogates, which
# cannot even be encoded as UTF-8.
FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class InvalidJSONBody(HTTPException):
    """Raised while the body is read; FastAPI passes an HTTPException on as it is (anything else is a 400)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(422, "The request body holds values the catalogue does not accept")
        self.errors = errors


class _NonFinite:
    def __init__(self, literal: str) -> None:
        self.literal = literal


class _Object(dict[str, Any]):
    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    out = _Object()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _walk(value: Any, path: str, errors: list[dict[str, Any]]) -> None:
    field = path or "body"
    if isinstance(value, _NonFinite):
        errors.append({"field": field, "message": f"{value.literal} is not a number: give a finite number"})
    elif isinstance(value, str):
        bad = FORBIDDEN_CHARS.search(value)
        if bad:
            errors.append(
                {"field": field, "message": f"contains the character {_describe(bad.group())}, which is not allowed in text"}
            )
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}.{i}" if path else str(i), errors)
    elif isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            errors.append({"field": f"{path}.{key}" if path else key, "message": "the key appears more than once"})
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            bad = FORBIDDEN_CHARS.search(key)
            if bad:
                errors.append({"field": child, "message": f"the key contains the character {_describe(bad.group())}"})
            _walk(item, child, errors)


def check_json(body: bytes) -> list[dict[str, Any]]:
    """The problems of a JSON body, one per field; empty when it is acceptable (or not JSON at all:
    a syntax error is left to FastAPI, which reports its position)."""
    try:
        parsed = json.loads(body, parse_constant=_NonFinite, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):
        return []
    errors: list[dict[str, Any]] = []
    _walk(parsed, "", errors)
    return errors


def _is_json(scope: Scope) -> bool:
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), None)
    if content_type is None:
        return False
    message = email.message.Message()
    message["content-type"] = content_type.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class StrictJSONMiddleware:
    """Checks a JSON body when its last chunk has been read by the route (so the size cap and the
    read deadline of :class:`BodyLimitMiddleware`, outside this one, still apply first)."""

    def __init__(self, app: ASGIApp, *, file_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        # A JSON body sent to an import is a file: its loader reports each problem with its row number.
        self.file_paths = file_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.file_paths or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        done = False

        async def checked() -> Message:
            nonlocal done
            message = await receive()
            if done or message["type"] != "http.request":
                return message
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done = True
                errors = check_json(b"".join(chunks))
                chunks.clear()
                if errors:
                    raise InvalidJSONBody(errors)
            return message

        await self.app(scope, checked, send)
