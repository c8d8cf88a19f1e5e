"""Department duties and strategic goals: CRUD, and the MEASURES links from indicators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

from sqlmodel import Session

from loaders.fields import measure_ref, parse_measure_ref
from loaders.text import normalize_text
from service import audit
from service.auth.context import current_principal, require_department
from service.auth.rules import IndicatorClaim, require_indicator_owner
from service.duties import repository as repo
from service.duties.schemas import DepartmentIn, MeasuredIn, MeasuredOut, MeasuredPatch
from service.errors import Conflict, FieldError, NotFound, ValidationFailed
from service.indicators import repository as indicator_repo
from service.lists import require_unique
from service.models import Department, Duty, Indicator, StrategicGoal, utcnow
from service.outbox.service import Entity, record
from service.taxonomy import repository as taxonomy_repo
from service.taxonomy.service import Refs
from service.versions.service import Provenance

M = TypeVar("M", Duty, StrategicGoal)

Which = Literal["duty", "goal"]
_ENTITY = {"duty": Entity.duty, "goal": Entity.goal}
_AUDIT_ENTITY = {"duty": "duty", "goal": "strategic_goal"}  # as service.audit.recorder.AUDITED names them


def _department(session: Session, code: str) -> Department:
    refs = Refs(session)
    did = refs.department_id(code, create=False)
    if did is None:
        raise NotFound(f"Department {code!r} does not exist")
    return refs.departments[did]


def _codes_to_ids(session: Session, codes: Sequence[str]) -> list[int]:
    require_unique(codes, lambda k: f"indicators[{k}]")
    ids = indicator_repo.ids_by_codes(session, codes)
    missing = [c for c in codes if c not in ids]
    if missing:
        raise ValidationFailed(
            "Unknown indicator codes",
            errors=[FieldError(field="indicators", message=f"indicator {c} does not exist") for c in missing],
        )
    return [ids[c] for c in codes]


def _require_linkable(session: Session, codes: Sequence[str], ids: Sequence[int], before: Sequence[int]) -> None:
    """Every indicator a duty or goal newly links must be the caller's to write (the MEASURES link is part
    of the indicator); dropping a link from one's own duty or goal is the department's own business."""
    refs = Refs(session)
    owners = {i.id: refs.department_code(i.department_id) for i in _indicators(session, ids)}
    claims = [
        IndicatorClaim(f"indicators[{k}]", code, owners.get(iid))
        for k, (code, iid) in enumerate(zip(codes, ids, strict=True))
        if iid not in set(before)
    ]
    require_indicator_owner(current_principal(), claims, doing="关联到本部门的职责或战略目标")


def _out(session: Session, item: Duty | StrategicGoal, which: Which, dept_code: str) -> MeasuredOut:
    assert item.id is not None
    ids = (
        repo.indicator_ids_for_duty(session, item.id)
        if which == "duty"
        else repo.indicator_ids_for_goal(session, item.id)
    )
    codes = sorted(i.code for i in _indicators(session, ids))
    return MeasuredOut(
        id=item.id, department_code=dept_code, name=item.name, description=item.description, indicators=codes
    )


def _indicators(session: Session, ids: Sequence[int]) -> list[Indicator]:
    return [i for i in (session.get(Indicator, x) for x in ids) if i is not None]


def list_items(session: Session, dept_code: str, which: Which) -> list[MeasuredOut]:
    dept = _department(session, dept_code)
    assert dept.id is not None
    items: Sequence[Duty | StrategicGoal] = (
        repo.duties_of(session, dept.id) if which == "duty" else repo.goals_of(session, dept.id)
    )
    return [_out(session, i, which, dept.code) for i in items]


def create_item(session: Session, dept_code: str, which: Which, data: MeasuredIn) -> MeasuredOut:
    dept = _department(session, dept_code)
    assert dept.id is not None
    require_department(dept.code, f"add a {which}")
    ids = _codes_to_ids(session, data.indicators)
    _require_linkable(session, data.indicators, ids, ())
    name = normalize_text(data.name)
    item: Duty | StrategicGoal = (
        Duty(department_id=dept.id, name=name, description=data.description)
        if which == "duty"
        else StrategicGoal(department_id=dept.id, name=name, description=data.description)
    )
    repo.add(session, item)
    assert item.id is not None
    _set_links(session, which, item.id, ids)
    record(session, _ENTITY[which], [item.id])
    return _out(session, item, which, dept.code)


def _get(session: Session, which: Which, item_id: int) -> Duty | StrategicGoal:
    item = repo.get_duty(session, item_id) if which == "duty" else repo.get_goal(session, item_id)
    if item is None:
        raise NotFound(f"{'Duty' if which == 'duty' else 'Strategic goal'} {item_id} does not exist")
    dept = session.get(Department, item.department_id)
    require_department(dept.code if dept else None, f"change a {which}")
    return item


def _linked(session: Session, which: Which, item_id: int) -> Sequence[int]:
    return (
        repo.indicator_ids_for_duty(session, item_id)
        if which == "duty"
        else repo.indicator_ids_for_goal(session, item_id)
    )


def _set_links(session: Session, which: Which, item_id: int, indicator_ids: Sequence[int]) -> None:
    before = _linked(session, which, item_id)
    if which == "duty":
        repo.set_duty_links(session, item_id, indicator_ids)
    else:
        repo.set_goal_links(session, item_id, indicator_ids)
    # MEASURES edges start at the indicator: every indicator gaining or losing one changed.
    touched = {i.id: i.code for i in _indicators(session, sorted(set(before) | set(indicator_ids)))}
    record(session, Entity.indicator, sorted(touched.values()))
    changed = sorted(set(before) ^ set(indicator_ids))
    if changed:
        _revise_linked(session, which, changed)
    if set(before) != set(indicator_ids):  # the link rows are Core writes: audited as the item's list
        audit.record(
            session,
            entity_type=_AUDIT_ENTITY[which],
            entity_id=item_id,
            action=audit.Action.update,
            before={"indicators": sorted(touched[i] for i in set(before))},
            after={"indicators": sorted(touched[i] for i in set(indicator_ids))},
        )


def _revise_linked(session: Session, which: Which, indicator_ids: Sequence[int]) -> None:
    """The duties/goals an indicator measures are part of it (its snapshot, its page): a link made
    or dropped here is a write to each indicator, so it bumps the version (ETags held go stale) and
    appends a revision under this request's author, as an indicator PATCH of ``duties`` would."""
    from service.change_sets.repository import set_indicator_columns
    from service.indicators.service import announce

    seq = indicator_repo.bump_change_seq(session)
    set_indicator_columns(session, [{"_id": i} for i in indicator_ids], change_seq=seq, now=utcnow())
    codes = sorted(i.code for i in _indicators(session, indicator_ids))
    what = "职责" if which == "duty" else "战略目标"
    announce(session, Refs(session), codes, Provenance(reason=f"通过{what}接口调整关联"))


