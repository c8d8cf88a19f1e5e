"""Duties and goals named on an indicator: 【部门】名称 reaches another department, on its authority."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from service.auth.context import RequestContext, set_context
from service.auth.principal import Principal, Role
from service.bootstrap import prepare_database
from service.db import make_engine
from service.duties import repository as repo
from service.duties.service import resolve_measures
from service.errors import Forbidden
from service.taxonomy.service import Refs


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    prepare_database(engine, seed=False)
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_a_bracketed_item_names_a_duty_of_that_department(session: Session) -> None:
    refs = Refs(session)
    own, other = refs.department_id("教育厅"), refs.department_id("财政厅")
    assert own is not None
    assert other is not None
    ids, _, new, _ = resolve_measures(
        session, refs, department_id=own, duties=["负责资助、助学", "【财政厅】管理资金", "【】【重点】工作"], goals=[]
    )
    assert len(ids) == len(new) == 3
    assert sorted(d.name for d in repo.duties_of(session, own)) == ["【重点】工作", "负责资助、助学"]
    assert [d.name for d in repo.duties_of(session, other)] == ["管理资金"]


def test_an_indicator_without_a_department_may_name_duties_of_one(session: Session) -> None:
    refs = Refs(session)
    ids, _, _, _ = resolve_measures(session, refs, department_id=None, duties=["【财政厅】管理资金"], goals=[])
    assert len(ids) == 1


def test_an_editor_cannot_add_a_duty_to_another_department(session: Session) -> None:
    refs = Refs(session)
    own = refs.department_id("教育厅")
    refs.department_id("财政厅")
    editor = Principal(actor="张三", role=Role.editor, departments=frozenset({refs.departments[own or 0].code}))

    def as_editor() -> None:
        set_context(RequestContext(principal=editor))  # in a copied context: nothing leaks to other tests
        with pytest.raises(Forbidden):
            resolve_measures(session, refs, department_id=own, duties=["【财政厅】管理资金"], goals=[])

    contextvars.copy_context().run(as_editor)
    ids, _, _, _ = resolve_measures(session, refs, department_id=own, duties=["负责资助"], goals=[])
    assert len(ids) == 1
