"""The role matrix, proven against the whole OpenAPI document.

Every operation declares its policy (``x-access``/``x-roles``/``x-public``); this walks every
operation as every role, as an anonymous caller, and as an anonymous caller with public read on,
and checks that exactly the declared roles get past access control (401/403 otherwise).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import API_ROUTERS, create_app
from service.auth.principal import Role
from service.settings import Settings
from service.web import ROOMS as WEB_ROOMS
from tests.support.auth import bearer, mint_key

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ANONYMOUS = "anonymous"


@pytest.fixture(scope="module")
def catalogue(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("matrix") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    return f"sqlite:///{db}"


@pytest.fixture(scope="module")
def tokens(catalogue: str) -> dict[str, str]:
    out = {r.value: mint_key(catalogue, r, owner=f"matrix-{r.value}") for r in Role if r is not Role.editor}
    out[Role.editor.value] = mint_key(
        catalogue, Role.editor, owner="matrix-editor", departments=[_dept(catalogue)]
    )
    return out


def _dept(url: str) -> str:
    from sqlmodel import Session, select

    from service.db import make_engine
    from service.models import Department

    engine = make_engine(url)
    with Session(engine) as session:
        code = session.exec(select(Department.code).where(Department.code == "MATRIX")).first()
        if code is None:  # the seed names no departments; the editor needs one of its own
            session.add(Department(code="MATRIX", name="矩阵测试厅"))
            session.commit()
    engine.dispose()
    return "MATRIX"


def _client(url: str, *, public_read: bool) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=url, seed=True, public_read=public_read))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def client(catalogue: str) -> Iterator[TestClient]:
    yield from _client(catalogue, public_read=False)


@pytest.fixture(scope="module")
def public_client(catalogue: str) -> Iterator[TestClient]:
    yield from _client(catalogue, public_read=True)


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items() if m in HTTP_METHODS]


def _concrete(path: str, dept: str) -> str:
    # Department routes get the editor's own department; every other id names nothing, so an allowed
    # call ends in 404/422 and the walk writes (almost) nothing.
    path = path.replace("/departments/{code}", f"/departments/{dept}")
    return re.sub(r"\{[^}]+\}", "nope-0", path)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("post", "put", "patch"):
        kwargs["json"] = {}
    return client.request(method.upper(), path, **kwargs).status_code


def test_every_route_declares_a_policy(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    ops = _operations(doc)
    assert len(ops) >= 55
    undeclared = [(m, p) for m, p, op in ops if "x-roles" not in op or "x-access" not in op]
    assert undeclared == []
    # Every API route the app serves is in the document, so nothing escapes the walk below; every page
    # (not in the document) carries a policy too.
    served = {(m.lower(), r.path) for router in API_ROUTERS for r in router.routes for m in r.methods}  # type: ignore[attr-defined]
    assert served == {(m, p) for m, p, _ in ops}
    pages = [r for room in WEB_ROOMS for r in room.routes]
    assert len(pages) >= 15
    assert [r.path for r in pages if "x-access" not in (r.openapi_extra or {})] == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("caller", [*(r.value for r in Role), ANONYMOUS])
def test_each_role_gets_exactly_the_matrix(
    client: TestClient, tokens: dict[str, str], catalogue: str, caller: str
) -> None:
    doc = client.get("/openapi.json").json()
    dept = _dept(catalogue)
    headers = bearer(tokens[caller]) if caller != ANONYMOUS else {}
    wrong: list[str] = []
    for method, path, op in _operations(doc):
        status = _call(client, method, _concrete(path, dept), headers)
        always_open = op["x-access"] == "health"
        if caller == ANONYMOUS:
            expected_ok = always_open
            denied = {401}
        else:
            expected_ok = always_open or caller in op["x-roles"]
            denied = {403}
        if status >= 500:
            wrong.append(f"{method.upper()} {path}: {caller} got {status}")
        if expected_ok and status in (401, 403):
            wrong.append(f"{method.upper()} {path}: {caller} got {status}, the matrix allows it")
        if not expected_ok and status not in denied:
            wrong.append(f"{method.upper()} {path}: {caller} got {status}, expected {sorted(denied)}")
    assert wrong == []


def test_public_read_opens_only_public_routes(public_client: TestClient, catalogue: str) -> None:
    doc = public_client.get("/openapi.json").json()
    dept = _dept(catalogue)
    wrong = []
    for method, path, op in _operations(doc):
        status = _call(public_client, method, _concrete(path, dept), {})
        if op["x-public"] and status in (401, 403):
            wrong.append(f"{method.upper()} {path}: public route refused ({status})")
        if not op["x-public"] and status != 401:
            wrong.append(f"{method.upper()} {path}: got {status} without a key")
    assert wrong == []


def test_unauthorized_is_problem_json_with_challenge(client: TestClient) -> None:
    r = client.get("/v1/indicators")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["type"].endswith("/unauthorized")
    r = client.get("/v1/indicators", headers=bearer("icat_0000_not-a-key"))
    assert r.status_code == 401
    r = client.get("/v1/indicators", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401


def test_forbidden_names_the_roles_needed(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post("/v1/indicators", json={}, headers=bearer(tokens["platform"]))
    assert r.status_code == 403
    body = r.json()
    assert body["required_roles"] == ["admin", "steward"]
    assert "platform" in body["detail"]
