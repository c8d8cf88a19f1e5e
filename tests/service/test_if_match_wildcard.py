"""``If-Match: *`` is refused wherever the service checks If-Match (issue 14, finding 10).

A wildcard matches every version, so a writer who sends it overwrites whatever changed since it read:
optimistic locking would be defeated. Every guarded write answers 428 problem+json and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.auth.principal import Role
from tests.conftest import client_for
from tests.support.auth import bearer, mint_key

PROBLEM = "application/problem+json"
WILDCARDS = ["*", ' "p0.v0" , *', "W/*"]


def _refused(r: Any) -> None:
    assert r.status_code == 428, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert "*" in r.json()["detail"]


def _seed_code(client: TestClient) -> str:
    return str(client.get("/v1/indicators", params={"q": "满意度", "limit": 1}).json()["items"][0]["code"])


@pytest.mark.parametrize("wildcard", WILDCARDS)
def test_indicator_patch_and_retire(client: TestClient, wildcard: str) -> None:
    code = _seed_code(client)
    before = client.get(f"/v1/indicators/{code}").json()
    _refused(client.patch(f"/v1/indicators/{code}", json={"notes": "覆盖"}, headers={"If-Match": wildcard}))
    _refused(client.delete(f"/v1/indicators/{code}", headers={"If-Match": wildcard}))
    assert client.get(f"/v1/indicators/{code}").json() == before


def test_proposal_patch_submit_withdraw_and_decision(seeded_url: str) -> None:
    with client_for(seeded_url, seed=True) as client:
        steward = bearer(mint_key(seeded_url, Role.steward, owner="steward-s"))
        assert client.post("/v1/departments", json={"code": "JYT", "name": "省教育厅"}).status_code == 201
        item = {"action": "revise", "indicator_code": _seed_code(client), "fields": {"value": 99}}
        r = client.post("/v1/proposals", json={"title": "调整", "department_code": "JYT", "items": [item]})
        assert r.status_code == 201, r.text
        pid, version = r.json()["id"], r.json()["version"]
        star = {"If-Match": "*"}
        _refused(client.patch(f"/v1/proposals/{pid}", json={"title": "改"}, headers=star))
        _refused(client.post(f"/v1/proposals/{pid}/submit", headers=star))
        _refused(client.post(f"/v1/proposals/{pid}/withdraw", headers=star))
        assert client.post(f"/v1/proposals/{pid}/submit").status_code == 200
        decision = {"decision": "start_review"}
        _refused(client.post(f"/v1/proposals/{pid}/decision", json=decision, headers={**steward, **star}))
        after = client.get(f"/v1/proposals/{pid}").json()
        assert (after["state"], after["version"]) == ("submitted", version + 1)


def test_change_set_and_item_patch(client: TestClient) -> None:
    basis = next(b for b in client.get("/v1/legal-bases", params={"q": "5749"}).json()["items"]
                 if b["doc_no"] == "GB 5749-2022")  # fmt: skip
    r = client.post("/v1/indicators", json={"name": "出厂水浑浊度达标率", "kind": "共性", "level1": "产出指标",
                                            "level2": "质量指标", "basis": "GB 5749-2022"})  # fmt: skip
    assert r.status_code == 201, r.text
    edition = {"doc_no": "GB 5749-2027", "title": "生活饮用水卫生标准", "effective_on": "2027-01-01",
               "summary": "限值调整"}  # fmt: skip
    r = client.post(f"/v1/legal-bases/{basis['id']}/editions", json=edition)
    assert r.status_code == 201, r.text
    cs = r.json()["change_set"]
    [item] = cs["items"]
    star = {"If-Match": "*"}
    _refused(client.patch(f"/v1/change-sets/{cs['id']}", json={"summary": "覆盖"}, headers=star))
    url = f"/v1/change-sets/{cs['id']}/items/{item['id']}"
    _refused(client.patch(url, json={"decision": "accepted"}, headers=star))
    after = client.get(f"/v1/change-sets/{cs['id']}").json()
    assert (after["summary"], after["items"][0]["decision"]) == ("限值调整", "pending")
