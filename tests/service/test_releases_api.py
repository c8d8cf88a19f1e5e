"""Releases over HTTP: publish, list, page, diff, and reads, searches and exports as of a release or a day."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
BEFORE_EDITS = "2025-06-30"  # the seed is valid from 2021-01-01; edits over the API from now on


def _code(client: TestClient, q: str) -> str:
    return str(client.get("/v1/indicators", params={"q": q, "limit": 1}).json()["items"][0]["code"])


def _patch(client: TestClient, code: str, body: dict[str, object]) -> dict[str, Any]:
    tag = client.get(f"/v1/indicators/{code}").headers["etag"]
    r = client.patch(f"/v1/indicators/{code}", json=body, headers={"If-Match": tag})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _publish(
    client: TestClient, name: str, effective_on: str = "2026-01-01", **extra: object
) -> dict[str, Any]:
    r = client.post("/v1/releases", json={"name": name, "effective_on": effective_on, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _standard_count(client: TestClient) -> int:
    return int(client.get("/v1/indicators", params={"status": "standard", "limit": 1}).json()["total"])


def _jsonl(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class Story:
    """2026.1 is published; then one indicator gets a new value, one is retired, one is created; 2026.2."""

    revised: str
    retired: str
    created: str
    count_1: int


def _story(client: TestClient) -> Story:
    revised = _code(client, "适龄儿童疫苗接种率")
    retired = _code(client, "预算执行率")
    assert retired != revised
    count_1 = _publish(client, "2026.1", notes="首个发布版本")["indicator_count"]
    _patch(client, revised, {"value": 96, "reason": "目标调整"})
    assert client.delete(f"/v1/indicators/{retired}").status_code == 200
    r = client.post(
        "/v1/indicators",
        json={"name": "数字人民币试点覆盖率", "kind": "共性", "level1": "产出指标", "level2": "数量指标",
              "unit": "%", "comparator": "≥", "value": 90, "status": "standard"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    _publish(client, "2026.2", effective_on="2026-07-01")
    return Story(revised=revised, retired=retired, created=r.json()["code"], count_1=count_1)


class TestPublish:
    def test_first_release_freezes_every_standard_indicator(self, client: TestClient) -> None:
        standard = _standard_count(client)
        r = client.post(
            "/v1/releases", json={"name": "2026.1", "effective_on": "2026-01-01", "notes": "年初"}
        )
        assert r.status_code == 201
        assert r.headers["location"] == "/v1/releases/2026.1"
        body = r.json()
        assert body["indicator_count"] == standard > 0
        assert body["effective_on"] == "2026-01-01"
        assert body["notes"] == "年初"
        assert body["previous"] is None
        assert body["changes"] == {
            "added": standard, "retired": 0, "changed": 0, "unchanged": 0, "major": 0, "minor": 0, "patch": 0
        }  # fmt: skip
        assert client.get("/v1/releases/2026.1").json() == body

    def test_publishing_is_announced_on_the_change_feed(self, client: TestClient) -> None:
        _publish(client, "2026.1")
        events = client.get("/v1/changes", params={"limit": 1000}).json()["items"]
        published = [e for e in events if e["type"] == "release.published"]
        assert [e["key"] for e in published] == ["2026.1"]
        assert published[0]["payload"]["indicator_count"] == _standard_count(client)

    def test_listing_is_newest_first_with_counts_against_the_previous(self, client: TestClient) -> None:
        story = _story(client)
        items = client.get("/v1/releases").json()["items"]
        assert [i["name"] for i in items] == ["2026.2", "2026.1"]
        newest = items[0]
        assert newest["previous"] == "2026.1"
        assert newest["indicator_count"] == story.count_1  # one retired, one added
        assert newest["changes"] == client.get("/v1/releases/2026.1/diff/2026.2").json()["counts"]

    def test_a_name_is_published_once(self, client: TestClient) -> None:
        _publish(client, "2026.1")
        r = client.post("/v1/releases", json={"name": "2026.1", "effective_on": "2026-02-01"})
        assert r.status_code == 409
        assert r.headers["content-type"].startswith(PROBLEM)
        assert len(client.get("/v1/releases").json()["items"]) == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "2026.1", "effective_on": "2026-13-01"}, "effective_on"),
            ({"name": "2026.1", "effective_on": "1 March 2026"}, "effective_on"),
            ({"name": "2026.1", "effective_on": 20260101}, "effective_on"),
            ({"name": "2026.1"}, "effective_on"),
            ({"name": "2026 第一版", "effective_on": "2026-01-01"}, "name"),
            ({"name": "", "effective_on": "2026-01-01"}, "name"),
            ({"name": "x" * 65, "effective_on": "2026-01-01"}, "name"),
            ({"name": "2026.1", "effective_on": "2026-01-01", "frozen": True}, "frozen"),
        ],
    )
    def test_bad_input_is_422_naming_the_field(
        self, client: TestClient, body: dict[str, object], field: str
    ) -> None:
        r = client.post("/v1/releases", json=body)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM)
        assert field in [e["field"] for e in r.json()["errors"]]

    def test_releases_cannot_be_changed(self, client: TestClient) -> None:
        _publish(client, "2026.1")
        assert client.patch("/v1/releases/2026.1", json={"notes": "x"}).status_code == 405
        assert client.delete("/v1/releases/2026.1").status_code == 405

    def test_unknown_release_is_404_everywhere(self, client: TestClient) -> None:
        _publish(client, "2026.1")
        code = _code(client, "适龄儿童疫苗接种率")
        for path, params in [
            ("/v1/releases/2099.9", {}),
            ("/v1/releases/2099.9/indicators", {}),
            ("/v1/releases/2099.9/diff/2026.1", {}),
            ("/v1/releases/2026.1/diff/2099.9", {}),
            (f"/v1/indicators/{code}", {"release": "2099.9"}),
            ("/v1/indicators", {"release": "2099.9"}),
            ("/v1/exports", {"release": "2099.9"}),
        ]:
            r = client.get(path, params=params)
            assert r.status_code == 404, (path, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)


class TestDiff:
    def test_diff_shows_exactly_what_happened_between_releases(self, client: TestClient) -> None:
        story = _story(client)
        diff = client.get("/v1/releases/2026.1/diff/2026.2").json()
        assert diff["added"] == [story.created]
        assert diff["retired"] == [{"code": story.retired, "status": "retired"}]
        [changed] = diff["changed"]
        assert changed["code"] == story.revised
        assert (changed["from_revision"], changed["to_revision"], changed["change"]) == (1, 2, "MINOR")
        fields = {c["field"]: (c["before"], c["after"]) for c in changed["changes"]}
        assert fields["value"] == (100, 96)
        assert set(fields) <= {"value", "raw_value"}
        assert diff["counts"] == {
            "added": 1, "retired": 1, "changed": 1, "unchanged": story.count_1 - 2,
            "major": 0, "minor": 1, "patch": 0,
        }  # fmt: skip
        assert diff["next_cursor"] is None

    def test_reverse_diff_swaps_added_and_retired(self, client: TestClient) -> None:
        story = _story(client)
        diff = client.get("/v1/releases/2026.2/diff/2026.1").json()
        assert diff["added"] == [story.retired]
        # The new indicator did not exist yet when 2026.1 was published.
        assert diff["retired"] == [{"code": story.created, "status": None}]
        fields = {c["field"]: (c["before"], c["after"]) for c in diff["changed"][0]["changes"]}
        assert fields["value"] == (96, 100)
        assert diff["counts"]["changed"] == 1

    def test_changed_pages_while_counts_stay_exact(self, client: TestClient) -> None:
        codes = [_code(client, q) for q in ("适龄儿童疫苗接种率", "群众满意度", "培训合格率")]
        assert len(set(codes)) == 3
        _publish(client, "2026.1")
        _patch(client, codes[0], {"unit": "‰"})  # MAJOR
        _patch(client, codes[1], {"value": 91})  # MINOR
        _patch(client, codes[2], {"notes": "口径说明"})  # PATCH
        _publish(client, "2026.2")
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "include": ["changed"]}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/releases/2026.1/diff/2026.2", params=params).json()
            assert page["counts"]["changed"] == 3
            assert (page["counts"]["major"], page["counts"]["minor"], page["counts"]["patch"]) == (1, 1, 1)
            assert page["added"] is None
            assert page["retired"] is None
            seen += [c["code"] for c in page["changed"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(codes)

    def test_a_release_against_itself_is_all_unchanged(self, client: TestClient) -> None:
        count = _publish(client, "2026.1")["indicator_count"]
        diff = client.get("/v1/releases/2026.1/diff/2026.1").json()
        assert diff["counts"]["unchanged"] == count
        assert diff["added"] == diff["retired"] == diff["changed"] == []

    def test_bad_cursor_or_section_is_422(self, client: TestClient) -> None:
        _publish(client, "2026.1")
        _publish(client, "2026.2")
        for params in ({"cursor": "not-a-cursor"}, {"include": "everything"}, {"limit": 0}):
            r = client.get("/v1/releases/2026.1/diff/2026.2", params=params)
            assert r.status_code == 422, params
            assert r.headers["content-type"].startswith(PROBLEM)
        r = client.get("/v1/releases/2026.1/indicators", params={"cursor": "???"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "cursor"


class TestReadsOfARelease:
    def test_one_indicator_as_a_release_froze_it(self, client: TestClient) -> None:
        story = _story(client)
        old = client.get(f"/v1/indicators/{story.revised}", params={"release": "2026.1"})
        assert old.status_code == 200
        assert old.json()["value"] == 100
        assert old.json()["revision"] == 1
        assert (
            client.get(f"/v1/indicators/{story.revised}", params={"release": "2026.2"}).json()["value"] == 96
        )
        assert client.get(f"/v1/indicators/{story.created}", params={"release": "2026.1"}).status_code == 404

    def test_release_indicators_page_by_code(self, client: TestClient) -> None:
        story = _story(client)
        codes: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/releases/2026.1/indicators", params=params).json()
            assert page["total"] == story.count_1
            codes += [i["code"] for i in page["items"]]
            for item in page["items"]:
                if item["code"] == story.revised:
                    assert item["value"] == 100
                    assert item["valid_to"] is not None  # revision 2 took over later
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(codes) == len(set(codes)) == story.count_1
        assert story.retired in codes
        assert story.created not in codes

    def test_search_in_a_release_sees_the_old_value_and_not_the_new_indicator(
        self, client: TestClient
    ) -> None:
        story = _story(client)
        then = client.get("/v1/indicators", params={"q": "适龄儿童疫苗接种率", "release": "2026.1"}).json()
        assert then["items"][0]["code"] == story.revised
        assert then["items"][0]["value"] == 100
        now = client.get("/v1/indicators", params={"q": "适龄儿童疫苗接种率"}).json()
        assert now["items"][0]["value"] == 96
        new = {"q": "数字人民币试点覆盖率"}
        assert story.created not in [
            i["code"]
            for i in client.get("/v1/indicators", params={**new, "release": "2026.1"}).json()["items"]
        ]
        assert story.created in [
            i["code"]
            for i in client.get("/v1/indicators", params={**new, "release": "2026.2"}).json()["items"]
        ]

    def test_search_in_a_release_uses_the_old_name_and_filters(self, client: TestClient) -> None:
        story = _story(client)
        _patch(client, story.revised, {"name": "儿童免疫规划疫苗接种率"})
        old = client.get("/v1/indicators", params={"q": "适龄儿童疫苗接种率", "release": "2026.2"}).json()
        assert old["items"][0]["code"] == story.revised
        assert old["items"][0]["name"] == "适龄儿童疫苗接种率"
        by_new_name = client.get("/v1/indicators", params={"q": "儿童免疫规划疫苗接种率", "release": "2026.2"})
        assert "儿童免疫规划疫苗接种率" not in [i["name"] for i in by_new_name.json()["items"]]
        # The retired indicator was standard in 2026.1: found there, and filters apply as today.
        r = client.get("/v1/indicators", params={"release": "2026.1", "status": "standard", "limit": 200})
        assert r.json()["total"] == story.count_1
        sector = client.get(f"/v1/indicators/{story.revised}").json()["sector"]
        in_sector = client.get(
            "/v1/indicators", params={"release": "2026.1", "sector": sector, "limit": 200}
        ).json()
        assert in_sector["total"] > 0
        assert {i["sector"] for i in in_sector["items"]} == {sector}
        assert in_sector["facets"]["sector"][sector] == in_sector["total"]

    def test_release_and_as_of_together_is_422(self, client: TestClient) -> None:
        _publish(client, "2026.1")
        r = client.get("/v1/indicators", params={"release": "2026.1", "as_of": "2026-01-01"})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"release", "as_of"}


class TestReadsAsOfADay:
    def test_search_as_of_a_day_before_a_change_sees_the_old_version(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        _patch(client, code, {"value": 96})
        then = client.get("/v1/indicators", params={"q": "适龄儿童疫苗接种率", "as_of": BEFORE_EDITS}).json()
        assert then["items"][0]["code"] == code
        assert then["items"][0]["value"] == 100
        assert then["items"][0]["valid_to"] is not None
        today = datetime.now(UTC).date().isoformat()
        now = client.get("/v1/indicators", params={"q": "适龄儿童疫苗接种率", "as_of": today}).json()
        assert now["items"][0]["value"] == 96
        assert client.get(f"/v1/indicators/{code}", params={"as_of": BEFORE_EDITS}).json()["value"] == 100

    def test_as_of_a_day_before_the_catalogue_is_empty(self, client: TestClient) -> None:
        r = client.get("/v1/indicators", params={"as_of": "2020-01-01"})
        assert r.status_code == 200
        assert r.json()["total"] == 0
        assert r.json()["items"] == []

    def test_as_of_excludes_indicators_created_later(self, client: TestClient) -> None:
        r = client.post(
            "/v1/indicators", json={"name": "数字人民币试点覆盖率", "kind": "共性", "status": "standard"}
        )
        assert r.status_code == 201
        tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
        q = {"q": "数字人民币试点覆盖率"}
        assert r.json()["code"] not in [
            i["code"]
            for i in client.get("/v1/indicators", params={**q, "as_of": BEFORE_EDITS}).json()["items"]
        ]
        assert r.json()["code"] in [
            i["code"] for i in client.get("/v1/indicators", params={**q, "as_of": tomorrow}).json()["items"]
        ]

    def test_bad_day_is_422(self, client: TestClient) -> None:
        for day in ("2026-02-30", "yesterday"):
            r = client.get("/v1/indicators", params={"as_of": day})
            assert r.status_code == 422
            assert r.json()["errors"][0]["field"] == "as_of"


class TestExports:
    def test_export_of_a_fresh_release_equals_todays_standard_rows(self, client: TestClient) -> None:
        _publish(client, "2026.1")
        today = [row for row in _jsonl(client.get("/v1/exports").content) if row["status"] == "standard"]
        frozen = client.get("/v1/exports", params={"release": "2026.1"})
        assert frozen.status_code == 200
        assert "indicators-2026.1-canonical.jsonl" in frozen.headers["content-disposition"]
        assert _jsonl(frozen.content) == today

    @pytest.mark.parametrize(("fmt", "profile"), [("jsonl", "canonical"), ("csv", "chinese")])
    def test_export_of_a_release_round_trips_into_an_empty_instance(
        self, client: TestClient, empty_client: TestClient, fmt: str, profile: str
    ) -> None:
        story = _story(client)
        exported = client.get("/v1/exports", params={"release": "2026.1", "format": fmt, "profile": profile})
        assert exported.status_code == 200
        r = empty_client.post(
            "/v1/imports", files={"file": (f"export.{fmt}", exported.content, "application/octet-stream")}
        )
        assert r.status_code == 200, r.text[:2000]
        assert r.json()["created"] == story.count_1
        again = _jsonl(empty_client.get("/v1/exports", params={"format": "jsonl"}).content)
        assert again == _jsonl(client.get("/v1/exports", params={"release": "2026.1"}).content)
        assert next(row for row in again if row["code"] == story.revised)["value"] == 100

    def test_export_as_of_a_day_has_the_old_value(self, client: TestClient) -> None:
        code = _code(client, "适龄儿童疫苗接种率")
        _patch(client, code, {"value": 96})
        rows = _jsonl(client.get("/v1/exports", params={"as_of": BEFORE_EDITS}).content)
        assert next(row for row in rows if row["code"] == code)["value"] == 100
        r = client.get("/v1/exports", params={"as_of": "30.06.2025"})
        assert r.status_code == 422
