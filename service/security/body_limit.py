"""A cap on every request body's size and on the time it may take to arrive, checked as it is read.

A declared Content-Length over the cap is refused at once; a body that streams past it (chunked, or a
lying Content-Length) is cut off while it is read. Uploads of files have their own, larger cap.
A body still incomplete ``deadline`` seconds after the request began is answered 408: neither uvicorn
nor h11 bound how slowly a body may trickle in, so one client sending a byte a second would otherwise
hold its connection (and whatever the route holds while reading) for as long as it likes.
"""

from __future__ import annotations

import time

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PayloadTooLarge, page_error, problem


class BodyTooLarge(HTTPException):
    # An HTTPException, so FastAPI's body parsing passes it on as it is (other errors become a 400).
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")


class BodyTooSlow(HTTPException):
    # The connection is closed after the answer: the rest of the body may still be on its way.
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408, f"The request body did not arrive within {seconds:g} seconds", headers={"Connection": "close"}
        )


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, limit: int, upload_limit: int, upload_paths: tuple[str, ...], deadline: float
    ) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths
        self.deadline = deadline

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
        complete = False
        ends = time.monotonic() + self.deadline

        async def counted() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()  # after the body only http.disconnect comes: wait for it unbounded
            try:
                with anyio.fail_after(max(ends - time.monotonic(), 0)):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.deadline) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                complete = not message.get("more_body", False)
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
