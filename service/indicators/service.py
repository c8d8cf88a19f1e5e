"""Indicator use cases: read, create, edit with optimistic locking, retire, search."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col

from loaders.levels import LevelMapping, map_levels
from service import audit
from service.auth.context import current_principal
from service.codes import code_key
from service.domain import COMPARATOR_SYMBOLS, IndicatorStatus, Kind
from service.errors import (
    FieldError,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    error_field,
    error_message,
)
from service.indicators import repository as repo
from service.indicators.schemas import IndicatorDraft, IndicatorOut, IndicatorPage, IndicatorPatch
from service.legal_bases import repository as basis_repo
from service.legal_bases.service import BasisMatcher
from service.models import Indicator, utcnow
from service.outbox.service import Entity, record
from service.preconditions import require_if_match
from service.search.index import IndexDoc, SearchIndex
from service.taxonomy.service import Refs
from service.versions.service import Provenance, as_utc, check_transition, record_indicators

KIND_PREFIX: dict[Kind, str] = {
    Kind.common: "GX",
    Kind.department_strategic: "ZL",
    Kind.department_duty: "ZZ",
    Kind.sector: "HY",
}


def etag(ind: Indicator) -> str:
    return f'"{ind.code}.v{ind.version}"'


def natural_key(*parts: object) -> str:
    """Identity of an indicator that arrives without a code (see README, 'Identity')."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


@dataclass
class RowPlan:
    """A draft resolved against the reference data: the column values to store."""

    values: dict[str, Any]
    basis_links: list[dict[str, Any]]
    warnings: list[str]
    duties: list[str]
    goals: list[str]


def resolve(
    draft: IndicatorDraft, refs: Refs, matcher: BasisMatcher, *, default_status: IndicatorStatus
) -> RowPlan:
    """Turn a validated draft into column values (category, sector, department ids …)."""
    mapping = _map_levels(draft.level1, draft.level2)
    warnings = [mapping.warning] if mapping.warning else []
    kind = draft.kind
    if mapping.kind_hint is not None and "kind" not in draft.model_fields_set:
        kind = mapping.kind_hint
    category_id = refs.category_id(mapping)
    sector_id = refs.sector_id(draft.sector)
    department_id = refs.department_id(draft.department)
    value = draft.value
    # The labels as written. A row that gives them (an export does) is taken at its word, also where
    # one is empty: "满意度指标" without level 2 maps onto 服务对象满意度指标, yet was written without it.
    if draft.raw_level1 is not None or draft.raw_level2 is not None:
        raw_level1, raw_level2 = draft.raw_level1, draft.raw_level2
    else:
        raw_level1, raw_level2 = draft.level1, draft.level2
    values: dict[str, Any] = {
        "name": draft.name,
        "kind": kind.value,
        "category_id": category_id,
        "sector_id": sector_id,
        "department_id": department_id,
        "raw_level1": raw_level1,
        "raw_level2": raw_level2,
        "definition": draft.definition,
        "formula": draft.formula,
        "unit": draft.unit,
        "comparator": draft.comparator.value if draft.comparator else None,
        "value": None if value is None else _value_text(value),
        "value_num": float(value) if isinstance(value, int | float) else None,
        "value_max": draft.value_max,
        "raw_value": draft.raw_value,
        "value_basis": draft.value_basis.value if draft.value_basis else None,
        "value_basis_text": draft.value_basis_text,
        "scoring_rule": draft.scoring_rule,
        "data_source": draft.data_source,
        "frequency": draft.frequency,
        "budget_types": draft.budget_types,
        "keywords": draft.keywords,
        "basis": draft.basis,
        "direction": draft.direction.value if draft.direction else None,
        "is_core": draft.is_core,
        "horizon": draft.horizon.value,
        "weight": draft.weight,
        "source": draft.source,
        "notes": draft.notes,
        "status": (draft.status or default_status).value,
        "effective_from": draft.effective_from,
        "expires_on": draft.expires_on,
    }
    # The levels as written (not as mapped) belong to the key: one source table may list the
    # same name under two headings, and both rows are kept.
    values["natural_key"] = natural_key(
        kind.value,
        department_id,
        sector_id,
        values["raw_level1"],
        values["raw_level2"],
        draft.name,
        draft.source,
    )
    links = [
        {"legal_basis_id": b, "clause": draft.basis_clause, "note": None} for b in matcher.match(draft.basis)
    ]
    return RowPlan(
        values=values, basis_links=links, warnings=warnings, duties=draft.duties, goals=draft.strategic_goals
    )


