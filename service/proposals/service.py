"""Proposals: a department proposes indicators, the service checks them, a reviewer decides, approval applies.

The workflow is ``service.domain.PROPOSAL_MOVES``; any other move is 409. Who may see a proposal: finance
(admin, steward) all of them, an editor those of their departments, a reviewer those assigned to them —
anyone else gets 404, as if it did not exist. A proposer never reviews their own proposal: any review
decision by the proposing actor is refused with 403 (it is about who acts, not about the state).

Approval turns the items into one change set, applied at once in the request's transaction through the
indicator service's single write path (``create_indicator`` / ``revise``): every revision carries the
change set's id and a reason naming the proposal, and the change set's summary keeps the review's
outcome. An indicator revised after submission makes approval a 409 listing the stale items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from loaders.readers import RawRecord
from service import audit
from service.auth import repository as auth_repo
from service.auth.context import current_principal, require_department
from service.auth.principal import SYSTEM, Principal, Role
from service.auth.rules import IndicatorClaim, require_indicator_owner
from service.change_sets import repository as change_set_repo
from service.changes.service import Event, EventType, emit
from service.domain import (
    PROPOSAL_CLOSED,
    PROPOSAL_EDITABLE,
    PROPOSAL_MOVES,
    STATUS_ALIASES,
    IndicatorStatus,
    ProposalMove,
    ProposalState,
)
from service.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from service.imports.service import ParsedUpload
from service.indicators import repository as indicator_repo
from service.indicators.schemas import IndicatorDraft
from service.indicators.service import create_indicator, errors_from, merged_draft, require, revise
from service.legal_bases import repository as basis_repo
from service.legal_bases.service import BasisMatcher
from service.models import (
    ChangeSet,
    Indicator,
    Proposal,
    ProposalComment,
    ProposalItem,
    ProposalReviewer,
    utcnow,
)
from service.preconditions import require_if_match
from service.proposals import repository as repo
from service.proposals.checks import CheckItem, run_checks
from service.proposals.schemas import (
    AssignIn,
    CheckCounts,
    CommentIn,
    CommentOut,
    CommentThreads,
    DecisionIn,
    Finding,
    ItemAction,
    ProposalIn,
    ProposalItemEdit,
    ProposalItemIn,
    ProposalItemOut,
    ProposalList,
    ProposalOut,
    ProposalPatch,
    ProposalSummary,
    ReviewerOut,
    ReviewersOut,
    ReviewOut,
    RevisionRef,
    Severity,
    Transition,
)
from service.suggest.engine import SuggestEngine
from service.taxonomy.service import Refs
from service.versions.service import Provenance, as_utc

LIST_LIMIT = 100  # entries listed in a 409 problem
# Item fields that are not the proposer's to set: the code is assigned on approval, the lifecycle is the workflow's.
_WORKFLOW_FIELDS = frozenset({"code", "status", "superseded_by"})
_REVISABLE = frozenset(IndicatorDraft.model_fields) - _WORKFLOW_FIELDS
_COMMENT_FIELDS = frozenset(IndicatorDraft.model_fields) | {"title", "reason"}
_NEEDS_REASON = frozenset({ProposalMove.request_changes, ProposalMove.reject})


def etag(p: Proposal) -> str:
    return f'"p{p.id}.v{p.version}"'


# --- who sees what ---------------------------------------------------------------------------------


def _visible(session: Session, p: Proposal, principal: Principal) -> bool:
    if principal.is_finance():
        return True
    if principal.role is Role.editor:
        return principal.covers_department(p.department_code)
    if principal.role is Role.reviewer:
        assert p.id is not None
        return repo.is_assigned(session, p.id, principal.actor)
    return False


def _require(session: Session, proposal_id: int) -> Proposal:
    """The proposal if the caller may see it; otherwise 404, whether or not it exists."""
    p = repo.get(session, proposal_id)
    if p is None or not _visible(session, p, current_principal()):
        raise NotFound(f"Proposal {proposal_id} does not exist")
    return p


def _check_if_match(p: Proposal, if_match: str | None, *, required: bool) -> None:
    require_if_match(
        etag(p),
        if_match,
        what="proposal",
        required=required,
        stale=f"Proposal {p.id} has changed (current ETag {etag(p)}); reload it and try again",
    )


def _next_state(p: Proposal, move: ProposalMove) -> ProposalState:
    """The state ``move`` leads to from the proposal's state (``PROPOSAL_MOVES``); 409 for any other move."""
    state = ProposalState(p.state)
    target = PROPOSAL_MOVES.get((state, move))
    if target is None:
        allowed = sorted(m.value for (s, m) in PROPOSAL_MOVES if s == state) or ["none (closed)"]
        raise Conflict(
            f"Proposal {p.id} is {state.value}; it cannot {move.value} (from {state.value}: {', '.join(allowed)})",
            extra={"state": state.value, "move": move.value, "allowed": allowed},
        )
    return target


def _transition(
    p: Proposal | None, move: str, to: ProposalState, principal: Principal, at: datetime, reason: str | None
) -> list[dict[str, Any]]:
    """The proposal's history with one more move (``p`` None: the proposal is being created)."""
    entry = Transition(from_state=ProposalState(p.state) if p else None, to_state=to, move=move,
                       by=principal.actor, at=at, reason=reason)  # fmt: skip
    return [*(p.history if p else []), entry.model_dump(mode="json")]


