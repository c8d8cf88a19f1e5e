"""Indicator reads, writes, optimistic locking and retirement over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _first_code(client: TestClient, q: str) -> str:
    body = client.get("/v1/indicators", params={"q": q, "limit": 1}).json()
    return str(body["items"][0]["code"])


class TestRead:
    def test_get_by_code_has_etag_and_legal_basis(self, client: TestClient) -> None:
        code = _first_code(client, "适龄儿童疫苗接种率")
        r = client.get(f"/v1/indicators/{code}")
        assert r.status_code == 200
        body = r.json()
        assert body["name"] == "适龄儿童疫苗接种率"
        assert body["level1"] == "产出指标"
        assert body["level2"] == "数量指标"
        assert body["unit"] == "%"
        assert body["value"] == 100
        assert r.headers["etag"] == f'"{code}.v1"'
        assert [b["title"] for b in body["legal_bases"]] == ["国家基本公共卫生服务规范(第三版)"]

    def test_unknown_code_is_problem_json(self, client: TestClient) -> None:
        r = client.get("/v1/indicators/NOPE-1")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["status"] == 404
        assert "NOPE-1" in r.json()["detail"]


class TestCreate:
    def test_create_generates_readable_code_and_normalises(self, client: TestClient) -> None:
        r = client.post(
            "/v1/indicators",
            json={"name": "新改建农村公路里程", "kind": "分行业分领域", "sector": "交通运输(农村公路)",
                  "level1": "项目产出", "level2": "产出数量", "raw_value": "≥１６９公里"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["code"].startswith(body["sector_code"] + "-")
        assert body["kind"] == "sector"
        assert body["status"] == "draft"
        assert (body["level1"], body["level2"]) == ("产出指标", "数量指标")
        assert (body["comparator"], body["value"], body["unit"]) == ("ge", 169, "公里")
        assert body["raw_value"] == "≥１６９公里"
        assert r.headers["location"] == f"/v1/indicators/{body['code']}"

    def test_codes_are_never_reused(self, client: TestClient) -> None:
        first = client.post("/v1/indicators", json={"name": "测试指标甲", "kind": "共性"}).json()["code"]
        assert client.delete(f"/v1/indicators/{first}").status_code == 200
        second = client.post("/v1/indicators", json={"name": "测试指标乙", "kind": "共性"}).json()["code"]
        assert first.startswith("GX-")
        assert second.startswith("GX-")
        assert first != second

    def test_duplicate_code_is_409(self, client: TestClient) -> None:
        assert client.post("/v1/indicators", json={"code": "X-1", "name": "甲"}).status_code == 201
        r = client.post("/v1/indicators", json={"code": "X-1", "name": "乙"})
        assert r.status_code == 409
        assert r.headers["content-type"].startswith(PROBLEM)

    def test_invalid_payload_names_the_field(self, client: TestClient) -> None:
        r = client.post(
            "/v1/indicators", json={"name": "甲", "comparator": "≥", "value": "及时", "colour": "red"}
        )
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert "colour" in fields


class TestPatch:
    def test_patch_requires_if_match(self, client: TestClient) -> None:
        code = _first_code(client, "满意度")
        r = client.patch(f"/v1/indicators/{code}", json={"unit": "%"})
        assert r.status_code == 428
        assert r.headers["content-type"].startswith(PROBLEM)

    def test_patch_with_current_etag_then_stale_etag(self, client: TestClient) -> None:
        code = _first_code(client, "满意度")
        tag = client.get(f"/v1/indicators/{code}").headers["etag"]
        ok = client.patch(f"/v1/indicators/{code}", json={"raw_value": "≥95%"}, headers={"If-Match": tag})
        assert ok.status_code == 200, ok.text
        assert (ok.json()["comparator"], ok.json()["value"], ok.json()["version"]) == ("ge", 95, 2)
        stale = client.patch(f"/v1/indicators/{code}", json={"raw_value": "≥80%"}, headers={"If-Match": tag})
        assert stale.status_code == 412
        assert client.get(f"/v1/indicators/{code}").json()["value"] == 95

    def test_concurrent_patches_with_one_etag_have_one_winner(self, client: TestClient) -> None:
        code = _first_code(client, "接种率")
        tag = client.get(f"/v1/indicators/{code}").headers["etag"]

        def attempt(i: int) -> int:
            r = client.patch(
                f"/v1/indicators/{code}", json={"notes": f"writer {i}"}, headers={"If-Match": tag}
            )
            return r.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(attempt, range(16)))
        assert statuses.count(200) == 1
        assert statuses.count(412) == 15
        final = client.get(f"/v1/indicators/{code}").json()
        assert final["version"] == 2
        assert final["notes"].startswith("writer ")


class TestRetire:
    def test_delete_retires_and_keeps_it_readable(self, client: TestClient) -> None:
        code = _first_code(client, "接种率")
        r = client.delete(f"/v1/indicators/{code}")
        assert r.status_code == 200
        assert r.json()["status"] == "retired"
        assert client.get(f"/v1/indicators/{code}").json()["status"] == "retired"
        codes = [
            i["code"]
            for i in client.get("/v1/indicators", params={"q": "接种率", "limit": 50}).json()["items"]
        ]
        assert code not in codes
        retired = client.get("/v1/indicators", params={"q": "接种率", "status": "retired"}).json()["items"]
        assert [i["code"] for i in retired] == [code]
