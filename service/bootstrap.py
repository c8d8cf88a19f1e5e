"""Start-up work: schema, reference data and the bundled seed library."""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlmodel import Session, col

from loaders.readers import Format, read_records
from service.db import migrate
from service.imports.service import ImportReport, file_source, import_records
from service.indicators import repository as indicator_repo
from service.legal_bases import repository as basis_repo
from service.legal_bases.service import load_seed_bases
from service.models import CatalogState
from service.taxonomy.service import ensure_category_tree
from service.versions.service import backfill

log = logging.getLogger("service.bootstrap")

# The bundled seed collects tables published from 2021 on. Its rows carry no dates, so they are
# taken as in force from the start of 2021: history (and ?as_of=) then reaches back before any later
# edit or policy change. A row's own 生效日期 (effective_from) wins.
SEED_IN_FORCE_FROM = "2021-01-01"


def seed_bytes(name: str, seed_dir: Path | None = None) -> bytes:
    if seed_dir is not None:
        return (seed_dir / name).read_bytes()
    return resources.files("loaders").joinpath("seed", name).read_bytes()


def prepare_database(engine: Engine, *, seed: bool, seed_dir: Path | None = None) -> ImportReport | None:
    """Migrate, create reference data, and load the seed into an empty catalogue."""
    migrate(engine)
    with Session(engine) as session:
        ensure_category_tree(session)
        if session.execute(select(col(CatalogState.id))).first() is None:
            session.execute(insert(CatalogState).values(id=1, change_seq=0))
        backfill(session)  # a database from before revisions existed gets its first revisions
        session.commit()
        if not seed or indicator_repo.count_all(session) > 0 or basis_repo.all_bases(session):
            return None
        bases = [
            json.loads(line)
            for line in seed_bytes("legal_bases.jsonl", seed_dir).decode("utf-8").splitlines()
            if line.strip()
        ]
        load_seed_bases(session, bases)
        data = seed_bytes("seed_indicators.jsonl", seed_dir)
        records = read_records(data, Format.ndjson)
        for record in records:
            record.fields.setdefault("effective_from", SEED_IN_FORCE_FROM)
        report = import_records(
            session,
            records,
            reason="bundled seed library",
            author="system",
            source=file_source(data, filename="seed_indicators.jsonl"),
        )
        backfill(session)
        session.commit()
        log.info("seed loaded: %s indicators, %s legal bases", report.created, len(bases))
        return report
