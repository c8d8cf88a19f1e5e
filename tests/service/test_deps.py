"""The request's unit of work ends before its answer leaves: a write whose commit fails is answered as
the failure it is (503 problem, nothing stored), never as a 200 followed by a lost write, and a write's
answer is only sent once what it wrote can be read."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import Session


def _first_code(client: TestClient) -> str:
    code: str = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
    return code


def test_a_commit_that_fails_is_the_answer_and_nothing_is_stored(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _first_code(client)
    before = client.get(f"/v1/indicators/{code}")
    real_commit = Session.commit

    def commit_lost(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(Session, "commit", commit_lost)
    r = client.patch(f"/v1/indicators/{code}", json={"value": 4321}, headers={"If-Match": before.headers["etag"]})
    monkeypatch.setattr(Session, "commit", real_commit)

    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "1"
    after = client.get(f"/v1/indicators/{code}")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()


def test_the_answer_to_a_write_is_sent_after_its_commit(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _first_code(client)
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    events: list[str] = []
    real_commit = Session.commit

    def commit_noted(self: Session) -> Any:
        events.append("commit")
        return real_commit(self)

    monkeypatch.setattr(Session, "commit", commit_noted)
    app = client.app
    inner = app.middleware_stack  # type: ignore[attr-defined]

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        async def noted_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                events.append("response")
            await send(message)

        await inner(scope, receive, noted_send)

    app.middleware_stack = spy  # type: ignore[attr-defined]
    try:
        r = client.patch(f"/v1/indicators/{code}", json={"value": 1234}, headers={"If-Match": tag})
    finally:
        app.middleware_stack = inner  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert "commit" in events, events
    assert "response" in events, events
    assert events.index("commit") < events.index("response"), events
