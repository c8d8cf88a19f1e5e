"""Injection probes: SQL, Cypher, path traversal and template payloads in every string parameter of every
read operation of the contract. No answer may be a 5xx, every error is problem+json, nothing is written;
and such strings stored as data come back byte for byte (parameters are bound, never spliced).
The same probes against a real Neo4j behind the graph routes: tests/graph/test_injection.py."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.backup.service import checksums
from service.db import make_engine
from service.settings import Settings
from tests.support import REPO_ROOT
from tests.support.auth import bearer, mint_key

PAYLOADS = [
    "' OR '1'='1",
    "1; DROP TABLE indicator; --",
    "x' UNION SELECT sql FROM sqlite_master --",
    "'); DELETE FROM audit_entry; --",
    "1 OR 1=1",
    "\\' OR pg_sleep(5) --",
    "n) DETACH DELETE n //",
    "x'}) MATCH (n) DETACH DELETE n RETURN 1 //",
    "Indicator:X` RETURN 1 UNION MATCH (n) DETACH DELETE n //",
    "../../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "<script>alert(1)</script>",
    "%00\x00",
    "满意度' OR 1=1 --",
]
SPEC = json.loads((REPO_ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))


def _string_params() -> list[tuple[str, str, str]]:
    """(path, location, name) of every string parameter of every GET operation."""
    found = []
    for path, ops in SPEC["paths"].items():
        op = ops.get("get")
        if not op:
            continue
        for p in op.get("parameters", []):
            schema = p.get("schema", {})
            types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
            if "string" in types or (schema.get("type") == "array" and schema.get("items", {}).get("type") == "string"):
                found.append((path, p["in"], p["name"]))
    return found


PARAMS = _string_params()


@pytest.fixture(scope="module")
def probe(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = tmp_path_factory.mktemp("inject") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    with TestClient(create_app(Settings(database_url=url, seed=True)), raise_server_exceptions=False) as client:
        client.headers.update(bearer(mint_key(url, "admin")))
        code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
        yield {"client": client, "url": url, "code": code}


def _defaults(path: str, code: str) -> dict[str, str]:
    """A valid value for every path parameter, so that only the probed one is hostile."""
    values = {}
    for name in re.findall(r"{(\w+)}", path):
        values[name] = code if name == "code" else ("2026" if name == "name" else "1")
    return values


def test_the_probe_covers_the_contract() -> None:
    assert len(PARAMS) >= 20, PARAMS  # q, code, node, external_id, as_of, release, cursor, facets …


def test_hostile_strings_in_every_read_parameter(probe: dict[str, Any]) -> None:
    client: TestClient = probe["client"]
    engine = make_engine(probe["url"])
    before = {n: d for n, d in checksums(engine).items() if n != "api_key"}
    failures = []
    for path, where, name in PARAMS:
        for payload in PAYLOADS:
            values = _defaults(path, probe["code"])
            query: dict[str, str] = {}
            if where == "path":
                values[name] = quote(payload, safe="")
            else:
                query[name] = payload
            url = path
            for key, value in values.items():
                url = url.replace("{" + key + "}", value)
            r = client.get(url, params=query)
            bad = r.status_code >= 500 or (
                r.status_code >= 400 and not r.headers.get("content-type", "").startswith("application/problem+json")
            )
            if bad:
                failures.append(f"{path} {where}:{name}={payload!r} → {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures[:20])
    assert {n: d for n, d in checksums(engine).items() if n != "api_key"} == before  # nothing written
    engine.dispose()


def test_hostile_strings_stored_as_data_come_back_unchanged(probe: dict[str, Any]) -> None:
    client: TestClient = probe["client"]
    for i, payload in enumerate(PAYLOADS[:9]):
        name = f"注入测试{i} {payload}".replace("\x00", "")
        r = client.post("/v1/indicators", json={"name": name, "kind": "共性", "definition": payload.replace("\x00", "")})
        assert r.status_code == 201, r.text
        got = client.get(f"/v1/indicators/{r.json()['code']}").json()
        assert got["name"] == name
        assert got["definition"] == payload.replace("\x00", "")
        hits = client.get("/v1/indicators", params={"q": f"注入测试{i}"}).json()["items"]
        assert r.json()["code"] in [h["code"] for h in hits]
    assert client.get("/v1/indicators", params={"limit": 1}).json()["total"] > 600  # the table is all there
