"""A revision dated in the future (a scheduled one) never freezes its indicator or legal basis.

An edit made while one is scheduled takes effect with it (same ``valid_from``, a higher number that
supersedes it): PATCH, lifecycle moves, DELETE, imports and change-set applies all go through, history
stays a line in valid time, and as-of reads before / from the scheduled day show what held then.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.service.test_change_sets_api import NEW_EDITION, _settle_all, _water


def _today() -> date:
    return datetime.now(UTC).date()


def _next_year() -> date:
    return date(_today().year + 1, 1, 1)


def _patch(client: TestClient, code: str, body: dict[str, Any]) -> dict[str, Any]:
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.patch(f"/v1/indicators/{code}", json=body, headers={"If-Match": tag})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _retire(client: TestClient, code: str) -> None:
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.delete(f"/v1/indicators/{code}", headers={"If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "retired"


def _import(client: TestClient, row: dict[str, Any]) -> None:
    import json

    body = (json.dumps(row, ensure_ascii=False) + "\n").encode()
    r = client.post("/v1/imports", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1, r.text


def _as_of(client: TestClient, code: str, day: date) -> dict[str, Any] | None:
    r = client.get(f"/v1/indicators/{code}", params={"as_of": day.isoformat()})
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return dict(r.json())


def _history(client: TestClient, code: str) -> list[dict[str, Any]]:
    return list(client.get(f"/v1/indicators/{code}/history").json()["revisions"])


def _is_a_line(revisions: list[dict[str, Any]]) -> None:
    """valid_from never decreases with the number, and each revision ends where the next begins."""
    froms = [r["valid_from"] for r in revisions]
    assert [datetime.fromisoformat(f) for f in froms] == sorted(datetime.fromisoformat(f) for f in froms)
    assert [r["valid_to"] for r in revisions] == [*froms[1:], None]


def test_indicator_created_for_next_year_stays_editable(client: TestClient) -> None:
    start = _next_year()
    r = client.post(
        "/v1/indicators",
        json={"name": "明年起施行的指标", "level1": "产出指标", "level2": "质量指标", "value": 90, "unit": "%",
              "effective_from": start.isoformat()},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert _patch(client, code, {"value": 95, "reason": "今日调整"})["value"] == 95
    assert _patch(client, code, {"status": "proposed"})["status"] == "proposed"  # lifecycle moves
    assert _patch(client, code, {"status": "standard"})["status"] == "standard"
    _import(
        client,
        {"code": code, "name": "明年起施行的指标", "level1": "产出指标", "level2": "质量指标", "value": "≥97%",
         "effective_from": start.isoformat()},
    )  # fmt: skip
    revs = _history(client, code)
    assert [r["number"] for r in revs] == [1, 2, 3, 4, 5]
    # Every edit joined the schedule: none holds before the day the indicator takes effect.
    assert {r["valid_from"][:10] for r in revs} == {start.isoformat()}
    _is_a_line(revs)
    assert _as_of(client, code, _today()) is None  # not yet in force today
    then = _as_of(client, code, start)
    assert then is not None
    assert (then["revision"], then["value"], then["status"]) == (5, 97, "standard")
    assert client.get(f"/v1/indicators/{code}/revisions/1").json()["valid_to"] == revs[0]["valid_from"]
    diff = client.get(f"/v1/indicators/{code}/diff", params={"from": 1, "to": 5}).json()
    assert {c["field"] for c in diff["changes"]} >= {"value", "status"}
    _retire(client, code)
    assert _as_of(client, code, start + timedelta(days=1))["status"] == "retired"  # type: ignore[index]
    _is_a_line(_history(client, code))


def test_edition_taking_effect_next_year_leaves_its_indicators_editable(client: TestClient) -> None:
    w = _water(client)
    start = _next_year()
    r = client.post(
        f"/v1/legal-bases/{w.in_force}/editions", json={**NEW_EDITION, "effective_on": start.isoformat()}
    )
    assert r.status_code == 201, r.text
    new, cs = r.json()["basis"]["id"], r.json()["change_set"]["id"]
    _settle_all(client, cs)
    applied = client.post(f"/v1/change-sets/{cs}/apply")
    assert applied.status_code == 200, applied.text

    assert _patch(client, w.on_2022, {"value": 96})["value"] == 96
    assert _patch(client, w.on_2022, {"status": "proposed"})["status"] == "proposed"
    _retire(client, w.on_both)
    _import(
        client,
        {"code": w.on_2006, "name": "末梢水耗氧量合格率", "level1": "产出指标", "level2": "质量指标",
         "value": "≥99%", "basis": "GB 5749-2027", "basis_clause": "表1"},
    )  # fmt: skip

    for code in (w.on_2022, w.on_both, w.on_2006):
        _is_a_line(_history(client, code))
    # Today the old edition still holds, with the values of before; from next year the new one, edited.
    today = _as_of(client, w.on_2022, _today())
    assert today is not None
    assert ({b["id"] for b in today["legal_bases"]}, today["value"], today["status"]) == (
        {w.in_force}, 95, "draft",
    )  # fmt: skip
    later = _as_of(client, w.on_2022, start)
    assert later is not None
    assert ({b["id"] for b in later["legal_bases"]}, later["value"], later["status"]) == ({new}, 96, "proposed")
    assert _as_of(client, w.on_both, _today())["status"] == "draft"  # type: ignore[index]
    assert _as_of(client, w.on_both, start)["status"] == "retired"  # type: ignore[index]
    assert _as_of(client, w.on_2006, start)["value"] == 99  # type: ignore[index]


def test_repeal_before_a_scheduled_edition_keeps_the_basis_history_a_line(client: TestClient) -> None:
    """Same defect on legal bases: a repeal dated today of an edition that only takes effect next year."""
    w = _water(client)
    start = _next_year()
    r = client.post(
        f"/v1/legal-bases/{w.in_force}/editions", json={**NEW_EDITION, "effective_on": start.isoformat()}
    )
    assert r.status_code == 201, r.text
    new = r.json()["basis"]["id"]
    repeal = client.post(f"/v1/legal-bases/{new}/repeal", json={"effective_on": _today().isoformat()})
    assert repeal.status_code == 201, repeal.text
    revs = client.get(f"/v1/legal-bases/{new}/history").json()["revisions"]
    assert [r["status"] for r in revs] == ["in_force", "repealed"]
    _is_a_line(revs)
    assert revs[1]["valid_from"][:10] == start.isoformat()  # repealed with the day it would take effect
