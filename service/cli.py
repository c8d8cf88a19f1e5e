"""``indicator-catalog`` command line: serve, load, export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.settings import Settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from graph.neo4j_store import Neo4jGraphStore
    from graph.sync import GraphProjector

app = typer.Typer(help="指标标准库 — the indicator & standard catalogue service", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default CATALOG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CATALOG_PORT)")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the HTTP service (embedded SQLite + seed by default)."""
    import uvicorn

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    typer.echo(f"指标标准库 serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    typer.echo(f"database: {settings.database_url}")
    if settings.environment == "development":
        _first_admin_key(settings)
    if workers > 1:
        uvicorn.run("service.asgi:app", host=host, port=port, workers=workers, log_level="info")
    else:
        from service.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _first_admin_key(settings: Settings) -> None:
    """A development catalogue with no key at all gets one admin key, printed here once, so /docs works."""
    from sqlmodel import Session

    from service.auth.principal import Role
    from service.auth.schemas import KeyIn
    from service.auth.service import create_key, list_keys
    from service.bootstrap import prepare_database
    from service.db import make_engine

    engine = make_engine(settings.database_url)
    prepare_database(engine, seed=settings.seed, seed_dir=settings.seed_dir)
    with Session(engine) as session:
        if list_keys(session, include_revoked=True):
            return
        created = create_key(session, KeyIn(owner="local-admin", role=Role.admin), created_by="serve")
        session.commit()
    engine.dispose()
    typer.echo(
        "first start: an admin key was created. It is shown this once; send it as `Authorization: Bearer <key>`"
        f" (the Authorize button in /docs):\n\n    {created.token}\n\n"
        "More keys: indicator-catalog keys create --owner NAME --role admin|steward|editor|reviewer|platform"
    )


@app.command()
def load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON, NDJSON, CSV or XLSX")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, change nothing")] = False,
) -> None:
    """Import a file into the catalogue (all-or-nothing) and print the report."""
    import json

    from sqlmodel import Session

    from service.bootstrap import prepare_database
    from service.db import make_engine
    from service.errors import DomainError
    from service.imports.service import run_import

    settings = Settings()
    engine = make_engine(settings.database_url)
    prepare_database(engine, seed=settings.seed, seed_dir=settings.seed_dir)
    with Session(engine) as session:
        try:
            report = run_import(
                session, file.read_bytes(), content_type=None, filename=file.name, dry_run=dry_run
            )
            session.commit()
        except DomainError as exc:
            session.rollback()
            typer.echo(
                json.dumps(
                    {"detail": exc.detail, "errors": [e.as_dict() for e in exc.errors[:50]]},
                    ensure_ascii=False,
                    indent=2,
                ),
                err=True,
            )
            raise typer.Exit(code=1) from exc
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))


@app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout)")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl, csv or xlsx")] = "jsonl",
    profile: Annotated[str, typer.Option(help="canonical, chinese or platform")] = "canonical",
) -> None:
    """Export the current catalogue."""
    from sqlmodel import Session

    from loaders.writers import ExportProfile, write_csv, write_jsonl, write_xlsx
    from service.bootstrap import prepare_database
    from service.db import make_engine
    from service.imports.service import export_rows

    settings = Settings()
    engine = make_engine(settings.database_url)
    prepare_database(engine, seed=settings.seed, seed_dir=settings.seed_dir)
    with Session(engine) as session:
        rows = list(export_rows(session))
    prof = ExportProfile(profile)
    if format == "jsonl":
        body = b"".join(write_jsonl(rows))
    elif format == "csv":
        body = write_csv(rows, profile=prof)
    elif format == "xlsx":
        body = write_xlsx(rows, profile=prof)
    else:
        raise typer.BadParameter("format must be jsonl, csv or xlsx")
    if output is None:
        sys.stdout.buffer.write(body)
    else:
        output.write_bytes(body)
        typer.echo(f"wrote {len(rows)} indicators to {output}", err=True)


