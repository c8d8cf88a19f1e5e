"""Policy change → change set → review → atomic apply.

A new edition (or a repeal) of a legal basis is recorded, its impact is walked through the graph,
and a draft change set proposes one action per affected indicator. Reviewers settle the items;
``apply`` carries out every accepted item in the caller's single transaction, so a failure (or a
killed process) leaves nothing half-applied. Services never commit: the request scope does.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from graph.results import ImpactIndicator
from graph.store import MAX_IMPACT_PAGE, GraphStore
from loaders.values import format_value
from service import audit
from service.auth.context import current_principal
from service.change_sets import repository as repo
from service.change_sets.schemas import (
    AffectedTarget,
    ApplyOut,
    ChangeSetCounts,
    ChangeSetItemOut,
    ChangeSetList,
    ChangeSetOut,
    ChangeSetPatch,
    ChangeSetStatus,
    ChangeSetSummary,
    Decision,
    EditionIn,
    ItemAction,
    ItemPage,
    ItemPatch,
    PolicyChangeOut,
    RepealIn,
    SettleIn,
    SettleOut,
)
from service.changes.service import Event, EventType, emit
from service.domain import BasisStatus, Comparator, IndicatorStatus
from service.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from service.indicators import repository as indicator_repo
from service.legal_bases import repository as basis_repo
from service.legal_bases.service import clean_doc_no, get_basis
from service.models import ChangeSet, ChangeSetItem, Indicator, LegalBasis, utcnow
from service.outbox.service import Entity, record
from service.preconditions import require_if_match
from service.taxonomy.service import Refs
from service.versions.service import (
    Provenance,
    check_transition,
    newest_revision_id,
    record_bases,
    record_indicators,
    revision_span,
    start_of,
)

MAX_ITEMS_PAGE = 1000
LIST_LIMIT = 100  # ids listed in a 409 problem; the count says how many there are in all
APPLY_CHUNK = 1000
AUDITED_IDS = 1000  # item ids / codes listed in a bulk audit entry; counts and revision ranges cover the rest
NUMERIC_COMPARATORS = frozenset({Comparator.ge, Comparator.le, Comparator.eq, Comparator.gt, Comparator.lt})


# --- opening a change set from a policy change ----------------------------------------------------


def _affected(graph: GraphStore, basis_id: int) -> tuple[list[ImpactIndicator], set[int]]:
    """Every indicator resting on the basis's edition chain (all pages), and the chain's ids."""
    rows: list[ImpactIndicator] = []
    chain: set[int] = set()
    offset = 0
    while True:
        page = graph.impact(basis_id, limit=MAX_IMPACT_PAGE, offset=offset)
        chain.update(e.id for e in page.editions)
        got = [ind for group in page.groups for ind in group.indicators]
        rows.extend(got)
        offset += MAX_IMPACT_PAGE
        if not got or offset >= page.total_indicators:
            return rows, chain


def _require_basis(session: Session, basis_id: int) -> LegalBasis:
    basis = basis_repo.get(session, basis_id)
    if basis is None:
        raise NotFound(f"Legal basis {basis_id} does not exist")
    return basis


def _require_in_force(basis: LegalBasis, doing: str) -> None:
    if basis.status != BasisStatus.in_force:
        raise Conflict(
            f"Legal basis {basis.doc_no} is {basis.status}; only an edition in force can {doing}",
            extra={"basis_id": basis.id, "basis_status": basis.status},
        )


def _flip_status(session: Session, basis: LegalBasis, to: BasisStatus) -> None:
    """Move an edition out of force, first write of the request: of two concurrent policy changes
    on one edition, the second waits for the first and then finds it no longer in force (409)."""
    assert basis.id is not None
    if not repo.set_basis_status_if(session, basis.id, expected=BasisStatus.in_force.value, status=to.value):
        raise Conflict(
            f"Legal basis {basis.doc_no} was changed meanwhile; reload it",
            extra={"basis_id": basis.id},
        )
    audit.record(
        session,
        entity_type="legal_basis",
        entity_id=basis.id,
        action=audit.Action.update,
        before={"status": BasisStatus.in_force.value, "version": basis.version},
        after={"status": to.value, "version": basis.version + 1},
    )
    session.expire(basis)  # the ORM copy predates the UPDATE


def _reason(title: str, summary: str | None, effective_on: date | None) -> str:
    when = f" (effective {effective_on.isoformat()})" if effective_on else ""
    return f"{title}: {summary}{when}" if summary else f"{title}{when}"


def _rename_doc_no(text: str | None, old_doc_nos: Sequence[str], new: LegalBasis) -> str:
    """The indicator's basis text naming the new edition: the old number replaced where it is written,
    so any other documents the text names stay; otherwise the new number and title."""
    for doc_no in old_doc_nos:
        parts = clean_doc_no(doc_no).split()
        if text and parts:
            pattern = re.compile(r"\s*".join(re.escape(p) for p in parts))
            renamed, n = pattern.subn(new.doc_no, text)
            if n:
                return renamed
    return f"{new.doc_no}《{new.title}》"


def _targets(session: Session, indicator_ids: Sequence[int]) -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for r in repo.targets_using(session, indicator_ids):
        entry = grouped.setdefault(
            r.external_id,
            {
                "external_id": r.external_id,
                "department_code": r.department_code,
                "fiscal_year": r.fiscal_year,
                "project": r.project,
                "indicators": [],
            },
        )
        if r.indicator_code not in entry["indicators"]:
            entry["indicators"].append(r.indicator_code)
    for entry in grouped.values():
        entry["indicators"].sort()
    return [grouped[k] for k in sorted(grouped)]


def _open(
    session: Session, change_set: ChangeSet, items: list[dict[str, Any]], indicator_ids: list[int]
) -> ChangeSet:
    change_set.targets = _targets(session, indicator_ids)
    repo.add(session, change_set)
    assert change_set.id is not None
    repo.insert_items(session, [{**row, "change_set_id": change_set.id} for row in items])
    # Items are bulk-inserted: the change set's own (created) entry counts them.
    audit.record(
        session,
        entity_type="change_set",
        entity_id=change_set.id,
        action=audit.Action.update,
        after={"items": len(items), "items_by_action": dict(Counter(row["action"] for row in items))},
    )
    return change_set


def record_edition(session: Session, basis_id: int, data: EditionIn, graph: GraphStore) -> PolicyChangeOut:
    """Record a new edition superseding ``basis_id`` and open a draft change set rebasing its indicators."""
    old = _require_basis(session, basis_id)
    _require_in_force(old, "be superseded by a new edition")
    if basis_repo.find(session, data.doc_no, data.title) is not None:
        raise Conflict(f"Legal basis {data.doc_no} 《{data.title}》 already exists")
    if old.effective_on is not None and data.effective_on <= old.effective_on:
        raise ValidationFailed(
            "A new edition takes effect after the one it supersedes",
            errors=[
                FieldError(field="effective_on", message=f"must be after {old.effective_on.isoformat()}")
            ],
        )
    # The walk runs before anything is written: the graph store reads on its own connection.
    affected, chain = _affected(graph, basis_id)
    _flip_status(session, old, BasisStatus.superseded)
    new = basis_repo.add(
        session,
        LegalBasis(
            doc_no=data.doc_no,
            title=data.title,
            kind=(data.kind.value if data.kind else old.kind),
            issuer=data.issuer or old.issuer,
            issued_on=data.issued_on,
            effective_on=data.effective_on,
            status=BasisStatus.in_force.value,
            sectors=list(data.sectors if data.sectors is not None else old.sectors or []),
            source=data.source,
            note=data.summary,
        ),
    )
    assert new.id is not None
    assert old.id is not None
    basis_repo.add_link(session, basis_id=new.id, target_id=old.id, relation="supersedes")
    record(session, Entity.legal_basis, [new.id, old.id])

    ids = repo.indicator_heads(session, [a.code for a in affected])
    links = repo.basis_links(session, [i for i, _, _ in ids.values()])
    texts = repo.indicator_texts(session, [i for i, _, _ in ids.values()])
    items: list[dict[str, Any]] = []
    for ind in affected:
        if ind.code not in ids:
            continue
        iid, revision, status = ids[ind.code]
        # Only the links into the chain are replaced; links to other documents stay as they are.
        on_chain = [link for link in links.get(iid, []) if link.legal_basis_id in chain]
        clause = next((link.clause for link in on_chain if link.clause), None)
        rests_on = ", ".join(f"{link.doc_no}{' ' + link.clause if link.clause else ''}" for link in on_chain)
        proposed: dict[str, Any] = {}
        if status == IndicatorStatus.retired:
            action, note = ItemAction.no_change, f"retired; rests on {rests_on}"
        else:
            action, note = ItemAction.rebase, f"rests on {rests_on}"
            proposed = {
                "legal_basis_id": new.id,
                "basis": _rename_doc_no(texts.get(iid), [link.doc_no for link in on_chain], new),
                "basis_clause": clause,
                "replaces": [link.legal_basis_id for link in on_chain],
            }
        items.append(
            {"indicator_id": iid, "action": action.value, "proposed": proposed, "note": note,
             "decision": Decision.pending.value, "base_revision": revision, "version": 1}
        )  # fmt: skip
    title = f"{old.doc_no} → {new.doc_no}"
    change_set = _open(
        session,
        ChangeSet(
            title=title,
            origin="edition",
            legal_basis_id=old.id,
            new_basis_id=new.id,
            effective_on=data.effective_on,
            summary=data.summary,
            author=current_principal().actor,
        ),
        items,
        [row["indicator_id"] for row in items],
    )
    prov = Provenance(
        reason=_reason(title, data.summary, data.effective_on),
        author=current_principal().actor,
        change_set_id=change_set.id,
        valid_from=start_of(data.effective_on),
    )
    audit.set_reason(session, prov.reason)
    # Both revisions are dated from the effective day, so as-of reads before it see the old edition.
    record_bases(session, [new.id], prov)  # its first revision: legal_basis.created
    record_bases(session, [old.id], prov, event=EventType.legal_basis_superseded)
    assert change_set.id is not None
    return PolicyChangeOut(
        basis=get_basis(session, new.id), change_set=get_change_set(session, change_set.id)
    )


def repeal(session: Session, basis_id: int, data: RepealIn, graph: GraphStore) -> PolicyChangeOut:
    """Repeal a document and open a draft change set: retire what rested on it alone."""
    basis = _require_basis(session, basis_id)
    _require_in_force(basis, "be repealed")
    affected, chain = _affected(graph, basis_id)
    _flip_status(session, basis, BasisStatus.repealed)
    record(session, Entity.legal_basis, [basis_id])

    ids = repo.indicator_heads(session, [a.code for a in affected])
    links = repo.basis_links(session, [i for i, _, _ in ids.values()])
    items: list[dict[str, Any]] = []
    for ind in affected:
        if ind.code not in ids:
            continue
        iid, revision, status = ids[ind.code]
        # Other documents in force keep the indicator standing; the repealed chain does not.
        others = [
            link.doc_no
            for link in links.get(iid, [])
            if link.legal_basis_id not in chain and link.status == BasisStatus.in_force
        ]
        proposed: dict[str, Any] = {}
        if status == IndicatorStatus.retired:
            action, note = ItemAction.no_change, "already retired"
        elif others:
            action, note = ItemAction.no_change, f"still rests on {', '.join(others)} (in force)"
        else:
            action, proposed = ItemAction.retire, {"status": IndicatorStatus.retired.value}
            note = f"{basis.doc_no} was its only basis in force"
        items.append(
            {"indicator_id": iid, "action": action.value, "proposed": proposed, "note": note,
             "decision": Decision.pending.value, "base_revision": revision, "version": 1}
        )  # fmt: skip
    title = f"{basis.doc_no} 废止"
    change_set = _open(
        session,
        ChangeSet(
            title=title,
            origin="repeal",
            legal_basis_id=basis_id,
            effective_on=data.effective_on,
            summary=data.summary,
            author=current_principal().actor,
        ),
        items,
        [row["indicator_id"] for row in items],
    )
    prov = Provenance(
        reason=_reason(title, data.summary, data.effective_on),
        author=current_principal().actor,
        change_set_id=change_set.id,
        valid_from=start_of(data.effective_on),
    )
    audit.set_reason(session, prov.reason)
    record_bases(session, [basis_id], prov, event=EventType.legal_basis_repealed)
    assert change_set.id is not None
    return PolicyChangeOut(
        basis=get_basis(session, basis_id), change_set=get_change_set(session, change_set.id)
    )


# --- reading --------------------------------------------------------------------------------------


def etag(change_set: ChangeSet) -> str:
    return f'"cs{change_set.id}.v{change_set.version}"'


def item_etag(item: ChangeSetItem) -> str:
    return f'"csi{item.id}.v{item.version}"'


def _require(session: Session, change_set_id: int) -> ChangeSet:
    change_set = repo.get(session, change_set_id)
    if change_set is None:
        raise NotFound(f"Change set {change_set_id} does not exist")
    return change_set


def _counts(session: Session, change_set_id: int) -> ChangeSetCounts:
    by_decision: dict[str, int] = {d.value: 0 for d in Decision}
    by_action: dict[str, int] = {a.value: 0 for a in ItemAction}
    total = 0
    for decision, action, n in repo.counts(session, change_set_id):
        by_decision[decision] = by_decision.get(decision, 0) + n
        by_action[action] = by_action.get(action, 0) + n
        total += n
    return ChangeSetCounts(items=total, by_decision=by_decision, by_action=by_action)


def _summary(session: Session, cs: ChangeSet) -> dict[str, Any]:
    assert cs.id is not None
    from service.versions.service import as_utc

    return {
        "id": cs.id,
        "title": cs.title,
        "origin": cs.origin,
        "status": cs.status,
        "legal_basis_id": cs.legal_basis_id,
        "new_basis_id": cs.new_basis_id,
        "proposal_id": cs.proposal_id,
        "effective_on": cs.effective_on,
        "summary": cs.summary,
        "author": cs.author,
        "applied_by": cs.applied_by,
        "applied_at": as_utc(cs.applied_at) if cs.applied_at else None,
        "version": cs.version,
        "created_at": as_utc(cs.created_at),
        "updated_at": as_utc(cs.updated_at),
        "counts": _counts(session, cs.id),
    }


def _item_out(item: ChangeSetItem, code: str, name: str, department_code: str | None) -> ChangeSetItemOut:
    from service.versions.service import as_utc

    assert item.id is not None
    return ChangeSetItemOut(
        id=item.id,
        indicator_code=code,
        indicator_name=name,
        department_code=department_code,
        action=ItemAction(item.action),
        proposed=dict(item.proposed),
        decision=Decision(item.decision),
        note=item.note,
        decided_by=item.decided_by,
        decided_at=as_utc(item.decided_at) if item.decided_at else None,
        base_revision=item.base_revision,
        version=item.version,
    )


def list_items(
    session: Session,
    change_set_id: int,
    *,
    limit: int = MAX_ITEMS_PAGE,
    offset: int = 0,
    decision: Decision | None = None,
    action: ItemAction | None = None,
) -> ItemPage:
    _require(session, change_set_id)
    rows, total = repo.item_page(
        session,
        change_set_id,
        limit=limit,
        offset=offset,
        decision=decision.value if decision else None,
        action=action.value if action else None,
    )
    return ItemPage(
        items=[_item_out(r[0], r.code, r.name, r.department_code) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def get_change_set(
    session: Session, change_set_id: int, *, limit: int = MAX_ITEMS_PAGE, offset: int = 0
) -> ChangeSetOut:
    """The change set with counts, affected targets and a page of items (all of them up to 1000)."""
    cs = _require(session, change_set_id)
    page = list_items(session, change_set_id, limit=limit, offset=offset)
    return ChangeSetOut(
        **_summary(session, cs),
        targets=[AffectedTarget.model_validate(t) for t in cs.targets],
        items=page.items,
        items_limit=limit,
        items_offset=offset,
    )


def list_change_sets(
    session: Session,
    *,
    status: ChangeSetStatus | None,
    limit: int,
    offset: int,
    basis_id: int | None = None,
) -> ChangeSetList:
    # Counts per change set cost one grouped query each; pages hold at most 500 change sets.
    rows, total = repo.list_sets(
        session, status=status.value if status else None, basis_id=basis_id, limit=limit, offset=offset
    )
    return ChangeSetList(items=[ChangeSetSummary(**_summary(session, cs)) for cs in rows], total=total)


# --- review ---------------------------------------------------------------------------------------


def _check_if_match(current: str, if_match: str | None, what: str) -> None:
    require_if_match(
        current,
        if_match,
        what=what,
        required=True,
        stale=f"The {what} has changed (current ETag {current}); reload it and apply your change again",
    )


def _require_draft(cs: ChangeSet) -> None:
    if cs.status != ChangeSetStatus.draft:
        raise Conflict(
            f"Change set {cs.id} is {cs.status}; only a draft can be changed",
            extra={"change_set_id": cs.id, "status": cs.status},
        )


def patch_change_set(
    session: Session, change_set_id: int, patch: ChangeSetPatch, *, if_match: str | None
) -> tuple[ChangeSetOut, str]:
    cs = _require(session, change_set_id)
    _require_draft(cs)
    _check_if_match(etag(cs), if_match, "change set")
    changes = patch.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise ValidationFailed(
            "A change set has a title", errors=[FieldError(field="title", message="required")]
        )
    if "effective_on" in changes and changes["effective_on"] is None:
        raise ValidationFailed(
            "A change set has an effective date",
            errors=[FieldError(field="effective_on", message="required")],
        )
    if not repo.compare_and_set(session, change_set_id, cs.version, {**changes, "updated_at": utcnow()}):
        raise PreconditionFailed(
            f"Change set {change_set_id} was changed by someone else meanwhile; reload it"
        )
    audit.record(
        session,
        entity_type="change_set",
        entity_id=change_set_id,
        action=audit.Action.update,
        before={**{k: getattr(cs, k) for k in changes}, "version": cs.version},
        after={**changes, "version": cs.version + 1},
    )
    session.expire_all()
    out = get_change_set(session, change_set_id)
    return out, f'"cs{out.id}.v{out.version}"'


_REBASE = frozenset({"legal_basis_id", "basis", "basis_clause", "replaces"})
# The keys of ``proposed`` each action reads when it is applied (``_apply_chunk``); no other is stored.
CARRIED: dict[ItemAction, frozenset[str]] = {
    ItemAction.rebase: _REBASE,
    ItemAction.revise_value: _REBASE | {"value"},
    ItemAction.retire: frozenset({"status"}),
    ItemAction.no_change: frozenset(),
    ItemAction.create: frozenset(),
    ItemAction.revise: frozenset(),
}


def _check_proposal(
    session: Session, action: ItemAction, proposed: dict[str, Any], indicator_id: int
) -> None:
    """An item's action must be one its proposal can carry out."""
    errors: list[FieldError] = []
    basis_id = proposed.get("legal_basis_id")
    if basis_id is not None and (not isinstance(basis_id, int) or basis_repo.get(session, basis_id) is None):
        errors.append(FieldError(field="proposed.legal_basis_id", message=f"no legal basis {basis_id}"))
    if action == ItemAction.rebase and basis_id is None:
        errors.append(
            FieldError(field="proposed.legal_basis_id", message="rebase needs the edition to rest on")
        )
    if action == ItemAction.revise_value:
        value = proposed.get("value")
        comparator = _comparator(session, indicator_id)
        if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
            errors.append(FieldError(field="proposed.value", message="revise_value needs proposed.value"))
        elif not isinstance(value, int | float | str):
            errors.append(FieldError(field="proposed.value", message="a number or a short text"))
        elif comparator in NUMERIC_COMPARATORS and not isinstance(value, int | float):
            errors.append(
                FieldError(field="proposed.value", message=f"must be a number (comparator {comparator})")
            )
    clause = proposed.get("basis_clause")
    if clause is not None and not isinstance(clause, str):
        errors.append(FieldError(field="proposed.basis_clause", message="a text such as 第4.1条"))
    if errors:
        raise ValidationFailed("The item's proposal cannot be carried out", errors=errors)