def update_item(session: Session, which: Which, item_id: int, patch: MeasuredPatch) -> MeasuredOut:
    item = _get(session, which, item_id)
    changes = patch.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"]:
        item.name = normalize_text(changes["name"])
    if "description" in changes:
        item.description = changes["description"]
    session.flush()
    assert item.id is not None
    if patch.indicators is not None:
        ids = _codes_to_ids(session, patch.indicators)
        _require_linkable(session, patch.indicators, ids, _linked(session, which, item.id))
        _set_links(session, which, item.id, ids)
    record(session, _ENTITY[which], [item.id])
    dept = session.get(Department, item.department_id)
    assert dept is not None
    return _out(session, item, which, dept.code)


def delete_item(session: Session, which: Which, item_id: int) -> None:
    """Only an unmeasured duty/goal can be deleted; otherwise unlink its indicators first (409)."""
    item = _get(session, which, item_id)
    linked = _linked(session, which, item_id)
    if linked:
        raise Conflict(
            f"{len(linked)} indicator(s) still measure it; unlink them first (PATCH indicators: [])"
        )
    repo.remove(session, item)
    record(session, _ENTITY[which], [item_id])


def measure_items(refs: Refs, department_id: int | None, links: Sequence[tuple[int, str]]) -> list[str]:
    """Linked duties/goals as items of an indicator's duties/strategic_goals: a plain name when it is
    of the indicator's own department, "【部门】名称" when of another (``loaders.fields.measure_ref``)."""
    return [
        measure_ref(None if dept == department_id else refs.departments[dept].name, name)
        for dept, name in links
    ]


