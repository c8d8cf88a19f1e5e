"""Revisions, history, diffs, lifecycle moves, as-of reads and the change feed, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from service.db import make_engine
from tests.conftest import client_for

PROBLEM = "application/problem+json"


def _code(client: TestClient, q: str) -> str:
    return str(client.get("/v1/indicators", params={"q": q, "limit": 1}).json()["items"][0]["code"])


def _patch(client: TestClient, code: str, body: dict[str, object]) -> dict[str, object]:
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.patch(f"/v1/indicators/{code}", json=body, headers={"If-Match": tag})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


class TestHistory:
    def test_seed_indicator_starts_with_one_dated_revision(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        history = client.get(f"/v1/indicators/{code}/history").json()
        assert history["current"] == 1
        [first] = history["revisions"]
        assert first["change"] == "INITIAL"
        assert first["valid_from"].startswith("2021-01-01")
        assert first["valid_to"] is None
        assert first["reason"] == "bundled seed library"

    def test_every_edit_appends_a_classified_revision(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        assert _patch(client, code, {"value": 96, "reason": "目标调整"})["revision"] == 2
        _patch(client, code, {"keywords": ["疫苗", "免疫规划"]})
        _patch(client, code, {"unit": "‰"})
        _patch(client, code, {"keywords": ["疫苗", "免疫规划"]})  # no change → no revision
        revs = client.get(f"/v1/indicators/{code}/history").json()["revisions"]
        assert [(r["number"], r["change"]) for r in revs] == [
            (1, "INITIAL"),
            (2, "MINOR"),
            (3, "PATCH"),
            (4, "MAJOR"),
        ]
        assert revs[1]["reason"] == "目标调整"
        assert revs[1]["fields"] == ["raw_value", "value"]
        assert revs[0]["valid_to"] == revs[1]["valid_from"]  # validity intervals tile the timeline

        old = client.get(f"/v1/indicators/{code}/revisions/1").json()
        assert old["snapshot"]["value"] == 100
        assert old["snapshot"]["name"] == "适龄儿童疫苗接种率"
        assert client.get(f"/v1/indicators/{code}/revisions/9").status_code == 404

        diff = client.get(f"/v1/indicators/{code}/diff", params={"from": 1, "to": 4}).json()
        assert diff["change"] == "MAJOR"
        changed = {c["field"]: (c["before"], c["after"]) for c in diff["changes"]}
        assert changed["value"] == (100, 96)
        assert changed["unit"] == ("%", "‰")
        assert set(changed) == {"value", "raw_value", "keywords", "unit"}

    def test_as_of_reads_the_revision_in_force_then(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        _patch(client, code, {"value": 96})
        then = client.get(f"/v1/indicators/{code}", params={"as_of": _yesterday()})
        assert then.status_code == 200
        assert "etag" not in then.headers
        assert then.json()["value"] == 100
        assert then.json()["revision"] == 1
        assert then.json()["valid_to"] is not None
        now = client.get(f"/v1/indicators/{code}", params={"as_of": _today()}).json()
        assert now["value"] == 96
        assert now["valid_to"] is None
        assert client.get(f"/v1/indicators/{code}", params={"as_of": "2020-06-30"}).status_code == 404
        bad = client.get(f"/v1/indicators/{code}", params={"as_of": "2024-13-01"})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith(PROBLEM)

    def test_as_of_today_equals_the_current_read(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        current = client.get(f"/v1/indicators/{code}").json()
        as_of = client.get(f"/v1/indicators/{code}", params={"as_of": _today()}).json()
        volatile = {"valid_from", "valid_to", "updated_at"}
        assert {k: v for k, v in as_of.items() if k not in volatile} == {
            k: v for k, v in current.items() if k not in volatile
        }

    def test_reimport_with_a_new_value_is_a_revision_of_the_import(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        r = client.post(
            "/v1/imports",
            content=f'{{"code": "{code}", "name": "适龄儿童疫苗接种率", "level1": "产出指标", "level2": "数量指标", "value": "≥98%"}}\n'.encode(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
        revs = client.get(f"/v1/indicators/{code}/history").json()["revisions"]
        assert revs[-1]["reason"] == "import"
        assert "value" in revs[-1]["fields"]


class TestLifecycle:
    def test_moves_follow_the_lifecycle(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        other = _code(client, "满意度")
        tag = client.get(f"/v1/indicators/{code}").headers["etag"]
        r = client.patch(f"/v1/indicators/{code}", json={"status": "draft"}, headers={"If-Match": tag})
        assert r.status_code == 409
        assert r.json()["from"] == "standard"
        r = client.patch(f"/v1/indicators/{code}", json={"status": "superseded"}, headers={"If-Match": tag})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "superseded_by"
        body = _patch(client, code, {"status": "superseded", "superseded_by": other, "reason": "并入新指标"})
        assert body["status"] == "superseded"
        assert body["superseded_by"] == other
        assert client.delete(f"/v1/indicators/{code}").json()["status"] == "retired"
        tag = client.get(f"/v1/indicators/{code}").headers["etag"]
        r = client.patch(f"/v1/indicators/{code}", json={"status": "standard"}, headers={"If-Match": tag})
        assert r.status_code == 409
        changes = [r["change"] for r in client.get(f"/v1/indicators/{code}/history").json()["revisions"]]
        assert changes == ["INITIAL", "MINOR", "MINOR"]

    def test_created_indicator_moves_draft_to_standard(self, client: TestClient) -> None:
        r = client.post(
            "/v1/indicators", json={"name": "河道保洁覆盖率", "level1": "产出指标", "level2": "质量指标"}
        )
        assert r.status_code == 201
        assert r.json()["status"] == "draft"
        code = r.json()["code"]
        assert _patch(client, code, {"status": "proposed"})["status"] == "proposed"
        assert _patch(client, code, {"status": "standard"})["status"] == "standard"
        assert client.get(f"/v1/indicators/{code}/history").json()["current"] == 3


class TestChangeFeed:
    def test_feed_pages_every_event_once_in_order(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        _patch(client, code, {"value": 97})
        client.delete(f"/v1/indicators/{code}")
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 250}
            if cursor:
                params["after"] = cursor
            page = client.get("/v1/changes", params=params).json()
            seen += [e["event_id"] for e in page["items"]]
            if not page["items"]:
                assert page["next_cursor"] == cursor  # polling again later starts from the same place
                break
            cursor = page["next_cursor"]
        assert len(seen) == len(set(seen)) > 637
        tail = client.get("/v1/changes", params={"limit": 1000}).json()["items"]
        mine = [(e["type"], e["payload"].get("revision")) for e in tail if e["key"] == code]
        assert mine == [("indicator.created", 1), ("indicator.revised", 2), ("indicator.retired", 3)]

    def test_bad_cursor_is_422(self, client: TestClient) -> None:
        r = client.get("/v1/changes", params={"after": "not-a-cursor!"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "after"


def test_an_upgraded_database_gets_first_revisions_at_start(seeded_url: str) -> None:
    """Rows written before versioning existed (revision 0) get revision 1 when the service starts."""
    engine = make_engine(seeded_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM indicator_revision_basis"))
        conn.execute(text("DELETE FROM release_item"))
        conn.execute(text("DELETE FROM indicator_revision"))
        conn.execute(text("UPDATE indicator SET revision = 0"))
    engine.dispose()
    with client_for(seeded_url, seed=True) as client:
        code = _code(client, "适龄儿童疫苗接种率")
        [first] = client.get(f"/v1/indicators/{code}/history").json()["revisions"]
        assert first["number"] == 1
        assert first["reason"].startswith("history starts")
        assert client.get(f"/v1/indicators/{code}").json()["revision"] == 1


def test_legal_basis_history_starts_at_its_effective_date(client: TestClient) -> None:
    bases = client.get("/v1/legal-bases", params={"q": "5749"}).json()["items"]
    dated = next(b for b in bases if b["effective_on"])
    history = client.get(f"/v1/legal-bases/{dated['id']}/history").json()
    first = history["revisions"][0]
    assert first["number"] == 1
    assert first["valid_from"].startswith(dated["effective_on"])
    assert first["snapshot"]["doc_no"] == dated["doc_no"]
    assert client.get("/v1/legal-bases/999999/history").status_code == 404


def test_as_of_read_of_an_indicator_without_level2(client: TestClient) -> None:
    r = client.post("/v1/indicators", json={"name": "无二级的指标", "level1": "满意度指标"})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    then = client.get(f"/v1/indicators/{code}", params={"as_of": _today()})
    assert then.status_code == 200, then.text
    assert then.json()["name"] == "无二级的指标"
