"""An item made stale by another change set can always be reviewed again and applied (issue 14)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.service.test_change_sets_api import _new_edition, _settle_all, _water


def _items(client: TestClient, cs_id: int) -> list[dict[str, Any]]:
    return list(client.get(f"/v1/change-sets/{cs_id}/items").json()["items"])


def test_stale_item_is_rebased_on_review_and_the_change_set_applies(client: TestClient) -> None:
    w = _water(client)
    # on_both cites GB 5749-2022 and another law: one change set per law, both accepted.
    first = _new_edition(client, w.in_force)["change_set"]
    second = _new_edition(
        client, w.other["id"], doc_no=f"{w.other['doc_no']}-2027", title=w.other["title"],
        effective_on="2099-01-01",
    )["change_set"]  # fmt: skip
    _settle_all(client, first["id"])
    _settle_all(client, second["id"])
    assert client.post(f"/v1/change-sets/{first['id']}/apply").status_code == 200

    r = client.post(f"/v1/change-sets/{second['id']}/apply")
    assert r.status_code == 409, r.text
    stale = r.json()["stale"]
    assert [s["code"] for s in stale] == [w.on_both]
    assert "PATCH" in r.json()["detail"]  # the refusal says how to move forward

    item = next(i for i in _items(client, second["id"]) if i["indicator_code"] == w.on_both)
    url = f"/v1/change-sets/{second['id']}/items/{item['id']}"
    etag = f'"csi{item["id"]}.v{item["version"]}"'
    r = client.patch(url, json={"decision": "pending"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    current = client.get(f"/v1/indicators/{w.on_both}/history").json()["current"]
    assert r.json()["base_revision"] == current == 2
    assert r.headers["etag"] != etag
    # The proposal was recomputed against the current text: the first change set's new edition stays.
    assert "GB 5749-2027" in r.json()["proposed"]["basis"]
    assert f"{w.other['doc_no']}-2027" in r.json()["proposed"]["basis"]
    r = client.patch(url, json={"decision": "accepted"}, headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "accepted"

    r = client.post(f"/v1/change-sets/{second['id']}/apply")
    assert r.status_code == 200, r.text
    ind = client.get(f"/v1/indicators/{w.on_both}").json()
    docs = {b["doc_no"] for b in ind["legal_bases"]}
    assert docs == {"GB 5749-2027", f"{w.other['doc_no']}-2027"}
    assert "GB 5749-2027" in ind["basis"]
    assert f"{w.other['doc_no']}-2027" in ind["basis"]


def test_accepting_a_stale_item_in_one_step_rebases_it_back_to_pending(client: TestClient) -> None:
    w = _water(client)
    cs = _new_edition(client, w.in_force)["change_set"]
    tag = client.get(f"/v1/indicators/{w.on_2006}").headers["etag"]
    assert (
        client.patch(f"/v1/indicators/{w.on_2006}", json={"unit": "%"}, headers={"If-Match": tag}).status_code
        == 200
    )
    item = next(i for i in _items(client, cs["id"]) if i["indicator_code"] == w.on_2006)
    url = f"/v1/change-sets/{cs['id']}/items/{item['id']}"
    r = client.patch(
        url, json={"decision": "accepted"}, headers={"If-Match": f'"csi{item["id"]}.v{item["version"]}"'}
    )
    assert r.status_code == 200, r.text
    # The reviewer accepted a proposal judged against revision 1; the re-based one needs a fresh look.
    assert r.json()["base_revision"] == 2
    assert r.json()["decision"] == "pending"