def _comparator(session: Session, indicator_id: int) -> str | None:
    rows = indicator_repo.get_many_by_ids(session, [indicator_id])
    return rows[0].comparator if rows else None


def patch_item(
    session: Session, change_set_id: int, item_id: int, patch: ItemPatch, *, if_match: str | None
) -> tuple[ChangeSetItemOut, str]:
    """Change one item's action, proposal or decision; guarded by the item's ETag."""
    cs = _require(session, change_set_id)
    _require_draft(cs)
    item = repo.get_item(session, change_set_id, item_id)
    if item is None:
        raise NotFound(f"Change set {change_set_id} has no item {item_id}")
    _check_if_match(item_etag(item), if_match, "item")
    changes = patch.model_dump(exclude_unset=True)
    action = ItemAction(changes.get("action") or item.action)
    carried = CARRIED[action]
    if unknown := [k for k in changes.get("proposed") or {} if k not in carried]:
        # Stored but never applied would be a silent acceptance: name each key the action cannot carry.
        can = ", ".join(sorted(carried)) or "nothing"
        raise ValidationFailed(
            f"A {action.value} item carries only: {can}",
            errors=[FieldError(field=f"proposed.{k}", message=f"not something {action.value} carries out")
                    for k in unknown],
        )  # fmt: skip
    given = dict(changes.get("proposed") or {})
    proposed = {**item.proposed, **given}
    if action == ItemAction.retire:
        proposed["status"] = IndicatorStatus.retired.value
    values: dict[str, Any] = {"action": action.value, "proposed": proposed}
    decision = changes.get("decision")
    current = indicator_repo.get_many_by_ids(session, [item.indicator_id])[0]
    if current.revision != item.base_revision:
        # The indicator was revised after the proposal (another change set, an edit): reviewing the
        # item again re-bases it on the current revision, so that apply is never stuck on it.
        values["proposed"] = proposed = _rebased(session, current, proposed, given)
        values["base_revision"] = current.revision
        # An acceptance judged the old proposal; the recomputed one needs a fresh look (a rejection stands).
        if decision != Decision.rejected:
            decision = Decision.pending
    # Checked on every edit, not only on acceptance: a draft must never hold an unappliable item.
    _check_proposal(session, action, proposed, item.indicator_id)
    if "note" in changes:
        values["note"] = changes["note"]
    if decision is not None:
        values.update(decision=decision.value, decided_by=current_principal().actor, decided_at=utcnow())
    _lock_draft(session, cs)
    assert item.id is not None
    if not repo.update_item_if_version(session, item.id, item.version, values):
        raise PreconditionFailed(f"Item {item_id} was changed by someone else meanwhile; reload it")
    audit.record(
        session,
        entity_type="change_set_item",
        entity_id=item.id,
        action=audit.Action.update,
        before={**{k: getattr(item, k) for k in values}, "version": item.version},
        after={**values, "version": item.version + 1},
        reason=values.get("note"),
    )
    session.expire_all()
    fresh = repo.get_item(session, change_set_id, item_id)
    assert fresh is not None
    ind = indicator_repo.get_many_by_ids(session, [fresh.indicator_id])[0]
    dept = Refs(session).departments.get(ind.department_id) if ind.department_id else None
    return _item_out(fresh, ind.code, ind.name, dept.code if dept else None), item_etag(fresh)


