"""Who decided, applied, authored: always the authenticated actor, never a caller's word (issue 14, finding 10).

Change-set items took ``decided_by`` from the body, an apply ``author`` (stored as ``applied_by`` and as
every revision's author), a new edition or repeal ``author`` (the change set's and the revisions');
releases recorded no author at all. Those body fields are refused (422, the field named) and the key's
owner is recorded instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.auth.principal import Role
from tests.conftest import client_for
from tests.support.auth import bearer, mint_key

FINANCE = "财政厅-李四"


@dataclass
class Draft:
    client: TestClient
    steward: dict[str, str]
    basis: int
    code: str
    change_set: dict[str, Any]

    def as_steward(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.client.request(method, url, headers={**self.steward, **kwargs.pop("headers", {})}, **kwargs)


def _extra_refused(r: Any, field: str) -> None:
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}, r.text


@pytest.fixture
def draft(seeded_url: str) -> Iterator[Draft]:
    with client_for(seeded_url, seed=True) as client:
        steward = bearer(mint_key(seeded_url, Role.steward, owner=FINANCE))
        basis = next(b for b in client.get("/v1/legal-bases", params={"q": "5749"}).json()["items"]
                     if b["doc_no"] == "GB 5749-2022")  # fmt: skip
        r = client.post("/v1/indicators", json={"name": "出厂水浑浊度达标率", "kind": "共性", "level1": "产出指标",
                                                "level2": "质量指标", "basis": "GB 5749-2022"})  # fmt: skip
        assert r.status_code == 201, r.text
        edition = {"doc_no": "GB 5749-2027", "title": "生活饮用水卫生标准", "effective_on": "2027-01-01",
                   "summary": "限值调整"}  # fmt: skip
        d = Draft(client, steward, basis["id"], r.json()["code"], {})
        r = d.as_steward("POST", f"/v1/legal-bases/{d.basis}/editions", json=edition)
        assert r.status_code == 201, r.text
        d.change_set = r.json()["change_set"]
        yield d


def test_an_edition_names_its_author_from_the_key(draft: Draft) -> None:
    assert draft.change_set["author"] == FINANCE
    again = {"doc_no": "GB 5749-2028", "title": "生活饮用水卫生标准", "effective_on": "2028-01-01",
             "summary": "再次修订", "author": "水利厅审核员"}  # fmt: skip
    url = f"/v1/legal-bases/{draft.change_set['new_basis_id']}/editions"
    _extra_refused(draft.as_steward("POST", url, json=again), "author")


def test_an_item_decision_names_the_key_owner(draft: Draft) -> None:
    d = draft
    [item] = d.change_set["items"]
    url = f"/v1/change-sets/{d.change_set['id']}/items/{item['id']}"
    tag = {"If-Match": f'"csi{item["id"]}.v{item["version"]}"'}
    _extra_refused(d.as_steward("PATCH", url, json={"decision": "accepted", "decided_by": "局长"}, headers=tag),
                   "decided_by")  # fmt: skip
    r = d.as_steward("PATCH", url, json={"decision": "accepted"}, headers=tag)
    assert r.status_code == 200, r.text
    assert r.json()["decided_by"] == FINANCE


def test_settling_and_applying_name_the_key_owner(draft: Draft) -> None:
    d = draft
    url = f"/v1/change-sets/{d.change_set['id']}"
    settle = {"decision": "accepted", "items": "all"}
    _extra_refused(d.as_steward("POST", f"{url}/items:settle", json={**settle, "decided_by": "局长"}), "decided_by")
    assert d.as_steward("POST", f"{url}/items:settle", json=settle).status_code == 200
    assert [i["decided_by"] for i in d.as_steward("GET", url).json()["items"]] == [FINANCE]
    _extra_refused(d.as_steward("POST", f"{url}/apply", json={"author": "水利厅审核员"}), "author")
    r = d.as_steward("POST", f"{url}/apply")
    assert r.status_code == 200, r.text
    assert r.json()["change_set"]["applied_by"] == FINANCE
    last = d.client.get(f"/v1/indicators/{d.code}/history").json()["revisions"][-1]
    assert (last["change_set_id"], last["author"]) == (d.change_set["id"], FINANCE)


def test_a_repeal_names_its_author_from_the_key(draft: Draft) -> None:
    d = draft
    url = f"/v1/legal-bases/{d.change_set['new_basis_id']}/repeal"
    _extra_refused(d.as_steward("POST", url, json={"effective_on": "2028-01-01", "author": "某人"}), "author")
    r = d.as_steward("POST", url, json={"effective_on": "2028-01-01"})
    assert r.status_code == 201, r.text
    assert r.json()["change_set"]["author"] == FINANCE


def test_a_release_names_its_author(draft: Draft) -> None:
    r = draft.as_steward("POST", "/v1/releases", json={"name": "2027.1", "effective_on": "2027-01-01"})
    assert r.status_code == 201, r.text
    assert r.json()["author"] == FINANCE
    assert draft.client.get("/v1/releases/2027.1").json()["author"] == FINANCE
