"""Cypher injection probes with a real Neo4j behind the graph routes: hostile strings in every string
parameter of every read operation (the same probes as tests/service/test_injection.py). The graph
answers from Neo4j, never a 5xx, and the projection's checksum is unchanged afterwards."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.test_injection import PARAMS, PAYLOADS
from tests.support.auth import bearer, mint_key
from tests.support.neo4j import Neo4jServer


@pytest.mark.neo4j
def test_cypher_probes_leave_the_graph_as_it_was(neo4j_server: Neo4jServer, sqlite_template: Path, tmp_path: Path) -> None:
    neo4j_server.wipe()
    db = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    settings = Settings(database_url=f"sqlite:///{db}", neo4j_uri=neo4j_server.uri)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers.update(bearer(mint_key(settings.database_url, "admin")))
        deadline = time.monotonic() + 120
        while client.get("/ready").json()["graph"]["projection_lag"] != 0:
            assert time.monotonic() < deadline, "the projection did not catch up"
            time.sleep(0.25)
        code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
        graph = client.app.state.catalog.graph  # type: ignore[attr-defined]
        before = graph.neo4j.stats()
        control = client.get("/v1/graph/neighbourhood", params={"node": f"Indicator:{code}"})
        assert control.headers["x-graph-backend"] == "neo4j"  # reads do reach Cypher
        failures = []
        # The node parameter also gets each payload behind a valid label, so that it reaches the query.
        probes = [(p, w, n, x) for p, w, n in PARAMS for x in PAYLOADS]
        probes += [("/v1/graph/neighbourhood", "query", "node", f"Indicator:{x}") for x in PAYLOADS]
        probes += [("/v1/graph/neighbourhood", "query", "node", f"LegalBasis:{x}") for x in PAYLOADS]
        for path, where, name, payload in probes:
            values = dict.fromkeys(("code",), code) | {"name": "2026", "basis_id": "1", "proposal_id": "1"}
            query = {}
            if where == "path":
                values[name] = quote(payload, safe="")
            else:
                query[name] = payload
            if path == "/v1/graph/neighbourhood" and name != "node":
                query["node"] = f"Indicator:{code}"
            url = path
            for key, value in values.items():
                url = url.replace("{" + key + "}", value)
            r = client.get(url, params=query)
            if r.status_code >= 500:
                failures.append(f"{path} {where}:{name}={payload!r} → {r.status_code} {r.text[:120]}")
        assert not failures, "\n".join(failures[:20])
        after = graph.neo4j.stats()
        assert (after.total_nodes, after.total_edges, after.checksum) == (before.total_nodes, before.total_edges, before.checksum)