@lru_cache(maxsize=4096)
def _map_levels(level1: str | None, level2: str | None) -> LevelMapping:
    return map_levels(level1, level2)


def _value_text(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def code_prefix(kind: str, sector_code: str | None) -> str:
    if kind == Kind.sector and sector_code:
        return sector_code
    return KIND_PREFIX[Kind(kind)]


def assign_codes(
    session: Session, plans: Sequence[dict[str, Any]], refs: Refs, taken: set[str] | None = None
) -> None:
    """Give every plan without a code a readable one: prefix-sequence, e.g. WSJK-00012; never reused.

    ``taken``: the keys (``code_key``) of every code in use, when the caller holds them (an import);
    otherwise only the numbers drawn are looked up, so one new indicator costs no read of the whole catalogue.
    """
    by_prefix: dict[str, list[dict[str, Any]]] = {}
    for values in plans:
        if not values.get("code"):
            sector = refs.sectors.get(values["sector_id"]) if values["sector_id"] else None
            by_prefix.setdefault(code_prefix(values["kind"], sector.code if sector else None), []).append(
                values
            )
    for prefix, group in by_prefix.items():
        pending = list(group)
        while pending:
            numbers = repo.allocate_codes(session, prefix, len(pending))
            candidates = [f"{prefix}-{n:05d}" for n in numbers]
            in_use = (
                taken if taken is not None else {code_key(c) for c in repo.ids_by_codes(session, candidates)}
            )
            still: list[dict[str, Any]] = []
            for values, code in zip(pending, candidates, strict=True):
                if code_key(code) in in_use:  # a user chose this code (in any case) by hand: skip the number
                    still.append(values)
                    continue
                values["code"] = code
                if taken is not None:
                    taken.add(code_key(code))
            pending = still


# --- reads ---------------------------------------------------------------------
_SYMBOLS: dict[str, str] = {c.value: symbol for c, symbol in COMPARATOR_SYMBOLS.items()}


def snapshots(
    session: Session, indicators: Sequence[Indicator], refs: Refs | None = None
) -> list[dict[str, Any]]:
    """What each indicator says, as JSON-ready dicts: the body of a revision and of every read.

    Volatile bookkeeping (version, revision, timestamps) is left out, so two snapshots are equal
    exactly when the indicator's content is.
    """
    from service.duties.repository import measure_names

    refs = refs or Refs(session)
    ids = [i.id for i in indicators if i.id is not None]
    links = repo.basis_links(session, ids)
    measured = measure_names(session, ids)
    out = []
    for ind in indicators:
        assert ind.id is not None
        node = refs.categories[ind.category_id]
        sector = refs.sectors.get(ind.sector_id) if ind.sector_id else None
        dept = refs.departments.get(ind.department_id) if ind.department_id else None
        duties, goals = measured.get(ind.id, ([], []))
        out.append(
            {
                "code": ind.code,
                "name": ind.name,
                "kind": ind.kind,
                "framework": node.framework,
                "category_id": node.id,
                "level1": node.level1,
                "level2": node.level2,
                "raw_level1": ind.raw_level1,
                "raw_level2": ind.raw_level2,
                "sector": sector.name if sector else None,
                "sector_code": sector.code if sector else None,
                "department": dept.name if dept else None,
                "department_code": dept.code if dept else None,
                "definition": ind.definition,
                "formula": ind.formula,
                "unit": ind.unit,
                "comparator": ind.comparator,
                "comparator_symbol": _SYMBOLS.get(ind.comparator) if ind.comparator else None,
                "value": ind.value_num if ind.value_num is not None else ind.value,
                "value_max": ind.value_max,
                "raw_value": ind.raw_value,
                "value_basis": ind.value_basis,
                "value_basis_text": ind.value_basis_text,
                "scoring_rule": ind.scoring_rule,
                "data_source": ind.data_source,
                "frequency": ind.frequency,
                "budget_types": list(ind.budget_types or []),
                "keywords": list(ind.keywords or []),
                "basis": ind.basis,
                "legal_bases": [
                    {
                        "id": b.id or 0,
                        "doc_no": b.doc_no,
                        "title": b.title,
                        "kind": b.kind,
                        "status": b.status,
                        "clause": link.clause,
                        "note": link.note,
                    }
                    for link, b in links.get(ind.id, [])
                ],
                "duties": list(duties),
                "strategic_goals": list(goals),
                "direction": ind.direction,
                "is_core": ind.is_core,
                "horizon": ind.horizon,
                "weight": ind.weight,
                "source": ind.source,
                "notes": ind.notes,
                "status": ind.status,
                "effective_from": ind.effective_from.isoformat() if ind.effective_from else None,
                "expires_on": ind.expires_on.isoformat() if ind.expires_on else None,
                "superseded_by": ind.superseded_by,
            }
        )
    return out


def view_of(snapshot: dict[str, Any], ind: Indicator) -> IndicatorOut:
    """The API shape of a snapshot, with the live row's bookkeeping."""
    return IndicatorOut.model_validate(
        {
            **snapshot,
            "version": ind.version,
            "revision": ind.revision,
            "created_at": as_utc(ind.created_at),
            "updated_at": as_utc(ind.updated_at),
        }
    )


def views(session: Session, indicators: Sequence[Indicator], refs: Refs | None = None) -> list[IndicatorOut]:
    return [
        view_of(snap, ind) for snap, ind in zip(snapshots(session, indicators, refs), indicators, strict=True)
    ]


def require(session: Session, code: str) -> Indicator:
    ind = repo.get_by_code(session, code)
    if ind is None:
        raise NotFound(f"Indicator {code!r} does not exist")
    return ind


def get_indicator(session: Session, code: str) -> tuple[IndicatorOut, str]:
    ind = require(session, code)
    return require_visible(views(session, [ind])[0]), etag(ind)


# --- writes --------------------------------------------------------------------
def _matcher(session: Session) -> BasisMatcher:
    return BasisMatcher.build(basis_repo.all_bases(session))


def create_indicator(
    session: Session,
    draft: IndicatorDraft,
    prov: Provenance | None = None,
    *,
    refs: Refs | None = None,
    matcher: BasisMatcher | None = None,
) -> tuple[IndicatorOut, str]:
    """Create one indicator (status draft unless given); 409 when the code exists.

    A caller creating many in one transaction passes its ``refs`` and ``matcher`` (built once).
    """
    from service.errors import Conflict

    refs = refs or Refs(session)
    plan = resolve(draft, refs, matcher or _matcher(session), default_status=IndicatorStatus.draft)
    if draft.code:
        if (same := repo.get_by_code(session, draft.code)) is not None:
            # Codes compare by key (service/codes.py): zz-00006 is ZZ-00006, so it is taken too.
            raise Conflict(
                f"Indicator code {draft.code!r} already exists as {same.code!r}",
                errors=[
                    FieldError(
                        field="code", message=f"指标编码 {same.code} 已存在; code {same.code} is taken"
                    )
                ],
            )
        plan.values["code"] = draft.code
    else:
        assign_codes(session, [plan.values], refs)
    seq = repo.bump_change_seq(session)
    now = utcnow()
    repo.insert_indicators(
        session, [{**plan.values, "version": 1, "change_seq": seq, "created_at": now, "updated_at": now}]
    )
    ind = require(session, plan.values["code"])
    assert ind.id is not None
    if plan.basis_links:
        repo.replace_basis_links(session, {ind.id: plan.basis_links})
    write_measures(session, refs, ind.id, plan)
    prov = prov or Provenance(reason="created")
    announce(session, refs, [ind.code], prov)
    session.expire_all()
    ind = require(session, plan.values["code"])
    audit_write(session, ind, action=audit.Action.create, since=0, version=0, reason=prov.reason)
    return views(session, [ind], refs)[0], etag(ind)


def audit_write(session: Session, ind: Indicator, *, action: str, since: int, version: int, reason: str | None) -> None:
    """One audit entry for a write to one indicator: what its new revision says (all of it when
    created, the changed fields before and after otherwise), with the version and revision moves.

    ``since`` and ``version``: the indicator's revision number and version before the write.
    """
    from service.versions import repository as versions_repo

    assert ind.id is not None
    before: dict[str, Any] = {"version": version, "revision": since}
    after: dict[str, Any] = {"version": ind.version, "revision": ind.revision}
    head = versions_repo.indicator_revision(session, ind.id, ind.revision) if ind.revision > since else None
    previous = versions_repo.indicator_revision(session, ind.id, since) if head is not None and since else None
    if head is not None and previous is None:
        after.update(head.snapshot)
    elif head is not None and previous is not None:
        before.update({f: previous.snapshot.get(f) for f in head.fields})
        after.update({f: head.snapshot.get(f) for f in head.fields})
    audit.record(
        session,
        entity_type="indicator",
        entity_id=ind.code,
        action=action,
        before=None if action == audit.Action.create else before,
        after=after,
        reason=reason,
    )


def write_measures(session: Session, refs: Refs, indicator_id: int, plan: RowPlan) -> None:
    """Link the indicator to the duties/goals it names (MEASURES), creating new ones in its department."""
    from service.duties.repository import set_indicator_links
    from service.duties.service import resolve_measures

    duty_ids, goal_ids, new_duties, new_goals = resolve_measures(
        session, refs, department_id=plan.values["department_id"], duties=plan.duties, goals=plan.goals
    )
    set_indicator_links(session, indicator_id, duty_ids=duty_ids, goal_ids=goal_ids)
    record(session, Entity.duty, new_duties)
    record(session, Entity.goal, new_goals)


def announce(
    session: Session,
    refs: Refs,
    codes: Sequence[str],
    prov: Provenance,
    *,
    inserted: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """Record revisions of the changed indicators and tell the graph outbox (and the change feed).

    ``inserted``: column values of indicators this transaction just created, by code (saves a re-read).
    """
    record(session, Entity.sector, refs.new_sector_codes)
    record(session, Entity.department, refs.new_department_codes)
    refs.new_sector_codes.clear()
    refs.new_department_codes.clear()
    record(session, Entity.indicator, codes)
    ids = repo.ids_by_codes(session, codes)
    known = {
        ids[code]: SimpleNamespace(**{"superseded_by": None, **values, "id": ids[code]})
        for code, values in (inserted or {}).items()
        if code in ids
    }
    record_indicators(session, [ids[c] for c in codes if c in ids], prov, refs, known=known)


def draft_of(ind: Indicator, refs: Refs, *, basis_clause: str | None) -> dict[str, Any]:
    """The stored indicator expressed as draft input (so a patch re-runs the same validation)."""
    node = refs.categories[ind.category_id]
    return {
        "code": ind.code,
        "name": ind.name,
        "kind": ind.kind,
        "level1": node.level1 if node.framework != "unclassified" else ind.raw_level1,
        "level2": node.level2 if node.framework != "unclassified" else ind.raw_level2,
        "sector": refs.sector_name(ind.sector_id),
        "department": refs.departments[ind.department_id].name if ind.department_id else None,
        "definition": ind.definition,
        "formula": ind.formula,
        "unit": ind.unit,
        "comparator": ind.comparator,
        "value": ind.value_num if ind.value_num is not None else ind.value,
        "value_max": ind.value_max,
        "raw_value": ind.raw_value,
        "value_basis": ind.value_basis,
        "value_basis_text": ind.value_basis_text,
        "scoring_rule": ind.scoring_rule,
        "data_source": ind.data_source,
        "frequency": ind.frequency,
        "budget_types": list(ind.budget_types or []),
        "keywords": list(ind.keywords or []),
        "basis": ind.basis,
        "basis_clause": basis_clause,
        "direction": ind.direction,
        "is_core": ind.is_core,
        "horizon": ind.horizon,
        "weight": ind.weight,
        "source": ind.source,
        "notes": ind.notes,
        "status": ind.status,
        "effective_from": ind.effective_from,
        "expires_on": ind.expires_on,
    }


def check_if_match(ind: Indicator, if_match: str | None, *, required: bool) -> None:
    require_if_match(
        etag(ind),
        if_match,
        what="indicator",
        required=required,
        stale=f"Indicator {ind.code} has changed (current ETag {etag(ind)}); reload it and apply your change again",
    )


def patch_indicator(
    session: Session, code: str, patch: IndicatorPatch, *, if_match: str | None, author: str | None = None
) -> tuple[IndicatorOut, str]:
    """Apply a partial change guarded by If-Match; a stale ETag is refused with 412, nothing is overwritten."""
    ind = require(session, code)
    check_if_match(ind, if_match, required=True)
    changes = patch.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    ind = revise(session, ind, changes, Provenance(reason=reason, author=author))
    return views(session, [ind])[0], etag(ind)


def revise(session: Session, ind: Indicator, changes: dict[str, Any], prov: Provenance) -> Indicator:
    """Change fields of one indicator (compare-and-set on its version) and record the revision.

    ``changes`` uses draft field names plus ``superseded_by``; a status change must be a lifecycle
    move (409 otherwise), and ``superseded`` needs the code of an existing replacement.
    """
    assert ind.id is not None
    refs = Refs(session)
    since, version = ind.revision, ind.version
    changes = dict(changes)
    superseded_by = changes.pop("superseded_by", ind.superseded_by)
    new_status = changes.get("status")
    if new_status is not None:
        new_status = _status_value(new_status)
        check_transition(ind.code, ind.status, new_status)
        changes["status"] = new_status
    if (new_status or ind.status) == IndicatorStatus.superseded.value:
        superseded_by = _check_successor(session, ind.code, superseded_by)
    merged = merged_draft(session, ind, changes, refs)
    try:
        draft = IndicatorDraft.model_validate(merged)
    except ValidationError as exc:
        raise ValidationFailed("The change is not valid", errors=errors_from(exc)) from exc
    plan = resolve(draft, refs, _matcher(session), default_status=IndicatorStatus(ind.status))
    plan.values.pop("code", None)
    plan.values["superseded_by"] = superseded_by
    seq = repo.bump_change_seq(session)
    if not repo.update_if_version(
        session, ind.id, ind.version, {**plan.values, "change_seq": seq, "updated_at": utcnow()}
    ):
        raise PreconditionFailed(f"Indicator {ind.code} was changed by someone else meanwhile; reload it")
    if "basis" in changes or "basis_clause" in changes:
        repo.replace_basis_links(session, {ind.id: plan.basis_links})
    if "duties" in changes or "strategic_goals" in changes or "department" in changes:
        write_measures(session, refs, ind.id, plan)
    announce(session, refs, [ind.code], prov)
    session.expire_all()
    ind = require(session, ind.code)
    audit_write(session, ind, action=audit.Action.update, since=since, version=version, reason=prov.reason)
    return ind


def merged_draft(
    session: Session, ind: Indicator, changes: Mapping[str, Any], refs: Refs | None = None
) -> dict[str, Any]:
    """The stored indicator as draft input with ``changes`` (draft field names) laid over it.

    This is what ``revise`` validates; proposals validate and check their revise items the same way.
    """
    from service.duties.repository import indicator_link_refs
    from service.duties.service import measure_items

    assert ind.id is not None
    refs = refs or Refs(session)
    links = repo.basis_links(session, [ind.id]).get(ind.id, [])
    current = draft_of(ind, refs, basis_clause=links[0][0].clause if links else None)
    # Linked duties of another department stay that department's when the links are written again.
    duties, goals = indicator_link_refs(session, ind.id)
    # Written relative to the department the draft ends up in: moving an indicator keeps its duties
    # and goals the old department's (as "【部门】名称" links) instead of re-creating them by name in
    # the new department and leaving the old ones without their indicator.
    home = ind.department_id
    if "department" in changes:
        moved_to = changes["department"]
        home = refs.department_id(str(moved_to), create=False) if moved_to else None
    current["duties"] = measure_items(refs, home, duties)
    current["strategic_goals"] = measure_items(refs, home, goals)
    if ("value" in changes or "raw_value" in changes) and "value_max" not in changes:
        current["value_max"] = None  # a new value (or text) brings its own range, if any
    if "value" in changes and "raw_value" not in changes:
        current["raw_value"] = None  # a new value replaces the old published text
    if "raw_value" in changes and "value" not in changes:
        current["value"] = None  # and a new published text is parsed into a new value
    if ("level1" in changes) and "level2" not in changes:
        current["level2"] = None
    return {**current, **changes}


def _status_value(status: object) -> str:
    from service.domain import STATUS_ALIASES

    text = str(status).strip()
    value = STATUS_ALIASES.get(text, text)
    if value not in IndicatorStatus.__members__:
        raise ValidationFailed(
            "Unknown status", errors=[FieldError(field="status", message=f"not a lifecycle status: {text}")]
        )
    return str(value)


def _check_successor(session: Session, code: str, successor: str | None) -> str:
    """The replacing indicator's code as stored (``zz-00009`` names ZZ-00009), after checking that it
    exists, is another indicator, and that following the replacements does not loop back."""
    if not successor:
        raise ValidationFailed(
            "A superseded indicator names the indicator that replaces it",
            errors=[FieldError(field="superseded_by", message="required with status superseded")],
        )
    target = repo.get_by_code(session, successor)
    if target is None or target.code == code:
        raise ValidationFailed(
            "The replacing indicator does not exist",
            errors=[FieldError(field="superseded_by", message=f"no other indicator has code {successor}")],
        )
    # Following the replacements from the successor must not lead back here (history is a line).
    chain, at = [code, target.code], target
    seen = {code_key(target.code)}
    while at is not None and at.superseded_by:
        nxt = repo.get_by_code(session, at.superseded_by)
        if nxt is None:
            break
        chain.append(nxt.code)
        if nxt.code == code:
            raise ValidationFailed(
                "The replacement would close a loop",
                errors=[FieldError(field="superseded_by", message=f"supersession cycle {' → '.join(chain)}")],
            )
        if code_key(nxt.code) in seen:
            break
        seen.add(code_key(nxt.code))
        at = nxt
    return target.code


def retire_indicator(
    session: Session, code: str, *, if_match: str | None, prov: Provenance | None = None
) -> tuple[IndicatorOut, str]:
    """DELETE never erases: the indicator is marked retired and stays readable by code."""
    ind = require(session, code)
    check_if_match(ind, if_match, required=False)
    if ind.status != IndicatorStatus.retired:
        check_transition(code, ind.status, IndicatorStatus.retired.value)
        since, version = ind.revision, ind.version
        seq = repo.bump_change_seq(session)
        assert ind.id is not None
        if not repo.update_if_version(
            session,
            ind.id,
            ind.version,
            {"status": IndicatorStatus.retired.value, "change_seq": seq, "updated_at": utcnow()},
        ):
            raise PreconditionFailed(f"Indicator {code} was changed by someone else meanwhile; reload it")
        prov = prov or Provenance(reason="retired")
        announce(session, Refs(session), [code], prov)
        session.expire_all()
        ind = require(session, code)
        audit_write(session, ind, action=audit.Action.retire, since=since, version=version, reason=prov.reason)
    return views(session, [ind])[0], etag(ind)


def errors_from(exc: ValidationError, *, row: int | None = None) -> list[FieldError]:
    out = []
    for e in exc.errors():
        # A model-level check (FieldValueError) names its field after the location of the model.
        out.append(FieldError(field=error_field(e), message=error_message(e), row=row))
    return out


# --- search ----------------------------------------------------------------------
def index_docs(session: Session, indicators: Sequence[Any], refs: Refs) -> list[IndexDoc]:
    """Index documents for indicator rows (ORM objects or ``repo.index_rows`` rows)."""
    bases = repo.index_basis_ids(session, [i.id for i in indicators if i.id is not None])
    docs = []
    for ind in indicators:
        node = refs.categories[ind.category_id]
        parent = node.parent_id
        docs.append(
            IndexDoc(
                code=ind.code,
                name=ind.name,
                keywords=tuple(ind.keywords or ()),
                definition=ind.definition or "",
                level1=node.level1,
                level2=node.level2 or "",
                sector=refs.sector_name(ind.sector_id) or "",
                department=refs.departments[ind.department_id].name if ind.department_id else "",
                kind=ind.kind,
                status=ind.status,
                bases=tuple(str(b) for b in bases.get(ind.id or 0, ())),
                category_ids=tuple(c for c in (parent, node.id) if c is not None),
            )
        )
    return docs


def refresh_index(session: Session, index: SearchIndex) -> None:
    """Bring the in-memory index up to the database's change counter (cheap when current)."""
    seq = repo.current_change_seq(session)
    if seq <= index.version:
        return
    changed = repo.index_rows(session, since_seq=index.version)
    index.upsert(index_docs(session, changed, Refs(session)), version=seq)


def rebuild_index(session: Session, index: SearchIndex) -> None:
    seq = repo.current_change_seq(session)
    index.replace_all(index_docs(session, repo.index_rows(session), Refs(session)), version=seq)


# Statuses an indicator has once finance published it; anonymous reads (when switched on) see only these.
PUBLISHED = frozenset(
    {IndicatorStatus.standard.value, IndicatorStatus.superseded.value, IndicatorStatus.retired.value}
)


@dataclass(frozen=True)
class SearchParams:
    q: str | None = None
    kind: list[str] | None = None
    sector: list[str] | None = None
    department: list[str] | None = None
    level1: list[str] | None = None
    level2: list[str] | None = None
    category: list[str] | None = None
    basis: list[str] | None = None
    status: list[str] | None = None
    limit: int = 20
    cursor: str | None = None


def search_filters(refs: Refs, params: SearchParams) -> dict[str, list[str]]:
    """The index filters a search asks for (today's catalogue and the past alike)."""
    filters: dict[str, list[str]] = {}
    for key in ("kind", "level1", "level2", "category", "basis", "status"):
        vals = getattr(params, key)
        if vals:
            filters[key] = vals
    # Sectors and departments may be named by code or by name; the index holds names.
    if params.sector:
        filters["sector"] = [refs.sector_name(refs.sector_id(s, create=False)) or s for s in params.sector]
    if params.department:
        filters["department"] = [
            refs.departments[d].name if (d := refs.department_id(s, create=False)) else s
            for s in params.department
        ]
    if "status" not in filters:
        # Retired indicators stay readable by code but do not clutter search unless asked for.
        filters["status"] = [s.value for s in IndicatorStatus if s != IndicatorStatus.retired]
    if current_principal().is_anonymous:
        # The public sees what was published; a filter value no row has keeps an empty answer empty.
        filters["status"] = [s for s in filters["status"] if s in PUBLISHED] or ["(unpublished)"]
    return filters


def require_visible(out: IndicatorOut) -> IndicatorOut:
    """Drafts and proposals do not exist for anonymous readers (404, as for any unknown code)."""
    if current_principal().is_anonymous and out.status not in PUBLISHED:
        raise NotFound(f"Indicator {out.code} does not exist")
    return out


def search(session: Session, index: SearchIndex, params: SearchParams) -> IndicatorPage:
    """Full-text and faceted search; rows are read fresh from the database for the page."""
    refresh_index(session, index)
    refs = Refs(session)
    filters = search_filters(refs, params)
    try:
        page = index.search(params.q, filters=filters, limit=params.limit, cursor=params.cursor)
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(field="cursor", message=str(exc))]) from exc
    rows = {i.code: i for i in repo.get_many_by_codes(session, [h.code for h in page.hits])}
    ordered = [rows[h.code] for h in page.hits if h.code in rows]
    return IndicatorPage(
        items=views(session, ordered, refs),
        total=page.total,
        next_cursor=page.next_cursor,
        facets=page.facets,
    )


def catalogue_words(session: Session) -> list[str]:
    """Names, keywords, sector and department names: the search analyser's user dictionary."""
    from sqlalchemy import select

    refs = Refs(session)
    words: set[str] = set()
    for name, keywords in session.execute(select(col(Indicator.name), col(Indicator.keywords))):
        if len(name) <= 12:
            words.add(name)
        words.update(k for k in (keywords or []) if k)
    words.update(s.name for s in refs.sectors.values())
    words.update(d.name for d in refs.departments.values())
    return sorted(words)
