"""Property: any sequence of dated edits, releases and policy changes keeps every revision, and
as-of and release reads equal a replay of history.

Edits may be scheduled (dated after the step's day, up to years ahead) and interleaved with edits
dated on the day or undated (now): none is refused, each takes effect when asked or with the newest
revision if that is later, and the indicators stay editable to the end."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session, col

from graph.embedded import EmbeddedGraphStore
from service.change_sets import service as change_sets
from service.change_sets.schemas import EditionIn, SettleIn
from service.db import make_engine
from service.errors import Conflict, NotFound, ValidationFailed
from service.indicators import service as indicators
from service.models import IndicatorBasis, LegalBasis
from service.releases import service as releases
from service.releases.schemas import ReleaseDraft
from service.versions import service as versions

START = date(2026, 1, 1)  # after every seed edition's effective date, so new editions may follow them
WATCHED = ("name", "value", "raw_value", "unit", "keywords", "status")

edit = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 100)),
    st.tuples(st.just("name"), st.sampled_from(["甲", "乙", "丙"])),
    st.tuples(st.just("unit"), st.sampled_from(["%", "个", "公里"])),
    st.tuples(st.just("keywords"), st.lists(st.sampled_from(["水", "路", "学"]), max_size=2, unique=True)),
    st.tuples(st.just("status"), st.sampled_from(["superseded", "retired"])),
    st.tuples(st.just("release"), st.none()),
    st.tuples(st.just("edition"), st.none()),
    # A value change dated this many days after the step's day (a scheduled revision) …
    st.tuples(st.just("scheduled"), st.tuples(st.integers(0, 100), st.integers(1, 800))),
    # … and one dated by the service: now.
    st.tuples(st.just("undated"), st.integers(0, 100)),
)
# One step: which of three indicators, what happens, and how many days after the previous step.
steps = st.lists(st.tuples(st.integers(0, 2), edit, st.integers(0, 30)), min_size=1, max_size=10)


def _watched(snapshot: dict[str, Any]) -> dict[str, Any]:
    state = {k: snapshot.get(k) for k in WATCHED}
    state["bases"] = sorted(b["id"] for b in snapshot.get("legal_bases") or [])
    return state


def _linked_codes(session: Session) -> list[str]:
    """Three indicators resting on an in-force basis (so that policy changes reach them)."""
    rows = session.execute(
        select(col(IndicatorBasis.indicator_id))
        .join(LegalBasis, col(LegalBasis.id) == col(IndicatorBasis.legal_basis_id))
        .where(col(LegalBasis.status) == "in_force")
        .order_by(col(IndicatorBasis.indicator_id))
        .limit(3)
    ).scalars()
    return [i.code for i in indicators.repo.get_many_by_ids(session, list(rows))]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
# Found by hypothesis: a retired indicator whose basis got a new edition, then "edited" to the value it
# has. The basis's status changed, not the indicator: no revision.
@example(plan=[(0, ("value", 0), 0), (0, ("status", "retired"), 0), (0, ("edition", None), 0), (0, ("value", 0), 0)])
# Issue 14: a revision scheduled for later froze the indicator (every later edit was a 409).
@example(plan=[(0, ("scheduled", (7, 400)), 0), (0, ("value", 8), 1), (0, ("undated", 9), 0), (0, ("edition", None), 2)])
def test_history_is_complete_and_reads_replay_it(
    plan: list[Any], sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "prop.db"
    shutil.copyfile(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    graph = EmbeddedGraphStore(engine)
    try:
        with Session(engine) as session:
            codes = _linked_codes(session)
            assert len(codes) == 3
            base = {c: indicators.snapshots(session, [indicators.require(session, c)])[0] for c in codes}
            names = {c: base[c]["name"] for c in codes}
            # The model: per indicator, (valid from, watched state) after each change, in recording order.
            timeline = {
                c: [(versions.as_utc(versions.history(session, c).revisions[0].valid_from), _watched(base[c]))]
                for c in codes
            }
            expected_revisions = dict.fromkeys(codes, 1)
            released: dict[str, dict[str, dict[str, Any] | None]] = {}
            day = START

            def changed(code: str, state: dict[str, Any], asked: datetime | None = None) -> None:
                if state != timeline[code][-1][1]:
                    expected_revisions[code] += 1
                    if asked is None:  # undated: now, as the service recorded it
                        asked = versions.history(session, code).revisions[-1].recorded_at
                    # Takes effect when asked, or with the newest revision if that is later.
                    timeline[code].append((max(versions.as_utc(asked), timeline[code][-1][0]), state))

            for n, (which, (kind, value), gap) in enumerate(plan):
                code, day = codes[which], day + timedelta(days=gap)
                if kind == "release":
                    releases.create_release(session, ReleaseDraft(name=f"r{n}", effective_on=day))
                    session.commit()
                    released[f"r{n}"] = {
                        c: timeline[c][-1][1] if timeline[c][-1][1]["status"] == "standard" else None
                        for c in codes
                    }
                    continue
                if kind == "edition":
                    old = timeline[code][-1][1]["bases"][0]
                    try:
                        opened = change_sets.record_edition(
                            session,
                            old,
                            EditionIn(
                                doc_no=f"TEST {n}-{day.year}",
                                title=f"测试标准{n}",
                                effective_on=day,
                                summary="修订",
                            ),
                            graph,
                        )
                        session.commit()
                        cs_id = opened.change_set.id
                        change_sets.settle(session, cs_id, SettleIn(decision="accepted", items="all"))
                        session.commit()
                        change_sets.apply(session, cs_id)
                        session.commit()
                    except (Conflict, ValidationFailed):
                        # The basis is no longer in force, or the edition would not follow the one in
                        # force (two on one day): refused, and nothing changes.
                        session.rollback()
                        continue
                    new = opened.basis.id
                    # Every watched indicator on that chain now rests on the new edition (a retired one
                    # is history and keeps its basis).
                    for c in codes:
                        state = dict(timeline[c][-1][1])
                        if old in state["bases"] and state["status"] != "retired":
                            state["bases"] = sorted({*state["bases"], new} - {old})
                            changed(c, state, versions.start_of(day))
                    continue
                asked: datetime | None = versions.start_of(day)
                if kind == "scheduled":
                    kind, (value, ahead) = "value", value
                    asked = versions.start_of(day + timedelta(days=ahead))
                elif kind == "undated":
                    kind, asked = "value", None
                changes: dict[str, Any] = {kind: f"{names[code]}{value}" if kind == "name" else value}
                if (kind, value) == ("status", "superseded"):
                    changes["superseded_by"] = codes[(which + 1) % 3]
                prov = versions.Provenance(reason=f"step {kind}", valid_from=asked)
                state = dict(timeline[code][-1][1])
                try:
                    indicators.revise(session, indicators.require(session, code), changes, prov)
                except Conflict:
                    # A lifecycle move the model also forbids (out of retired): nothing changes.
                    session.rollback()
                    assert state["status"] == "retired"
                    continue
                session.commit()
                state.update({k: v for k, v in changes.items() if k in WATCHED})
                if kind == "value":
                    state["value"], state["raw_value"] = float(value), None  # a new value drops the text
                changed(code, state, asked)

            def replay(code: str, on: date) -> dict[str, Any]:
                """What held at the end of a day: the last change recorded that was valid by then."""
                return [s for d, s in timeline[code] if d < versions.end_of(on)][-1]

            for code in codes:
                history = versions.history(session, code)
                assert [r.number for r in history.revisions] == list(range(1, expected_revisions[code] + 1))
                assert [versions.as_utc(r.valid_from) for r in history.revisions] == [
                    versions.as_utc(d) for d, _ in timeline[code]
                ]
                for when, _ in timeline[code][1:]:
                    # At the end of a change's day the read shows the last change valid by then …
                    on = versions.as_utc(when).date()
                    got = versions.indicator_at(session, code, as_of=on, release=None)
                    assert _watched(got.model_dump(mode="json")) == replay(code, on)
                    # … and the day before, what held before it.
                    got = versions.indicator_at(session, code, as_of=on - timedelta(days=1), release=None)
                    assert _watched(got.model_dump(mode="json")) == replay(code, on - timedelta(days=1))
                for name, frozen in released.items():
                    if frozen[code] is None:
                        try:
                            versions.indicator_at(session, code, as_of=None, release=name)
                        except NotFound:
                            continue
                        raise AssertionError(f"{code} should not be in release {name}")
                    got = versions.indicator_at(session, code, as_of=None, release=name)
                    assert _watched(got.model_dump(mode="json")) == frozen[code]
                # Whatever came before, the indicator can still be edited today.
                newest = versions.as_utc(timeline[code][-1][0])
                indicators.revise(
                    session, indicators.require(session, code), {"keywords": ["终"]}, versions.Provenance()
                )
                session.commit()
                last = versions.history(session, code).revisions[-1]
                assert versions.as_utc(last.valid_from) == max(versions.as_utc(last.recorded_at), newest)
    finally:
        engine.dispose()
