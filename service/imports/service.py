"""Import (all-or-nothing, idempotent, with a report) and export of the catalogue."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col

from loaders.fields import parse_measure_ref
from loaders.readers import LoadError, RawRecord
from loaders.text import normalize_text
from loaders.values import parse_raw_value
from service import audit
from service.codes import code_key, resolve_code
from service.domain import COMPARATOR_SYMBOLS, LIFECYCLE, Comparator, IndicatorStatus
from service.duties.repository import all_measure_refs, indicator_link_refs
from service.duties.service import measure_items
from service.errors import FieldError, UnsupportedMedia, ValidationFailed
from service.indicators import repository as repo
from service.indicators.schemas import IndicatorDraft
from service.indicators.service import RowPlan, announce, assign_codes, errors_from, resolve, write_measures
from service.legal_bases import repository as basis_repo
from service.legal_bases.service import BasisMatcher
from service.models import Indicator, utcnow
from service.taxonomy.service import Refs
from service.versions.service import Provenance, newest_revision_id, revision_span

MAX_REPORTED_ERRORS = 1000
AUDITED_CODES = 1000  # codes listed in an import's audit entry; its revision range covers the rest


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
            "error_count": len(self.errors),
            "errors": [e.as_dict() for e in self.errors[:MAX_REPORTED_ERRORS]],
            "warnings": [w.as_dict() for w in self.warnings[:MAX_REPORTED_ERRORS]],
        }


def _has_data(rec: RawRecord) -> bool:
    return any(v not in (None, "") for v in rec.fields.values())


def _validated(
    records: Sequence[RawRecord], report: ImportReport
) -> Iterator[tuple[int, IndicatorDraft, str | None, dict[str, Any]]]:
    """Each row with data as a draft, plus the code of its replacing indicator (a lifecycle fact the
    draft does not carry: ``POST /v1/indicators`` cannot create a superseded indicator)."""
    for rec in records:
        report.errors.extend(FieldError(field=e.field, message=e.message, row=e.row) for e in rec.errors)
        if not _has_data(rec):
            continue
        fields = dict(rec.fields)
        successor = fields.pop("superseded_by", None)
        try:
            draft = IndicatorDraft.model_validate(fields)
        except ValidationError as exc:
            report.errors.extend(errors_from(exc, row=rec.row))
            continue
        yield rec.row, draft, (str(successor).strip() or None) if successor else None, fields


def _comparable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values.get(k) for k in repo.CONTENT_COLUMNS if k != "code"}


def import_records(
    session: Session,
    records: Sequence[RawRecord],
    *,
    dry_run: bool = False,
    default_status: IndicatorStatus = IndicatorStatus.standard,
    reason: str | None = None,
    author: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> ImportReport:
    """Validate every row first; write nothing unless all rows are valid.

    Rows match existing indicators by ``code``, or, without a code, by their
    natural key (kind, department, sector, levels as written, name, source), so running
    the same file twice changes nothing the second time. The import is one audit entry (counts,
    the file's ``source`` — sha256, name, size — and the revisions it wrote), not one per row.
    """
    report = ImportReport(rows=len(records), dry_run=dry_run)
    refs = Refs(session)
    matcher = BasisMatcher.build(basis_repo.all_bases(session))
    existing = repo.content_rows(session)
    by_code = {r.code: r for r in existing}
    # A row's code matches whatever way it is cased or wide (service/codes.py): zz-00009 updates ZZ-00009.
    by_code_key = {r.code_key: r for r in existing if r.code_key is not None}
    by_key: dict[str, Any] = {}
    for r in existing:
        by_key.setdefault(r.natural_key, r)
    links_now = repo.all_basis_link_keys(session)

    inserts: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    updates: list[dict[str, Any]] = []
    link_changes: dict[str, list[dict[str, Any]]] = {}
    seen_keys: dict[str, int] = {}
    seen_codes: dict[str, int] = {}  # code key → the row that has it
    file_codes: dict[str, str] = {}  # code key → the code as the file spells it first
    # Column values whose superseded_by is to be spelled as the catalogue spells the code.
    named_successors: list[dict[str, Any]] = []
    measures: list[tuple[dict[str, Any], RowPlan]] = []
    successors: list[tuple[int, str | None, str]] = []  # (row, its code, the code replacing it)
    # One pass: validate and resolve each row, keeping only the column values (memory stays flat
    # at 100k rows); any error anywhere means nothing is written.
    for row, draft, successor, fields in _validated(records, report):
        if draft.code:
            if (first := seen_codes.get(code_key(draft.code))) is not None:
                report.errors.append(
                    FieldError(
                        field="code", row=row, message=f"code {draft.code} already used in row {first}"
                    )
                )
                continue
            seen_codes[code_key(draft.code)] = row
            file_codes.setdefault(code_key(draft.code), draft.code)
        plan = resolve(draft, refs, matcher, default_status=default_status)
        values = plan.values
        key = values["natural_key"]
        if not draft.code:
            if key in seen_keys:
                report.errors.append(
                    FieldError(
                        field="name",
                        row=row,
                        message=f"same indicator as row {seen_keys[key]} (kind, department, sector, levels as written, name, source); give each a code",
                    )
                )
                continue
            seen_keys[key] = row
        if report.errors:
            continue  # keep validating for the report, but stop planning writes
        match = resolve_code(draft.code, by_code, by_code_key) if draft.code else by_key.get(key)
        if match is not None and (kept := _kept_columns(refs, match, links_now.get(match.id, set()), fields)):
            # A column the file does not have keeps the stored value (an empty cell clears it):
            # the row is read again as if the file had those columns with the stored values.
            try:
                draft = IndicatorDraft.model_validate({**kept, **fields})
            except ValidationError as exc:
                report.errors.extend(errors_from(exc, row=row))
                continue
            plan = resolve(draft, refs, matcher, default_status=default_status)
            values = plan.values
        report.warnings.extend(FieldError(field="level1", row=row, message=w) for w in plan.warnings)
        if draft.code:
            values["code"] = draft.code
        new_links = {(link["legal_basis_id"], link["clause"]) for link in plan.basis_links}
        # A file without a successor column keeps the successor an indicator already has.
        successor = successor or (match.superseded_by if match is not None else None)
        if (problem := _successor_problem(values["status"], successor)) is not None:
            report.errors.append(FieldError(field="superseded_by", row=row, message=problem))
            continue
        values["superseded_by"] = successor
        if successor:
            successors.append((row, match.code if match is not None else draft.code, successor))
            named_successors.append(values)
        if match is None:
            inserts.append((values, plan.basis_links))
            if plan.duties or plan.goals:
                measures.append((values, plan))
            continue
        values["code"] = match.code
        for dated in ("effective_from", "expires_on"):  # a file without date columns keeps the dates
            if values[dated] is None:
                values[dated] = getattr(match, dated)
        if (
            values["status"] != match.status
            and values["status"] not in LIFECYCLE[IndicatorStatus(match.status)]
        ):
            report.errors.append(
                FieldError(
                    field="status",
                    row=row,
                    message=f"{match.code} is {match.status}; it cannot move to {values['status']}",
                )
            )
            continue
        old = _comparable(match._asdict())
        same_measures = not (plan.duties or plan.goals) or _same_measures(session, refs, match, plan)
        if old == _comparable(values) and links_now.get(match.id, set()) == new_links and same_measures:
            report.unchanged += 1
            report.codes.append(match.code)
            continue  # an unchanged row writes nothing, its duties and goals neither
        if plan.duties or plan.goals:
            measures.append((values, plan))
        updates.append(row_update := {**values, "_id": match.id, "version": match.version + 1})
        if successor:
            named_successors.append(row_update)
        link_changes[match.code] = plan.basis_links
    if not report.errors:
        # Successors as the catalogue (or, for a new indicator, the file) spells their codes, so the
        # loop check and the stored superseded_by agree with the codes whatever case a cell used.
        spelled = {**file_codes, **{k: r.code for k, r in by_code_key.items()}}

        def stored(code: str) -> str:
            return str(by_code[code].code) if code in by_code else spelled.get(code_key(code), code)

        successors = [(row, code, stored(successor)) for row, code, successor in successors]
        for values in named_successors:
            values["superseded_by"] = stored(values["superseded_by"])
        report.errors.extend(
            _successor_errors(successors, by_code, {stored(file_codes[k]): r for k, r in seen_codes.items()})
        )
    if report.errors:
        raise _failed(report)

    taken = {code_key(c) for c in by_code}
    assign_codes(session, [v for v, _ in inserts if not v.get("code")], refs, taken)
    seq = repo.bump_change_seq(session)
    revisions_after = newest_revision_id(session)
    now = utcnow()
    for values, links in inserts:
        values.update(version=1, change_seq=seq, created_at=now, updated_at=now)
        if links:  # a new indicator has no links to clear
            link_changes[values["code"]] = links
    for u in updates:
        u.update(change_seq=seq, updated_at=now)
    repo.insert_indicators(session, [v for v, _ in inserts])
    repo.update_indicators(session, updates)
    ids = repo.ids_by_codes(session, link_changes)
    repo.replace_basis_links(session, {ids[c]: links for c, links in link_changes.items() if c in ids})
    measured_ids = repo.ids_by_codes(session, [v["code"] for v, _ in measures])
    for values, plan in measures:
        write_measures(session, refs, measured_ids[values["code"]], plan)
    announce(
        session,
        refs,
        [v["code"] for v, _ in inserts] + [u["code"] for u in updates],
        Provenance(reason=reason or "import", author=author),
        inserted={v["code"]: v for v, _ in inserts},
    )
    report.created, report.updated = len(inserts), len(updates)
    report.codes.extend(v["code"] for v, _ in inserts)
    report.codes.extend(u["code"] for u in updates)
    changed = [v["code"] for v, _ in inserts] + [u["code"] for u in updates]
    audit.record(
        session,
        entity_type="import",
        entity_id=(source or {}).get("sha256") or f"change-{seq}",
        action=audit.Action.import_,
        after={
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "file": dict(source or {}),
            **revision_span(session, change_seq=seq, after_id=revisions_after),
            "codes": changed[:AUDITED_CODES],
            "codes_complete": len(changed) <= AUDITED_CODES,
        },
        reason=reason or "import",
    )
    if dry_run:
        # The dry run did every step, so its counts are exact; undo them all.
        session.rollback()
    return report


# Export columns an import row may leave out and still keep; duties, goals, successor and dates
# already keep their stored values when absent (or empty), and the code is how the row matched.
_NOT_KEPT = frozenset({"code", "duties", "strategic_goals", "superseded_by", "effective_from", "expires_on"})


def _kept_columns(
    refs: Refs, match: Any, links: set[tuple[int, str | None]], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The stored values (as export writes them) of the columns the row does not have.

    Empty when the file has every column that holds something, e.g. a round-tripped export.
    """
    clause = min((c for _, c in links if c), default=None)
    stored = {k: v for k, v in _export_row(refs, match, clause, [], []).items() if k not in fields}
    for k in _NOT_KEPT:
        stored.pop(k, None)
    if not stored:
        return stored
    if {"level1", "level2"} & fields.keys() and not {"raw_level1", "raw_level2"} & fields.keys():
        # The labels as written follow the levels the file writes, not the old ones.
        stored.pop("raw_level1", None)
        stored.pop("raw_level2", None)
    written = [fields[k] for k in ("raw_value", "value") if fields.get(k) not in (None, "")]
    if {"value", "raw_value"} & fields.keys():
        # A new value brings its own text and range (as PATCH does): the old ones would contradict it.
        stored.pop("raw_value", None)
        stored.pop("value", None)
        stored.pop("value_max", None)
        for text in written:
            if isinstance(text, str):
                parsed = parse_raw_value(normalize_text(text))
                if parsed.comparator is not None:
                    stored.pop("comparator", None)
                if parsed.unit:
                    stored.pop("unit", None)
    return stored


def _same_measures(session: Session, refs: Refs, match: Any, plan: RowPlan) -> bool:
    """Whether the row names exactly the duties and goals (department and name) the indicator measures.

    Compared as (department id, name): "【教育厅】x" on an indicator of 教育厅 is its own duty x.
    """
    duties, goals = indicator_link_refs(session, match.id)
    own = plan.values["department_id"]

    def named(items: Sequence[str]) -> list[tuple[int | None, str]]:
        out: list[tuple[int | None, str]] = []
        for dept, name in map(parse_measure_ref, items):
            out.append((own if dept is None else refs.department_id(dept, create=False), name))
        return out

    return named(plan.duties) == list(duties) and named(plan.goals) == list(goals)


def _successor_problem(status: str, successor: str | None) -> str | None:
    """A superseded indicator names its replacement; only a superseded (or since retired) one has one."""
    if status == IndicatorStatus.superseded and not successor:
        return "状态为被替代时须填写替代指标编码; superseded needs superseded_by (the replacing indicator's code)"
    if successor and status not in (IndicatorStatus.superseded, IndicatorStatus.retired):
        return f"只有被替代(或其后停用)的指标才有替代指标; superseded_by given but the status is {status}"
    return None


def _successor_errors(
    successors: Sequence[tuple[int, str | None, str]],
    by_code: Mapping[str, Any],
    file_codes: Mapping[str, int],
) -> list[FieldError]:
    """Each named successor exists (in the catalogue or the file) and no chain of replacements loops.

    The chains are followed over the catalogue as it will be after the import, so a file that closes a
    loop with an indicator already superseded in the catalogue is refused as well.
    """
    errors: list[FieldError] = []
    after = {code: r.superseded_by for code, r in by_code.items() if r.superseded_by}
    after.update({code: successor for _, code, successor in successors if code})
    for row, code, successor in successors:
        if successor == code:
            problem = f"{code} 不能被自身替代; an indicator cannot supersede itself"
        elif successor not in by_code and successor not in file_codes:
            problem = f"替代指标 {successor} 不存在; no indicator has code {successor}"
        elif code is not None and (loop := _loop_from(code, after)) is not None:
            problem = f"替代关系成环 {' → '.join(loop)}; supersession cycle"
        else:
            continue
        errors.append(FieldError(field="superseded_by", row=row, message=problem))
    return errors


def _loop_from(start: str, successor_of: Mapping[str, str]) -> list[str] | None:
    """The chain start → … → start when following successors comes back to ``start``."""
    chain, seen, code = [start], {start}, successor_of.get(start)
    while code is not None:
        chain.append(code)
        if code == start:
            return chain
        if code in seen:
            return None  # a loop further on, reported at its own rows
        seen.add(code)
        code = successor_of.get(code)
    return None


def _failed(report: ImportReport) -> ValidationFailed:
    rows = sorted({e.row for e in report.errors if e.row is not None})
    head = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
    return ValidationFailed(
        f"{len(report.errors)} error(s) in row(s) {head}; nothing was imported"
        if rows
        else "The file cannot be imported; nothing was imported",
        errors=report.errors[:MAX_REPORTED_ERRORS],
        extra={"report": {k: v for k, v in report.as_dict().items() if k not in ("errors",)}},
    )


# --- export ------------------------------------------------------------------------
def export_rows(session: Session, *, include_retired: bool = True) -> Iterator[dict[str, Any]]:
    """Every indicator in canonical import fields (so that export → import round-trips)."""
    from sqlalchemy import select

    refs = Refs(session)
    stmt = select(Indicator).order_by(col(Indicator.code))
    if not include_retired:
        stmt = stmt.where(col(Indicator.status) != IndicatorStatus.retired.value)
    indicators = list(session.execute(stmt).scalars())
    links = repo.basis_links(session, [i.id for i in indicators if i.id is not None])
    measured = all_measure_refs(session)
    for ind in indicators:
        clause = next((link.clause for link, _ in links.get(ind.id or 0, []) if link.clause), None)
        duties, goals = measured.get(ind.id or 0, ([], []))
        yield _export_row(
            refs,
            ind,
            clause,
            measure_items(refs, ind.department_id, duties),
            measure_items(refs, ind.department_id, goals),
        )


def _export_row(
    refs: Refs, ind: Any, clause: str | None, duties: list[str], goals: list[str]
) -> dict[str, Any]:
    """One indicator (an ``Indicator`` or a content row) in canonical import fields, empty ones left out."""
    node = refs.categories[ind.category_id]
    unclassified = node.framework == "unclassified"
    row: dict[str, Any] = {
        "code": ind.code,
        "name": ind.name,
        "kind": ind.kind,
        "level1": ind.raw_level1 if unclassified else node.level1,
        "level2": ind.raw_level2 if unclassified else node.level2,
        "raw_level1": ind.raw_level1,
        "raw_level2": ind.raw_level2,
        "sector": refs.sector_name(ind.sector_id),
        "department": refs.departments[ind.department_id].name if ind.department_id else None,
        "definition": ind.definition,
        "formula": ind.formula,
        "unit": ind.unit,
        "comparator": COMPARATOR_SYMBOLS[Comparator(ind.comparator)] if ind.comparator else None,
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
        "basis_clause": clause,
        "direction": ind.direction,
        "is_core": ind.is_core,
        "horizon": ind.horizon,
        "weight": ind.weight,
        "source": ind.source,
        "notes": ind.notes,
        "status": ind.status,
        "superseded_by": ind.superseded_by,
        "effective_from": ind.effective_from.isoformat() if ind.effective_from else None,
        "expires_on": ind.expires_on.isoformat() if ind.expires_on else None,
        "duties": duties,
        "strategic_goals": goals,
    }
    return {k: v for k, v in row.items() if v not in (None, [], "")}


def snapshot_row(snap: dict[str, Any]) -> dict[str, Any]:
    """A revision snapshot in the fields and order of ``export_rows``, so a past export round-trips too."""
    unclassified = snap.get("framework") == "unclassified"
    clause = next((b["clause"] for b in snap.get("legal_bases") or () if b.get("clause")), None)
    row: dict[str, Any] = {
        "code": snap["code"],
        "name": snap["name"],
        "kind": snap["kind"],
        "level1": snap.get("raw_level1") if unclassified else snap.get("level1"),
        "level2": snap.get("raw_level2") if unclassified else snap.get("level2"),
        "raw_level1": snap.get("raw_level1"),
        "raw_level2": snap.get("raw_level2"),
        "sector": snap.get("sector"),
        "department": snap.get("department"),
        "definition": snap.get("definition"),
        "formula": snap.get("formula"),
        "unit": snap.get("unit"),
        "comparator": snap.get("comparator_symbol"),
        "value": snap.get("value"),
        "value_max": snap.get("value_max"),
        "raw_value": snap.get("raw_value"),
        "value_basis": snap.get("value_basis"),
        "value_basis_text": snap.get("value_basis_text"),
        "scoring_rule": snap.get("scoring_rule"),
        "data_source": snap.get("data_source"),
        "frequency": snap.get("frequency"),
        "budget_types": list(snap.get("budget_types") or []),
        "keywords": list(snap.get("keywords") or []),
        "basis": snap.get("basis"),
        "basis_clause": clause,
        "direction": snap.get("direction"),
        "is_core": snap.get("is_core", False),
        "horizon": snap.get("horizon"),
        "weight": snap.get("weight"),
        "source": snap.get("source"),
        "notes": snap.get("notes"),
        "status": snap.get("status"),
        "superseded_by": snap.get("superseded_by"),
        "effective_from": snap.get("effective_from"),
        "expires_on": snap.get("expires_on"),
        "duties": list(snap.get("duties") or []),
        "strategic_goals": list(snap.get("strategic_goals") or []),
    }
    return {k: v for k, v in row.items() if v not in (None, [], "")}


def export_rows_at(
    session: Session, *, release: str | None, as_of: date | None, include_retired: bool = True
) -> Iterator[dict[str, Any]]:
    """The catalogue frozen in a release, or as it stood at the end of a day, as export rows."""
    from service.releases.service import past_snapshots

    for snap in past_snapshots(session, release=release, as_of=as_of):
        if include_retired or snap.get("status") != IndicatorStatus.retired.value:
            yield snapshot_row(snap)


def _field_errors(exc: LoadError) -> list[FieldError]:
    return [FieldError(field=e.field, message=e.message, row=e.row) for e in exc.errors]


def file_source(
    data: bytes, *, content_type: str | None = None, filename: str | None = None
) -> dict[str, Any]:
    """What the audit trail keeps of an imported file: its digest, name, type and size."""
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "name": filename,
        "content_type": content_type,
        "bytes": len(data),
    }


