"""A cap on every request body, checked before any route reads it.

A declared Content-Length over the cap is refused at once; a body that streams past it (chunked, or a
lying Content-Length) is cut off while it is read. Uploads of files have their own, larger cap.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PayloadTooLarge, page_error, problem


class BodyTooLarge(HTTPException):
    # An HTTPException, so FastAPI's body parsing passes it on as it is (other errors become a 400).
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, upload_limit: int, upload_paths: tuple[str, ...]) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"] in self.upload_paths else self.limit
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    if scope["path"].startswith("/ui"):  # a page's form: a page, not problem+json
        page = page_error(413, f"提交的内容超过 {limit} 字节", {"Connection": "close"})
        await page(scope, receive, send)
        return
    response = problem(
        413, PayloadTooLarge.title, f"The request body is larger than {limit} bytes", slug=PayloadTooLarge.slug,
        instance=scope["path"], headers={"Connection": "close"},
    )  # fmt: skip
    await response(scope, receive, send)
