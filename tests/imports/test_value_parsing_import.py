"""Imported value cells become the right number, a range, or their text — never a wrong number
(issue 14, finding 8); a number no float holds is refused with its row and field."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient


def _csv(client: TestClient, rows: list[tuple[str, str]]) -> Any:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["指标编码", "指标名称", "指标值"])
    writer.writerows((code, "指标" + code, value) for code, value in rows)
    return client.post("/v1/imports", content=out.getvalue().encode(), headers={"Content-Type": "text/csv"})


@pytest.mark.parametrize(
    ("raw", "comparator", "value", "value_max", "unit"),
    [
        ("≥1e3个", "ge", 1000, None, "个"),
        ("90%~95%", None, 90, 95, "%"),
        ("不低于90%且不高于95%", None, 90, 95, "%"),
        ("≥1e999", "qualitative", "≥1e999", None, None),
        ("1,000人", None, 1000, None, "人"),
        ("≤3‰", "le", 3, None, "‰"),
    ],
)
def test_value_cells(
    empty_client: TestClient, raw: str, comparator: str | None, value: object, value_max: float | None, unit: str | None
) -> None:
    r = _csv(empty_client, [("V-1", raw)])
    assert r.status_code == 200, r.text
    got = empty_client.get("/v1/indicators/V-1").json()
    assert (got["comparator"], got["value"], got["value_max"], got["unit"], got["raw_value"]) == (
        comparator,
        value,
        value_max,
        unit,
        raw,
    )


def test_a_range_round_trips_through_every_export(empty_client: TestClient) -> None:
    assert _csv(empty_client, [("V-2", "90%~95%")]).status_code == 200
    exported = empty_client.get("/v1/exports", params={"format": "jsonl"}).json()
    assert (exported["value"], exported["value_max"]) == (90, 95)
    page = empty_client.get("/ui/indicators/V-2")
    assert page.status_code == 200
    assert "90~95%" in page.text


@pytest.mark.parametrize("body", ['{"name": "甲", "value": Infinity}', '{"name": "甲", "value": 1, "value_max": NaN}'])
def test_a_number_no_float_holds_is_refused_with_row_and_field(empty_client: TestClient, body: str) -> None:
    r = empty_client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(1, "value" if "Infinity" in body else "value_max")]
    assert empty_client.get("/v1/indicators").json()["items"] == []


def test_the_api_refuses_infinity(empty_client: TestClient) -> None:
    r = empty_client.post("/v1/indicators", content='{"name": "甲", "value": Infinity}'.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text


def test_a_reversed_range_is_refused(empty_client: TestClient) -> None:
    r = empty_client.post("/v1/indicators", json={"name": "甲", "value": 95, "value_max": 90})
    assert r.status_code == 422
    assert "value_max" in r.text
