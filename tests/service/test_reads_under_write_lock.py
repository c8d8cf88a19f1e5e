"""No read waits for the write lock: every GET of the API and of the pages, and the read-only POSTs, answer
while another connection holds what writes need (as a long import does), on both backends.

The same class as issue 14's finding 5 (checking a key wrote its last use), looked for everywhere: any
read path that writes — the key check, the pages' log-in, suggestion bookkeeping — would queue here.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import csrf
from service.db import make_engine, migrate
from service.settings import Settings
from service.web import ROOMS as WEB_ROOMS
from tests.support.auth import bearer, mint_key
from tests.support.locks import write_lock_held

BOUND = 3.0  # seconds a read may take here; a read queued for the lock takes the busy timeout (30 s) or forever


@pytest.fixture
def world(seeded_url: str) -> Iterator[tuple[TestClient, str, dict[str, str], dict[str, str]]]:
    engine = make_engine(seeded_url)
    migrate(engine)
    engine.dispose()
    setup, fresh = mint_key(seeded_url, "admin"), mint_key(seeded_url, "admin", owner="never-used")
    app = create_app(Settings(database_url=seeded_url, seed=True, key_cache_seconds=0))  # every call checks the key
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, seeded_url, bearer(setup), bearer(fresh)


def _reads(client: TestClient, headers: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every GET operation of the contract and of the pages, with real ids where the seed has them.

    ``headers`` set things up (a department), so the reads themselves go with a key never used before.
    """
    code = client.get("/v1/indicators", params={"limit": 1}, headers=headers).json()["items"][0]["code"]
    dept = "LOCKREAD"  # the seed has no departments
    made = client.post("/v1/departments", json={"code": dept, "name": "读锁测试厅"}, headers=headers)
    assert made.status_code == 201, made.text
    basis = client.get("/v1/legal-bases", headers=headers).json()
    basis_id = (basis["items"] if isinstance(basis, dict) else basis)[0]["id"]
    key_id = headers["Authorization"].split("_")[1]
    ids = {"code": code, "basis_id": basis_id, "key_id": key_id, "number": 1}

    def concrete(path: str) -> str:
        path = path.replace("/departments/{code}", f"/departments/{dept}")
        return re.sub(r"\{([^}]+)\}", lambda m: str(ids.get(m.group(1), 1)), path)

    doc = client.get("/openapi.json").json()
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", concrete(p), {}) for p, ops in doc["paths"].items() if "get" in ops
    ]
    calls += [
        ("GET", "/v1/indicators", {"params": {"q": "学生"}}),
        ("GET", "/v1/exports", {"params": {"format": "xlsx"}}),
        ("POST", "/v1/suggestions", {"json": {"text": "提高义务教育学生资助覆盖率"}}),
        ("POST", "/v1/suggestions:batch", {"json": {"items": [{"text": "道路养护里程"}]}}),
    ]
    pages = ["/ui" + r.path for room in WEB_ROOMS for r in room.routes if r.methods == {"GET"}]  # type: ignore[attr-defined]
    calls += [("GET", concrete(p), {"cookies_key": True}) for p in pages]
    presession = "p" * 43  # the pre-session cookie the log-in form repeats (double submit)
    calls += [
        ("POST", "/ui/suggest", {"cookies_key": True, "data": {"text": "提高义务教育学生资助覆盖率"}}),
        ("POST", "/ui/login", {"data": {"key": headers["Authorization"].removeprefix("Bearer "),
                                        "csrf_token": presession}, "cookie": f"icat_csrf={presession}"}),
    ]  # fmt: skip
    return calls


def test_every_read_answers_while_the_write_lock_is_held(
    world: tuple[TestClient, str, dict[str, str], dict[str, str]],
) -> None:
    client, url, setup, headers = world
    calls = _reads(client, setup)
    assert len(calls) >= 50
    stuck: list[str] = []
    waiting: list[threading.Thread] = []
    failed: list[str] = []
    with write_lock_held(url):
        for method, path, options in calls:
            answers: list[httpx.Response] = []
            kwargs = {k: v for k, v in options.items() if k not in ("cookies_key", "cookie")}
            if options.get("cookies_key"):
                key = headers["Authorization"].removeprefix("Bearer ")
                kwargs["headers"] = {"Cookie": f"icat_key={key}", csrf.HEADER: csrf.session_token(key)}
            elif "cookie" in options:
                kwargs["headers"] = {"Cookie": options["cookie"]}
            else:
                kwargs["headers"] = headers
            call = threading.Thread(
                target=lambda m=method, p=path, k=kwargs, a=answers: a.append(
                    client.request(m, p, follow_redirects=False, **k)
                )
            )
            began = time.monotonic()
            call.start()
            call.join(BOUND)
            if call.is_alive():
                stuck.append(f"{method} {path}")
                waiting.append(call)
            elif answers[0].status_code >= 500 or answers[0].status_code in (401, 403):
                failed.append(f"{method} {path}: {answers[0].status_code}")
            assert time.monotonic() - began < BOUND + 1
    for call in waiting:
        call.join(60)  # released: let them finish before the client closes
    assert stuck == []
    assert failed == []