def _move(session: Session, p: Proposal, to: ProposalState, values: dict[str, Any]) -> None:
    """Compare-and-set of the proposal: the version and state read must still hold (else 412)."""
    assert p.id is not None
    if not repo.compare_and_set(session, p.id, version=p.version, state=p.state, values=values):
        raise PreconditionFailed(f"Proposal {p.id} was changed by someone else meanwhile; reload it")
    # A guarded Core UPDATE is invisible to the ORM listener: the move goes to the trail here. The
    # cumulative history and the findings are summarised, not copied into every entry.
    history = values.get("history")
    shown = [k for k in values if k not in ("history", "checks", "updated_at")]
    after: dict[str, Any] = {k: values[k] for k in shown}
    if "checks" in values:
        after["findings"] = len(values["checks"])
    audit.record(
        session,
        entity_type="proposal",
        entity_id=p.id,
        action=str(history[-1]["move"]) if history else "update",
        before={"state": p.state, "version": p.version, **{k: getattr(p, k) for k in shown if hasattr(p, k)}},
        after={**after, "state": to.value, "version": p.version + 1},
        reason=values.get("decision_reason") or (history[-1].get("reason") if history else None),
    )
    session.expire(p)


# --- items: validation -----------------------------------------------------------------------------

Locate = Callable[[int, str], tuple[str, int | None]]  # (item index, sub-path) → (field, row)


def _json_locate(index: int, sub: str) -> tuple[str, int | None]:
    return f"items[{index}].{sub}", None


@dataclass(frozen=True)
class _Valid:
    """An item that passed validation, with what the checks and approval need."""

    action: ItemAction
    code: str | None
    fields: dict[str, Any]
    reason: str | None
    draft: IndicatorDraft | None
    changed: frozenset[str]
    current: Indicator | None


def _draft(fields: dict[str, Any], at: str) -> tuple[IndicatorDraft | None, list[tuple[str, str]]]:
    try:
        return IndicatorDraft.model_validate(fields), []
    except ValidationError as exc:
        return None, [
            ((at + (e.field or _named_field(e.message))).rstrip("."), e.message) for e in errors_from(exc)
        ]


def _named_field(message: str) -> str:
    """The field a whole-draft error is about: its messages start with it ("value 「较好」 is not a number …")."""
    first = message.split(" ", 1)[0]
    return first if first in IndicatorDraft.model_fields else ""


def _create_fields(fields: dict[str, Any], department_code: str) -> dict[str, Any]:
    """A create item's fields as draft input: the proposing department unless another is named."""
    return {**fields, "department": fields.get("department") or department_code}


def _validate_item(
    session: Session, item: ProposalItemIn, department_code: str, *, only_changes: bool
) -> tuple[_Valid | None, list[tuple[str, str]]]:
    """One item checked like the indicator API checks its input; errors as (sub-path, message)."""
    errors: list[tuple[str, str]] = []
    fields = dict(item.fields)
    for name in sorted(_WORKFLOW_FIELDS & set(fields)):
        errors.append((f"fields.{name}", "set by the review workflow, not by the proposal"))
    if item.action == ItemAction.create:
        if item.indicator_code:
            errors.append(("indicator_code", "leave out: a new indicator's code is assigned on approval"))
        draft, problems = _draft(_create_fields(fields, department_code), "fields.")
        errors += problems
        if errors or draft is None:
            return None, errors
        return _Valid(item.action, None, fields, item.reason, draft, frozenset(fields), None), []
    if not item.indicator_code:
        return None, [("indicator_code", f"required to {item.action.value} an indicator")]
    current = indicator_repo.get_by_code(session, item.indicator_code)
    if current is None:
        return None, [("indicator_code", f"no indicator {item.indicator_code}")]
    if current.status == IndicatorStatus.retired:
        return None, [("indicator_code", f"indicator {item.indicator_code} is retired")]
    if item.action == ItemAction.retire:
        if fields:
            errors.append(("fields", "a retire item changes no fields"))
        return (
            (None, errors)
            if errors
            else (_Valid(item.action, current.code, {}, item.reason, None, frozenset(), current), [])
        )
    unknown = sorted(set(fields) - _REVISABLE - _WORKFLOW_FIELDS)
    errors += [(f"fields.{name}", "not an indicator field that can be revised") for name in unknown]
    if errors:
        return None, errors
    draft, problems = _draft(merged_draft(session, current, fields), "fields.")
    if problems or draft is None:
        return None, problems
    if only_changes:
        # A table row restates the whole indicator: keep what it changes; an unchanged row proposes nothing.
        before, _ = _draft(merged_draft(session, current, {}), "fields.")
        fields = {
            k: v for k, v in fields.items() if before is None or getattr(before, k) != getattr(draft, k)
        }
        if not fields:
            return None, []
    if not fields:
        return None, [("fields", "a revise item changes at least one field")]
    return _Valid(item.action, current.code, fields, item.reason, draft, frozenset(fields), current), []


