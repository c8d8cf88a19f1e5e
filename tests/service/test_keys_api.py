"""API keys over HTTP and on the command line: minted once, stored hashed, expiring, rotating, revoked;
editors kept to their departments; anonymous public reads limited to published indicators."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.app import create_app
from service.db import make_engine
from service.settings import Settings
from tests.support.auth import bearer, mint_key


def _sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture
def uncached(seeded_url: str) -> Iterator[TestClient]:
    """A client whose server re-reads keys on every call (key_cache_seconds=0) and sends no key."""
    app = create_app(Settings(database_url=seeded_url, seed=True, key_cache_seconds=0))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_created_key_is_shown_once_and_stored_hashed(client: TestClient, seeded_url: str) -> None:
    r = client.post("/v1/keys", json={"owner": "platform-prod", "role": "platform", "note": "一体化系统"})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    created = r.json()
    token = created["token"]
    key_id, secret = token.split("_", 2)[1:]
    assert created["id"] == key_id
    assert created["active"] is True
    [(stored_hash,)] = _sql(seeded_url, "SELECT secret_hash FROM api_key WHERE id = :id", id=key_id)
    assert stored_hash == hashlib.sha256(secret.encode()).hexdigest()
    dump = "\n".join(str(row) for row in _sql(seeded_url, "SELECT * FROM api_key"))
    assert secret not in dump
    listed = client.get("/v1/keys").json()["items"]
    assert key_id in {k["id"] for k in listed}
    assert all("token" not in k and "secret_hash" not in k for k in listed)
    # The new key works in its role: reads and suggestions, no writes.
    assert client.get("/v1/indicators", headers=bearer(token)).status_code == 200
    assert client.post("/v1/indicators", json={"name": "甲"}, headers=bearer(token)).status_code == 403


def test_bad_key_requests_are_422(client: TestClient) -> None:
    r = client.post("/v1/keys", json={"owner": "x", "role": "editor"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "departments"
    r = client.post("/v1/keys", json={"owner": "x", "role": "editor", "departments": ["NO-SUCH"]})
    assert r.status_code == 422
    r = client.post("/v1/keys", json={"owner": "x", "role": "platform", "departments": ["A"]})
    assert r.status_code == 422
    r = client.post("/v1/keys", json={"owner": "x", "role": "root"})
    assert r.status_code == 422
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert (
        client.post("/v1/keys", json={"owner": "x", "role": "platform", "expires_at": past}).status_code
        == 422
    )


def test_revoked_and_expired_keys_stop_working(uncached: TestClient, seeded_url: str) -> None:
    admin = bearer(mint_key(seeded_url, "admin", owner="root"))
    token = uncached.post("/v1/keys", json={"owner": "p", "role": "platform"}, headers=admin).json()["token"]
    key_id = token.split("_")[1]
    assert uncached.get("/v1/indicators", headers=bearer(token)).status_code == 200
    r = uncached.delete(f"/v1/keys/{key_id}", headers=admin)
    assert r.status_code == 200
    assert r.json()["active"] is False
    assert r.json()["revoked_by"] == "root"
    assert uncached.get("/v1/indicators", headers=bearer(token)).status_code == 401
    # Expiry: a key whose time ran out is refused like an unknown one.
    other = uncached.post(
        "/v1/keys", json={"owner": "q", "role": "platform", "expires_in_days": 1}, headers=admin
    )
    token2 = other.json()["token"]
    assert uncached.get("/v1/indicators", headers=bearer(token2)).status_code == 200
    _sql(seeded_url, "UPDATE api_key SET expires_at = :t WHERE id = :id",
         t=datetime.now(UTC) - timedelta(seconds=1), id=other.json()["id"])  # fmt: skip
    assert uncached.get("/v1/indicators", headers=bearer(token2)).status_code == 401
    # The last admin key cannot be revoked through the API (it would lock finance out).
    root_id = admin["Authorization"].split("_")[1]
    assert uncached.delete(f"/v1/keys/{root_id}", headers=admin).status_code == 409


def test_rotation_with_and_without_grace(uncached: TestClient, seeded_url: str) -> None:
    admin = bearer(mint_key(seeded_url, "admin", owner="root"))
    token = uncached.post("/v1/keys", json={"owner": "sync", "role": "platform"}, headers=admin).json()[
        "token"
    ]
    key_id = token.split("_")[1]
    r = uncached.post(f"/v1/keys/{key_id}/rotate", json={"grace_seconds": 600}, headers=admin)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["owner"] == "sync"
    assert new["role"] == "platform"
    assert new["rotated_from"] == key_id
    assert uncached.get("/v1/indicators", headers=bearer(token)).status_code == 200  # grace period
    assert uncached.get("/v1/indicators", headers=bearer(new["token"])).status_code == 200
    r = uncached.post(f"/v1/keys/{new['id']}/rotate", json={}, headers=admin)
    assert uncached.get("/v1/indicators", headers=bearer(new["token"])).status_code == 401
    assert uncached.get("/v1/indicators", headers=bearer(r.json()["token"])).status_code == 200
    # A revoked key cannot be rotated back to life.
    assert uncached.post(f"/v1/keys/{new['id']}/rotate", json={}, headers=admin).status_code == 409


def test_editor_is_kept_to_its_departments(client: TestClient, seeded_url: str) -> None:
    for code, name in (("JYT", "教育厅"), ("WSJ", "卫生健康委")):
        assert client.post("/v1/departments", json={"code": code, "name": name}).status_code == 201
    editor = bearer(mint_key(seeded_url, "editor", owner="李四", departments=["JYT"]))
    r = client.post("/v1/departments/JYT/duties", json={"name": "负责义务教育均衡发展"}, headers=editor)
    assert r.status_code == 201, r.text
    duty_id = r.json()["id"]
    assert (
        client.post("/v1/departments/WSJ/duties", json={"name": "公共卫生"}, headers=editor).status_code
        == 403
    )
    other = client.post("/v1/departments/WSJ/duties", json={"name": "公共卫生"}).json()["id"]
    assert client.patch(f"/v1/duties/{other}", json={"name": "改"}, headers=editor).status_code == 403
    assert client.delete(f"/v1/duties/{other}", headers=editor).status_code == 403
    assert client.patch(f"/v1/duties/{duty_id}", json={"name": "负责教育"}, headers=editor).status_code == 200
    # Targets: its own department only, and never another department's target.
    mine = {"external_id": "T-JYT-1", "department": "JYT", "indicators": []}
    assert client.post("/v1/targets", json=mine, headers=editor).status_code == 201
    theirs = {"external_id": "T-WSJ-1", "department": "WSJ", "indicators": []}
    assert client.post("/v1/targets", json=theirs, headers=editor).status_code == 403
    assert client.post("/v1/targets", json=theirs).status_code == 201
    assert client.get("/v1/targets/T-WSJ-1", headers=editor).status_code == 404
    takeover = {"external_id": "T-WSJ-1", "department": "JYT", "indicators": []}
    assert client.post("/v1/targets", json=takeover, headers=editor).status_code == 403


def test_public_read_shows_only_published_indicators(seeded_url: str) -> None:
    admin = bearer(mint_key(seeded_url, "admin"))
    app = create_app(Settings(database_url=seeded_url, seed=True, public_read=True))
    with TestClient(app, raise_server_exceptions=False) as c:
        draft = c.post(
            "/v1/indicators", json={"name": "公开测试草稿指标", "kind": "共性"}, headers=admin
        ).json()
        assert draft["status"] == "draft"
        assert c.get(f"/v1/indicators/{draft['code']}", headers=admin).status_code == 200
        assert c.get(f"/v1/indicators/{draft['code']}").status_code == 404
        hits = c.get("/v1/indicators", params={"q": "公开测试草稿指标", "status": ["draft"]}).json()
        assert hits["items"] == []
        public = c.get("/v1/indicators", params={"limit": 200}).json()["items"]
        assert public
        assert {i["status"] for i in public} <= {"standard", "superseded", "retired"}
        assert c.get("/v1/exports").status_code == 401
    with TestClient(
        create_app(Settings(database_url=seeded_url, seed=True)), raise_server_exceptions=False
    ) as c:
        assert c.get("/v1/indicators").status_code == 401  # off by default


def test_command_line_keys(tmp_path: Path) -> None:
    env = {**os.environ, "CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "CATALOG_SEED": "false"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service.cli", "keys", *args], env=env, capture_output=True, text=True
        )

    made = cli("create", "--owner", "root", "--role", "admin", "--expires-in-days", "30")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    key_id = token.split("_")[1]
    assert token.startswith("icat_")
    assert "store it now" in made.stderr
    listed = cli("list")
    assert key_id in listed.stdout
    assert token.split("_", 2)[2] not in listed.stdout
    bad = cli("create", "--owner", "x", "--role", "editor", "-d", "NOPE")
    assert bad.returncode == 1
    assert "no department NOPE" in bad.stderr
    second = cli("create", "--owner", "root2", "--role", "admin").stdout.strip()
    assert cli("revoke", key_id).returncode == 0
    assert "revoked" in cli("list", "--all").stdout
    rotated = cli("rotate", second.split("_")[1], "--grace-seconds", "60")
    assert rotated.returncode == 0
    assert rotated.stdout.strip().startswith("icat_")


def test_denials_are_logged_without_the_secret(
    client: TestClient, seeded_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    platform = mint_key(seeded_url, "platform", owner="一体化系统")
    key_id, secret = platform.split("_", 2)[1:]
    with caplog.at_level("WARNING", logger="service.access"):
        assert client.post("/v1/indicators", json={}, headers=bearer(platform)).status_code == 403
        assert client.get("/v1/indicators", headers=bearer(f"icat_{key_id}_wrong-secret")).status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "service.access"]
    assert any(line.startswith("403 POST /v1/indicators: 一体化系统 (platform") for line in lines)
    assert any(line.startswith("401 GET /v1/indicators") and key_id in line for line in lines)
    assert all(secret not in line and "wrong-secret" not in line for line in lines)
