"""Checking a key never waits for the write lock; its last use is still recorded, later (both backends).

Hostile-tester finding (issue 14, no. 5): verifying a key wrote ``last_used_at`` in the request, so during
a long import a plain GET with a key unused for a minute waited for the database's write lock (9.9 s,
up to SQLite's 30 s busy timeout; on PostgreSQL a locked key table would hold it without end).
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.app import create_app
from service.auth.service import KeyRing
from service.db import make_engine, migrate
from service.settings import Settings
from tests.support.auth import bearer, mint_key
from tests.support.locks import write_lock_held


def last_used(url: str, key_id: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT last_used_at FROM api_key WHERE id = :id"), {"id": key_id}).scalar()
    finally:
        engine.dispose()


def test_an_authenticated_get_does_not_wait_for_the_write_lock(seeded_url: str) -> None:
    engine = make_engine(seeded_url)
    migrate(engine)
    engine.dispose()
    token = mint_key(seeded_url, "platform")  # never used: the old code wrote its last use on first sight
    key_id = token.split("_")[1]
    app = create_app(Settings(database_url=seeded_url, seed=True, key_use_flush_seconds=0.2))
    answers: list[httpx.Response] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        with write_lock_held(seeded_url):
            before = datetime.now(UTC)
            began = time.monotonic()
            reader = threading.Thread(
                target=lambda: answers.append(client.get("/v1/indicators", params={"limit": 1}, headers=bearer(token)))
            )
            reader.start()
            reader.join(5)
            latency = time.monotonic() - began
            after = datetime.now(UTC)
            time.sleep(1.0)  # several flush rounds, each giving up while the lock is held
            while_locked = last_used(seeded_url, key_id)
        reader.join(60)  # released: a GET that was waiting (the defect) ends now, before the client closes
        deadline = time.monotonic() + 10
        while (stamp := last_used(seeded_url, key_id)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert latency < 2.0, f"the GET took {latency:.1f} s"  # generous: a functional check, not a benchmark
    assert [a.status_code for a in answers] == [200]
    assert while_locked is None
    assert stamp is not None, "the last use was never written"
    stamp = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    assert before <= stamp <= after


def test_the_last_use_never_moves_backwards_across_workers(seeded_url: str) -> None:
    engine = make_engine(seeded_url)
    migrate(engine)
    token = mint_key(seeded_url, "platform")
    key_id = token.split("_")[1]
    # Two workers, each with its own ring: the later use is noted by the first, flushed first.
    early, late = KeyRing(engine, ttl_seconds=60), KeyRing(engine, ttl_seconds=60)
    try:
        assert asyncio.run(early.authenticate(token)) is not None
        time.sleep(0.01)
        assert asyncio.run(late.authenticate(token)) is not None
        assert late.flush() == 1
        written = last_used(seeded_url, key_id)
        assert early.flush() == 1
        assert last_used(seeded_url, key_id) == written
        assert late.flush() == 0  # nothing new to write
    finally:
        engine.dispose()


def test_a_busy_flush_keeps_the_use_for_the_next_round(seeded_url: str) -> None:
    engine = make_engine(seeded_url)
    migrate(engine)
    token = mint_key(seeded_url, "platform")
    key_id = token.split("_")[1]
    ring = KeyRing(engine, ttl_seconds=60)
    try:
        assert asyncio.run(ring.authenticate(token)) is not None
        with write_lock_held(seeded_url):
            began = time.monotonic()
            assert ring.flush() == 0
            assert time.monotonic() - began < 2.0  # gave up quickly instead of queueing
        assert last_used(seeded_url, key_id) is None
        assert ring.flush() == 1
        assert last_used(seeded_url, key_id) is not None
    finally:
        engine.dispose()
