"""``?as_of=`` and ``?release=``: one parser, one set of bounds, one problem for every route.

The routes are enumerated from the app, so a new route that reads the past cannot escape: it must
take ``service.deps.PastDep`` (and nothing else named as_of), and must answer like the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from service.app import API_ROUTERS, WEB_ROOMS
from service.deps import past_read
from service.versions.service import AS_OF_FORMAT

PROBLEM = "application/problem+json"
# Known routes: how to fill their path and required query parameters. A new route fails below
# until it is added here, and then it is checked like the others.
MALFORMED = [
    "2026-02-30", "2026-13-01", "2025-02-29", "20261208", "2026-W50-2", "2026-1-1", "2026-01-01T00:00",
    "0000-01-01", "10000-01-01", "x" * 11, "x" * 5000, "", " 2026-01-01", "２０２６-01-01", "2026-01-01\n",
]  # fmt: skip
VALID = ["9999-12-31", "0001-01-01", "2024-02-29", "2026-06-30"]


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _params(dependant: Dependant, kind: str) -> Iterator[Any]:
    """The route's parameters of one kind (query, path), its dependencies' included."""
    yield from getattr(dependant, f"{kind}_params")
    for sub in dependant.dependencies:
        yield from _params(sub, kind)


def past_routes(client: TestClient) -> list[APIRoute]:
    # Every route the app serves (test_role_matrix checks these routers are all of them) …
    routes = [
        r
        for router in (*API_ROUTERS, *WEB_ROOMS)
        for r in router.routes
        if isinstance(r, APIRoute) and any(p.alias == "as_of" for p in _params(r.dependant, "query"))
    ]
    # … and every operation of the published contract that takes as_of is among them.
    doc = client.get("/openapi.json").json()
    documented = {
        path
        for path, ops in doc["paths"].items()
        for op in ops.values()
        if any(p.get("name") == "as_of" for p in op.get("parameters", []))
    }
    assert documented == {r.path for r in routes}
    for route in routes:
        # Taken through the shared dependency, never declared on the route itself.
        assert past_read in set(_calls(route.dependant)), route.path
        assert "as_of" not in {p.alias for p in route.dependant.query_params}, route.path
    return routes


def _urls(client: TestClient) -> list[tuple[str, dict[str, str]]]:
    code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
    basis = client.get("/v1/legal-bases", params={"limit": 1}).json()["items"][0]["id"]
    path_values = {"code": code, "basis_id": str(basis)}
    required = {"node": f"Indicator:{code}"}
    out = []
    for route in past_routes(client):
        assert route.methods == {"GET"}, route.path
        query = list(_params(route.dependant, "query"))
        missing = {p.alias for p in _params(route.dependant, "path")} - set(path_values)
        missing |= {p.alias for p in query if p.field_info.is_required()} - set(required)
        assert not missing, f"{route.path}: add values for {missing} to this test"
        path = route.path_format.format(**path_values)
        out.append((path, {p.alias: required[p.alias] for p in query if p.alias in required}))
    return out


def _problem(r: Any) -> dict[str, Any]:
    assert r.headers["content-type"].startswith(PROBLEM), r.text
    return {k: v for k, v in r.json().items() if k != "instance"}


def test_every_past_route_is_found(client: TestClient) -> None:
    paths = {path for path, _ in _urls(client)}
    # The routes known when this test was written; more may come, fewer would mean one escaped.
    assert len(paths) >= 6
    assert {"/v1/indicators", "/v1/exports", "/v1/graph/neighbourhood", "/v1/quality"} <= paths


def test_every_calendar_date_is_accepted_everywhere(client: TestClient) -> None:
    for path, extra in _urls(client):
        for day in VALID:
            r = client.get(path, params={**extra, "as_of": day})
            # Before anything existed a single node or indicator is a 404; never a 422 or a 500.
            expected = {200, 404} if day == "0001-01-01" else {200}
            assert r.status_code in expected, (path, day, r.text[:300])


def test_far_future_reads_the_newest_revisions(client: TestClient) -> None:
    code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
    today = client.get(f"/v1/indicators/{code}").json()
    then = client.get(f"/v1/indicators/{code}", params={"as_of": "9999-12-31"})
    assert then.status_code == 200, then.text
    volatile = {"valid_from", "valid_to", "updated_at"}
    assert {k: v for k, v in then.json().items() if k not in volatile} == {
        k: v for k, v in today.items() if k not in volatile
    }
    listed = client.get("/v1/indicators", params={"as_of": "9999-12-31", "limit": 1}).json()
    assert listed["total"] == client.get("/v1/indicators", params={"limit": 1}).json()["total"]
    export = client.get("/v1/exports", params={"as_of": "9999-12-31"})
    assert "99991231" in export.headers["content-disposition"]


def test_malformed_dates_are_one_problem_everywhere(client: TestClient) -> None:
    seen: set[str] = set()
    for path, extra in _urls(client):
        for bad in MALFORMED:
            r = client.get(path, params={**extra, "as_of": bad})
            assert r.status_code == 422, (path, bad, r.text[:300])
            body = _problem(r)
            assert body["detail"] == AS_OF_FORMAT, (path, bad, body)
            assert [e["field"] for e in body["errors"]] == ["as_of"], (path, bad, body)
            seen.add(repr(body))
    assert len(seen) == 1  # the very same problem, whatever the route and the spelling


def test_release_bounds_and_both_at_once_are_the_same_everywhere(client: TestClient) -> None:
    both, long_name, unknown = set(), set(), set()
    for path, extra in _urls(client):
        r = client.get(path, params={**extra, "as_of": "2026-06-30", "release": "2026.1"})
        assert r.status_code == 422, (path, r.text)
        assert {e["field"] for e in r.json()["errors"]} == {"as_of", "release"}
        both.add(repr(_problem(r)))
        r = client.get(path, params={**extra, "release": "r" * 65})
        assert r.status_code == 422, (path, r.text)
        long_name.add(repr(_problem(r)))
        r = client.get(path, params={**extra, "release": "no-such-release"})
        assert r.status_code == 404, (path, r.text)
        unknown.add(repr(_problem(r)))
    assert (len(both), len(long_name), len(unknown)) == (1, 1, 1)