@dataclass
class ParsedUpload:
    """An uploaded file read into rows, or why it could not be.

    Parsed before the request takes the process-wide write turn (service/deps.py): reading a 50 MB
    workbook takes seconds, and no other write should wait for that. The errors are kept, not raised,
    so each route answers them where it did before (after its own checks, e.g. the department's).
    """

    data: bytes
    content_type: str | None
    filename: str | None
    records: list[RawRecord] = field(default_factory=list)
    format_error: LoadError | None = None  # no readable format: 415 on an import
    read_error: LoadError | None = None  # the format's rows cannot be read: 422

    @property
    def source(self) -> dict[str, Any]:
        return file_source(self.data, content_type=self.content_type, filename=self.filename)


def parse_upload(data: bytes, *, content_type: str | None, filename: str | None) -> ParsedUpload:
    """Detect the format and read the rows; touches no database, so it runs outside the write turn."""
    from loaders.readers import detect_format, read_records

    upload = ParsedUpload(data=data, content_type=content_type, filename=filename)
    try:
        fmt = detect_format(content_type=content_type, filename=filename, data=data)
    except LoadError as exc:
        upload.format_error = exc
        return upload
    try:
        upload.records = read_records(data, fmt)
    except LoadError as exc:
        upload.read_error = exc
    return upload