def _rebased(session: Session, indicator: Indicator, proposed: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The proposal recomputed against the indicator as it stands now (what the reviewer sets wins).

    A rebase proposal carries the basis text written from the indicator's text at opening; applying
    it after the text was revised would silently undo that revision, so the text is renamed again
    from the current one, and the clause is taken from the current links it replaces.
    """
    out = dict(proposed)
    basis_id = out.get("legal_basis_id")
    replaces = set(out.get("replaces") or [])
    new = basis_repo.get(session, basis_id) if isinstance(basis_id, int) else None
    if new is None or not replaces:
        return out
    assert indicator.id is not None
    on_chain = [link for link in repo.basis_links(session, [indicator.id]).get(indicator.id, [])
                if link.legal_basis_id in replaces]  # fmt: skip
    doc_nos = [link.doc_no for link in on_chain] or [
        b.doc_no for b in (basis_repo.get(session, i) for i in sorted(replaces)) if b is not None
    ]
    if "basis" not in given:
        out["basis"] = _rename_doc_no(indicator.basis, doc_nos, new)
    if "basis_clause" not in given and on_chain:
        out["basis_clause"] = next((link.clause for link in on_chain if link.clause), out.get("basis_clause"))
    return out


def _lock_draft(session: Session, cs: ChangeSet) -> None:
    """Touch the change set row: waits for a concurrent apply and refuses if it got there first."""
    assert cs.id is not None
    from sqlalchemy import update

    result = session.execute(
        update(repo.CHANGE_SET)
        .where(repo.CHANGE_SET.c.id == cs.id, repo.CHANGE_SET.c.status == ChangeSetStatus.draft.value)
        .values(updated_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"Change set {cs.id} is no longer a draft", extra={"change_set_id": cs.id})


def settle(session: Session, change_set_id: int, data: SettleIn) -> SettleOut:
    """Accept or reject many items at once ("all" = every item still pending)."""
    cs = _require(session, change_set_id)
    _require_draft(cs)
    ids: list[int] | None = None
    if data.items != "all":
        ids = sorted(set(data.items))
        unknown = sorted(set(ids) - repo.existing_item_ids(session, change_set_id, ids))
        if unknown:
            raise ValidationFailed(
                f"{len(unknown)} of the listed items are not in change set {change_set_id}",
                errors=[FieldError(field="items", message=f"no item {i}") for i in unknown[:LIST_LIMIT]],
            )
    if data.decision == Decision.accepted:
        _check_acceptable(session, change_set_id, ids)
    _lock_draft(session, cs)
    values: dict[str, Any] = {
        "decision": data.decision.value,
        "decided_by": current_principal().actor,
        "decided_at": utcnow(),
    }
    if data.note is not None:
        values["note"] = data.note
    updated = repo.settle_items(session, change_set_id, ids, values)
    audit.record(
        session,
        entity_type="change_set",
        entity_id=change_set_id,
        action=audit.Action.settle,
        after={
            **values,
            "items": "all pending" if ids is None else ids[:AUDITED_IDS],
            "items_complete": ids is None or len(ids) <= AUDITED_IDS,
            "updated": updated,
        },
        reason=data.note,
    )
    return SettleOut(updated=updated, counts=_counts(session, change_set_id))


def _check_acceptable(session: Session, change_set_id: int, ids: list[int] | None) -> None:
    """Bulk acceptance still refuses items whose proposal cannot be carried out as it stands."""
    wanted = set(ids) if ids is not None else None
    bad = []
    for item_id, code, action, proposed, decision in repo.proposals(
        session, change_set_id, [ItemAction.rebase.value, ItemAction.revise_value.value]
    ):
        if (item_id not in wanted) if wanted is not None else decision != Decision.pending:
            continue
        if action == ItemAction.revise_value and proposed.get("value") is None:
            bad.append(
                FieldError(
                    field="items", message=f"item {item_id} ({code}): revise_value needs proposed.value"
                )
            )
        if action == ItemAction.rebase and proposed.get("legal_basis_id") is None:
            bad.append(
                FieldError(
                    field="items", message=f"item {item_id} ({code}): rebase needs proposed.legal_basis_id"
                )
            )
    if bad:
        raise ValidationFailed("Some items cannot be accepted as they stand", errors=bad[:LIST_LIMIT])


# --- apply ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Work:
    """One accepted item, copied out of the ORM so that bulk statements never refresh it row by row."""

    item_id: int
    indicator_id: int
    code: str
    action: ItemAction
    proposed: dict[str, Any]


def apply(session: Session, change_set_id: int) -> ApplyOut:
    """Carry out every accepted item in this one transaction (all or nothing); 409 if anything is unsettled.

    The caller (its key's owner) is recorded as ``applied_by`` and as the author of every revision.
    """
    author = current_principal().actor
    cs = _require(session, change_set_id)
    _require_draft(cs)
    now = utcnow()
    # First write: the status flip. It serialises with a concurrent apply, settle or item edit
    # (row lock on PostgreSQL, the database lock on SQLite), so what is read after it is final.
    if not repo.compare_and_set(
        session,
        change_set_id,
        cs.version,
        {"status": ChangeSetStatus.applied.value, "applied_at": now, "applied_by": author, "updated_at": now},
    ):
        raise Conflict(f"Change set {change_set_id} was applied or changed meanwhile; reload it")
    pending, n_pending = repo.pending_item_ids(session, change_set_id, limit=LIST_LIMIT)
    if n_pending:
        raise Conflict(
            f"{n_pending} items of change set {change_set_id} are still pending; accept or reject them first",
            extra={"pending": pending, "pending_count": n_pending},
        )
    seq = indicator_repo.bump_change_seq(session)  # every other catalogue writer now waits for us
    revisions_after = newest_revision_id(session)
    work: list[_Work] = []
    stale: list[dict[str, Any]] = []
    for row in repo.accepted_items(session, change_set_id):
        item: ChangeSetItem = row[0]
        assert item.id is not None
        if row.revision != item.base_revision:
            stale.append({"item_id": item.id, "code": row.code, "base_revision": item.base_revision,
                          "current_revision": row.revision})  # fmt: skip
        work.append(_Work(item.id, item.indicator_id, row.code, ItemAction(item.action), dict(item.proposed)))
    # A revision after the proposal means the reviewer judged another text: refuse rather than overwrite.
    if stale:
        raise Conflict(
            f"{len(stale)} indicators were revised after the change set was opened; review them again: "
            "PATCH /v1/change-sets/{id}/items/{item_id} re-bases an item on the current revision "
            "(its proposal recomputed, its decision back to pending), then accept it and apply",
            extra={"stale": stale[:LIST_LIMIT], "stale_count": len(stale)},
        )
    prov = Provenance(
        reason=_reason(cs.title, cs.summary, cs.effective_on),
        author=author,
        change_set_id=change_set_id,
        valid_from=start_of(cs.effective_on) if cs.effective_on else None,
    )
    refs = Refs(session)
    revised = 0
    for start in range(0, len(work), APPLY_CHUNK):
        revised += _apply_chunk(session, work[start : start + APPLY_CHUNK], prov, refs, seq=seq)
    rejected = repo.items_by_decision(session, change_set_id, Decision.rejected.value)
    # One entry for the whole apply: its revisions (a range of ids) carry each indicator's change.
    audit.record(
        session,
        entity_type="change_set",
        entity_id=change_set_id,
        action=audit.Action.apply,
        before={"status": ChangeSetStatus.draft.value, "version": cs.version},
        after={
            "status": ChangeSetStatus.applied.value,
            "version": cs.version + 1,
            "applied_by": author,
            "applied": len(work),
            "revised": revised,
            "rejected": rejected,
            **revision_span(session, change_seq=seq, after_id=revisions_after),
            "codes": [w.code for w in work[:AUDITED_IDS]],
            "codes_complete": len(work) <= AUDITED_IDS,
        },
        reason=prov.reason,
    )
    emit(
        session,
        [
            Event(
                EventType.change_set_applied,
                "change_set",
                str(change_set_id),
                {
                    "id": change_set_id,
                    "title": cs.title,
                    "origin": cs.origin,
                    "legal_basis_id": cs.legal_basis_id,
                    "new_basis_id": cs.new_basis_id,
                    "effective_on": cs.effective_on.isoformat() if cs.effective_on else None,
                    "applied": len(work),
                    "revised": revised,
                    "rejected": rejected,
                },
            )
        ],
    )
    session.expire_all()
    fresh = _require(session, change_set_id)
    return ApplyOut(change_set=ChangeSetSummary(**_summary(session, fresh)), applied=len(work), revised=revised,
                    rejected=rejected)  # fmt: skip


def _apply_chunk(session: Session, work: Sequence[_Work], prov: Provenance, refs: Refs, *, seq: int) -> int:
    """The same rows ``indicators.service.revise`` writes, for many indicators in a few statements.

    ``revise`` re-resolves the whole draft per indicator (≈ tens of ms each); here each action
    touches only its columns and links, then ``record_indicators`` snapshots, numbers and
    announces the revisions exactly as ``revise`` would.
    """
    todo = [w for w in work if w.action != ItemAction.no_change]
    if not todo:
        return 0
    heads = repo.indicator_heads(session, [w.code for w in todo])
    links = repo.basis_links(session, [w.indicator_id for w in todo])
    valued = [w.indicator_id for w in todo if w.action == ItemAction.revise_value]
    forms = {i.id: (i.comparator, i.unit) for i in indicator_repo.get_many_by_ids(session, valued)}
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    new_links: dict[int, list[dict[str, Any]]] = {}
    now = utcnow()
    for w in todo:
        values: dict[str, Any] = {"_id": w.indicator_id}
        if w.action == ItemAction.retire:
            check_transition(w.code, heads[w.code][2], IndicatorStatus.retired.value)
            values["status"] = IndicatorStatus.retired.value
        if w.action == ItemAction.revise_value:
            value = w.proposed["value"]
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            comparator, unit = forms.get(w.indicator_id, (None, None))
            values.update(
                value=_value_text(value),
                value_num=float(value) if numeric else None,
                # The published text follows the new value, written as people write it ("≥20个"):
                # the old text would contradict it, and none at all would lose the unit.
                raw_value=format_value(comparator, value, unit) or None,
                value_max=None,  # a revised value is one number: the old range's upper bound goes with it
            )
        basis_id = w.proposed.get("legal_basis_id")
        if w.action in (ItemAction.rebase, ItemAction.revise_value) and basis_id is not None:
            replaced = set(w.proposed.get("replaces") or [])
            kept = [
                {"legal_basis_id": link.legal_basis_id, "clause": link.clause, "note": link.note}
                for link in links.get(w.indicator_id, [])
                if link.legal_basis_id not in replaced and link.legal_basis_id != basis_id
            ]
            new_links[w.indicator_id] = [
                *kept,
                {"legal_basis_id": basis_id, "clause": w.proposed.get("basis_clause"), "note": None},
            ]
            if w.proposed.get("basis"):
                values["basis"] = w.proposed["basis"]
        # Rows are grouped by the columns they set: one executemany per shape.
        updates[tuple(sorted(values))].append(values)
    for rows in updates.values():
        repo.set_indicator_columns(session, rows, change_seq=seq, now=now)
    indicator_repo.replace_basis_links(session, new_links)
    record(session, Entity.indicator, [w.code for w in todo])
    return len(record_indicators(session, [w.indicator_id for w in todo], prov, refs))


def _value_text(value: float | int | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
