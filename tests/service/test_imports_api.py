"""Import (all-or-nothing, dry run, idempotent) and export round trips."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

CSV_HEADER = "指标名称,一级指标,二级指标,指标值,行业领域\n"


def _count(client: TestClient) -> int:
    return int(
        client.get("/v1/indicators", params={"limit": 1, "status": ["standard", "draft", "retired"]}).json()[
            "total"
        ]
    )


def test_seed_is_fully_loaded(client: TestClient) -> None:
    assert _count(client) == 637
    assert client.get("/v1/legal-bases").json()["total"] >= 69


def test_reimporting_the_seed_changes_nothing(client: TestClient) -> None:
    from importlib import resources

    data = resources.files("loaders").joinpath("seed", "seed_indicators.jsonl").read_bytes()
    r = client.post("/v1/imports", content=data, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, 637)


def test_dry_run_counts_but_writes_nothing(client: TestClient) -> None:
    body = CSV_HEADER + "乡镇卫生院门诊人次,产出指标,数量指标,≥5000人次,卫生健康\n"
    r = client.post(
        "/v1/imports", params={"dry_run": "true"}, content=body.encode(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert r.json()["dry_run"] is True
    assert _count(client) == 637
    r = client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert r.json()["created"] == 1
    assert _count(client) == 638


def test_one_bad_row_writes_nothing_and_is_named(client: TestClient) -> None:
    body = (
        CSV_HEADER
        + "甲指标,产出指标,数量指标,10个,卫生健康\n,产出指标,数量指标,5个,卫生健康\n乙指标,产出指标,质量指标,100%,卫生健康\n"
    )
    r = client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(3, "name")]
    assert _count(client) == 637


def test_unknown_column_is_an_error(client: TestClient) -> None:
    body = "指标名称,颜色\n甲,红\n"
    r = client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422
    assert "颜色" in json.dumps(r.json(), ensure_ascii=False)


def test_unmappable_level_goes_to_unclassified_with_warning(client: TestClient) -> None:
    body = CSV_HEADER + "奇怪指标,某种奇怪框架,某二级,1个,卫生健康\n"
    r = client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert r.json()["warnings"][0]["row"] == 2
    item = client.get("/v1/indicators", params={"q": "奇怪指标", "limit": 1}).json()["items"][0]
    assert item["level1"] == "未归类"
    assert item["raw_level1"] == "某种奇怪框架"


def test_multipart_xlsx_upload(client: TestClient) -> None:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["指标名称", "一级指标", "二级指标", "指标值", "计量单位"])
    ws.append(["河道清淤长度", "产出指标", "数量指标", 12.5, "公里"])
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post("/v1/imports", files={"file": ("table.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    item = client.get("/v1/indicators", params={"q": "河道清淤长度", "limit": 1}).json()["items"][0]
    assert (item["value"], item["unit"]) == (12.5, "公里")


@pytest.mark.parametrize(
    ("fmt", "profile"),
    [("jsonl", "canonical"), ("csv", "chinese"), ("xlsx", "platform"), ("csv", "canonical")],
)
def test_export_then_import_into_empty_instance_is_identical(
    client: TestClient, empty_client: TestClient, fmt: str, profile: str
) -> None:
    exported = client.get("/v1/exports", params={"format": fmt, "profile": profile})
    assert exported.status_code == 200
    r = empty_client.post(
        "/v1/imports", files={"file": (f"export.{fmt}", exported.content, "application/octet-stream")}
    )
    assert r.status_code == 200, r.text[:2000]
    assert r.json()["created"] == 637
    again = empty_client.get("/v1/exports", params={"format": "jsonl"}).content
    original = client.get("/v1/exports", params={"format": "jsonl"}).content
    assert again == original


def test_export_escapes_formula_injection(client: TestClient) -> None:
    client.post("/v1/indicators", json={"name": '=HYPERLINK("http://x")', "kind": "共性"})
    csv_text = client.get("/v1/exports", params={"format": "csv"}).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text
