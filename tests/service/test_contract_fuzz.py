"""Fuzzing the contract: schemathesis generates requests for every operation of the OpenAPI document
(the committed one: test_openapi.py proves it is the live one) — valid and invalid — and every answer
must be no 5xx, of a documented content type, matching its schema; every error is problem+json.

Once as admin (everything reachable, writes included) and once per other role with fewer examples (the
answers are mostly 403, which must be problem+json too). Examples per operation: ``FUZZ_EXAMPLES``
(default 15 for admin, a third of it per other role), so CI can afford it and a longer run is one
variable away: ``FUZZ_EXAMPLES=200 pytest tests/service/test_contract_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from service.auth.principal import Role
from service.errors import Problem
from tests.support import REPO_ROOT
from tests.support.auth import make_department, mint_key
from tests.support.browser import serve

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def fuzz_app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The real service (uvicorn) on a copy of the seeded catalogue, and a key for every role."""
    db = tmp_path_factory.mktemp("fuzz") / "catalog.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    make_department(url, "FUZZ", "模糊测试厅")
    keys = {role: mint_key(url, role, owner=f"fuzz-{role.value}", departments=["FUZZ"] if role is Role.editor else ())
            for role in Role}  # fmt: skip
    # The rate limit would answer 429 to the fuzzer's bursts; it has its own tests.
    with serve(url, extra_env={"CATALOG_SUGGEST_RATE_PER_MINUTE": "0"}) as base:
        yield {"base": base, "keys": keys}


schema = schemathesis.openapi.from_path(REPO_ROOT / "openapi" / "openapi.json")


# Uploads are declared as NDJSON and XLSX too: whatever the generator makes is sent as those bytes, so
# the import endpoints also meet junk that claims to be a workbook or a line-delimited file.
@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    rows = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()


@schemathesis.serializer("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
def _xlsx(ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()


def errors_are_problems(ctx: Any, response: Any, case: Case) -> bool | None:
    """Every 4xx/5xx is RFC 9457 problem+json in the service's Problem shape."""
    if response.status_code < 400:
        return None
    if response.status_code == 400 and response.content == b"Invalid HTTP request received.":
        return None  # uvicorn refused the bytes on the wire (h11); the request never reached the service
    kind = response.headers.get("content-type", [""])
    kind = kind[0] if isinstance(kind, list) else kind
    assert kind.startswith(PROBLEM), f"{response.status_code} answered as {kind!r}"
    Problem.model_validate(json.loads(response.content))
    return True


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, errors_are_problems]


def _call(case: Case, app: dict[str, Any], token: str) -> None:
    case.call_and_validate(base_url=app["base"], headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_admin_never_gets_a_server_error(case: Case, fuzz_app: dict[str, Any]) -> None:
    _call(case, fuzz_app, fuzz_app["keys"][Role.admin])


@pytest.fixture(params=[r for r in Role if r is not Role.admin], ids=lambda r: r.value)
def role(request: pytest.FixtureRequest) -> Role:
    return Role(request.param)


@schema.parametrize()
@settings(max_examples=max(EXAMPLES // 3, 2), deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_role_gets_documented_answers(case: Case, role: Role, fuzz_app: dict[str, Any]) -> None:
    _call(case, fuzz_app, fuzz_app["keys"][role])