def _validate_items(
    session: Session,
    items: Sequence[ProposalItemIn],
    department_code: str,
    *,
    acting: Principal,
    locate: Locate = _json_locate,
    only_changes: bool = False,
) -> list[_Valid]:
    """Every item validated before anything is stored: one bad item fails the request (422), naming each;
    then every indicator an item would write must be ``acting``'s to write (403 naming each, else).

    ``only_changes`` (tables): revise rows keep only the fields they change, and unchanged rows drop out.
    ``acting`` is whom the items are written for: the caller, or at approval the proposer.
    """
    out: list[_Valid] = []
    errors: list[FieldError] = []
    claims: list[IndicatorClaim] = []
    seen: dict[str, int] = {}
    refs = Refs(session)
    for index, item in enumerate(items):
        valid, problems = _validate_item(session, item, department_code, only_changes=only_changes)
        for sub, message in problems:
            field, row = locate(index, sub)
            errors.append(FieldError(field=field, message=message, row=row))
        if valid is None:
            continue
        claims += _claims(refs, valid, index, locate)
        if valid.code is not None:
            if valid.code in seen:
                field, row = locate(index, "indicator_code")
                first, first_row = locate(seen[valid.code], "indicator_code")
                where = f"row {first_row}" if first_row is not None else first.split(".")[0]
                errors.append(FieldError(field=field, message=f"{valid.code} is already in {where}", row=row))
            seen.setdefault(valid.code, index)
        out.append(valid)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} problem(s) in the proposal's items; nothing was stored", errors=errors[:1000]
        )
    require_indicator_owner(acting, claims, doing="提出新增、修改或停用")
    return out


def _claims(refs: Refs, v: _Valid, index: int, locate: Locate) -> list[IndicatorClaim]:
    """The indicators one item writes: the one it revises or retires, and the department it gives one."""
    out: list[IndicatorClaim] = []
    if v.current is not None:  # revise, retire: whoever owns it now
        field, row = locate(index, "indicator_code")
        out.append(IndicatorClaim(field, v.code, refs.department_code(v.current.department_id), row))
    if v.draft is not None and (v.action == ItemAction.create or "department" in v.fields):
        field, row = locate(index, "fields.department")  # create, or a move: the owner it will have
        out.append(IndicatorClaim(field, v.code, refs.owner_code(v.draft.department), row))
    return out


def _require_department(session: Session, code: str) -> str:
    """The department's code as stored (``jyt`` names JYT), after checking the caller may act for it."""
    refs = Refs(session)
    found = refs.department_id(code, create=False)
    if found is None:
        require_department(code, "propose indicators")
        raise ValidationFailed(
            "Unknown department",
            errors=[FieldError(field="department_code", message=f"no department {code}")],
        )
    stored = refs.departments[found].code
    require_department(stored, "propose indicators")
    return stored


# --- creating and editing --------------------------------------------------------------------------


def _open(session: Session, title: str, department_code: str, reason: str | None, valid: list[_Valid]) -> int:
    principal = current_principal()
    now = utcnow()
    p = Proposal(
        title=title,
        department_code=department_code,
        reason=reason,
        state=ProposalState.draft.value,
        proposer=principal.actor,
        proposer_key_id=principal.key_id,
        created_at=now,
        updated_at=now,
        history=_transition(None, "create", ProposalState.draft, principal, now, reason),
    )
    repo.add(session, p)
    assert p.id is not None
    repo.add_items(session, [_item_row(p.id, seq, v) for seq, v in enumerate(valid, start=1)])
    return p.id


def _item_row(proposal_id: int, seq: int, v: _Valid) -> ProposalItem:
    return ProposalItem(proposal_id=proposal_id, seq=seq, action=v.action.value, indicator_code=v.code,
                        fields=v.fields, reason=v.reason)  # fmt: skip


def create_proposal(session: Session, data: ProposalIn) -> tuple[ProposalOut, str]:
    """A draft proposal; every item is validated first (422 naming ``items[i].fields.<name>``)."""
    department_code = _require_department(session, data.department_code)
    valid = _validate_items(session, data.items, department_code, acting=current_principal())
    return get_proposal(session, _open(session, data.title, department_code, data.reason, valid))


def import_proposal(
    session: Session,
    upload: ParsedUpload,
    *,
    title: str,
    department_code: str,
    reason: str | None,
) -> tuple[ProposalOut, str]:
    """A whole table (XLSX, CSV, JSON, NDJSON) read like a catalogue import, as one draft proposal.

    A row with an existing ``code`` revises that indicator (only the columns that differ), a row whose
    status reads retired (停用, 废止 …) retires it, a row without a code creates one. Bad rows fail the
    whole request with their row and field; nothing is stored.
    """
    department_code = _require_department(session, department_code)
    # Parsed before the write turn (parse_upload); its errors are answered here, after the department's.
    if (exc := upload.format_error or upload.read_error) is not None:
        errors = [FieldError(field=e.field, message=e.message, row=e.row) for e in exc.errors]
        raise ValidationFailed("The file cannot be read; nothing was stored", errors=errors) from exc
    items, rows, errors = _items_from_records(upload.records)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} problem(s) in the table; nothing was stored", errors=errors[:1000]
        )

    def locate(index: int, sub: str) -> tuple[str, int | None]:
        # Rows speak the table's language: the column, not the JSON path.
        name = sub.removeprefix("fields.")
        return ("code" if name == "indicator_code" else name), rows[index]

    valid = _validate_items(
        session, items, department_code, acting=current_principal(), locate=locate, only_changes=True
    )
    if not valid:
        raise ValidationFailed(
            "The table proposes nothing", errors=[FieldError(field=None, message="no rows")]
        )
    return get_proposal(session, _open(session, title, department_code, reason, valid))


