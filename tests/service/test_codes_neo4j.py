"""Codes in any case or width reach the same node in Neo4j as in the embedded graph (issue 14, finding 6).

Graph nodes are keyed by the code as stored; the API resolves what the caller typed to that code before
asking either store, so ``Indicator:ab-00002`` and ``Indicator:ＡＢ－００００２`` are one node in Neo4j too.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.support.auth import bearer, mint_key


@pytest.fixture(scope="module")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.support.neo4j import start_neo4j_or_skip

    server = start_neo4j_or_skip(tmp_path_factory.mktemp("neo4j-codes"))
    yield server
    server.close()


def _wait(predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("timed out")


@pytest.mark.neo4j
def test_neo4j_answers_for_a_code_in_any_spelling(
    neo4j_server: object, tmp_path: Path, sqlite_template: Path
) -> None:
    server = neo4j_server
    server.wipe()  # type: ignore[attr-defined]
    db = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    settings = Settings(database_url=f"sqlite:///{db}", neo4j_uri=server.uri)  # type: ignore[attr-defined]
    with TestClient(create_app(settings), headers=bearer(mint_key(settings.database_url, "admin"))) as client:
        assert client.post("/v1/departments", json={"code": "SLT", "name": "水利厅"}).status_code == 201
        r = client.post(
            "/v1/indicators",
            json={
                "code": "ab-00002",
                "name": "农村集中供水水质达标率",
                "department": "slt",
                "kind": "部门职责",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["department_code"] == "SLT"
        # A second spelling is refused, so Neo4j never receives a twin node.
        assert client.post("/v1/indicators", json={"code": "AB-00002", "name": "另一个"}).status_code == 409
        _wait(lambda: client.get("/ready").json()["graph"]["projection_lag"] == 0)

        answers = []
        for spelling in ("ab-00002", "AB-00002", "ＡＢ－００００２"):
            r = client.get("/v1/graph/neighbourhood", params={"node": f"Indicator:{spelling}"})
            assert r.status_code == 200, (spelling, r.text)
            assert r.headers["x-graph-backend"] == "neo4j"
            answers.append(r.json())
            related = client.get(f"/v1/indicators/{quote(spelling)}/related")
            assert related.status_code == 200, (spelling, related.text)
            assert related.headers["x-graph-backend"] == "neo4j"
        assert answers[0] == answers[1] == answers[2]
        node_ids = {n["id"] for n in answers[0]["nodes"]}
        assert {"Indicator:ab-00002", "Department:SLT"} <= node_ids

        profile = client.get("/v1/departments/slt/profile")
        assert profile.status_code == 200, profile.text
        assert profile.headers["x-graph-backend"] == "neo4j"
        state = client.app.state.catalog.graph  # type: ignore[attr-defined]
        assert state.neo4j.stats().checksum == state.embedded.stats().checksum
