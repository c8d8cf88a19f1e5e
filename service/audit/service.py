"""Reading the audit trail: filtered pages, one entry, the chain check, CSV/XLSX export.

Pages run newest first on the entry id (the chain order), with an opaque keyset cursor bound to
the filters it was issued for. Exports run oldest first (the order a reader checks the chain in) up
to the head as it stood when the export began; ``before``/``after`` are JSON text, and a text cell
that begins with = + - @ (or tab, CR) carries a leading ' for spreadsheets — strip it before
recomputing a hash.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import Engine
from sqlmodel import Session

from loaders.writers import append_header, escape_formula, xml_safe
from service.audit import chain
from service.audit import repository as repo
from service.audit.repository import Filters
from service.audit.schemas import AuditEntryOut, AuditExportFormat, AuditPage, VerifyOut
from service.errors import FieldError, NotFound, ValidationFailed

EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "at", "actor", "role", "key_id", "request_id", "method", "route", "entity_type", "entity_id",
    "action", "reason", "before", "after", "prev_hash", "hash",
)  # fmt: skip
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header
XLSX_MAX_CELL = 32_767  # characters Excel keeps in a cell
MEDIA = {
    AuditExportFormat.csv: "text/csv; charset=utf-8",
    AuditExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def check_filters(f: Filters) -> Filters:
    """Times without a zone are UTC; an empty window is a 422 naming ``until``."""
    since = _utc(f.since) if f.since else None
    until = _utc(f.until) if f.until else None
    if since is not None and until is not None and until <= since:
        raise ValidationFailed(
            "until must be later than since",
            errors=[FieldError(field="until", message="must be later than since")],
        )
    return Filters(**{**asdict(f), "since": since, "until": until})


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fingerprint(f: Filters) -> str:
    text = json.dumps(chain.plain(asdict(f)), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _encode_cursor(before_id: int, f: Filters) -> str:
    raw = json.dumps({"before": before_id, "filters": _fingerprint(f)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, f: Filters) -> int:
    def bad(message: str) -> ValidationFailed:
        return ValidationFailed(
            "The cursor is not valid", errors=[FieldError(field="cursor", message=message)]
        )

    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        before = data["before"]
        fingerprint = data["filters"]
    except (ValueError, TypeError, KeyError) as exc:
        raise bad("not a cursor this API issued") from exc
    if not isinstance(before, int) or isinstance(before, bool) or before < 1:
        raise bad("not a cursor this API issued")
    if fingerprint != _fingerprint(f):
        raise bad("the cursor belongs to other filters; start again without it")
    return before


def entry_out(entry: Any) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=_utc(entry.at),
        actor=entry.actor,
        role=entry.role,
        key_id=entry.key_id,
        request_id=entry.request_id,
        method=entry.method,
        route=entry.route,
        entity_type=entry.entity_type,
        entity_id=entry.entity_id,
        action=entry.action,
        before=entry.before,
        after=entry.after,
        reason=entry.reason,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def list_entries(session: Session, f: Filters, *, limit: int, cursor: str | None) -> AuditPage:
    """One page of entries, newest first."""
    f = check_filters(f)
    before_id = _decode_cursor(cursor, f) if cursor else None
    rows = repo.newest_first(session, f, limit=limit + 1, before_id=before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[entry_out(r) for r in rows],
        next_cursor=_encode_cursor(rows[-1].id, f) if more and rows else None,
    )


def get_entry(session: Session, entry_id: int) -> AuditEntryOut:
    entry = repo.get(session, entry_id)
    if entry is None:
        raise NotFound(f"No audit entry {entry_id}")
    return entry_out(entry)


def verify(session: Session) -> VerifyOut:
    """Recompute the chain from the first entry up to the head: ids without gaps, each ``prev_hash``
    the previous ``hash``, each ``hash`` its content's, and the last one the head's."""
    head_id, head_hash = repo.head(session)

    def bad(entry_id: int, problem: str, checked: int) -> VerifyOut:
        return VerifyOut(
            ok=False,
            entries=checked,
            first_bad_id=entry_id,
            problem=problem,
            head_id=head_id,
            head_hash=head_hash,
        )

    prev_hash, checked = chain.GENESIS_HASH, 0
    for row in repo.oldest_first(session, Filters(), upto=head_id):
        expected = checked + 1
        if row.id != expected:
            return bad(expected, f"entry {expected} is missing", checked)
        if row.prev_hash != prev_hash:
            return bad(row.id, f"prev_hash differs from the hash of entry {row.id - 1}", checked)
        if chain.link(prev_hash, row._mapping) != row.hash:
            return bad(row.id, "the entry does not match its hash", checked)
        prev_hash, checked = row.hash, expected
    if checked != head_id:
        return bad(checked + 1, f"the chain ends at entry {checked}, the head names entry {head_id}", checked)
    if prev_hash != head_hash:
        return bad(head_id, "the last entry's hash differs from the head's", checked)
    return VerifyOut(ok=True, entries=checked, head_id=head_id, head_hash=head_hash)


# --- export ---------------------------------------------------------------------------------------


def _cell(name: str, value: Any) -> str | int | None:
    if value is None:
        return None
    if name == "id":
        return int(value)
    if name == "at":
        return chain.utc_text(value)
    if name in ("before", "after"):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    # Actors, ids and reasons are user-given text: "=…" must not run as a spreadsheet formula.
    return escape_formula(str(value))


def _rows(engine: Engine, f: Filters, upto: int) -> Iterator[list[str | int | None]]:
    with Session(engine) as session:
        for row in repo.oldest_first(session, f, upto=upto):
            yield [_cell(name, row._mapping[name]) for name in EXPORT_COLUMNS]


def _csv(engine: Engine, f: Filters, upto: int) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # the BOM: Excel then reads the UTF-8 Chinese correctly
    writer.writerow(EXPORT_COLUMNS)
    for n, cells in enumerate(_rows(engine, f, upto), start=1):
        writer.writerow(["" if c is None else c for c in cells])
        if n % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(value: str | int | None) -> str | int | None:
    if not isinstance(value, str):
        return value
    text = xml_safe(value)
    if len(text) > XLSX_MAX_CELL:
        text = text[: XLSX_MAX_CELL - 40] + " …[truncated: the CSV export is complete]"
    return text


def _xlsx(engine: Engine, f: Filters, upto: int) -> Iterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("审计日志")
    for index, name in enumerate(EXPORT_COLUMNS, start=1):
        width = 40 if name in ("before", "after", "reason", "route") else 66 if "hash" in name else 18
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    append_header(sheet, EXPORT_COLUMNS)
    for cells in _rows(engine, f, upto):
        sheet.append([_xlsx_cell(c) for c in cells])
    with tempfile.TemporaryFile() as out:  # write-only rows already sit on disk; the zip goes there too
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(1 << 16):
            yield chunk


def export(
    session: Session, engine: Engine, f: Filters, fmt: AuditExportFormat
) -> tuple[Iterator[bytes], str, str]:
    """(body chunks, media type, file name) of the matching entries, oldest first.

    Filters are checked now, so a bad one is a 422 before any byte is sent; the rows are read while
    the body streams, on a session of their own.
    """
    f = check_filters(f)
    upto, _ = repo.head(session)
    if fmt is AuditExportFormat.xlsx and repo.count(session, f) > XLSX_MAX_ROWS:
        raise ValidationFailed(
            "Too many entries for one spreadsheet; narrow the filters or export CSV",
            errors=[FieldError(field="format", message=f"xlsx holds at most {XLSX_MAX_ROWS} entries")],
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    body = _csv(engine, f, upto) if fmt is AuditExportFormat.csv else _xlsx(engine, f, upto)
    return body, MEDIA[fmt], f"audit-{stamp}.{fmt.value}"
