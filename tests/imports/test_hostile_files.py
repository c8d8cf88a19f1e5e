"""Every file of the hostile corpus is refused by ``POST /v1/imports`` with a clear problem, in bounded
time and memory, and leaves the database exactly as it was (issue #8, "hostile files").

The corpus (``tests/hostile/corpus.py``) is generated once for the module; one seeded SQLite
catalogue serves every case, so the checksum taken at the start must still hold at the end.
Cases marked ``heavy`` (a million rows, bombs, 10 MB cells) run everywhere, CI included.
"""

from __future__ import annotations

import gc
import hashlib
import os
import resource
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.principal import Role
from service.db import make_engine, migrate
from service.settings import Settings
from tests.hostile import corpus
from tests.hostile.corpus import Case
from tests.support.auth import bearer, mint_key

CASES = corpus.cases()
MiB = 1024 * 1024

# Generous for a loaded 2-core CI runner; the heavy cases take a few seconds on one.
SECONDS = {False: 10.0, True: 25.0}
GROWTH_BYTES = {False: 64 * MiB, True: 500 * MiB}
MAX_PROBLEM_BYTES = MiB  # a clear error names the problem; it does not echo a 10 MB cell back


def checksum(db: Path) -> str:
    """SHA-256 of the whole database as SQL text (schema and every row of every table)."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for line in conn.iterdump():
            digest.update(line.encode("utf-8"))
            digest.update(b"\n")
    finally:
        conn.close()
    return digest.hexdigest()


class PeakRss:
    """The process's peak resident memory while the block runs, sampled from /proc every 2 ms.

    A C call holding the GIL (one ``json.loads``) can hide a short peak from the sampler, so the
    kernel's high-water mark counts too whenever it rose during the block.
    """

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self.baseline = self.peak = 0

    def _rss(self) -> int:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * self._page

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakRss:
        gc.collect()
        self._high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.baseline = self.peak = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if high_water > self._high_water:
            self.peak = max(self.peak, high_water * 1024)  # ru_maxrss is in KiB on Linux

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@dataclass
class Harness:
    db: Path
    files: Path
    clients: dict[int | None, TestClient]
    start: str

    def post(self, case: Case) -> httpx.Response:
        data = (self.files / case.filename).read_bytes()
        client = self.clients[case.upload_limit]
        if case.transport == "raw":
            headers = {"Content-Type": case.content_type} if case.content_type else {}
            response = client.post("/v1/imports", content=data, headers=headers)
        else:
            part = "file" if case.transport == "multipart" else "upload"
            response = client.post("/v1/imports", files={part: (case.filename, data, case.content_type or "")})
        assert isinstance(response, httpx.Response)
        return response


@pytest.fixture(scope="module")
def harness(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    files = tmp_path_factory.mktemp("hostile-corpus")
    generated = corpus.generate(files)
    assert [c.name for c in generated] == [c.name for c in CASES]
    db = tmp_path_factory.mktemp("hostile-db") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    token = bearer(mint_key(url, Role.steward, owner="hostile-files"))
    clients: dict[int | None, TestClient] = {}
    with ExitStack() as stack:
        for limit in {case.upload_limit for case in CASES}:
            # A key verified once stays trusted for the run, and its last use is written in the
            # background only every hour (at shutdown here): every write during the run would be the
            # import's.
            settings = Settings(database_url=url, seed=True, key_cache_seconds=3600, key_use_flush_seconds=3600)
            if limit is not None:
                settings = settings.model_copy(update={"max_upload_bytes": limit})
            client = stack.enter_context(TestClient(create_app(settings), raise_server_exceptions=False))
            client.headers.update(token)
            assert client.get("/v1/indicators", params={"limit": 1}).status_code == 200
            clients[limit] = client
        yield Harness(db=db, files=files, clients=clients, start=checksum(db))


def _params() -> list[Any]:
    return [pytest.param(case, id=case.name, marks=[pytest.mark.heavy] if case.heavy else []) for case in CASES]


def test_the_corpus_is_large_and_every_file_differs(harness: Harness) -> None:
    assert len(CASES) >= 100
    assert len({c.name for c in CASES}) == len(CASES)
    digests = {hashlib.sha256((harness.files / c.filename).read_bytes()).hexdigest() for c in CASES}
    assert len(digests) == len(CASES)


@pytest.mark.parametrize("case", _params())
def test_hostile_file_is_refused_cleanly(harness: Harness, case: Case) -> None:
    before = checksum(harness.db)
    with PeakRss() as memory:
        started = time.monotonic()
        response = harness.post(case)
        elapsed = time.monotonic() - started

    assert response.status_code == case.status, response.text[:2000]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(response.content) <= MAX_PROBLEM_BYTES
    problem = response.json()
    assert problem["status"] == case.status
    assert problem["title"]
    assert isinstance(problem["detail"], str)
    assert problem["detail"].strip()
    errors = problem.get("errors", [])
    if case.status == 422:
        assert errors, problem
        assert all(e.get("message") for e in errors), problem
    if case.row is not None or case.field is not None:
        located = [
            e
            for e in errors
            if (case.row is None or e.get("row") == case.row) and (case.field is None or e.get("field") == case.field)
        ]
        assert located, f"no error names row {case.row} field {case.field}: {errors[:5]}"
    assert elapsed <= SECONDS[case.heavy], f"{case.name} took {elapsed:.1f} s"
    assert memory.growth <= GROWTH_BYTES[case.heavy], f"{case.name} grew memory by {memory.growth / MiB:.0f} MiB"
    assert checksum(harness.db) == before


def test_the_corpus_left_the_database_unchanged(harness: Harness) -> None:
    # Runs after every case (pytest keeps the file's order): one checksum for the whole corpus.
    assert checksum(harness.db) == harness.start
