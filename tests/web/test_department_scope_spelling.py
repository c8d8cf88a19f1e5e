"""An editor's department scope compares by code key everywhere, the review pages included.

Loose end of issue 14: codes compare case- and width-insensitively (service/codes.py), but the
proposal page decided "may propose" (submit / withdraw buttons) with ``department_code in
principal.departments``, and the proposal list filtered ``department_code IN (departments)`` in
SQL, both exact. A key whose scope spells the department otherwise (``jyt``, or full-width
``ＪＹＴ``: keys minted before codes compared by key keep the spelling they were given) may
create that department's proposals, yet got no buttons and an empty list.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from service.app import create_app
from service.db import make_engine
from service.models import ApiKey
from service.settings import Settings
from tests.support.auth import bearer, mint_key


@pytest.fixture(params=["jyt", "ＪＹＴ"])
def scoped(seeded_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, dict[str, str], int]]:
    with TestClient(create_app(Settings(database_url=seeded_url, seed=True)), follow_redirects=False) as c:
        steward = bearer(mint_key(seeded_url, "steward", owner="财政厅"))
        assert c.post("/v1/departments", json={"code": "JYT", "name": "省教育厅"}, headers=steward).status_code == 201
        editor = bearer(mint_key(seeded_url, "editor", owner="教育厅", departments=["JYT"]))
        engine = make_engine(seeded_url)
        with engine.begin() as conn:  # the scope as a key minted before the code-key rule holds it
            conn.execute(update(ApiKey).where(ApiKey.owner == "教育厅").values(departments=[request.param]))
        engine.dispose()
        fields = {"name": "农村义务教育学校改造覆盖率", "level1": "产出指标", "level2": "数量指标",
                  "comparator": "≥", "value": 90, "unit": "%"}  # fmt: skip
        body = {"title": "拼写不同的范围", "department_code": "JYT", "items": [{"action": "create", "fields": fields}]}
        r = c.post("/v1/proposals", json=body, headers=editor)
        assert r.status_code == 201, r.text  # the write checks compared by key already
        yield c, editor, int(r.json()["id"])


def test_the_proposal_page_offers_the_editor_its_own_moves(scoped: tuple[TestClient, dict[str, str], int]) -> None:
    c, editor, pid = scoped
    page = c.get(f"/ui/proposals/{pid}", headers=editor)
    assert page.status_code == 200
    assert 'name="move" value="submit"' in page.text


def test_the_proposal_list_shows_the_editors_department(scoped: tuple[TestClient, dict[str, str], int]) -> None:
    c, editor, pid = scoped
    listed = c.get("/v1/proposals", headers=editor).json()
    assert [p["id"] for p in listed["items"]] == [pid]
    assert "拼写不同的范围" in c.get("/ui/proposals", headers=editor).text
