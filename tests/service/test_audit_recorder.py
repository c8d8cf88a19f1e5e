"""The audit recorder and its hash chain, below the HTTP layer (both backends for the recorder)."""

from __future__ import annotations

import contextvars
import math
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from service.audit import chain, record, set_reason
from service.audit import repository as repo
from service.audit.repository import Filters
from service.audit.service import verify
from service.auth.context import RequestContext, set_context
from service.auth.principal import Principal, Role
from service.db import make_engine, migrate
from service.models import ApiKey, Department

ENTRY = {
    "id": 1,
    "at": datetime(2026, 11, 28, 4, 40, 0, 123456, tzinfo=UTC),
    "actor": "审计员",
    "role": "steward",
    "key_id": "a1b2c3d4e5f6",
    "request_id": "test-123",
    "method": "PATCH",
    "route": "/v1/indicators/{code}",
    "entity_type": "indicator",
    "entity_id": "WSJK-00012",
    "action": "update",
    "before": {"value": 95, "unit": None},
    "after": {"value": 96.5, "unit": "%"},
    "reason": "按新口径调整",
    "prev_hash": chain.GENESIS_HASH,
}


class TestChain:
    def test_the_canonical_text_and_hash_are_pinned(self) -> None:
        # Regulators re-implement this: the format must never drift.
        assert chain.canonical(ENTRY) == (
            '{"action":"update","actor":"审计员","after":{"unit":"%","value":96.5},'
            '"at":"2026-11-28T04:40:00.123456Z","before":{"unit":null,"value":95},"entity_id":"WSJK-00012",'
            '"entity_type":"indicator","id":1,"key_id":"a1b2c3d4e5f6","method":"PATCH",'
            '"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
            '"reason":"按新口径调整","request_id":"test-123","role":"steward","route":"/v1/indicators/{code}"}'
        )
        assert chain.link(chain.GENESIS_HASH, ENTRY) == (
            "16e7f1a0b4dd624d9f839aaeea18013b45cc778586dc910f8b2bd207668bffc7"
        )

    @pytest.mark.parametrize("name", chain.CHAINED_FIELDS)
    def test_every_chained_field_changes_the_hash(self, name: str) -> None:
        changed = {**ENTRY, name: "x" if name != "at" else datetime(2027, 1, 1, tzinfo=UTC)}
        assert chain.link(chain.GENESIS_HASH, changed) != chain.link(chain.GENESIS_HASH, ENTRY)

    def test_the_stored_hash_is_not_part_of_the_text(self) -> None:
        assert chain.canonical({**ENTRY, "hash": "whatever"}) == chain.canonical(ENTRY)

    def test_times_are_utc_whatever_their_zone(self) -> None:
        naive = {**ENTRY, "at": datetime(2026, 11, 28, 4, 40, 0, 123456)}
        text_form = {**ENTRY, "at": "2026-11-28T04:40:00.123456Z"}
        assert chain.canonical(naive) == chain.canonical(ENTRY) == chain.canonical(text_form)

    def test_plain_values_survive_a_json_round_trip(self) -> None:
        value = chain.plain(
            {"nan": math.nan, "when": datetime(2026, 1, 1, 8, tzinfo=UTC), "set": {3, 1}, 2: Role.admin}
        )
        assert value == {"nan": None, "when": "2026-01-01T08:00:00.000000Z", "set": [1, 3], "2": "admin"}


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _all(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as session:
        return [dict(r._mapping) for r in repo.oldest_first(session, Filters())]


class TestRecorder:
    def test_a_create_and_later_updates_in_one_transaction_are_one_entry(self, engine: Engine) -> None:
        with Session(engine) as session:
            dept = Department(code="D1", name="甲")
            session.add(dept)
            session.flush()
            dept.name = "乙"
            session.flush()
            record(session, entity_type="department", entity_id="D1", action="update", after={"note": "x"})
            session.commit()
        [entry] = _all(engine)
        assert (entry["action"], entry["entity_id"], entry["before"]) == ("create", "D1", None)
        assert entry["after"] == {"id": 1, "code": "D1", "name": "乙", "parent_id": None, "note": "x"}

    def test_updates_keep_the_first_before_and_the_last_after(self, engine: Engine) -> None:
        with Session(engine) as session:
            session.add(Department(code="D1", name="甲"))
            session.commit()
        with Session(engine) as session:
            dept = session.get(Department, 1)
            assert dept is not None
            dept.name = "乙"
            session.flush()
            dept.name = "丙"
            session.commit()
        update = _all(engine)[-1]
        assert (update["action"], update["before"], update["after"]) == (
            "update",
            {"name": "甲"},
            {"name": "丙"},
        )

    def test_an_unchanged_row_and_unaudited_tables_record_nothing(self, engine: Engine) -> None:
        with Session(engine) as session:
            session.add(Department(code="D1", name="甲"))
            session.commit()
        with Session(engine) as session:
            dept = session.get(Department, 1)
            assert dept is not None
            dept.name = "甲"
            session.commit()
        assert len(_all(engine)) == 1

    def test_secrets_are_redacted(self, engine: Engine) -> None:
        with Session(engine) as session:
            session.add(ApiKey(id="k1", secret_hash="f" * 64, owner="甲", role="admin"))
            session.commit()
        with Session(engine) as session:
            key = session.get(ApiKey, "k1")
            assert key is not None
            key.secret_hash = "e" * 64
            session.commit()
        create, update = _all(engine)
        assert create["after"]["secret_hash"] == "[redacted]"  # type: ignore[index]
        assert (update["before"], update["after"]) == (
            {"secret_hash": "[redacted]"},
            {"secret_hash": "[redacted]"},
        )

    def test_a_rollback_leaves_nothing(self, engine: Engine) -> None:
        with Session(engine) as session:
            session.add(Department(code="D1", name="甲"))
            record(session, entity_type="import", entity_id="x", action="import")
            session.flush()
            session.rollback()
            session.commit()
        assert _all(engine) == []

    def test_a_savepoint_rolled_back_takes_its_entries_with_it(self, engine: Engine) -> None:
        with Session(engine) as session:
            record(session, entity_type="probe", entity_id="kept-before", action="create")
            with session.begin_nested():
                record(session, entity_type="probe", entity_id="kept-inside", action="create")
            savepoint = session.begin_nested()
            record(session, entity_type="probe", entity_id="dropped", action="create")
            savepoint.rollback()
            record(session, entity_type="probe", entity_id="kept-after", action="create")
            session.commit()
        assert [e["entity_id"] for e in _all(engine)] == ["kept-before", "kept-inside", "kept-after"]

    def test_the_transaction_reason_fills_entries_without_one(self, engine: Engine) -> None:
        with Session(engine) as session:
            set_reason(session, "政策调整")
            record(session, entity_type="probe", entity_id="a", action="create")
            record(session, entity_type="probe", entity_id="b", action="create", reason="自己的理由")
            session.commit()
        assert [e["reason"] for e in _all(engine)] == ["政策调整", "自己的理由"]

    def test_entries_name_the_context_or_the_system(self, engine: Engine) -> None:
        with Session(engine) as session:
            record(session, entity_type="probe", entity_id="cli", action="create")
            session.commit()

        def in_request() -> None:
            principal = Principal(actor="张三", role=Role.editor, key_id="k9", departments=frozenset({"D1"}))
            set_context(RequestContext(principal, request_id="r-1", method="POST", route="/v1/x/{id}"))
            with Session(engine) as session:
                record(session, entity_type="probe", entity_id="api", action="create")
                session.commit()

        contextvars.copy_context().run(in_request)
        outside, inside = _all(engine)
        assert (outside["actor"], outside["role"], outside["key_id"], outside["request_id"]) == (
            "system", "admin", None, "system",
        )  # fmt: skip
        assert (inside["actor"], inside["role"], inside["key_id"], inside["request_id"]) == (
            "张三",
            "editor",
            "k9",
            "r-1",
        )
        assert (inside["method"], inside["route"]) == ("POST", "/v1/x/{id}")

    def test_the_chain_links_and_verifies(self, engine: Engine) -> None:
        for n in range(3):
            with Session(engine) as session:
                record(session, entity_type="probe", entity_id=str(n), action="create", after={"n": n})
                session.commit()
        entries = _all(engine)
        assert [e["id"] for e in entries] == [1, 2, 3]
        assert entries[0]["prev_hash"] == chain.GENESIS_HASH
        assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
        with Session(engine) as session:
            report = verify(session)
        assert (report.ok, report.entries, report.head_id, report.head_hash) == (
            True,
            3,
            3,
            entries[-1]["hash"],
        )
