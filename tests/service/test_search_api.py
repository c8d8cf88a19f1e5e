"""Chinese search over the seeded catalogue: relevance, filters, facets, paging."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _names(client: TestClient, q: str, **params: object) -> list[str]:
    body = client.get("/v1/indicators", params={"q": q, "limit": 10, **params}).json()
    return [i["name"] for i in body["items"]]


def test_satisfaction_indicators_come_first(client: TestClient) -> None:
    names = _names(client, "满意度")
    assert names
    assert all("满意" in n for n in names)


def test_rural_roads_come_first(client: TestClient) -> None:
    body = client.get("/v1/indicators", params={"q": "农村公路", "limit": 5}).json()
    assert all(i["sector"] == "交通运输(农村公路)" for i in body["items"]), [i["name"] for i in body["items"]]


def test_vaccination_rate_and_a_word_inside_a_compound(client: TestClient) -> None:
    assert "适龄儿童疫苗接种率" in _names(client, "接种率")[:3]
    assert "适龄儿童疫苗接种率" in _names(client, "接种")


def test_filters_and_facets_agree(client: TestClient) -> None:
    body = client.get("/v1/indicators", params={"q": "满意度", "level1": "满意度指标", "limit": 200}).json()
    assert body["total"] == len(body["items"]) > 0
    assert all(i["level1"] == "满意度指标" for i in body["items"])
    assert sum(body["facets"]["level1"].values()) >= body["total"]


def test_cursor_pages_cover_everything_once(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"q": "率", "limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/indicators", params=params).json()
        seen.extend(i["code"] for i in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == body["total"]


def test_bad_cursor_is_422(client: TestClient) -> None:
    r = client.get("/v1/indicators", params={"q": "率", "cursor": "garbage"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


def test_new_indicator_is_searchable_at_once(client: TestClient) -> None:
    client.post("/v1/indicators", json={"name": "非物质文化遗产保护传承覆盖率", "kind": "分行业分领域"})
    assert "非物质文化遗产保护传承覆盖率" in _names(client, "非遗保护传承")[
        :3
    ] or "非物质文化遗产保护传承覆盖率" in _names(client, "遗产保护")