def main() -> None:
    app()


graph_app = typer.Typer(help="Knowledge graph: project the catalogue into Neo4j")
app.add_typer(graph_app, name="graph")


def _projector() -> tuple[GraphProjector, Neo4jGraphStore]:
    from graph.factory import open_neo4j_store
    from service.bootstrap import prepare_database
    from service.db import make_engine

    settings = Settings()
    engine = make_engine(settings.database_url)
    prepare_database(engine, seed=settings.seed, seed_dir=settings.seed_dir)
    store = open_neo4j_store(settings)
    if store is None:
        typer.echo(
            "CATALOG_NEO4J_URI is not set: the embedded graph reads the database directly, nothing to sync",
            err=True,
        )
        raise typer.Exit(code=2)
    return GraphProjector(engine, store), store


@graph_app.command("sync")
def graph_sync(
    follow: Annotated[bool, typer.Option("--follow", help="Keep syncing until interrupted")] = False,
) -> None:
    """Apply pending outbox events to Neo4j (first a full rebuild if it was never projected)."""
    import threading

    projector, store = _projector()
    if projector.needs_rebuild():
        store.ensure_schema()
        typer.echo(f"rebuilt: {projector.rebuild().model_dump_json()}")
    if follow:
        stop = threading.Event()
        try:
            projector.run_forever(stop)
        except KeyboardInterrupt:
            stop.set()
        return
    total = 0
    while applied := projector.sync_once():
        total += applied
    typer.echo(f"applied {total} events; lag {projector.lag()}")
    store.close()


@graph_app.command("rebuild")
def graph_rebuild() -> None:
    """Re-project the whole catalogue into Neo4j."""
    projector, store = _projector()
    store.ensure_schema()
    typer.echo(projector.rebuild().model_dump_json(indent=2))
    store.close()


keys_app = typer.Typer(help="API keys: create (the key is printed once), list, rotate, revoke")
app.add_typer(keys_app, name="keys")


def _keys_session() -> Session:
    from sqlmodel import Session

    from service.bootstrap import prepare_database
    from service.db import make_engine

    settings = Settings()
    engine = make_engine(settings.database_url)
    prepare_database(engine, seed=settings.seed, seed_dir=settings.seed_dir)
    return Session(engine)


def _key_failed(exc: Exception) -> typer.Exit:
    from service.errors import DomainError

    if isinstance(exc, DomainError):
        detail = "; ".join([exc.detail, *(f"{e.field}: {e.message}" for e in exc.errors)])
        typer.echo(f"error: {detail}", err=True)
        return typer.Exit(code=1)
    raise exc