def _items_from_records(
    records: Sequence[RawRecord],
) -> tuple[list[ProposalItemIn], list[int], list[FieldError]]:
    items: list[ProposalItemIn] = []
    rows: list[int] = []
    errors = [FieldError(field=e.field, message=e.message, row=e.row) for r in records for e in r.errors]
    for rec in records:
        fields = {k: v for k, v in rec.fields.items() if v not in (None, "", [])}
        if not fields:
            continue
        code = fields.pop("code", None)
        status = fields.pop("status", None)
        retire = (
            status is not None and STATUS_ALIASES.get(str(status), str(status)) == IndicatorStatus.retired
        )
        if retire and not code:
            errors.append(
                FieldError(
                    field="code", message="a row that retires an indicator names its code", row=rec.row
                )
            )
            continue
        action = ItemAction.retire if retire else ItemAction.revise if code else ItemAction.create
        try:
            items.append(
                ProposalItemIn(action=action, indicator_code=str(code) if code else None,
                               fields={} if retire else fields)
            )  # fmt: skip
        except ValidationError:
            errors.append(FieldError(field="code", message=f"not an indicator code: {code}", row=rec.row))
            continue
        rows.append(rec.row)
    return items, rows, errors


def patch_proposal(
    session: Session, proposal_id: int, patch: ProposalPatch, *, if_match: str | None
) -> tuple[ProposalOut, str]:
    """Title, reason or items while the proposal is the proposer's (draft, changes_requested)."""
    p = _require(session, proposal_id)
    require_department(p.department_code, "change this proposal")
    _check_if_match(p, if_match, required=True)
    if ProposalState(p.state) not in PROPOSAL_EDITABLE:
        raise Conflict(
            f"Proposal {proposal_id} is {p.state}; it can be edited only while draft or changes_requested",
            extra={"state": p.state},
        )
    changes = patch.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise ValidationFailed(
            "A proposal has a title", errors=[FieldError(field="title", message="required")]
        )
    values: dict[str, Any] = {k: changes[k] for k in ("title", "reason") if k in changes}
    if patch.items is not None:
        values.update(checks=[], checked_at=None)  # stale once the items change; submit runs them again
    _move(session, p, ProposalState(p.state), {**values, "updated_at": utcnow()})
    if patch.items is not None:
        _replace_items(session, p, patch.items)
    return get_proposal(session, proposal_id)


