"""Concurrency against the real service (uvicorn, its thread pool writing in parallel), on both backends:
50 writers racing for one indicator with If-Match — exactly one winner per version, the rest 412, no
update lost; 50 writers on 50 indicators all win; and an import while suggestions are served — no request
fails and the new indicator appears once and for all (the engine switches atomically)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.auth import bearer, mint_key
from tests.support.browser import serve

WRITERS = 50


@pytest.fixture
def live(seeded_url: str) -> Any:
    admin = bearer(mint_key(seeded_url, "admin"))
    with serve(seeded_url, extra_env={"CATALOG_SUGGEST_RATE_PER_MINUTE": "0"}) as base:
        with httpx.Client(base_url=base, headers=admin, timeout=60) as client:
            yield client


def _new(client: httpx.Client, name: str) -> str:
    r = client.post("/v1/indicators", json={"name": name, "kind": "共性", "level1": "产出指标", "level2": "数量指标",
                                            "comparator": "≥", "value": 1, "unit": "个"})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _race(client: httpx.Client, jobs: list[tuple[str, str, float]]) -> list[httpx.Response]:
    """PATCH every (code, etag, value) at once: a barrier releases all writers together."""
    barrier = threading.Barrier(len(jobs))

    def write(job: tuple[str, str, float]) -> httpx.Response:
        code, tag, value = job
        barrier.wait()
        return client.patch(f"/v1/indicators/{code}", json={"value": value}, headers={"If-Match": tag})

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(write, jobs))


def test_one_winner_per_version_and_no_lost_update(live: httpx.Client) -> None:
    code = _new(live, "并发写入测试指标")
    for round_ in range(3):
        tag = live.get(f"/v1/indicators/{code}").headers["etag"]
        # every value differs from the initial 1 and from earlier rounds: an unchanged value records no revision
        answers = _race(live, [(code, tag, 1000 * (round_ + 1) + i) for i in range(WRITERS)])
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {200: 1, 412: WRITERS - 1}, statuses
        assert all(r.headers["content-type"].startswith("application/problem+json") for r in answers if r.status_code == 412)
        [winner] = [r for r in answers if r.status_code == 200]
        now = live.get(f"/v1/indicators/{code}").json()
        assert now["value"] == winner.json()["value"]  # what the winner wrote is what is stored
    history = live.get(f"/v1/indicators/{code}/history").json()["revisions"]
    assert [r["number"] for r in history] == [1, 2, 3, 4]  # one revision per round, none lost or doubled


def test_writers_on_different_indicators_all_win(live: httpx.Client) -> None:
    codes = [_new(live, f"并发写入测试指标{i:02d}") for i in range(WRITERS)]
    tags = {c: live.get(f"/v1/indicators/{c}").headers["etag"] for c in codes}
    answers = _race(live, [(c, tags[c], float(i)) for i, c in enumerate(codes)])
    assert Counter(r.status_code for r in answers) == {200: WRITERS}
    for i, c in enumerate(codes):
        assert live.get(f"/v1/indicators/{c}").json()["value"] == i


def test_an_import_while_suggestions_are_served(live: httpx.Client) -> None:
    name = "低空经济无人机起降点覆盖率"
    text = {"text": f"2027年{name}达到60%"}
    seen: list[bool] = []
    failures: list[str] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set():
            r = live.post("/v1/suggestions", json=text)
            if r.status_code != 200:
                failures.append(f"{r.status_code} {r.text[:200]}")
                continue
            seen.append(any(s["indicator"]["name"] == name for s in r.json()["items"]))

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for t in askers:
        t.start()
    try:
        rows = "\n".join(f"{n},产出指标,数量指标,≥,60,%,交通" for n in [name, *(f"{name}(第{i}批)" for i in range(300))])
        r = live.post("/v1/imports", content=f"指标名称,一级指标,二级指标,指标性质,指标值,计量单位,行业领域\n{rows}\n".encode(),
                      headers={"Content-Type": "text/csv"})  # fmt: skip
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 30
        while not (seen and seen[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a little longer: once visible, it must stay visible
    finally:
        done.set()
        for t in askers:
            t.join()
    assert not failures, failures[:5]
    assert seen, "no suggestion was answered"
    first = seen.index(True)
    assert all(seen[first:]), "the new indicator vanished again after it appeared"