def _may_add_to(refs: Refs, owner: int, own: int | None, doing: str) -> None:
    """A new duty/goal of another department ("【部门】名称") is added on that department's authority,
    as if through its own duties API, so an editor cannot write into a department outside its scope."""
    if owner != own:
        require_department(refs.departments[owner].code, doing)


def resolve_measures(
    session: Session, refs: Refs, *, department_id: int | None, duties: Sequence[str], goals: Sequence[str]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Duty and goal ids for the items given on an indicator, created when new: a plain name in the
    indicator's department, "【部门】名称" in the department named (see ``measure_items``).

    Returns (duty_ids, goal_ids, new_duty_ids, new_goal_ids).
    """
    duty_refs = [parse_measure_ref(item) for item in duties]
    goal_refs = [parse_measure_ref(item) for item in goals]
    require_unique(duty_refs, lambda k: f"duties[{k}]", label=lambda r: r[1])
    require_unique(goal_refs, lambda k: f"strategic_goals[{k}]", label=lambda r: r[1])
    if department_id is None and any(dept is None for dept, _ in (*duty_refs, *goal_refs)):
        raise ValidationFailed(
            "Duties and strategic goals belong to a department",
            errors=[
                FieldError(
                    field="department",
                    message="name the department whose duties/goals these are (or write 【部门】名称)",
                )
            ],
        )
    duty_ids, new_duties = _measure_ids(
        session, refs, duty_refs, department_id, Duty, repo.duties_of, "add a duty"
    )
    goal_ids, new_goals = _measure_ids(
        session, refs, goal_refs, department_id, StrategicGoal, repo.goals_of, "add a strategic goal"
    )
    return duty_ids, goal_ids, new_duties, new_goals


def _measure_ids(
    session: Session,
    refs: Refs,
    items: Sequence[tuple[str | None, str]],
    department_id: int | None,
    model: type[M],
    existing: Callable[[Session, int], Sequence[M]],
    doing: str,
) -> tuple[list[int], list[int]]:
    """Ids of the duties (or goals) named, in order, creating the new ones; returns (ids, new ids).

    One lookup per department named, kept for the rest of the list so a name given twice is one row."""
    ids: list[int] = []
    new: list[int] = []
    by_name: dict[int, dict[str, M]] = {}
    for dept, name in items:
        owner = department_id if dept is None else refs.department_id(dept)
        assert owner is not None
        known = by_name.get(owner)
        if known is None:
            known = by_name[owner] = {m.name: m for m in existing(session, owner)}
        measure = known.get(name)
        if measure is None:
            _may_add_to(refs, owner, department_id, doing)
            measure = model(department_id=owner, name=name)
            repo.add(session, measure)
            known[name] = measure
            assert measure.id is not None
            new.append(measure.id)
        assert measure.id is not None
        ids.append(measure.id)
    return ids, new


def create_department(session: Session, data: DepartmentIn) -> dict[str, object]:
    refs = Refs(session)
    name = normalize_text(data.name)  # compared as stored, or two spellings of one name slip past
    # Both compare by key (service/codes.py): "jyt" is taken when JYT exists.
    if (same := refs.department_id(data.code, create=False)) is not None:
        taken = refs.departments[same].code
        raise Conflict(
            f"Department code {data.code} is taken by {taken}",
            errors=[FieldError(field="code", message=f"部门编码 {taken} 已存在; code {taken} is taken")],
        )
    if refs.department_id(name, create=False):
        raise Conflict(
            f"Department {name} already exists",
            errors=[FieldError(field="name", message=f"部门 {name} 已存在; department {name} exists")],
        )
    parent_id = None
    if data.parent_code:
        parent_id = refs.department_id(data.parent_code, create=False)
        if parent_id is None:
            raise ValidationFailed(
                "Unknown parent",
                errors=[
                    FieldError(field="parent_code", message=f"department {data.parent_code} does not exist")
                ],
            )
    dept = taxonomy_repo.add_department(
        session, Department(code=data.code, name=name, parent_id=parent_id)
    )
    record(session, Entity.department, [dept.code])
    return {"id": dept.id, "code": dept.code, "name": dept.name, "parent_id": dept.parent_id, "count": 0}
