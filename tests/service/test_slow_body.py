"""A slow client against the real service (uvicorn over a loopback socket), on both backends.

Hostile-tester finding (issue 14, no. 3): an upload sending one byte per second held the process-wide
write turn while its body trickled in, so an admin PATCH waited as long as the upload took — without
end, as nothing bounded a body's arrival. Now every body is read before the turn is taken, and a body
that has not arrived within ``CATALOG_BODY_READ_SECONDS`` is answered 408.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.auth import bearer, mint_key
from tests.support.server import running

BOUND = 4.0  # CATALOG_BODY_READ_SECONDS for these servers
DECLARED = 100_000  # the Content-Length each slow client announces (and never completes)

# Every kind of body a write reads: the raw upload routes (which read the body themselves) and a JSON
# body (which FastAPI reads before the route's dependencies).
SLOW_ROUTES = [
    ("/v1/imports?dry_run=true", "text/csv"),
    ("/v1/proposals:import?title=slow&department_code=X", "text/csv"),
    ("/v1/indicators", "application/json"),
]


@dataclass
class SlowClient:
    """A raw socket announcing ``DECLARED`` bytes and sending one per second."""

    host: str
    port: int
    path: str
    content_type: str
    token: str
    started: float = 0.0
    answered_after: float | None = None
    answer: bytes = b""
    stop: threading.Event = field(default_factory=threading.Event)
    sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=BOUND + 15)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: {self.content_type}\r\nContent-Length: {DECLARED}\r\n\r\n"
        )
        self.sock.sendall(head.encode("ascii"))
        self.started = time.monotonic()
        threading.Thread(target=self._trickle, daemon=True).start()

    def _trickle(self) -> None:
        assert self.sock is not None
        while not self.stop.wait(1.0):
            try:
                self.sock.sendall(b"[" if self.content_type == "application/json" else b"a")
            except OSError:
                return  # the server closed the connection: that is the answer we wait for

    def read_answer(self) -> None:
        assert self.sock is not None
        try:
            while chunk := self.sock.recv(65536):
                if not self.answer:
                    self.answered_after = time.monotonic() - self.started
                self.answer += chunk
        except OSError:
            pass  # timed out (no answer) or reset after the answer

    def close(self) -> None:
        self.stop.set()
        if self.sock is not None:
            self.sock.close()


@pytest.fixture
def live(seeded_url: str) -> Iterator[tuple[str, str]]:
    token = mint_key(seeded_url, "admin")
    with running(seeded_url, extra_env={"CATALOG_BODY_READ_SECONDS": str(BOUND)}) as server:
        yield server.base, token


def test_slow_bodies_stall_no_write_and_get_408_after_the_bound(live: tuple[str, str]) -> None:
    base, token = live
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    with httpx.Client(base_url=base, headers=bearer(token), timeout=BOUND + 10) as client:
        code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
        tag = client.get(f"/v1/indicators/{code}").headers["ETag"]
        slow = [SlowClient(parts.hostname, parts.port, path, kind, token) for path, kind in SLOW_ROUTES]
        try:
            for s in slow:
                s.open()
            time.sleep(1.5)  # every slow body is in flight (and, before the fix, the imports hold the turn)
            began = time.monotonic()
            try:
                r = client.patch(f"/v1/indicators/{code}", json={"value": 7}, headers={"If-Match": tag})
                status, latency = r.status_code, time.monotonic() - began
            except httpx.TimeoutException:
                status, latency = 0, time.monotonic() - began
            readers = [threading.Thread(target=s.read_answer) for s in slow]
            for t in readers:
                t.start()
            for t in readers:
                t.join(BOUND + 20)
        finally:
            for s in slow:
                s.close()
    # Generous: a functional check that the PATCH did not queue behind the uploads, not a benchmark.
    assert (status, latency < 3.0) == (200, True), f"PATCH answered {status} after {latency:.1f} s"
    for s in slow:
        head = s.answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        assert head.startswith("http/1.1 408"), f"{s.path}: {s.answer[:300]!r}"
        assert "content-type: application/problem+json" in head
        assert s.answered_after is not None, s.path
        assert BOUND - 0.5 <= s.answered_after <= BOUND + 4, s.path


def test_a_client_hanging_up_mid_upload_is_no_server_error(seeded_url: str) -> None:
    """Gone clients are routine for a public service: no traceback, no "unhandled error" in the log."""
    token = mint_key(seeded_url, "admin")
    with running(seeded_url) as server:
        parts = urlsplit(server.base)
        assert parts.hostname is not None
        assert parts.port is not None
        logged_before = server.log.stat().st_size
        for path, kind in SLOW_ROUTES:
            hang_up = SlowClient(parts.hostname, parts.port, path, kind, token)
            hang_up.open()
            time.sleep(1.5)
            hang_up.close()
        time.sleep(1.0)
        with httpx.Client(base_url=server.base, headers=bearer(token)) as client:
            assert client.get("/v1/indicators", params={"limit": 1}).status_code == 200
        with server.log.open("rb") as log:
            log.seek(logged_before)
            logged = log.read().decode("utf-8", "replace")
    assert "Traceback" not in logged
    assert "unhandled error" not in logged
