"""Codes compare case- and width-insensitively everywhere (issue 14, finding 6).

``zz-00006``, ``ZZ-00006``, `` ZZ-00006 `` and the full-width ``ＺＺ－００００６`` are one code: a create
in another spelling is a 409 naming ``code``, every route with a code in its path finds the indicator,
an import row in another spelling updates it, and the database refuses a second spelling by itself.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from service.codes import code_key
from service.db import alembic_config, make_engine
from tests.conftest import client_for

PROBLEM = "application/problem+json"
FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"})


def _create(client: TestClient, code: str, name: str = "编码大小写测试指标") -> dict[str, object]:
    r = client.post("/v1/indicators", json={"code": code, "name": name, "kind": "部门职责"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _count(client: TestClient) -> int:
    params = {"limit": 1, "status": ["standard", "draft", "retired", "superseded", "proposed"]}
    return int(client.get("/v1/indicators", params=params).json()["total"])


def test_code_key_folds_case_width_and_spaces() -> None:
    assert code_key("zz-00006") == code_key("ZZ-00006") == code_key(" ＺＺ－００００６\u3000") == "ZZ-00006"
    assert code_key("ZZ-00006\u200b") == "ZZ-00006"  # a zero-width space pasted from Word
    assert code_key("ZZ-00006") != code_key("ZZ-00060")


class TestCreate:
    @pytest.mark.parametrize("spelling", ["zz-00006", "Zz-00006", " ZZ-00006 ", "ＺＺ－００００６"])
    def test_other_spelling_of_a_taken_code_is_409_naming_code(
        self, client: TestClient, spelling: str
    ) -> None:
        _create(client, "ZZ-00006")
        before = _count(client)
        r = client.post("/v1/indicators", json={"code": spelling, "name": "另一个指标", "kind": "部门职责"})
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert [e["field"] for e in r.json()["errors"]] == ["code"]
        assert "ZZ-00006" in r.json()["detail"]
        assert _count(client) == before

    def test_code_is_kept_as_typed_and_found_in_any_spelling(self, client: TestClient) -> None:
        body = _create(client, "ab-00001")
        assert body["code"] == "ab-00001"  # what the user typed stays visible
        for spelling in ("AB-00001", "ab-00001", quote("ＡＢ－０００01"), quote(" Ab-00001 ")):
            r = client.get(f"/v1/indicators/{spelling}")
            assert r.status_code == 200, (spelling, r.text)
            assert r.json()["code"] == "ab-00001"
            assert r.headers["etag"] == '"ab-00001.v1"'

    def test_generated_codes_skip_a_number_taken_in_another_case(self, client: TestClient) -> None:
        first = client.post("/v1/indicators", json={"name": "共性甲", "kind": "共性"}).json()["code"]
        prefix, number = first.rsplit("-", 1)
        hand = f"{prefix.lower()}-{int(number) + 1:05d}"
        _create(client, hand, name="手工编码")
        second = client.post("/v1/indicators", json={"name": "共性乙", "kind": "共性"})
        assert second.status_code == 201, second.text
        assert code_key(second.json()["code"]) not in {code_key(first), code_key(hand)}


class TestRoutesWithACodeInThePath:
    def test_patch_delete_history_diff_in_lower_case(self, client: TestClient) -> None:
        _create(client, "ZZ-00007")
        tag = client.get("/v1/indicators/zz-00007").headers["etag"]
        r = client.patch("/v1/indicators/zz-00007", json={"unit": "次"}, headers={"If-Match": tag})
        assert r.status_code == 200, r.text
        assert r.json()["code"] == "ZZ-00007"
        history = client.get("/v1/indicators/zz-00007/history")
        assert history.status_code == 200, history.text
        assert history.json()["code"] == "ZZ-00007"
        diff = client.get("/v1/indicators/zz-00007/diff", params={"from": 1, "to": 2})
        assert diff.status_code == 200, diff.text
        assert diff.json()["code"] == "ZZ-00007"
        r = client.delete(f"/v1/indicators/{quote('ｚｚ－０００07')}")
        assert r.status_code == 200, r.text
        assert client.get("/v1/indicators/ZZ-00007").json()["status"] == "retired"

    def test_superseded_by_in_another_case_is_stored_as_the_successor_is_spelled(
        self, client: TestClient
    ) -> None:
        _create(client, "ZZ-00010", name="旧指标")
        _create(client, "ZZ-00011", name="新指标")
        for code in ("ZZ-00010", "ZZ-00011"):
            tag = client.get(f"/v1/indicators/{code}").headers["etag"]
            assert (
                client.patch(
                    f"/v1/indicators/{code}", json={"status": "standard"}, headers={"If-Match": tag}
                ).status_code
                == 200
            )
        tag = client.get("/v1/indicators/ZZ-00010").headers["etag"]
        r = client.patch(
            "/v1/indicators/zz-00010",
            json={"status": "superseded", "superseded_by": "zz-00011"},
            headers={"If-Match": tag},
        )
        assert r.status_code == 200, r.text
        assert r.json()["superseded_by"] == "ZZ-00011"
        # Superseding by itself in another spelling is refused like the same spelling is.
        _create(client, "ZZ-00012", name="第三个")
        tag = client.get("/v1/indicators/ZZ-00012").headers["etag"]
        assert (
            client.patch(
                "/v1/indicators/ZZ-00012", json={"status": "standard"}, headers={"If-Match": tag}
            ).status_code
            == 200
        )
        tag = client.get("/v1/indicators/ZZ-00012").headers["etag"]
        r = client.patch(
            "/v1/indicators/ZZ-00012",
            json={"status": "superseded", "superseded_by": "zz-00012"},
            headers={"If-Match": tag},
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "superseded_by"


class TestImport:
    def test_row_in_another_case_updates_the_existing_indicator(self, client: TestClient) -> None:
        _create(client, "ZZ-00009", name="导入更新测试")
        before = _count(client)
        body = "指标编码,指标名称,指标类型,计量单位\nzz-00009,导入更新测试,部门职责,次\n"
        r = client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert (r.json()["created"], r.json()["updated"]) == (0, 1)
        assert _count(client) == before
        assert client.get("/v1/indicators/ZZ-00009").json()["unit"] == "次"
        full = "指标编码,指标名称,指标类型,计量单位\nＺＺ－００００９,导入更新测试,部门职责,次\n"
        r = client.post("/v1/imports", content=full.encode(), headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, 1)

    def test_one_code_twice_in_a_file_in_two_cases_is_refused(self, client: TestClient) -> None:
        body = "指标编码,指标名称,指标类型\nQQ-1,甲,共性\nqq-1,乙,共性\n"
        r = client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "text/csv"})
        assert r.status_code == 422, r.text
        assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(3, "code")]

    def test_successor_cell_in_another_case_is_stored_as_spelled_in_the_catalogue(
        self, client: TestClient
    ) -> None:
        body = (
            "指标编码,指标名称,指标类型,状态,替代指标\n"
            "SX-00001,被替代的,共性,被替代,sx-00002\n"
            "SX-00002,替代它的,共性,标准,\n"
        )
        r = client.post("/v1/imports", content=body.encode(), headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert client.get("/v1/indicators/sx-00001").json()["superseded_by"] == "SX-00002"


class TestReferenceCodes:
    def test_department_codes(self, client: TestClient) -> None:
        assert client.post("/v1/departments", json={"code": "JYT", "name": "教育厅"}).status_code == 201
        r = client.post("/v1/departments", json={"code": "jyt", "name": "另一个厅"})
        assert r.status_code == 409, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["code"]
        r = client.post("/v1/departments", json={"code": "ＪＹＴ", "name": "第三个厅"})
        assert r.status_code == 409, r.text
        assert client.get("/v1/departments/jyt/duties").status_code == 200
        # An indicator naming the department by a lower-case code joins it instead of founding a twin.
        departments = len(client.get("/v1/departments").json())
        r = client.post(
            "/v1/indicators", json={"name": "义务教育巩固率", "kind": "部门职责", "department": "jyt"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["department_code"] == "JYT"
        assert len(client.get("/v1/departments").json()) == departments
        # … and a search filter in another spelling finds the same rows.
        upper = client.get("/v1/indicators", params={"department": "JYT", "status": "draft"}).json()["total"]
        lower = client.get("/v1/indicators", params={"department": "jyt", "status": "draft"}).json()["total"]
        assert upper == lower == 1

    def test_sector_filter_in_another_case(self, client: TestClient) -> None:
        sectors = client.get("/v1/sectors").json()
        code = next(s["code"] for s in sectors if s.get("count"))
        upper = client.get("/v1/indicators", params={"sector": code}).json()["total"]
        assert upper > 0
        assert client.get("/v1/indicators", params={"sector": code.lower()}).json()["total"] == upper

    def test_release_names(self, client: TestClient) -> None:
        r = client.post("/v1/releases", json={"name": "2026.A", "effective_on": "2026-01-01"})
        assert r.status_code == 201, r.text
        r = client.post("/v1/releases", json={"name": "2026.a", "effective_on": "2026-01-01"})
        assert r.status_code == 409, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["name"]
        assert client.get("/v1/releases/2026.a").json()["name"] == "2026.A"


class TestLegalBases:
    def test_document_numbers_compare_by_key(self, client: TestClient) -> None:
        body = {"doc_no": "DB44/T 1234-2026", "title": "编码测试地方标准", "kind": "行业标准"}
        r = client.post("/v1/legal-bases", json=body)
        assert r.status_code == 201, r.text
        basis = r.json()["id"]
        again = client.post("/v1/legal-bases", json={**body, "doc_no": "db44/t 1234-2026"})
        assert again.status_code == 409, again.text
        # An indicator naming the document by its number in small letters rests on it.
        r = client.post(
            "/v1/indicators", json={"name": "地方标准达标率", "basis": "依据 db44/t 1234-2026 第5条"}
        )
        assert r.status_code == 201, r.text
        assert [b["id"] for b in r.json()["legal_bases"]] == [basis]


class TestTargets:
    def test_a_target_restated_with_codes_in_another_case_changes_nothing(self, client: TestClient) -> None:
        _create(client, "ZZ-00020", name="目标用指标")
        body = {"external_id": "T-CODES-1", "indicators": [{"code": "ZZ-00020", "raw_value": "≥95%"}]}
        assert client.post("/v1/targets", json=body).status_code == 201
        body["indicators"] = [{"code": "zz-00020", "raw_value": "≥95%"}]
        r = client.post("/v1/targets", json=body)
        assert r.status_code == 200, r.text
        assert [i["code"] for i in r.json()["indicators"]] == ["ZZ-00020"]
        entries = client.get("/v1/audit", params={"entity_type": "target", "entity_id": "T-CODES-1"}).json()
        update = next(e for e in entries["items"] if e["action"] == "update")
        assert "indicators" not in update["after"]  # the same row in another spelling is no change


class TestGraph:
    def test_graph_routes_resolve_codes_in_any_spelling(self, client: TestClient) -> None:
        code = client.get("/v1/indicators", params={"q": "适龄儿童疫苗接种率", "limit": 1}).json()["items"][
            0
        ]["code"]
        want = client.get("/v1/graph/neighbourhood", params={"node": f"Indicator:{code}"})
        assert want.status_code == 200, want.text
        got = client.get("/v1/graph/neighbourhood", params={"node": f"Indicator:{code.lower()}"})
        assert got.status_code == 200, got.text
        assert got.json() == want.json()
        assert (
            client.get(f"/v1/indicators/{code.lower()}/related").json()
            == client.get(f"/v1/indicators/{code}/related").json()
        )
        page = client.get(f"/ui/indicators/{code.lower()}/graph.json")
        assert page.status_code == 200, page.text
        assert {e["data"]["id"] for e in page.json()["elements"]} >= {f"Indicator:{code}"}
        assert client.post("/v1/departments", json={"code": "WSJKW", "name": "卫生健康委"}).status_code == 201
        assert client.get("/v1/departments/wsjkw/profile").status_code == 200
        r = client.get("/v1/graph/neighbourhood", params={"node": "Department:wsjkw"})
        assert r.status_code == 200, r.text


class TestDatabase:
    def test_the_database_refuses_a_second_spelling(self, seeded_url: str) -> None:
        """The unique index on code_key holds even for a writer that skips the service's checks."""
        engine = make_engine(seeded_url)
        try:
            with engine.begin() as conn:
                first, second = conn.execute(
                    sa.text("SELECT id, code FROM indicator ORDER BY id LIMIT 2")
                ).all()
                assert first.code != second.code
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE indicator SET code = :code, code_key = :key WHERE id = :id"),
                    {"code": first.code.lower(), "key": code_key(first.code.lower()), "id": second.id},
                )
        finally:
            engine.dispose()

    def test_upgrade_keeps_colliding_codes_and_reports_them(
        self, empty_url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A database that already holds ZZ-1 and zz-1 is not rewritten: both stay, the older answers
        to other spellings, the younger only as written, and the upgrade says so."""
        engine = make_engine(empty_url)
        try:
            cfg = alembic_config(engine)
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "f3c9e5a7b124")
            ids: dict[str, int] = {}
            with engine.begin() as conn:
                # No explicit ids: PostgreSQL's sequences must hand them out, or the service's own
                # inserts collide with them later.
                category = conn.execute(
                    sa.text(
                        "INSERT INTO category (framework, level, name, path, sort) "
                        "VALUES ('unclassified', 1, '未归类', 'unclassified/未归类', 0) RETURNING id"
                    )
                ).scalar_one()
                for i, code in enumerate(("ZZ-00001", "zz-00001", "ZZ-00002"), start=1):
                    ids[code] = conn.execute(
                        sa.text(
                            "INSERT INTO indicator (code, name, kind, category_id, budget_types, keywords,"
                            " is_core, horizon, status, revision, natural_key, version, change_seq,"
                            " created_at, updated_at) VALUES (:code, :name, 'common', :category, '[]', '[]',"
                            " false, 'annual', 'standard', 0, :nk, 1, 0, :at, :at) RETURNING id"
                        ),
                        {
                            "code": code,
                            "name": f"指标{i}",
                            "category": category,
                            "nk": f"k{i}",
                            "at": "2026-01-01 00:00:00",
                        },
                    ).scalar_one()
            with caplog.at_level(logging.WARNING), engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            with engine.begin() as conn:
                keys: dict[str, str | None] = dict(
                    conn.execute(sa.text("SELECT code, code_key FROM indicator")).all()
                )
            assert keys == {"ZZ-00001": "ZZ-00001", "zz-00001": None, "ZZ-00002": "ZZ-00002"}
            assert any("'ZZ-00001', 'zz-00001'" in r.getMessage() for r in caplog.records)

            from sqlmodel import Session

            from service.indicators import repository as repo

            with Session(engine) as session:
                assert repo.get_by_code(session, "zz-00001").id == ids["zz-00001"]  # type: ignore[union-attr]
                assert repo.get_by_code(session, "Zz-00001").id == ids["ZZ-00001"]  # type: ignore[union-attr]
                assert repo.ids_by_codes(session, ["zz-00001", "ＺＺ－００００１", "zz-00002"]) == {
                    "zz-00001": ids["zz-00001"],
                    "ＺＺ－００００１": ids["ZZ-00001"],
                    "zz-00002": ids["ZZ-00002"],
                }
            # The service starts on it, answers both codes, and its quality lint lists the pair.
            with client_for(empty_url, seed=False) as client:
                assert client.get("/v1/indicators/zz-00001").json()["name"] == "指标2"
                assert client.get(f"/v1/indicators/{quote('ｚＺ-00001')}").json()["name"] == "指标1"
                report = client.get("/v1/quality/code-collisions").json()
                assert report["count"] == 1
                assert report["items"][0]["key"] == "ZZ-00001"
                assert [i["code"] for i in report["items"][0]["indicators"]] == ["ZZ-00001", "zz-00001"]
                r = client.post("/v1/indicators", json={"code": "zZ-00001", "name": "第三个", "kind": "共性"})
                assert r.status_code == 409, r.text
            # Downgrade and upgrade again: the migration runs both ways.
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "f3c9e5a7b124")
                command.upgrade(cfg, "head")
        finally:
            engine.dispose()
