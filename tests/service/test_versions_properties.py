"""Property: any sequence of dated edits keeps every revision, and as-of reads equal a replay of history."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from service.db import make_engine
from service.errors import Conflict
from service.indicators import service as indicators
from service.versions import service as versions

START = date(2022, 1, 1)
WATCHED = ("name", "value", "raw_value", "unit", "keywords", "status")

# One step: which of three indicators, which change, and how many days after the previous step.
steps = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.one_of(
            st.tuples(st.just("value"), st.integers(0, 100)),
            st.tuples(st.just("name"), st.sampled_from(["甲", "乙", "丙"])),
            st.tuples(st.just("unit"), st.sampled_from(["%", "个", "公里"])),
            st.tuples(
                st.just("keywords"), st.lists(st.sampled_from(["水", "路", "学"]), max_size=2, unique=True)
            ),
            st.tuples(st.just("status"), st.sampled_from(["superseded", "retired"])),
        ),
        st.integers(0, 30),
    ),
    min_size=1,
    max_size=12,
)


def _watched(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: snapshot.get(k) for k in WATCHED}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_history_is_complete_and_as_of_replays_it(
    plan: list[Any], sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "prop.db"
    shutil.copyfile(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as session:
            codes = [i.code for i in indicators.repo.get_many_by_ids(session, [1, 2, 3])]
            base = {c: indicators.snapshots(session, [indicators.require(session, c)])[0] for c in codes}
            names = {c: base[c]["name"] for c in codes}
            # The model: per indicator, (day, watched fields) after each effective change.
            timeline: dict[str, list[tuple[date, dict[str, Any]]]] = {
                c: [(START - timedelta(days=1), _watched(base[c]))] for c in codes
            }
            expected_revisions = dict.fromkeys(codes, 1)
            day = START
            for which, (field, value), gap in plan:
                code, day = codes[which], day + timedelta(days=gap)
                changes: dict[str, Any] = {field: value}
                if field == "name":
                    changes[field] = f"{names[code]}{value}"
                if field == "status" and value == "superseded":
                    changes["superseded_by"] = codes[(which + 1) % 3]
                prov = versions.Provenance(reason=f"step {field}", valid_from=versions.start_of(day))
                state = dict(timeline[code][-1][1])
                try:
                    indicators.revise(session, indicators.require(session, code), changes, prov)
                except Conflict:
                    # A lifecycle move the model also forbids (e.g. out of retired): nothing changes.
                    session.rollback()
                    assert state["status"] == "retired" or (state["status"], value) == (
                        "superseded",
                        "superseded",
                    )
                    continue
                session.commit()
                state.update({k: v for k, v in changes.items() if k in WATCHED})
                if field == "value":
                    state["value"], state["raw_value"] = (
                        float(value),
                        None,
                    )  # a new value drops the published text
                if state != timeline[code][-1][1]:
                    expected_revisions[code] += 1
                    timeline[code].append((day, state))

            for code in codes:
                history = versions.history(session, code)
                assert [r.number for r in history.revisions] == list(range(1, expected_revisions[code] + 1))
                for (day_a, _), (day_b, state) in zip(timeline[code], timeline[code][1:], strict=False):
                    del day_a
                    # At the end of a change's day the read shows the last change of that day.
                    last_that_day = [s for d, s in timeline[code] if d == day_b][-1]
                    got = versions.indicator_at(session, code, as_of=day_b, release=None)
                    assert _watched(got.model_dump(mode="json")) == last_that_day
                    before = [s for d, s in timeline[code] if d < day_b][-1]
                    got = versions.indicator_at(session, code, as_of=day_b - timedelta(days=1), release=None)
                    assert _watched(got.model_dump(mode="json")) == before
                    del state
    finally:
        engine.dispose()
