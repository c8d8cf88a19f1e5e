"""Backup → restore into an empty instance → identical, table by table (checksums), on both backends;
a restore is all or nothing, and refuses a database that is not empty."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.backup.service import checksums, create_backup, restore_backup
from service.db import make_engine
from service.errors import Conflict
from service.settings import Settings
from tests.conftest import client_for
from tests.support.auth import bearer, mint_key


def _some_history(client: TestClient) -> str:
    """Writes of every kind: indicators and revisions, a release, a policy change, a proposal, audit."""
    code = client.post("/v1/indicators", json={"name": "备份测试指标", "kind": "共性", "level1": "产出指标",
                                               "level2": "数量指标", "comparator": "≥", "value": 1, "unit": "个"}).json()["code"]  # fmt: skip
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    assert client.patch(f"/v1/indicators/{code}", json={"value": 2}, headers={"If-Match": tag}).status_code == 200
    assert client.post("/v1/releases", json={"name": "2026.9", "effective_on": "2026-09-01"}).status_code == 201
    bases = client.get("/v1/legal-bases", params={"q": "GB 5749"}).json()
    basis = next(b for b in (bases["items"] if isinstance(bases, dict) else bases) if b["doc_no"] == "GB 5749-2022")
    r = client.post(f"/v1/legal-bases/{basis['id']}/editions",
                    json={"doc_no": "GB 5749-2099", "title": "生活饮用水卫生标准", "effective_on": "2099-01-01", "summary": "修订"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert client.post("/v1/departments", json={"code": "JYT", "name": "省教育厅"}).status_code == 201
    r = client.post("/v1/proposals", json={"title": "备份提案", "department_code": "JYT", "items": [
        {"action": "revise", "indicator_code": code, "fields": {"value": 3}}]})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(code)


def test_backup_then_restore_is_identical(seeded_url: str, empty_url: str, tmp_path: Path) -> None:
    with client_for(seeded_url, seed=True) as client:
        code = _some_history(client)
        admin = dict(client.headers)
    source = make_engine(seeded_url)
    archive = tmp_path / "catalog-backup.zip"
    manifest = create_backup(source, archive)
    before = checksums(source)
    assert {n: (d.rows, d.sha256) for n, d in before.items()} == {
        n: (t["rows"], t["sha256"]) for n, t in manifest["tables"].items()
    }
    assert before["audit_entry"].rows > 0
    assert before["indicator_revision"].rows > 0
    target = make_engine(empty_url)
    restored = restore_backup(target, archive)
    assert restored == before
    assert checksums(target) == before
    # The restored instance works as the old one: same key, same history, an intact audit chain.
    with TestClient(create_app(Settings(database_url=empty_url, seed=False))) as client:
        client.headers.update(admin)
        history = client.get(f"/v1/indicators/{code}/history").json()
        assert [r["number"] for r in history["revisions"]] == [1, 2]
        assert client.get("/v1/audit/verify").json()["ok"] is True
        assert client.get("/v1/releases/2026.9").status_code == 200
        assert [p["title"] for p in client.get("/v1/proposals").json()["items"]] == ["备份提案"]
        made = client.post("/v1/indicators", json={"name": "恢复后新增指标", "kind": "共性"})
        assert made.status_code == 201, made.text  # ids and sequences continue after the restored ones
    source.dispose()
    target.dispose()


def test_restore_is_all_or_nothing(seeded_url: str, empty_url: str, tmp_path: Path) -> None:
    source = make_engine(seeded_url)
    archive = tmp_path / "b.zip"
    create_backup(source, archive)
    # A tampered row: the checksum after restoring differs, and the whole restore is rolled back.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "indicator.jsonl":
                data = data.replace("满意度".encode(), "不满意".encode(), 1)
            dst.writestr(item, data)
    target = make_engine(empty_url)
    with pytest.raises(Conflict, match="indicator"):
        restore_backup(target, tampered)
    assert checksums(target)["indicator"].rows == 0
    # Into a database with data: refused before anything is written.
    with pytest.raises(Conflict, match="empty"):
        restore_backup(source, archive)
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    assert manifest["format"] == "indicator-catalog-backup/1"
    source.dispose()
    target.dispose()


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql(sqlite_template: Path, postgres_server: object, tmp_path: Path) -> None:
    from tests.support import require_or_skip  # noqa: F401  (postgres_server skips loudly without a server)

    sqlite = make_engine(f"sqlite:///{sqlite_template}")
    archive = tmp_path / "s.zip"
    create_backup(sqlite, archive)
    url = postgres_server.create_database("restore_cross")  # type: ignore[attr-defined]
    pg = make_engine(url)
    assert restore_backup(pg, archive) == checksums(sqlite)
    sqlite.dispose()
    pg.dispose()


def test_cli_round_trip(seeded_url: str, empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    archive = tmp_path / "cli.zip"
    runner = CliRunner()
    monkeypatch.setenv("CATALOG_DATABASE_URL", seeded_url)
    assert runner.invoke(app, ["backup", "create", str(archive)]).exit_code == 0
    monkeypatch.setenv("CATALOG_DATABASE_URL", empty_url)
    out = runner.invoke(app, ["backup", "restore", str(archive)])
    assert out.exit_code == 0, out.output
    assert runner.invoke(app, ["backup", "verify", str(archive)]).output.strip().endswith("identical")
    monkeypatch.setenv("CATALOG_DATABASE_URL", seeded_url)
    assert runner.invoke(app, ["backup", "restore", str(archive)]).exit_code == 1  # not empty
    _ = bearer, mint_key