def run_import(
    session: Session,
    data: bytes,
    *,
    content_type: str | None,
    filename: str | None,
    dry_run: bool,
    reason: str | None = None,
) -> ImportReport:
    """Detect the format, read the rows and import them (see ``import_records``)."""
    upload = parse_upload(data, content_type=content_type, filename=filename)
    return import_upload(session, upload, dry_run=dry_run, reason=reason)


def import_upload(
    session: Session, upload: ParsedUpload, *, dry_run: bool, reason: str | None = None
) -> ImportReport:
    """Import a file already read by ``parse_upload``: its format and row errors first, then the rows."""
    if (exc := upload.format_error) is not None:
        raise UnsupportedMedia(str(exc), errors=_field_errors(exc)) from exc
    if (exc := upload.read_error) is not None:
        errors = _field_errors(exc)
        raise ValidationFailed(
            errors[0].message if len(errors) == 1 else "The file cannot be read; nothing was imported",
            errors=errors,
        ) from exc
    records = upload.records
    if not any(rec.errors or _has_data(rec) for rec in records):
        # An empty import would still bump the change counter and write an audit entry.
        message = "文件中没有数据行,未导入任何内容; the file has no data rows, nothing was imported"
        raise ValidationFailed(message, errors=[FieldError(field=None, message=message)])
    return import_records(session, records, dry_run=dry_run, reason=reason, source=upload.source)
