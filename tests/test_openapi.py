"""The committed contract (openapi/openapi.json) must equal what the app serves."""

from __future__ import annotations

import json
import os
from pathlib import Path

from service.app import create_app
from service.settings import Settings

CONTRACT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def current_schema() -> dict[str, object]:
    return create_app(Settings(database_url="sqlite://", seed=False)).openapi()


def test_openapi_contract_has_not_drifted() -> None:
    schema = current_schema()
    if os.environ.get("UPDATE_OPENAPI") == "1":
        CONTRACT.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    committed = json.loads(CONTRACT.read_text(encoding="utf-8"))
    assert schema == committed, (
        "API changed: run `UPDATE_OPENAPI=1 pytest tests/test_openapi.py` and commit openapi/openapi.json"
    )


def test_operation_ids_are_unique_and_readable() -> None:
    ids = [op["operationId"] for path in current_schema()["paths"].values() for op in path.values()]  # type: ignore[attr-defined]
    assert len(ids) == len(set(ids))
    assert all(i[0].islower() and "_" not in i for i in ids)
