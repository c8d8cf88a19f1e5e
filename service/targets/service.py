"""Targets: the finance platform registers them so that impact analysis reaches them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from loaders.values import parse_comparator, parse_raw_value
from service import audit
from service.auth.context import current_principal, require_department
from service.auth.principal import Role
from service.errors import FieldError, NotFound, ValidationFailed
from service.indicators import repository as indicator_repo
from service.lists import require_unique
from service.models import Indicator, Target, TargetIndicator, utcnow
from service.outbox.service import Entity, record
from service.targets import repository as repo
from service.targets.schemas import TargetIn, TargetOut, TargetRowOut
from service.taxonomy.service import Refs
from service.versions.service import as_utc


def _value_text(value: float | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def upsert_target(session: Session, data: TargetIn) -> tuple[TargetOut, bool]:
    """Create or replace a target by its external id; returns (target, created)."""
    refs = Refs(session)
    _require_scope(refs, data.department, repo.get(session, data.external_id))
    codes = [r.code for r in data.indicators]
    require_unique(codes, lambda k: f"indicators.{k}.code")
    ids = indicator_repo.ids_by_codes(session, codes)
    errors = [
        FieldError(field=f"indicators.{i}.code", message=f"indicator {r.code} does not exist")
        for i, r in enumerate(data.indicators)
        if r.code not in ids
    ]
    rows = []
    for i, r in enumerate(data.indicators):
        try:
            comparator = parse_comparator(r.comparator)
        except ValueError as exc:
            errors.append(FieldError(field=f"indicators.{i}.comparator", message=str(exc)))
            continue
        parsed = parse_raw_value(r.raw_value) if r.raw_value and r.value is None else None
        comp = comparator or (parsed.comparator if parsed else None)
        rows.append(
            {
                "indicator_id": ids.get(r.code),
                "comparator": comp.value if comp else None,
                "value": _value_text(r.value if r.value is not None else (parsed.value if parsed else None)),
                "unit": r.unit or (parsed.unit if parsed else None),
                "raw_value": r.raw_value,
            }
        )
    if errors:
        raise ValidationFailed("The target names unknown indicators or bad values", errors=errors)
    department_id = refs.department_id(data.department) if data.department else None
    target = repo.get(session, data.external_id)
    created = target is None
    if target is None:
        target = repo.add(session, Target(external_id=data.external_id))
    else:
        target.version += 1
        target.updated_at = utcnow()
    target.department_id = department_id
    target.fiscal_year = data.fiscal_year
    target.project = data.project
    target.text = data.text
    session.flush()
    assert target.id is not None
    old_rows = [] if created else _audit_rows(repo.rows_of(session, target.id))
    repo.replace_rows(session, target.id, rows)
    # The indicator rows are Core writes: audited as the target's list, merged into its entry.
    # Codes as stored (a row may name zz-00006 for ZZ-00006), so an unchanged target audits nothing.
    stored = {i.id: i.code for i in indicator_repo.get_many_by_codes(session, codes)}
    new_rows = [{"code": stored.get(ids[r.code], r.code), **{k: v for k, v in row.items() if k != "indicator_id"}}
                for r, row in zip(data.indicators, rows, strict=True)]  # fmt: skip
    if new_rows != old_rows:
        audit.record(
            session,
            entity_type="target",
            entity_id=target.external_id,
            action=audit.Action.update,
            before=None if created else {"indicators": old_rows},
            after={"indicators": new_rows},
        )
    record(session, Entity.department, refs.new_department_codes)
    record(session, Entity.target, [target.external_id])
    return get_target(session, target.external_id), created


def _audit_rows(rows: list[tuple[TargetIndicator, Indicator]]) -> list[dict[str, Any]]:
    return [
        {"code": i.code, "comparator": r.comparator, "value": r.value, "unit": r.unit, "raw_value": r.raw_value}
        for r, i in rows
    ]


def _require_scope(refs: Refs, department: str | None, existing: Target | None) -> None:
    """An editor registers targets of its own departments and never takes over another's target."""
    if current_principal().role is not Role.editor:
        return
    if existing is not None:
        owner = refs.departments.get(existing.department_id) if existing.department_id else None
        require_department(owner.code if owner else None, "replace this target")
    did = refs.department_id(department, create=False) if department else None
    dept = refs.departments.get(did) if did is not None else None
    require_department(dept.code if dept else department, "register a target")


def get_target(session: Session, external_id: str) -> TargetOut:
    target = repo.get(session, external_id)
    refs = Refs(session)
    dept = refs.departments.get(target.department_id) if target and target.department_id else None
    principal = current_principal()
    if target is None or (
        principal.role is Role.editor and not principal.covers_department(dept.code if dept else None)
    ):
        raise NotFound(f"Target {external_id!r} does not exist")  # another department's target stays unseen
    assert target.id is not None
    return TargetOut(
        external_id=target.external_id,
        department=dept.name if dept else None,
        department_code=dept.code if dept else None,
        fiscal_year=target.fiscal_year,
        project=target.project,
        text=target.text,
        indicators=[
            TargetRowOut(
                code=i.code,
                name=i.name,
                comparator=r.comparator,
                value=r.value,
                unit=r.unit,
                raw_value=r.raw_value,
            )
            for r, i in repo.rows_of(session, target.id)
        ],
        version=target.version,
        created_at=as_utc(target.created_at),
        updated_at=as_utc(target.updated_at),
    )
