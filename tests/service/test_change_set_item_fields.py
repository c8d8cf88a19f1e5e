"""A change-set item stores only what its action can carry out, and applying a value keeps its text.

Issue 14 ("never a silent change of stored data"): a revised value used to null the indicator's
raw_value, and an item's ``proposed`` took any key (author, decided_by …) and stored it unused.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.service.test_change_sets_api import _new_edition, _water


def _item(client: TestClient, raw_value: str | None = None) -> tuple[str, dict[str, Any], str]:
    w = _water(client)
    if raw_value is not None:  # the published text, as a department writes it
        tag = client.get(f"/v1/indicators/{w.on_2022}").headers["etag"]
        r = client.patch(
            f"/v1/indicators/{w.on_2022}", json={"raw_value": raw_value}, headers={"If-Match": tag}
        )
        assert r.status_code == 200, r.text
    cs = _new_edition(client, w.in_force)["change_set"]
    item = next(i for i in cs["items"] if i["indicator_code"] == w.on_2022)
    return f"/v1/change-sets/{cs['id']}", item, w.on_2022


def test_a_revised_value_keeps_raw_value_consistent(client: TestClient) -> None:
    url, item, code = _item(client, raw_value="≥95%")
    assert client.get(f"/v1/indicators/{code}").json()["raw_value"] == "≥95%"
    r = client.patch(
        f"{url}/items/{item['id']}",
        json={"action": "revise_value", "proposed": {"value": 98}, "decision": "accepted"},
        headers={"If-Match": f'"csi{item["id"]}.v1"'},
    )
    assert r.status_code == 200, r.text
    assert (
        client.post(f"{url}/items:settle", json={"decision": "accepted", "items": "all"}).status_code == 200
    )
    r = client.post(f"{url}/apply")
    assert r.status_code == 200, r.text
    now = client.get(f"/v1/indicators/{code}").json()
    assert (now["value"], now["comparator"], now["unit"], now["raw_value"]) == (98, "ge", "%", "≥98%")


def test_proposed_keys_the_action_cannot_carry_are_refused(client: TestClient) -> None:
    url, item, _ = _item(client)
    forged = {"author": "forged", "decided_by": "x", "valid_from": "2000-01-01"}
    r = client.patch(
        f"{url}/items/{item['id']}", json={"proposed": forged}, headers={"If-Match": f'"csi{item["id"]}.v1"'}
    )
    assert r.status_code == 422, r.text
    assert sorted(e["field"] for e in r.json()["errors"]) == [f"proposed.{k}" for k in sorted(forged)]
    stored = next(i for i in client.get(f"{url}/items").json()["items"] if i["id"] == item["id"])
    assert not forged.keys() & stored["proposed"].keys()
    # A value belongs to revise_value, not to a rebase …
    r = client.patch(
        f"{url}/items/{item['id']}",
        json={"proposed": {"value": 98}},
        headers={"If-Match": f'"csi{item["id"]}.v1"'},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "proposed.value"
    # … and what the action does carry is still taken.
    r = client.patch(f"{url}/items/{item['id']}", json={"action": "revise_value", "proposed": {"value": 98, "basis_clause": "第4.2条"}},
                     headers={"If-Match": f'"csi{item["id"]}.v1"'})  # fmt: skip
    assert r.status_code == 200, r.text