@keys_app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option(help="who will use the key: a person or a system")],
    role: Annotated[str, typer.Option(help="admin, steward, editor, reviewer or platform")],
    department: Annotated[
        list[str] | None, typer.Option("--department", "-d", help="department code (editor keys; repeatable)")
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(help="the key stops working after this many days")
    ] = None,
    note: Annotated[str | None, typer.Option(help="what the key is for")] = None,
) -> None:
    """Mint a key. The key goes to stdout, once; only its hash is stored."""
    from service.auth.principal import Role
    from service.auth.schemas import KeyIn
    from service.auth.service import create_key

    try:
        data = KeyIn(
            owner=owner,
            role=Role(role),
            departments=department or [],
            expires_in_days=expires_in_days,
            note=note,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with _keys_session() as session:
        try:
            created = create_key(session, data, created_by="cli")
            session.commit()
        except Exception as exc:
            raise _key_failed(exc) from exc
    typer.echo(
        f"created key {created.id} for {created.owner} ({created.role.value}); store it now:", err=True
    )
    typer.echo(created.token)


@keys_app.command("list")
def keys_list(
    all_: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
) -> None:
    """List keys (never their secrets)."""
    from service.auth.service import list_keys

    with _keys_session() as session:
        keys = list_keys(session, include_revoked=all_)
    for k in keys:
        state = "active" if k.active else ("revoked" if k.revoked_at else "expired")
        expires = k.expires_at.isoformat() if k.expires_at else "-"
        used = k.last_used_at.isoformat() if k.last_used_at else "never"
        departments = ",".join(k.departments) or "-"
        typer.echo(
            f"{k.id}\t{k.role.value}\t{k.owner}\t{departments}\t{state}\texpires {expires}\tused {used}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key id (the part after icat_)")]) -> None:
    """Revoke a key at once; the row stays for the audit trail."""
    from service.auth.service import revoke

    with _keys_session() as session:
        try:
            out = revoke(session, key_id, by="cli")
            session.commit()
        except Exception as exc:
            raise _key_failed(exc) from exc
    typer.echo(f"revoked {out.id} ({out.owner})")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="the key id to replace")],
    grace_seconds: Annotated[int, typer.Option(help="the old key keeps working this long")] = 0,
) -> None:
    """A new key with the same owner and rights; the old one stops now or after the grace period."""
    from service.auth.schemas import RotateIn
    from service.auth.service import rotate

    with _keys_session() as session:
        try:
            created = rotate(session, key_id, RotateIn(grace_seconds=grace_seconds), by="cli")
            session.commit()
        except Exception as exc:
            raise _key_failed(exc) from exc
    typer.echo(f"rotated {key_id} -> {created.id}; store the new key now:", err=True)
    typer.echo(created.token)


backup_app = typer.Typer(help="Backup and restore: the whole database as one zip, checked by checksums")
app.add_typer(backup_app, name="backup")


@backup_app.command("create")
def backup_create(
    output: Annotated[Path, typer.Argument(dir_okay=False, help="the zip to write")],
) -> None:
    """Write every table (catalogue, history, releases, proposals, audit, keys) from one snapshot."""
    from service.backup.service import create_backup
    from service.db import make_engine

    engine = make_engine(Settings().database_url)
    try:
        manifest = create_backup(engine, output)
    finally:
        engine.dispose()
    rows = sum(t["rows"] for t in manifest["tables"].values())
    typer.echo(f"wrote {output}: {len(manifest['tables'])} tables, {rows} rows, revision {manifest['revision']}")


@backup_app.command("restore")
def backup_restore(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a zip from `backup create`")],
) -> None:
    """Restore into the empty database at CATALOG_DATABASE_URL (migrated first); all or nothing."""
    from service.backup.service import restore_backup
    from service.db import make_engine

    engine = make_engine(Settings().database_url)
    try:
        restored = restore_backup(engine, source)
    except Exception as exc:
        raise _key_failed(exc) from exc
    finally:
        engine.dispose()
    typer.echo(f"restored {sum(d.rows for d in restored.values())} rows; every table's checksum matches the backup")
    typer.echo("with Neo4j, project the graph again: indicator-catalog graph rebuild")


@backup_app.command("verify")
def backup_verify(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a zip from `backup create`")],
) -> None:
    """Compare the database at CATALOG_DATABASE_URL with a backup, table by table (exit 1 if they differ)."""
    import zipfile

    from service.backup.service import checksums, read_manifest
    from service.db import make_engine

    with zipfile.ZipFile(source) as archive:
        manifest = read_manifest(archive)
    engine = make_engine(Settings().database_url)
    try:
        now = checksums(engine)
    finally:
        engine.dispose()
    differ = [n for n, e in manifest["tables"].items() if n not in now or (now[n].rows, now[n].sha256) != (e["rows"], e["sha256"])]
    for name in differ:
        typer.echo(f"differs: {name}", err=True)
    typer.echo("identical" if not differ else f"{len(differ)} table(s) differ")
    if differ:
        raise typer.Exit(code=1)


if __name__ == "__main__":  # last, so `python -m service.cli` sees every sub-command
    main()
