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


# --- supersession: the successor column (superseded_by / 替代指标编码) ------------------------------
def _code(client: TestClient, name: str) -> str:
    return str(client.get("/v1/indicators", params={"q": name, "limit": 1}).json()["items"][0]["code"])


def _patch(client: TestClient, code: str, body: dict[str, object]) -> None:
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.patch(f"/v1/indicators/{code}", json=body, headers={"If-Match": tag})
    assert r.status_code == 200, r.text


def _ndjson(client: TestClient, rows: list[dict[str, object]]) -> object:
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    return client.post("/v1/imports", content=body, headers={"Content-Type": "application/x-ndjson"})


def _superseded_pair(client: TestClient) -> tuple[str, str, str]:
    """Three seed indicators: the first superseded by the second, which is then superseded by the third
    and retired — the states an export must carry and an import must take back."""
    a, b, c = (_code(client, n) for n in ("适龄儿童疫苗接种率", "满意度", "门诊人次"))
    _patch(client, a, {"status": "superseded", "superseded_by": b, "reason": "并入新指标"})
    _patch(client, b, {"status": "superseded", "superseded_by": c})
    assert client.delete(f"/v1/indicators/{b}").status_code == 200
    return a, b, c


@pytest.mark.parametrize(("fmt", "profile"), [("jsonl", "canonical"), ("csv", "chinese"), ("xlsx", "platform")])
def test_superseded_indicators_round_trip(client: TestClient, empty_client: TestClient, fmt: str, profile: str) -> None:
    a, b, c = _superseded_pair(client)
    exported = client.get("/v1/exports", params={"format": fmt, "profile": profile})
    if profile == "chinese":
        assert "替代指标编码" in exported.content.decode("utf-8-sig").splitlines()[0]
    r = empty_client.post("/v1/imports", files={"file": (f"export.{fmt}", exported.content, "application/octet-stream")})
    assert r.status_code == 200, r.text[:2000]
    for code, status, successor in ((a, "superseded", b), (b, "retired", c)):
        got = empty_client.get(f"/v1/indicators/{code}").json()
        assert (got["status"], got["superseded_by"]) == (status, successor)
    original = client.get("/v1/exports", params={"format": "jsonl"}).content
    assert empty_client.get("/v1/exports", params={"format": "jsonl"}).content == original


def test_a_file_supersedes_with_a_successor_in_the_same_file(client: TestClient) -> None:
    old = _code(client, "适龄儿童疫苗接种率")
    r = _ndjson(client, [
        {"code": old, "name": "适龄儿童疫苗接种率", "status": "被替代", "superseded_by": "NEW-0001"},
        {"code": "NEW-0001", "name": "适龄儿童免疫规划疫苗全程接种率", "level1": "产出指标", "level2": "质量指标",
         "status": "standard"},
    ])  # fmt: skip
    assert r.status_code == 200, r.text
    got = client.get(f"/v1/indicators/{old}").json()
    assert (got["status"], got["superseded_by"]) == ("superseded", "NEW-0001")
    history = client.get(f"/v1/indicators/{old}/history").json()["revisions"]
    assert "status" in history[-1]["fields"]
    # Re-importing without the column keeps the successor: nothing changes.
    r = _ndjson(client, [{"code": old, "name": "适龄儿童疫苗接种率", "status": "被替代"}])
    assert r.status_code == 200, r.text
    assert r.json()["unchanged"] == 1
    assert client.get(f"/v1/indicators/{old}").json()["superseded_by"] == "NEW-0001"


@pytest.mark.parametrize(
    ("rows", "bad_rows", "says"),
    [
        ([{"name": "甲新指标", "status": "被替代"}], [1], "须填写替代指标编码"),
        ([{"name": "甲新指标", "status": "被替代", "superseded_by": "NOPE-9999"}], [1], "不存在"),
        ([{"name": "甲新指标", "superseded_by": "WSJK-00001"}], [1], "只有被替代"),
        ([{"code": "WSJK-00003", "name": "x", "status": "被替代", "superseded_by": "WSJK-00003"}], [1], "自身"),
        ([{"code": "WSJK-00001", "name": "x", "status": "被替代", "superseded_by": "WSJK-00002"},
          {"code": "WSJK-00002", "name": "y", "status": "被替代", "superseded_by": "WSJK-00001"}], [1, 2], "成环"),
    ],
)  # fmt: skip
def test_bad_successors_are_refused_and_nothing_is_written(
    client: TestClient, rows: list[dict[str, object]], bad_rows: list[int], says: str
) -> None:
    before = client.get("/v1/exports", params={"format": "jsonl"}).content
    r = _ndjson(client, rows)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(n, "superseded_by") for n in bad_rows]
    assert says in errors[0]["message"]
    assert client.get("/v1/exports", params={"format": "jsonl"}).content == before


def test_a_file_cannot_close_a_loop_with_the_catalogue(client: TestClient) -> None:
    a, b = _code(client, "适龄儿童疫苗接种率"), _code(client, "满意度")
    _patch(client, a, {"status": "superseded", "superseded_by": b})
    r = _ndjson(client, [{"code": b, "name": "满意度", "status": "被替代", "superseded_by": a}])
    assert r.status_code == 422, r.text
    assert f"{b} → {a} → {b}" in r.json()["errors"][0]["message"]
    assert client.get(f"/v1/indicators/{b}").json()["status"] == "standard"


def test_patch_cannot_close_a_loop(client: TestClient) -> None:
    a, b = _code(client, "适龄儿童疫苗接种率"), _code(client, "满意度")
    _patch(client, a, {"status": "superseded", "superseded_by": b})
    tag = client.get(f"/v1/indicators/{b}").headers["etag"]
    r = client.patch(f"/v1/indicators/{b}", json={"status": "superseded", "superseded_by": a}, headers={"If-Match": tag})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "superseded_by"
    assert "cycle" in r.json()["errors"][0]["message"]
