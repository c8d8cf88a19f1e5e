"""Graph API on the embedded store (SQLite and PostgreSQL) and through a real Neo4j with the outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.support.auth import bearer, mint_key


def _basis_id(client: TestClient, doc_no: str) -> int:
    items = client.get("/v1/legal-bases", params={"q": doc_no}).json()["items"]
    return int(next(b["id"] for b in items if b["doc_no"] == doc_no))


def _water_catalogue(client: TestClient) -> tuple[str, str]:
    old = client.post(
        "/v1/indicators",
        json={"name": "农村集中供水水质达标率", "department": "水利厅", "basis": "GB 5749-2006《生活饮用水卫生标准》", "basis_clause": "表1"},
    ).json()["code"]
    new = client.post(
        "/v1/indicators", json={"name": "城市供水水质合格率", "department": "住房和城乡建设厅", "basis": "GB 5749-2022"}
    ).json()["code"]
    r = client.post("/v1/targets", json={"external_id": "T-WATER-1", "department": "水利厅", "fiscal_year": 2026, "indicators": [{"code": old, "raw_value": "≥95%"}]})
    assert r.status_code == 201, r.text
    return old, new


def test_impact_of_a_new_edition_reaches_the_old_one_and_its_targets(client: TestClient) -> None:
    old, new = _water_catalogue(client)
    r = client.get(f"/v1/legal-bases/{_basis_id(client, 'GB 5749-2022')}/impact")
    assert r.status_code == 200, r.text
    body = r.json()
    codes = {i["code"] for g in body["groups"] for i in g["indicators"]}
    assert codes == {old, new}
    assert body["total_targets"] == 1
    assert {e["doc_no"] for e in body["editions"]} == {"GB 5749-2006", "GB 5749-2022"}
    water = next(i for g in body["groups"] for i in g["indicators"] if i["code"] == old)
    assert [t["external_id"] for t in water["targets"]] == ["T-WATER-1"]
    assert r.headers["x-graph-backend"] == "embedded"


def test_neighbourhood_profile_related_and_errors(client: TestClient) -> None:
    old, _ = _water_catalogue(client)
    sub = client.get("/v1/graph/neighbourhood", params={"node": f"Indicator:{old}", "depth": 2}).json()
    assert any(n["label"] == "LegalBasis" for n in sub["nodes"])
    assert client.get("/v1/graph/neighbourhood", params={"node": "Indicator:NOPE"}).status_code == 404
    assert client.get("/v1/graph/neighbourhood", params={"node": f"Indicator:{old}", "depth": 9}).status_code == 422
    dept = client.get(f"/v1/indicators/{old}").json()["department_code"]
    client.post(f"/v1/departments/{dept}/duties", json={"name": "农村饮水安全", "indicators": [old]})
    client.post(f"/v1/departments/{dept}/duties", json={"name": "水旱灾害防御"})
    profile = client.get(f"/v1/departments/{dept}/profile").json()
    assert [g["name"] for g in profile["gaps"]] == ["水旱灾害防御"]
    assert client.get(f"/v1/indicators/{old}/related").status_code == 200
    assert client.get("/v1/departments/NOPE/profile").status_code == 404


# --- a real Neo4j behind the service ----------------------------------------------------------------
@pytest.fixture(scope="module")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.support.neo4j import start_neo4j_or_skip

    server = start_neo4j_or_skip(tmp_path_factory.mktemp("neo4j-api"))
    yield server
    server.close()


def _wait(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError("timed out")


@pytest.mark.neo4j
def test_neo4j_backend_outage_loses_nothing(neo4j_server: object, tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    server = neo4j_server
    server.wipe()  # type: ignore[attr-defined]
    db = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    settings = Settings(database_url=f"sqlite:///{db}", neo4j_uri=server.uri)  # type: ignore[attr-defined]
    with TestClient(create_app(settings), headers=bearer(mint_key(settings.database_url, "admin"))) as client:
        _wait(lambda: client.get("/ready").json()["graph"]["projection_lag"] == 0)
        old, new = _water_catalogue(client)
        _wait(lambda: client.get("/ready").json()["graph"]["projection_lag"] == 0)
        basis = _basis_id(client, "GB 5749-2022")
        r = client.get(f"/v1/legal-bases/{basis}/impact")
        assert r.headers["x-graph-backend"] == "neo4j"
        assert {i["code"] for g in r.json()["groups"] for i in g["indicators"]} == {old, new}

        server.stop()  # type: ignore[attr-defined]
        # Writes still succeed while Neo4j is down; reads fall back to the embedded store.
        third = client.post("/v1/indicators", json={"name": "二次供水水质合格率", "basis": "GB 5749-2022"}).json()["code"]
        r = client.get(f"/v1/legal-bases/{basis}/impact")
        assert r.headers["x-graph-backend"].startswith("embedded")
        assert third in {i["code"] for g in r.json()["groups"] for i in g["indicators"]}
        assert client.get("/ready").json()["graph"]["projection_lag"] > 0

        server.start()  # type: ignore[attr-defined]
        _wait(lambda: client.get("/ready").json()["graph"]["projection_lag"] == 0, timeout=90)
        r = client.get(f"/v1/legal-bases/{basis}/impact")
        assert r.headers["x-graph-backend"] == "neo4j"
        assert {i["code"] for g in r.json()["groups"] for i in g["indicators"]} == {old, new, third}
        state = client.app.state.catalog.graph  # type: ignore[attr-defined]
        assert state.neo4j.stats().checksum == state.embedded.stats().checksum


@pytest.mark.neo4j
def test_neo4j_killed_while_a_change_set_is_applied(neo4j_server: object, tmp_path: Path, sqlite_template: Path) -> None:
    """SIGKILL of Neo4j while a policy change is applied: the apply commits (the relational store is the
    source), the projection catches up after the restart, and the two graphs are identical again."""
    import shutil
    import threading

    server = neo4j_server
    server.wipe()  # type: ignore[attr-defined]
    db = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    settings = Settings(database_url=f"sqlite:///{db}", neo4j_uri=server.uri)  # type: ignore[attr-defined]
    with TestClient(create_app(settings), headers=bearer(mint_key(settings.database_url, "admin"))) as client:
        _wait(lambda: client.get("/ready").json()["graph"]["projection_lag"] == 0, timeout=120)
        found = client.get("/v1/legal-bases", params={"q": "国家基本公共卫生服务规范"}).json()["items"]
        basis = next(b["id"] for b in found if "第三版" in b["title"])  # 16 indicators rest on it
        r = client.post(f"/v1/legal-bases/{basis}/editions", json={
            "doc_no": "国卫基层发〔2099〕1号", "title": "国家基本公共卫生服务规范(第四版)", "effective_on": "2026-01-01",
            "summary": "调整服务项目"})  # fmt: skip
        assert r.status_code == 201, r.text
        cs_id = r.json()["change_set"]["id"]
        assert client.post(f"/v1/change-sets/{cs_id}/items:settle", json={"decision": "accepted", "items": "all"}).status_code == 200
        killer = threading.Timer(0.05, server.kill)  # type: ignore[attr-defined]
        killer.start()
        applied = client.post(f"/v1/change-sets/{cs_id}/apply")
        killer.join()
        assert applied.status_code == 200, applied.text
        assert applied.json()["change_set"]["status"] == "applied"
        assert applied.json()["revised"] == 16
        server.start()  # type: ignore[attr-defined]
        _wait(lambda: client.get("/ready").json()["graph"]["projection_lag"] == 0, timeout=120)
        state = client.app.state.catalog.graph  # type: ignore[attr-defined]
        assert state.neo4j.stats().checksum == state.embedded.stats().checksum
        impact = client.get(f"/v1/legal-bases/{basis}/impact")
        assert impact.headers["x-graph-backend"] == "neo4j"
        assert impact.json()["total_indicators"] == 16
