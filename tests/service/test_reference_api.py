"""Categories, sectors, departments, legal bases, health."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_category_tree_has_every_framework_with_counts(client: TestClient) -> None:
    tree = {fw["framework"]: fw["categories"] for fw in client.get("/v1/categories").json()}
    assert set(tree) >= {"target", "evaluation", "legacy", "department", "unclassified"}
    output = next(c for c in tree["target"] if c["name"] == "产出指标")
    assert [c["name"] for c in output["children"]] == ["数量指标", "质量指标", "时效指标"]
    assert output["count"] == sum(c["count"] for c in output["children"]) + 0 or output["count"] > 0


def test_sectors_form_a_tree(client: TestClient) -> None:
    sectors = client.get("/v1/sectors").json()
    by_name = {s["name"]: s for s in sectors}
    child = by_name["卫生健康(妇幼/两癌筛查)"]
    assert child["parent_id"] == by_name["卫生健康"]["id"]
    assert by_name["卫生健康"]["code"] == "WSJK"


def test_legal_bases_and_supersession(client: TestClient) -> None:
    bases = client.get("/v1/legal-bases", params={"q": "GB 5749"}).json()["items"]
    new = next(b for b in bases if b["doc_no"] == "GB 5749-2022")
    old = client.get(f"/v1/legal-bases/{new['supersedes'][0]}").json()
    assert old["doc_no"] == "GB 5749-2006"
    assert old["status"] == "superseded"
    assert old["superseded_by"] == [new["id"]]


def test_create_legal_basis_supersedes_an_edition(client: TestClient) -> None:
    old = client.post(
        "/v1/legal-bases", json={"doc_no": "DB37/T 1-2019", "title": "某地方标准", "kind": "行业标准"}
    ).json()
    r = client.post(
        "/v1/legal-bases",
        json={
            "doc_no": "DB37/T 1-2024",
            "title": "某地方标准",
            "supersedes": [old["id"]],
            "effective_on": "2024-07-01",
        },
    )
    assert r.status_code == 201, r.text
    assert client.get(f"/v1/legal-bases/{old['id']}").json()["status"] == "superseded"
    assert (
        client.post("/v1/legal-bases", json={"doc_no": "DB37/T 1-2024", "title": "某地方标准"}).status_code
        == 409
    )


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready"
    assert ready["indexed"] >= 637
