"""The soak of ``bench/soak.py`` in a short form CI can afford (#8, item 7).

The real service (uvicorn, 2 workers, seeded SQLite) takes the same mixed traffic as the 10-minute soak —
search, suggestions, reads, the change feed, edits with ``If-Match`` and new targets — for about 20 s
through the Python client, which runs everywhere; when ``wrk`` is installed its Lua path gets 10 s as
well. No request may fail (412s of racing edits are expected and counted apart), every route must have
been called, and the server's memory may not run away.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.soak import MIX, Run, Service, SoakConfig, analyse, serve, soak_on

# Generous: the workers' caches (jieba, analyzer memo, link signals) still fill during a short run;
# the slope of the full soak is what tells a leak.
MEMORY_BOUND_MB = 250


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    workdir = tmp_path_factory.mktemp("soak")
    with serve(workdir, workers=2) as service:
        yield service, workdir


def _check(summary: dict[str, Any]) -> None:
    routes = summary["routes"]
    failing = {label: r for label, r in routes.items() if r["errors"]}
    detail = {
        "failing": failing,
        "warmup": summary["warmup"],
        "server_log_tail": summary.get("server_log_tail"),
    }
    assert (summary["errors"], summary["errors_outside_soak"]) == (0, 0), json.dumps(
        detail, ensure_ascii=False, indent=1
    )
    assert [label for label in MIX if not routes[label]["requests"]] == []
    assert routes["patch"]["ok"] > 0, routes["patch"]
    assert routes["targets"]["ok"] > 0, routes["targets"]
    memory = summary["memory"]
    assert memory["end_mb"] <= memory["start_mb"] + MEMORY_BOUND_MB, memory


def test_soak_short_python_client(running: tuple[Service, Path]) -> None:
    service, workdir = running
    config = SoakConfig(
        seconds=20, connections=4, client="python", warmup_seconds=3, plan_size=5000, sample_every=1
    )
    _check(soak_on(service, config, workdir))


def test_soak_short_wrk(running: tuple[Service, Path]) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("REQUIRE_WRK") == "1":
            pytest.fail("REQUIRE_WRK=1 but wrk is not installed")
        pytest.skip(
            "wrk is not installed (apt-get install wrk): the Lua path of bench/soak.py is NOT checked"
        )
    service, workdir = running
    config = SoakConfig(
        seconds=10, connections=8, client="wrk", warmup_seconds=2, plan_size=5000, sample_every=1
    )
    _check(soak_on(service, config, workdir))


def test_analysis_counts_every_kind_of_failure(tmp_path: Path) -> None:
    """What the soak calls an error: non-2xx (but a 412 of an edit), no response, too slow, unanswered."""
    logs = tmp_path / "run"
    logs.mkdir()
    (logs / "conn-0.tsv").write_text(
        "search\t200\t1500\n"
        "search\t503\t900\n"
        "patch\t412\t2000\n"
        "indicator\t412\t800\n"
        "suggest\t0\t30000\n"
        "history\t200\t11000000\n"
        ">\timpact\t1000000\n",
        encoding="utf-8",
    )
    (logs / "conn-1.tsv").write_text(">\tchanges\t19000000\n", encoding="utf-8")  # sent just before the end
    summary = analyse(Run("wrk", 2, 10.0, logs, ended_at=20.0), timeout=10)
    routes = summary["routes"]
    assert {label: r["errors"] for label, r in routes.items() if r["errors"]} == {
        "search": 1, "indicator": 1, "suggest": 1, "history": 1, "impact": 1,
    }  # fmt: skip
    assert routes["patch"]["conflicts_412"] == 1
    assert routes["suggest"]["transport_errors"] == 1
    assert (routes["history"]["timeouts"], routes["impact"]["timeouts"]) == (1, 1)
    assert (summary["in_flight_at_end"], routes["changes"]["requests"]) == (2, 0)
    assert (routes["search"]["p50_ms"], routes["search"]["p99_ms"]) == (0.9, 1.5)