def _replace_items(session: Session, p: Proposal, edits: Sequence[ProposalItemEdit]) -> None:
    assert p.id is not None
    existing = {i.id: i for i in repo.items(session, p.id)}
    errors = [
        FieldError(field=f"items[{k}].id", message=f"proposal {p.id} has no item {e.id}")
        for k, e in enumerate(edits)
        if e.id is not None and e.id not in existing
    ]
    ids = [e.id for e in edits if e.id is not None]
    errors += [
        FieldError(field="items", message=f"item {i} is listed twice")
        for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    if errors:
        raise ValidationFailed("The items do not match the proposal's", errors=errors)
    valid = _validate_items(session, edits, p.department_code, acting=current_principal())
    audit.record(  # Core updates and deletes below: the items' before and after go to the trail here
        session,
        entity_type="proposal",
        entity_id=p.id,
        action="edit_items",
        before={"items": [
            {"id": i.id, "seq": i.seq, "action": i.action, "indicator_code": i.indicator_code, "fields": i.fields,
             "reason": i.reason}
            for i in existing.values()
        ]},
        after={"items": [
            {"id": e.id, "seq": k, "action": v.action.value, "indicator_code": v.code, "fields": v.fields,
             "reason": v.reason}
            for k, (e, v) in enumerate(zip(edits, valid, strict=True), start=1)
        ]},
    )  # fmt: skip
    repo.move_items_aside(session, p.id)
    kept = {e.id for e in edits if e.id is not None}
    repo.delete_items(session, [i for i in existing if i is not None and i not in kept])
    new_rows = []
    for seq, (edit, v) in enumerate(zip(edits, valid, strict=True), start=1):
        if edit.id is None:
            new_rows.append(_item_row(p.id, seq, v))
            continue
        repo.update_item(session, edit.id, {"seq": seq, "action": v.action.value, "indicator_code": v.code,
                                            "fields": v.fields, "reason": v.reason, "checks": [],
                                            "base_revision": None})  # fmt: skip
    repo.add_items(session, new_rows)


# --- the proposer's moves --------------------------------------------------------------------------


def _check_now(
    session: Session, p: Proposal, engine: SuggestEngine, *, acting: Principal
) -> tuple[list[ProposalItem], list[_Valid], list[Finding]]:
    """Validate the stored items again (ownership too: an indicator may have changed owner since) and
    run every check against today's catalogue."""
    assert p.id is not None
    stored = list(repo.items(session, p.id))
    valid = _validate_items(
        session,
        [ProposalItemIn(action=ItemAction(i.action), indicator_code=i.indicator_code, fields=i.fields,
                        reason=i.reason) for i in stored],
        p.department_code,
        acting=acting,
    )  # fmt: skip
    findings = run_checks(
        session,
        engine,
        department_code=p.department_code,
        items=[
            CheckItem(id=i.id or 0, seq=i.seq, action=v.action, code=v.code, draft=v.draft, changed=v.changed,
                      current=v.current)
            for i, v in zip(stored, valid, strict=True)
        ],
        proposer_is_finance=acting.is_finance(),
    )  # fmt: skip
    return stored, valid, findings


def _proposer(session: Session, p: Proposal) -> Principal:
    """The proposer as their key made them (role, departments): approval writes on their behalf.

    No key id: proposed outside a request (``SYSTEM``, the command line). A key id whose row is gone
    (rows are never deleted, so only in a damaged database): the narrowest reading, an editor of the
    proposing department.
    """
    if p.proposer_key_id is None:
        return SYSTEM
    key = auth_repo.get(session, p.proposer_key_id)
    if key is None:
        return Principal(actor=p.proposer, role=Role.editor, departments=frozenset({p.department_code}))
    return Principal(actor=key.owner, role=Role(key.role), key_id=key.id, departments=frozenset(key.departments))


def _refuse_new_errors(session: Session, p: Proposal, engine: SuggestEngine) -> None:
    """The catalogue may have moved since submission (a basis repealed, a duplicate created): check again."""
    _, _, findings = _check_now(session, p, engine, acting=_proposer(session, p))
    blocking = [f.model_dump(mode="json") for f in findings if f.severity == Severity.error]
    if blocking:
        raise Conflict(
            f"Proposal {p.id} has {len(blocking)} new finding(s) of severity error since it was submitted "
            "(the catalogue changed); request changes instead",
            errors=[FieldError(field=_finding_path(f), message=str(f.get("message", ""))) for f in blocking],
            extra={"blocking": blocking[:LIST_LIMIT], "blocking_count": len(blocking)},
        )


def submit(
    session: Session, proposal_id: int, engine: SuggestEngine, *, if_match: str | None
) -> tuple[ProposalOut, str]:
    """Validate again, run the checks, store them with the base revisions; draft|changes_requested → submitted."""
    p = _require(session, proposal_id)
    require_department(p.department_code, "submit this proposal")
    _check_if_match(p, if_match, required=False)
    to = _next_state(p, ProposalMove.submit)
    stored, valid, findings = _check_now(session, p, engine, acting=current_principal())
    principal = current_principal()
    for i, v in zip(stored, valid, strict=True):
        assert i.id is not None
        repo.update_item(
            session,
            i.id,
            {
                "checks": [f.model_dump(mode="json") for f in findings if f.item == i.id],
                # The revision the proposal was judged against: approval refuses if it has moved since.
                "base_revision": v.current.revision if v.current is not None else None,
            },
        )
    now = utcnow()
    _move(session, p, to, {
        "state": to.value, "checks": [f.model_dump(mode="json") for f in findings], "checked_at": now,
        "submitted_at": now, "updated_at": now,
        "history": _transition(p, ProposalMove.submit.value, to, principal, now, None),
    })  # fmt: skip
    return get_proposal(session, proposal_id)


def withdraw(session: Session, proposal_id: int, *, if_match: str | None) -> tuple[ProposalOut, str]:
    """The proposer's side takes the proposal back from any open state."""
    p = _require(session, proposal_id)
    require_department(p.department_code, "withdraw this proposal")
    _check_if_match(p, if_match, required=False)
    to = _next_state(p, ProposalMove.withdraw)
    now = utcnow()
    history = _transition(p, ProposalMove.withdraw.value, to, current_principal(), now, None)
    _move(session, p, to, {"state": to.value, "updated_at": now, "history": history})
    return get_proposal(session, proposal_id)


# --- review ----------------------------------------------------------------------------------------


def assign_reviewers(session: Session, proposal_id: int, data: AssignIn) -> ReviewersOut:
    """Add reviewers: actors holding an active reviewer key, never the proposer. Assigning twice is a no-op."""
    p = _require(session, proposal_id)
    if ProposalState(p.state) in PROPOSAL_CLOSED:
        raise Conflict(
            f"Proposal {proposal_id} is {p.state}; it takes no more reviewers", extra={"state": p.state}
        )
    active = auth_repo.active_owners(session, Role.reviewer.value, utcnow())
    errors = [
        FieldError(field="reviewers", message=f"{r} holds no active reviewer key")
        for r in data.reviewers
        if r not in active
    ]
    if p.proposer in data.reviewers:
        errors.append(FieldError(field="reviewers", message=f"{p.proposer} proposed it and cannot review it"))
    if errors:
        raise ValidationFailed("Some reviewers cannot be assigned", errors=errors)
    have = {r.reviewer for r in repo.reviewers(session, proposal_id)}
    by = current_principal().actor
    repo.add_reviewers(
        session,
        [ProposalReviewer(proposal_id=proposal_id, reviewer=r, assigned_by=by)
         for r in dict.fromkeys(data.reviewers) if r not in have],
    )  # fmt: skip
    return ReviewersOut(proposal_id=proposal_id, reviewers=_reviewers(session, proposal_id))


def unassign_reviewer(session: Session, proposal_id: int, reviewer: str) -> ReviewersOut:
    p = _require(session, proposal_id)
    if ProposalState(p.state) in PROPOSAL_CLOSED:
        raise Conflict(
            f"Proposal {proposal_id} is {p.state}; its reviewers stay on record", extra={"state": p.state}
        )
    assignment = next((r for r in repo.reviewers(session, proposal_id) if r.reviewer == reviewer), None)
    if assignment is None:
        raise NotFound(f"{reviewer} is not assigned to proposal {proposal_id}")
    repo.remove_reviewer(session, assignment)
    return ReviewersOut(proposal_id=proposal_id, reviewers=_reviewers(session, proposal_id))


def decide(
    session: Session, proposal_id: int, data: DecisionIn, engine: SuggestEngine, *, if_match: str | None
) -> tuple[ProposalOut, str]:
    """start_review, request_changes, approve or reject; approval applies the proposal as a change set."""
    p = _require(session, proposal_id)
    principal = current_principal()
    if principal.actor == p.proposer:
        raise Forbidden(f"{principal.actor} proposed {proposal_id} and cannot review it")
    _check_if_match(p, if_match, required=True)
    move = ProposalMove(data.decision.value)
    to = _next_state(p, move)
    if move in _NEEDS_REASON and not data.reason:
        raise ValidationFailed(
            f"{move.value} needs a reason", errors=[FieldError(field="reason", message="required")]
        )
    now = utcnow()
    values: dict[str, Any] = {
        "state": to.value,
        "updated_at": now,
        "history": _transition(p, move.value, to, principal, now, data.reason),
    }
    if move != ProposalMove.start_review:
        values.update(
            decision=move.value, decision_reason=data.reason, decided_by=principal.actor, decided_at=now
        )
    if move == ProposalMove.approve:
        _refuse_blocking(p)  # the findings stored at submission: what the reviewer judged
        _refuse_new_errors(session, p, engine)
    snapshot = _approval_input(session, p) if move == ProposalMove.approve else None
    _move(session, p, to, values)  # first write: a concurrent decision or edit now waits, then fails
    if snapshot is not None:
        change_set_id = _apply(session, snapshot, decider=principal.actor, reason=data.reason, at=now)
        # The change set exists only now; linking it is part of the same all-or-nothing transaction.
        repo.compare_and_set(
            session,
            proposal_id,
            version=snapshot.version + 1,
            state=to.value,
            values={"change_set_id": change_set_id},
        )
    return get_proposal(session, proposal_id)


def _refuse_blocking(p: Proposal) -> None:
    blocking = [f for f in p.checks if f.get("severity") == Severity.error]
    if not blocking:
        return
    raise Conflict(
        f"Proposal {p.id} has {len(blocking)} finding(s) of severity error; request changes instead",
        errors=[
            FieldError(field=_finding_path(f), message=str(f.get("message", "")))
            for f in blocking[:LIST_LIMIT]
        ],
        extra={"blocking": blocking[:LIST_LIMIT], "blocking_count": len(blocking)},
    )


def _finding_path(f: dict[str, Any]) -> str | None:
    if f.get("seq") is None:
        return f.get("field")
    base = f"items[{int(f['seq']) - 1}]"
    return f"{base}.fields.{f['field']}" if f.get("field") else base


@dataclass(frozen=True)
class _ApprovedItem:
    id: int
    seq: int
    action: ItemAction
    code: str | None
    fields: dict[str, Any]
    reason: str | None
    base_revision: int | None


@dataclass(frozen=True)
class _Approved:
    """The proposal and its items copied out of the ORM: applying expires every loaded row."""

    id: int
    version: int
    title: str
    reason: str | None
    department_code: str
    proposer: str
    findings: CheckCounts
    comments: int
    items: tuple[_ApprovedItem, ...]


def _approval_input(session: Session, p: Proposal) -> _Approved:
    assert p.id is not None
    return _Approved(
        id=p.id,
        version=p.version,
        title=p.title,
        reason=p.reason,
        department_code=p.department_code,
        proposer=p.proposer,
        findings=_counts(p.checks),
        comments=sum(repo.comment_counts(session, p.id).values()),
        items=tuple(
            _ApprovedItem(
                i.id or 0,
                i.seq,
                ItemAction(i.action),
                i.indicator_code,
                dict(i.fields),
                i.reason,
                i.base_revision,
            )
            for i in repo.items(session, p.id)
        ),
    )


def _apply(session: Session, a: _Approved, *, decider: str, reason: str | None, at: datetime) -> int:
    """Open a change set for the proposal and carry out every item in it (this one transaction)."""
    codes = [i.code for i in a.items if i.code and i.action != ItemAction.create]
    heads = {ind.code: ind.revision for ind in indicator_repo.get_many_by_codes(session, codes)}
    stale = [
        {"item": i.id, "seq": i.seq, "code": i.code, "base_revision": i.base_revision,
         "current_revision": heads.get(i.code)}
        for i in a.items
        if i.code in codes and heads.get(i.code) != i.base_revision
    ]  # fmt: skip
    if stale:
        raise Conflict(
            f"{len(stale)} indicator(s) changed after the proposal was submitted; request changes and resubmit",
            extra={"stale": stale[:LIST_LIMIT], "stale_count": len(stale)},
        )
    f = a.findings
    summary = (
        f"提案 #{a.id} 由 {decider} 于 {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC 批准;"
        f"检查:错误 {f.error}、警告 {f.warning}、提示 {f.info};评论 {a.comments} 条"
        + (f";理由:{reason}" if reason else "")
    )
    cs = change_set_repo.add(
        session,
        ChangeSet(title=f"提案 #{a.id}:{a.title}"[:500], origin="proposal", proposal_id=a.id,
                  effective_on=at.date(), summary=summary, author=a.proposer),
    )  # fmt: skip
    assert cs.id is not None
    change_set_id, cs_version = cs.id, cs.version
    rows: list[dict[str, Any]] = []
    refs, matcher = Refs(session), BasisMatcher.build(basis_repo.all_bases(session))  # once, not per item
    for item in a.items:
        prov = Provenance(
            reason=f"提案 #{a.id}「{a.title}」第 {item.seq} 项,{decider} 批准:"
            f"{item.reason or a.reason or item.action.value}",
            author=a.proposer,
            change_set_id=change_set_id,
        )
        if item.action == ItemAction.create:
            # New indicators enter the catalogue as standard: the proposal itself was their "proposed" state.
            draft = IndicatorDraft.model_validate(
                {**_create_fields(item.fields, a.department_code), "status": IndicatorStatus.standard.value}
            )
            code = create_indicator(session, draft, prov, refs=refs, matcher=matcher)[0].code
            repo.update_item(session, item.id, {"indicator_code": code})
        else:
            assert item.code is not None
            code = item.code
            retire = {"status": IndicatorStatus.retired.value}
            revise(
                session,
                require(session, code),
                retire if item.action == ItemAction.retire else item.fields,
                prov,
            )
        rows.append(
            {"change_set_id": change_set_id, "indicator_id": require(session, code).id, "action": item.action.value,
             "proposed": item.fields, "decision": "accepted", "note": item.reason, "decided_by": decider,
             "decided_at": at, "base_revision": item.base_revision or 0, "version": 1}
        )  # fmt: skip
    change_set_repo.insert_items(session, rows)
    change_set_repo.compare_and_set(
        session,
        change_set_id,
        cs_version,
        {"status": "applied", "applied_at": at, "applied_by": decider, "updated_at": at},
    )
    emit(
        session,
        [Event(EventType.change_set_applied, "change_set", str(change_set_id),
               {"id": change_set_id, "title": f"提案 #{a.id}:{a.title}", "origin": "proposal", "proposal_id": a.id,
                "effective_on": at.date().isoformat(), "applied": len(rows), "revised": len(rows), "rejected": 0})],
    )  # fmt: skip
    return change_set_id


# --- comments --------------------------------------------------------------------------------------


def add_comment(session: Session, proposal_id: int, data: CommentIn) -> CommentOut:
    """A comment on the proposal, an item or one field of an item; ``parent_id`` answers another comment."""
    p = _require(session, proposal_id)
    if ProposalState(p.state) in PROPOSAL_CLOSED:
        raise Conflict(
            f"Proposal {proposal_id} is {p.state}; the discussion is closed", extra={"state": p.state}
        )
    items = {i.id: i for i in repo.items(session, proposal_id)}
    item_id, field = data.item_id, data.field
    errors: list[FieldError] = []
    if data.parent_id is not None:
        parent = repo.get_comment(session, proposal_id, data.parent_id)
        if parent is None:
            errors.append(
                FieldError(
                    field="parent_id", message=f"proposal {proposal_id} has no comment {data.parent_id}"
                )
            )
        elif item_id is None and field is None:
            item_id, field = parent.item_id, parent.field  # a reply stays on its thread's subject
    if item_id is not None and item_id not in items:
        errors.append(FieldError(field="item_id", message=f"proposal {proposal_id} has no item {item_id}"))
    if field is not None and field not in _COMMENT_FIELDS:
        errors.append(
            FieldError(field="field", message=f"{field} is not an indicator field (nor title/reason)")
        )
    if errors:
        raise ValidationFailed("The comment does not fit the proposal", errors=errors)
    principal = current_principal()
    comment = repo.add_comment(
        session,
        ProposalComment(proposal_id=proposal_id, item_id=item_id, field=field, parent_id=data.parent_id,
                        author=principal.actor, role=principal.role_name, body=data.body),
    )  # fmt: skip
    seqs = {i: item.seq for i, item in items.items() if i is not None}
    return _comment_out(comment, seqs)


def _comment_out(c: ProposalComment, seqs: dict[int, int]) -> CommentOut:
    assert c.id is not None
    return CommentOut(id=c.id, item_id=c.item_id, seq=seqs.get(c.item_id) if c.item_id else None, field=c.field,
                      parent_id=c.parent_id, author=c.author, role=c.role, body=c.body,
                      created_at=as_utc(c.created_at))  # fmt: skip


def _threads(session: Session, proposal_id: int) -> tuple[list[CommentOut], int]:
    seqs = {i.id: i.seq for i in repo.items(session, proposal_id) if i.id is not None}
    rows = repo.comments(session, proposal_id)
    nodes = {c.id: _comment_out(c, seqs) for c in rows}
    roots: list[CommentOut] = []
    for c in rows:
        node = nodes[c.id]
        parent = nodes.get(c.parent_id) if c.parent_id is not None else None
        (parent.replies if parent is not None else roots).append(node)
    return roots, len(rows)


def comment_threads(session: Session, proposal_id: int) -> CommentThreads:
    _require(session, proposal_id)
    threads, total = _threads(session, proposal_id)
    return CommentThreads(proposal_id=proposal_id, total=total, threads=threads)


# --- reading ---------------------------------------------------------------------------------------


def _counts(findings: Sequence[dict[str, Any]]) -> CheckCounts:
    counts = CheckCounts()
    for f in findings:
        severity = str(f.get("severity"))
        if severity in CheckCounts.model_fields:
            setattr(counts, severity, getattr(counts, severity) + 1)
    return counts


def _reviewers(session: Session, proposal_id: int) -> list[ReviewerOut]:
    return [
        ReviewerOut(reviewer=r.reviewer, assigned_by=r.assigned_by, assigned_at=as_utc(r.assigned_at))
        for r in repo.reviewers(session, proposal_id)
    ]


def _summary(p: Proposal, *, item_count: int, reviewers: list[str]) -> dict[str, Any]:
    assert p.id is not None
    return {
        "id": p.id,
        "title": p.title,
        "department_code": p.department_code,
        "state": ProposalState(p.state),
        "proposer": p.proposer,
        "item_count": item_count,
        "reviewers": reviewers,
        "counts": _counts(p.checks),
        "checked_at": as_utc(p.checked_at) if p.checked_at else None,
        "submitted_at": as_utc(p.submitted_at) if p.submitted_at else None,
        "change_set_id": p.change_set_id,
        "version": p.version,
        "created_at": as_utc(p.created_at),
        "updated_at": as_utc(p.updated_at),
    }


def _decided(p: Proposal) -> dict[str, Any]:
    return {
        "decision": p.decision,
        "decision_reason": p.decision_reason,
        "decided_by": p.decided_by,
        "decided_at": as_utc(p.decided_at) if p.decided_at else None,
        "history": [Transition.model_validate(h) for h in p.history],
    }


def get_proposal(session: Session, proposal_id: int) -> tuple[ProposalOut, str]:
    """The proposal with its items, findings, reviewers and comment counts; and its ETag."""
    p = _require(session, proposal_id)
    items = repo.items(session, proposal_id)
    reviewers = _reviewers(session, proposal_id)
    comments = repo.comment_counts(session, proposal_id)
    out = ProposalOut(
        **_summary(p, item_count=len(items), reviewers=[r.reviewer for r in reviewers]),
        **_decided(p),
        reason=p.reason,
        proposer_key_id=p.proposer_key_id,
        checks=[Finding.model_validate(f) for f in p.checks],
        items=[
            ProposalItemOut(id=i.id or 0, seq=i.seq, action=ItemAction(i.action), indicator_code=i.indicator_code,
                            fields=dict(i.fields), reason=i.reason, base_revision=i.base_revision,
                            checks=[Finding.model_validate(f) for f in i.checks], comments=comments.get(i.id, 0))
            for i in items
        ],
        assignments=reviewers,
        comment_count=sum(comments.values()),
    )  # fmt: skip
    return out, etag(p)


def list_proposals(
    session: Session,
    *,
    state: ProposalState | None,
    department: str | None,
    assigned_to: str | None,
    limit: int,
    offset: int,
) -> ProposalList:
    """Proposals the caller may see (finance: all; editors: their departments'; reviewers: assigned), newest first."""
    principal = current_principal()
    refs = Refs(session)

    def stored(code: str) -> str:
        # Proposals hold the department's stored code; a filter or a key's scope may spell it otherwise.
        found = refs.department_id(code, create=False)
        return refs.departments[found].code if found is not None else code

    scope = None if principal.is_finance() or principal.role is not Role.editor else principal.departments
    rows, total = repo.list_proposals(
        session,
        state=state.value if state else None,
        department=stored(department) if department else None,
        assigned_to=assigned_to,
        departments=None if scope is None else {stored(d) for d in scope},
        reviewer=principal.actor if principal.role is Role.reviewer else None,
        limit=limit,
        offset=offset,
    )
    ids = [p.id for p in rows if p.id is not None]
    counts, names = repo.item_counts(session, ids), repo.reviewer_names(session, ids)
    return ProposalList(
        items=[
            ProposalSummary(
                **_summary(p, item_count=counts.get(p.id or 0, 0), reviewers=names.get(p.id or 0, []))
            )
            for p in rows
        ],
        total=total,
        limit=limit,
        offset=offset,
    )


def review_summary(session: Session, proposal_id: int) -> ReviewOut:
    """Checks, discussion, decision (who, when, why) and — once approved — the change set and its revisions."""
    p = _require(session, proposal_id)
    threads, total = _threads(session, proposal_id)
    revisions = repo.revisions_of_change_set(session, p.change_set_id) if p.change_set_id else []
    created = [i.indicator_code for i in repo.items(session, proposal_id)
               if i.action == ItemAction.create and i.indicator_code]  # fmt: skip
    return ReviewOut(
        proposal_id=proposal_id,
        title=p.title,
        department_code=p.department_code,
        state=ProposalState(p.state),
        proposer=p.proposer,
        reviewers=[r.reviewer for r in repo.reviewers(session, proposal_id)],
        counts=_counts(p.checks),
        checks=[Finding.model_validate(f) for f in p.checks],
        checked_at=as_utc(p.checked_at) if p.checked_at else None,
        comment_count=total,
        comments=threads,
        change_set_id=p.change_set_id,
        change_set_href=f"/v1/change-sets/{p.change_set_id}" if p.change_set_id else None,
        revisions=[
            RevisionRef(code=r.code, number=r.number, change=r.change, fields=list(r.fields), reason=r.reason,
                        href=f"/v1/indicators/{r.code}/revisions/{r.number}")
            for r in revisions
        ],
        created=created,
        **_decided(p),
    )  # fmt: skip
