"""Policy change → change set → review → apply, over HTTP on both backends (GB 5749 scenario)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from service.change_sets.service import APPLY_CHUNK

PROBLEM = "application/problem+json"
NEW_EDITION = {
    "doc_no": "GB 5749-2027",
    "title": "生活饮用水卫生标准",
    "effective_on": "2027-01-01",
    "summary": "浑浊度等8项限值调整",
}


@dataclass
class Water:
    """The seed's GB 5749 editions and a few indicators resting on them (the seed has none)."""

    in_force: int  # GB 5749-2022
    earlier: int  # GB 5749-2006
    other: dict[str, Any]  # another document in force, named by one of the indicators too
    on_2022: str  # ≥ 95 %, clause 第4.1条, used by a target
    on_2006: str
    on_both: str  # GB 5749-2022 and the other document
    unrelated: str


def _bases(client: TestClient, q: str) -> list[dict[str, Any]]:
    return list(client.get("/v1/legal-bases", params={"q": q}).json()["items"])


def _create(client: TestClient, body: dict[str, Any]) -> str:
    r = client.post(
        "/v1/indicators", json={"kind": "共性", "level1": "产出指标", "level2": "质量指标", **body}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _water(client: TestClient) -> Water:
    editions = {b["doc_no"]: b for b in _bases(client, "5749")}
    in_force, earlier = editions["GB 5749-2022"], editions["GB 5749-2006"]
    assert in_force["status"] == "in_force"
    assert in_force["supersedes"] == [earlier["id"]]
    other = next(
        b
        for b in client.get("/v1/legal-bases", params={"status": "in_force"}).json()["items"]
        if "5749" not in b["doc_no"] and b["kind"] == "law"
    )
    on_2022 = _create(
        client,
        {"name": "出厂水浑浊度达标率", "comparator": "≥", "value": 95, "unit": "%",
         "basis": "GB 5749-2022《生活饮用水卫生标准》", "basis_clause": "第4.1条"},
    )  # fmt: skip
    on_2006 = _create(client, {"name": "末梢水耗氧量合格率", "basis": "GB 5749-2006", "basis_clause": "表1"})
    on_both = _create(
        client,
        {"name": "农村供水水质达标率", "basis": f"GB 5749-2022; {other['doc_no']}《{other['title']}》"},
    )
    unrelated = _create(client, {"name": "供水管网漏损率"})
    r = client.post(
        "/v1/targets",
        json={"external_id": "SLT-2026-0001", "fiscal_year": 2026, "project": "农村饮水安全巩固提升",
              "indicators": [{"code": on_2022, "comparator": "≥", "value": 95, "unit": "%"}]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return Water(in_force["id"], earlier["id"], other, on_2022, on_2006, on_both, unrelated)


def _basis_ids(indicator: dict[str, Any]) -> set[int]:
    return {b["id"] for b in indicator["legal_bases"]}


def _all_changes(client: TestClient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["after"] = cursor
        page = client.get("/v1/changes", params=params).json()
        out += page["items"]
        if not page["items"]:
            return out
        cursor = page["next_cursor"]


def _new_edition(client: TestClient, basis_id: int, **extra: Any) -> dict[str, Any]:
    r = client.post(f"/v1/legal-bases/{basis_id}/editions", json={**NEW_EDITION, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _settle_all(client: TestClient, cs_id: int) -> None:
    r = client.post(f"/v1/change-sets/{cs_id}/items:settle", json={"decision": "accepted", "items": "all"})
    assert r.status_code == 200, r.text


class TestNewEdition:
    def test_release_diff_around_the_change_shows_exactly_the_revised_indicators(
        self, client: TestClient
    ) -> None:
        water = _water(client)
        mine = [water.on_2022, water.on_2006, water.on_both, water.unrelated]
        for code in mine:  # created as drafts; releases freeze the standard ones
            tag = client.get(f"/v1/indicators/{code}").headers["etag"]
            assert (
                client.patch(
                    f"/v1/indicators/{code}", json={"status": "standard"}, headers={"If-Match": tag}
                ).status_code
                == 200
            )
        assert (
            client.post("/v1/releases", json={"name": "2026.1", "effective_on": "2026-12-01"}).status_code
            == 201
        )
        cs_id = _new_edition(client, water.in_force)["change_set"]["id"]
        _settle_all(client, cs_id)
        assert client.post(f"/v1/change-sets/{cs_id}/apply").status_code == 200
        assert (
            client.post("/v1/releases", json={"name": "2027.1", "effective_on": "2027-01-01"}).status_code
            == 201
        )
        diff = client.get("/v1/releases/2026.1/diff/2027.1").json()
        assert diff["added"] == []
        assert diff["retired"] == []
        assert {c["code"] for c in diff["changed"]} == {water.on_2022, water.on_2006, water.on_both}
        assert all("legal_bases" in {f["field"] for f in c["changes"]} for c in diff["changed"])
        assert diff["counts"]["changed"] == 3

    def test_gb5749_scenario_end_to_end(self, client: TestClient) -> None:
        w = _water(client)
        before = {c: client.get(f"/v1/indicators/{c}").json() for c in (w.on_2022, w.on_2006, w.on_both)}
        assert _basis_ids(before[w.on_2022]) == {w.in_force}
        assert _basis_ids(before[w.on_2006]) == {w.earlier}
        assert _basis_ids(before[w.on_both]) == {w.in_force, w.other["id"]}

        out = _new_edition(client, w.in_force)
        new, cs = out["basis"], out["change_set"]
        assert (new["doc_no"], new["status"], new["supersedes"]) == ("GB 5749-2027", "in_force", [w.in_force])
        old = client.get(f"/v1/legal-bases/{w.in_force}").json()
        assert old["status"] == "superseded"
        assert old["superseded_by"] == [new["id"]]
        assert cs["title"] == "GB 5749-2022 → GB 5749-2027"
        assert (cs["origin"], cs["status"], cs["legal_basis_id"], cs["new_basis_id"]) == (
            "edition", "draft", w.in_force, new["id"],
        )  # fmt: skip
        items = {i["indicator_code"]: i for i in cs["items"]}
        assert set(items) == {w.on_2022, w.on_2006, w.on_both}  # not the unrelated one
        assert {i["action"] for i in items.values()} == {"rebase"}
        assert items[w.on_2022]["proposed"]["legal_basis_id"] == new["id"]
        assert items[w.on_2022]["proposed"]["basis_clause"] == "第4.1条"
        assert items[w.on_2022]["proposed"]["basis"] == "GB 5749-2027《生活饮用水卫生标准》"
        assert items[w.on_2022]["base_revision"] == 1
        assert cs["counts"] == {
            "items": 3,
            "by_decision": {"pending": 3, "accepted": 0, "rejected": 0},
            "by_action": {
                "rebase": 3,
                "revise_value": 0,
                "retire": 0,
                "no_change": 0,
                "create": 0,
                "revise": 0,
            },
        }
        assert cs["targets"] == [
            {"external_id": "SLT-2026-0001", "department_code": None, "fiscal_year": 2026,
             "project": "农村饮水安全巩固提升", "indicators": [w.on_2022]},
        ]  # fmt: skip
        listed = client.get("/v1/change-sets", params={"status": "draft"}).json()
        assert [c["id"] for c in listed["items"]] == [cs["id"]]
        # By legal basis: the old and the new edition both lead to it, another document does not.
        for basis, expected in ((cs["legal_basis_id"], [cs["id"]]), (new["id"], [cs["id"]]), (999_999, [])):
            by_basis = client.get("/v1/change-sets", params={"legal_basis_id": basis}).json()
            assert [c["id"] for c in by_basis["items"]] == expected

        # Nothing is applied while an item is pending: the 409 lists them.
        blocked = client.post(f"/v1/change-sets/{cs['id']}/apply")
        assert blocked.status_code == 409
        assert blocked.headers["content-type"].startswith(PROBLEM)
        assert blocked.json()["pending_count"] == 3
        assert sorted(blocked.json()["pending"]) == sorted(i["id"] for i in items.values())
        assert client.get(f"/v1/change-sets/{cs['id']}").json()["status"] == "draft"

        # The reviewer raises one value with the new edition, then accepts the rest in one call.
        item = items[w.on_2022]
        r = client.patch(
            f"/v1/change-sets/{cs['id']}/items/{item['id']}",
            json={
                "action": "revise_value",
                "proposed": {"value": 98},
                "decision": "accepted",
                "note": "限值收紧",
            },
            headers={"If-Match": f'"csi{item["id"]}.v1"'},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["decision"], r.json()["proposed"]["value"]) == ("accepted", 98)
        settled = client.post(
            f"/v1/change-sets/{cs['id']}/items:settle", json={"decision": "accepted", "items": "all"}
        )
        assert settled.status_code == 200, settled.text
        assert settled.json()["updated"] == 2
        assert settled.json()["counts"]["by_decision"] == {"pending": 0, "accepted": 3, "rejected": 0}

        r = client.post(f"/v1/change-sets/{cs['id']}/apply")  # applied by the key's owner, never a body field
        assert r.status_code == 200, r.text
        assert (r.json()["applied"], r.json()["revised"], r.json()["rejected"]) == (3, 3, 0)
        applied = r.json()["change_set"]
        assert applied["status"] == "applied"
        assert applied["applied_by"] == "test-admin"

        for code in (w.on_2022, w.on_2006, w.on_both):
            now = client.get(f"/v1/indicators/{code}").json()
            assert new["id"] in _basis_ids(now)
            assert not _basis_ids(now) & {w.in_force, w.earlier}
            last = client.get(f"/v1/indicators/{code}/history").json()["revisions"][-1]
            assert last["change_set_id"] == cs["id"]
            assert last["valid_from"].startswith("2027-01-01")
            assert last["reason"] == "GB 5749-2022 → GB 5749-2027: 浑浊度等8项限值调整 (effective 2027-01-01)"
            assert last["author"] == "test-admin"
        a = client.get(f"/v1/indicators/{w.on_2022}").json()
        assert a["value"] == 98
        assert a["legal_bases"][0]["clause"] == "第4.1条"
        assert _basis_ids(client.get(f"/v1/indicators/{w.on_both}").json()) == {new["id"], w.other["id"]}
        assert client.get(f"/v1/indicators/{w.on_2006}").json()["legal_bases"][0]["clause"] == "表1"
        assert client.get(f"/v1/indicators/{w.unrelated}/history").json()["current"] == 1

        # Reads as of a date see the edition in force then.
        then = client.get(f"/v1/indicators/{w.on_2022}", params={"as_of": "2026-12-31"}).json()
        assert _basis_ids(then) == {w.in_force}
        assert then["value"] == 95
        later = client.get(f"/v1/indicators/{w.on_2022}", params={"as_of": "2027-01-02"}).json()
        assert _basis_ids(later) == {new["id"]}
        assert later["value"] == 98

        events = _all_changes(client)
        done = [e for e in events if e["type"] == "change_set.applied"]
        assert [(e["key"], e["payload"]["revised"]) for e in done] == [(str(cs["id"]), 3)]
        assert any(e["type"] == "legal_basis.superseded" and e["key"] == str(w.in_force) for e in events)
        revised = [
            e for e in events if e["type"] == "indicator.revised" and e["payload"].get("change_set_id")
        ]
        assert {e["key"] for e in revised} == {w.on_2022, w.on_2006, w.on_both}

        # The graph sees the new edition; applying twice is refused.
        impact = client.get(f"/v1/legal-bases/{new['id']}/impact").json()
        assert impact["total_indicators"] == 3
        again = client.post(f"/v1/change-sets/{cs['id']}/apply")
        assert again.status_code == 409
        assert again.headers["content-type"].startswith(PROBLEM)

    def test_rejected_items_change_nothing(self, client: TestClient) -> None:
        w = _water(client)
        cs = _new_edition(client, w.in_force)["change_set"]
        reject = [i["id"] for i in cs["items"] if i["indicator_code"] == w.on_2006]
        r = client.post(
            f"/v1/change-sets/{cs['id']}/items:settle", json={"decision": "rejected", "items": reject}
        )
        assert r.status_code == 200
        assert r.json()["updated"] == 1
        _settle_all(client, cs["id"])
        r = client.post(f"/v1/change-sets/{cs['id']}/apply")
        assert (r.json()["applied"], r.json()["revised"], r.json()["rejected"]) == (2, 2, 1)
        assert _basis_ids(client.get(f"/v1/indicators/{w.on_2006}").json()) == {w.earlier}
        assert client.get(f"/v1/indicators/{w.on_2006}/history").json()["current"] == 1

    def test_indicator_revised_meanwhile_blocks_apply(self, client: TestClient) -> None:
        w = _water(client)
        cs = _new_edition(client, w.in_force)["change_set"]
        tag = client.get(f"/v1/indicators/{w.on_2006}").headers["etag"]
        assert (
            client.patch(
                f"/v1/indicators/{w.on_2006}", json={"unit": "%"}, headers={"If-Match": tag}
            ).status_code
            == 200
        )
        _settle_all(client, cs["id"])
        r = client.post(f"/v1/change-sets/{cs['id']}/apply")
        assert r.status_code == 409, r.text
        assert [s["code"] for s in r.json()["stale"]] == [w.on_2006]
        assert r.json()["stale_count"] == 1
        assert client.get(f"/v1/change-sets/{cs['id']}").json()["status"] == "draft"
        assert client.get(f"/v1/indicators/{w.on_2022}/history").json()["current"] == 1  # nothing applied

    def test_refusals(self, client: TestClient) -> None:
        w = _water(client)
        superseded = client.post(f"/v1/legal-bases/{w.earlier}/editions", json=NEW_EDITION)
        assert superseded.status_code == 409
        assert superseded.headers["content-type"].startswith(PROBLEM)
        assert client.post("/v1/legal-bases/999999/editions", json=NEW_EDITION).status_code == 404
        missing = client.post(
            f"/v1/legal-bases/{w.in_force}/editions", json={**NEW_EDITION, "effective_on": None}
        )
        assert missing.status_code == 422
        assert {e["field"] for e in missing.json()["errors"]} == {"effective_on"}
        early = client.post(
            f"/v1/legal-bases/{w.in_force}/editions", json={**NEW_EDITION, "effective_on": "2020-01-01"}
        )
        assert early.status_code == 422
        assert early.json()["errors"][0]["field"] == "effective_on"
        assert client.get("/v1/change-sets/999999").status_code == 404
        assert client.get(f"/v1/legal-bases/{w.in_force}").json()["status"] == "in_force"  # nothing written


class TestReview:
    def test_stale_if_match_is_412_and_invalid_action_422(self, client: TestClient) -> None:
        w = _water(client)
        cs = _new_edition(client, w.in_force)["change_set"]
        url = f"/v1/change-sets/{cs['id']}"
        etag = client.get(url).headers["etag"]
        assert client.patch(url, json={"summary": "x"}).status_code == 428
        ok = client.patch(
            url, json={"title": "GB 5749-2027 发布", "effective_on": "2027-02-01"}, headers={"If-Match": etag}
        )
        assert ok.status_code == 200, ok.text
        assert (ok.json()["title"], ok.json()["effective_on"], ok.json()["version"]) == (
            "GB 5749-2027 发布",
            "2027-02-01",
            2,
        )
        stale = client.patch(url, json={"summary": "y"}, headers={"If-Match": etag})
        assert stale.status_code == 412
        assert stale.headers["content-type"].startswith(PROBLEM)
        assert stale.json()["current_etag"] == ok.headers["etag"]

        item = next(i for i in cs["items"] if i["indicator_code"] == w.on_2022)
        item_url = f"{url}/items/{item['id']}"
        first = client.patch(item_url, json={"note": "看过"}, headers={"If-Match": f'"csi{item["id"]}.v1"'})
        assert first.status_code == 200
        assert first.json()["version"] == 2
        assert (
            client.patch(
                item_url, json={"note": "再看"}, headers={"If-Match": f'"csi{item["id"]}.v1"'}
            ).status_code
            == 412
        )
        bad = client.patch(item_url, json={"action": "explode"}, headers={"If-Match": first.headers["etag"]})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "action"
        no_value = client.patch(
            item_url,
            json={"action": "revise_value", "decision": "accepted"},
            headers={"If-Match": first.headers["etag"]},
        )
        assert no_value.status_code == 422
        assert no_value.json()["errors"][0]["field"] == "proposed.value"
        not_number = client.patch(
            item_url,
            json={"action": "revise_value", "proposed": {"value": "较好"}, "decision": "accepted"},
            headers={"If-Match": first.headers["etag"]},
        )
        assert not_number.status_code == 422  # its comparator is ≥
        unknown = client.post(f"{url}/items:settle", json={"decision": "accepted", "items": [987654]})
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "items"
        assert (
            client.post(f"{url}/items:settle", json={"decision": "maybe", "items": "all"}).status_code == 422
        )
        assert (
            client.patch(f"{url}/items/987654", json={"note": "x"}, headers={"If-Match": "*"}).status_code
            == 404
        )

        page = client.get(f"{url}/items", params={"limit": 1, "offset": 1}).json()  # items in id order
        assert page["total"] == 3
        assert len(page["items"]) == 1
        assert page["items"][0]["id"] == cs["items"][1]["id"]

    def test_applied_change_set_is_read_only(self, client: TestClient) -> None:
        w = _water(client)
        cs = _new_edition(client, w.in_force)["change_set"]
        _settle_all(client, cs["id"])
        assert client.post(f"/v1/change-sets/{cs['id']}/apply").status_code == 200
        url = f"/v1/change-sets/{cs['id']}"
        assert client.patch(url, json={"summary": "x"}, headers={"If-Match": "*"}).status_code == 409
        item = cs["items"][0]["id"]
        assert (
            client.patch(f"{url}/items/{item}", json={"note": "x"}, headers={"If-Match": "*"}).status_code
            == 409
        )
        assert (
            client.post(f"{url}/items:settle", json={"decision": "rejected", "items": "all"}).status_code
            == 409
        )

    def test_concurrent_applies_apply_once(self, client: TestClient) -> None:
        w = _water(client)
        cs = _new_edition(client, w.in_force)["change_set"]
        _settle_all(client, cs["id"])
        with ThreadPoolExecutor(max_workers=2) as pool:
            codes = sorted(
                pool.map(lambda _: client.post(f"/v1/change-sets/{cs['id']}/apply").status_code, range(2))
            )
        assert codes == [200, 409]
        history = client.get(f"/v1/indicators/{w.on_2022}/history").json()
        assert [r["change_set_id"] for r in history["revisions"]] == [None, cs["id"]]


class TestRepeal:
    def test_repeal_retires_what_rested_on_it_alone(self, client: TestClient) -> None:
        w = _water(client)
        r = client.post(
            f"/v1/legal-bases/{w.in_force}/repeal", json={"effective_on": "2027-03-01", "summary": "标准废止"}
        )
        assert r.status_code == 201, r.text
        basis, cs = r.json()["basis"], r.json()["change_set"]
        assert basis["status"] == "repealed"
        assert cs["origin"] == "repeal"
        actions = {i["indicator_code"]: (i["action"], i["note"]) for i in cs["items"]}
        assert {c: a for c, (a, _) in actions.items()} == {
            w.on_2022: "retire", w.on_2006: "retire", w.on_both: "no_change",
        }  # fmt: skip
        assert w.other["doc_no"] in actions[w.on_both][1]
        assert (
            client.post(
                f"/v1/legal-bases/{w.in_force}/repeal", json={"effective_on": "2027-03-01"}
            ).status_code
            == 409
        )

        retire = next(i for i in cs["items"] if i["indicator_code"] == w.on_2006)
        nowhere = client.patch(
            f"/v1/change-sets/{cs['id']}/items/{retire['id']}",
            json={"action": "rebase"},
            headers={"If-Match": f'"csi{retire["id"]}.v1"'},
        )
        assert nowhere.status_code == 422  # a rebase names the edition to rest on
        assert nowhere.json()["errors"][0]["field"] == "proposed.legal_basis_id"
        _settle_all(client, cs["id"])
        r = client.post(f"/v1/change-sets/{cs['id']}/apply")
        assert r.status_code == 200, r.text
        assert (r.json()["applied"], r.json()["revised"]) == (3, 2)
        retired = client.get(f"/v1/indicators/{w.on_2022}").json()
        assert retired["status"] == "retired"
        last = client.get(f"/v1/indicators/{w.on_2022}/history").json()["revisions"][-1]
        assert last["valid_from"].startswith("2027-03-01")
        assert last["reason"].startswith("GB 5749-2022 废止: 标准废止")
        assert client.get(f"/v1/indicators/{w.on_both}").json()["status"] != "retired"
        assert (
            client.get(f"/v1/indicators/{w.on_2022}", params={"as_of": "2027-02-28"}).json()["status"]
            != "retired"
        )
        types = [e["type"] for e in _all_changes(client)]
        assert "legal_basis.repealed" in types
        assert "indicator.retired" in types


# --- atomicity: a process killed inside the apply leaves nothing behind --------------------------

APPLY_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import event
    from sqlmodel import Session
    from service.change_sets import service
    from service.db import make_engine

    url, change_set_id, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    engine = make_engine(url)
    chunks = 0

    @event.listens_for(engine, "before_cursor_execute")
    def _pause_inside(conn, cursor, statement, params, context, executemany):
        # When the second chunk of indicators is about to be rebased, the first chunk's revisions
        # are written but not committed: report how many, then wait to be killed.
        global chunks
        if statement.startswith("UPDATE indicator SET basis="):
            chunks += 1
            if chunks == 2:
                written = cursor.connection.execute(
                    "SELECT count(*) FROM indicator_revision WHERE change_set_id = ?", (change_set_id,)
                ).fetchone()[0]
                with open(marker + ".tmp", "w") as f:
                    f.write(str(written))
                import os
                os.replace(marker + ".tmp", marker)
                time.sleep(120)

    with Session(engine) as session:
        service.apply(session, change_set_id)
        session.commit()
    """
)


def _count(url: str, sql: str, **params: Any) -> int:
    from service.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def test_killed_apply_leaves_nothing_applied(tmp_path: Path, sqlite_template: Path) -> None:
    from bench.change_set_bench import build_catalogue, open_and_settle

    path = tmp_path / "catalog.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    n = 2 * APPLY_CHUNK + 500
    engine = build_catalogue(url, n, seed=True)
    cs_id, _ = open_and_settle(engine)
    engine.dispose()
    marker = tmp_path / "inside"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", APPLY_SCRIPT, url, str(cs_id), str(marker)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the apply ended before it could be killed"
            assert time.monotonic() < deadline, "the apply never reached its transaction"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert int(marker.read_text()) == APPLY_CHUNK  # the kill undid revisions already written

    revisions = "SELECT count(*) FROM indicator_revision WHERE change_set_id = :id"
    assert _count(url, revisions, id=cs_id) == 0
    assert _count(url, "SELECT count(*) FROM change_set WHERE id = :id AND status = 'draft'", id=cs_id) == 1
    assert _count(url, "SELECT count(*) FROM change_event WHERE type = 'change_set.applied'") == 0

    # The same change set still applies, all of it, once the database is reopened.
    from bench.change_set_bench import apply
    from service.db import make_engine

    engine = make_engine(url)
    assert apply(engine, cs_id)["revised"] == n
    engine.dispose()
    assert _count(url, revisions, id=cs_id) == n
    assert _count(url, "SELECT count(*) FROM change_set WHERE id = :id AND status = 'applied'", id=cs_id) == 1
