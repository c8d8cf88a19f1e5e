"""A backup is one zip: ``manifest.json`` (format, schema revision, per-table columns, row counts and
checksums) and one ``<table>.jsonl`` per table, rows in primary-key order as JSON arrays.

Restore goes into an empty, migrated database in one transaction, in foreign-key order; self-references
(parent ids) are set in a second pass so that row order never matters; PostgreSQL sequences continue
after the restored ids. The same canonical form of every value (UTC datetimes, ISO dates, JSON with
sorted keys) feeds the checksums, so a restore is proven identical table by table — also across
backends (SQLite stores datetimes naive in UTC, PostgreSQL aware).

Derived state is left out: ``graph_sync_state`` (the Neo4j projection starts over and is rebuilt) —
the embedded graph reads the restored tables directly.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Date, DateTime, Engine, Table
from sqlmodel import SQLModel

from service import models  # noqa: F401  (registers every table on the metadata)
from service.backup import repository as repo
from service.db import current_revision, migrate
from service.errors import Conflict, ValidationFailed

FORMAT = "indicator-catalog-backup/1"
SKIPPED = frozenset({"graph_sync_state"})
# Tables an empty, migrated database may already hold rows in (singletons the migrations create).
_NOT_DATA = frozenset({"audit_head", "catalog_state", "code_sequence"})


def tables() -> list[Table]:
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in SKIPPED]


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _line(row: Sequence[Any]) -> bytes:
    return json.dumps([_canonical(v) for v in row], ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class TableDigest:
    rows: int
    sha256: str


def _digest_rows(rows: Iterable[Sequence[Any]], out: IO[bytes] | None = None) -> TableDigest:
    digest, n = hashlib.sha256(), 0
    for row in rows:
        line = _line(row) + b"\n"
        digest.update(line)
        if out is not None:
            out.write(line)
        n += 1
    return TableDigest(n, digest.hexdigest())


def checksums(engine: Engine) -> dict[str, TableDigest]:
    """Per table: row count and the SHA-256 of its rows in canonical form, in primary-key order."""
    with engine.connect() as conn:
        return {t.name: _digest_rows(repo.table_rows(conn, t)) for t in tables()}


def create_backup(engine: Engine, target: Path) -> dict[str, Any]:
    """Write the backup zip; one repeatable-read view of the database when the backend offers it."""
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "tables": {}}
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():  # one snapshot for every table (SQLite: one read transaction)
            manifest["revision"] = current_revision(conn)
            with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for table in tables():
                    with archive.open(f"{table.name}.jsonl", "w", force_zip64=True) as out:
                        d = _digest_rows(repo.table_rows(conn, table), out)
                    manifest["tables"][table.name] = {
                        "columns": [c.name for c in table.columns], "rows": d.rows, "sha256": d.sha256,
                    }  # fmt: skip
                archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def _decoder(table: Table, columns: list[str]) -> list[Any]:
    kinds: list[Any] = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, DateTime):
            kinds.append(lambda v, aware=column_type.timezone: None if v is None else _datetime(v, aware))
        elif isinstance(column_type, Date):
            kinds.append(lambda v: None if v is None else date.fromisoformat(v))
        else:
            kinds.append(None)
    return kinds


def _datetime(text: str, aware: bool) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if aware else moment.astimezone(UTC).replace(tzinfo=None)


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError) as exc:
        raise ValidationFailed(f"Not a catalogue backup (no readable manifest.json): {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ValidationFailed(f"Unknown backup format {manifest.get('format')!r}; expected {FORMAT}")
    return manifest


def restore_backup(engine: Engine, source: Path) -> dict[str, TableDigest]:
    """Restore into an empty database (migrated here first); all or nothing; returns the checksums,
    which equal the manifest's or the restore is refused and rolled back."""
    migrate(engine)
    with zipfile.ZipFile(source) as archive:
        manifest = read_manifest(archive)
        with engine.begin() as conn:
            if manifest["revision"] != current_revision(conn):
                raise Conflict(
                    f"The backup is of schema revision {manifest['revision']}, this database of "
                    f"{current_revision(conn)}; restore with the release that wrote it"
                )
            busy = [t.name for t in tables() if t.name not in _NOT_DATA and repo.count(conn, t)]
            if busy:
                raise Conflict(f"Restore needs an empty database; these tables hold rows: {', '.join(busy)}")
            for table in tables():
                entry = manifest["tables"].get(table.name)
                if entry is None:
                    continue
                _restore_table(conn, table, entry, archive)
                repo.reset_sequence(conn, table)
            restored = {t.name: _digest_rows(repo.table_rows(conn, t)) for t in tables()}
            wrong = [
                name for name, entry in manifest["tables"].items()
                if name in restored and (restored[name].rows, restored[name].sha256) != (entry["rows"], entry["sha256"])
            ]  # fmt: skip
            if wrong:  # raising rolls the whole restore back
                raise Conflict(f"Restored tables differ from the backup: {', '.join(wrong)}")
    return restored


def _restore_table(conn: Any, table: Table, entry: dict[str, Any], archive: zipfile.ZipFile) -> None:
    columns: list[str] = entry["columns"]
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise ValidationFailed(f"Backup table {table.name} has columns this schema lacks: {', '.join(unknown)}")
    decode = _decoder(table, columns)
    rows: list[dict[str, Any]] = []
    with archive.open(f"{table.name}.jsonl") as lines:
        for line in lines:
            values = json.loads(line)
            rows.append({c: (f(v) if f else v) for c, f, v in zip(columns, decode, values, strict=True)})
    self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    existing = repo.primary_keys(conn, table) if table.name in _NOT_DATA else set()
    keys = [c.name for c in table.primary_key.columns]
    fresh = [r for r in rows if tuple(r[k] for k in keys) not in existing]
    present = [r for r in rows if tuple(r[k] for k in keys) in existing]
    repo.insert_rows(conn, table, [{**r, **dict.fromkeys(self_refs)} for r in fresh])
    if self_refs:  # parents may come after their children in id order
        repo.update_rows(conn, table, [r for r in fresh if any(r[c] is not None for c in self_refs)], self_refs)
    repo.update_rows(conn, table, present, [c for c in columns if c not in keys])
