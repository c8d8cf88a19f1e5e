"""Relational schema of the catalogue (SQLModel tables).

The database is the source of truth; the search index and the graph are
projections of these tables. Enum-valued columns store the English values of
``service.domain``; Chinese stays in the data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, MetaData, UniqueConstraint
from sqlmodel import Field, SQLModel

# A naming convention keeps Alembic migrations deterministic across SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class Category(SQLModel, table=True):
    """A node of a category framework: level 1 (产出指标 …) or level 2 (数量指标 …)."""

    id: int | None = Field(default=None, primary_key=True)
    framework: str = Field(max_length=32, index=True)
    level: int
    name: str = Field(max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="category.id")
    path: str = Field(max_length=500, unique=True)
    sort: int = 0


class Sector(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="sector.id")


class Department(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="department.id")


class Duty(SQLModel, table=True):
    """A duty from the department's 三定方案."""

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    name: str = Field(max_length=500)
    description: str | None = None


class StrategicGoal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    name: str = Field(max_length=500)
    description: str | None = None


class LegalBasis(SQLModel, table=True):
    __tablename__ = "legal_basis"
    __table_args__ = (UniqueConstraint("doc_no", "title", name="uq_legal_basis_doc_no_title"),)

    id: int | None = Field(default=None, primary_key=True)
    doc_no: str = Field(max_length=200)
    title: str = Field(max_length=500)
    kind: str = Field(max_length=32)
    issuer: str | None = None
    issued_on: date | None = None
    effective_on: date | None = None
    date_text: str | None = None
    status: str = Field(default="in_force", max_length=32)
    supersedes_text: str | None = None
    sectors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str | None = None
    note: str | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LegalBasisLink(SQLModel, table=True):
    """``basis_id`` supersedes (replaces) or amends ``target_id``: editions form a chain."""

    __tablename__ = "legal_basis_link"

    basis_id: int = Field(foreign_key="legal_basis.id", primary_key=True)
    target_id: int = Field(foreign_key="legal_basis.id", primary_key=True, index=True)
    relation: str = Field(default="supersedes", max_length=16)


class Indicator(SQLModel, table=True):
    __table_args__ = (Index("ix_indicator_kind_name", "kind", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=500)
    kind: str = Field(max_length=32)
    category_id: int = Field(foreign_key="category.id", index=True)
    sector_id: int | None = Field(default=None, foreign_key="sector.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    raw_level1: str | None = None
    raw_level2: str | None = None
    definition: str | None = None
    formula: str | None = None
    unit: str | None = Field(default=None, max_length=100)
    comparator: str | None = Field(default=None, max_length=16)
    value: str | None = None
    value_num: float | None = None
    raw_value: str | None = None
    value_basis: str | None = Field(default=None, max_length=32)
    value_basis_text: str | None = None
    scoring_rule: str | None = None
    data_source: str | None = None
    frequency: str | None = None
    budget_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    basis: str | None = None
    direction: str | None = Field(default=None, max_length=16)
    is_core: bool = False
    horizon: str = Field(default="annual", max_length=16)
    weight: float | None = None
    source: str | None = None
    notes: str | None = None
    status: str = Field(default="standard", max_length=16, index=True)
    natural_key: str = Field(max_length=64, index=True)
    version: int = 1
    change_seq: int = Field(default=0, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class IndicatorBasis(SQLModel, table=True):
    """Links an indicator to a legal basis, with the clause it rests on."""

    __tablename__ = "indicator_basis"
    # Covering index: impact queries walk basis → indicators without touching the table.
    __table_args__ = (Index("ix_indicator_basis_basis_indicator", "legal_basis_id", "indicator_id"),)

    indicator_id: int = Field(foreign_key="indicator.id", primary_key=True)
    legal_basis_id: int = Field(foreign_key="legal_basis.id", primary_key=True, index=True)
    clause: str | None = None
    note: str | None = None


class IndicatorDuty(SQLModel, table=True):
    __tablename__ = "indicator_duty"

    indicator_id: int = Field(foreign_key="indicator.id", primary_key=True)
    duty_id: int = Field(foreign_key="duty.id", primary_key=True, index=True)


class IndicatorGoal(SQLModel, table=True):
    __tablename__ = "indicator_goal"

    indicator_id: int = Field(foreign_key="indicator.id", primary_key=True)
    goal_id: int = Field(foreign_key="strategicgoal.id", primary_key=True, index=True)


class CodeSequence(SQLModel, table=True):
    """Next number per code prefix; only ever grows, so codes are never reused."""

    __tablename__ = "code_sequence"

    prefix: str = Field(primary_key=True, max_length=32)
    next_value: int = 1


class CatalogState(SQLModel, table=True):
    """Single row: a change counter bumped by every catalogue write (drives index refresh)."""

    __tablename__ = "catalog_state"

    id: int = Field(default=1, primary_key=True)
    change_seq: int = 0


def row_dict(obj: SQLModel) -> dict[str, Any]:
    return obj.model_dump()


class IndicatorRelation(SQLModel, table=True):
    """A typed relation between two indicators (synonym, derived_from, aggregates)."""

    __tablename__ = "indicator_relation"

    from_id: int = Field(foreign_key="indicator.id", primary_key=True)
    to_id: int = Field(foreign_key="indicator.id", primary_key=True, index=True)
    kind: str = Field(default="synonym", max_length=16, primary_key=True)


class Target(SQLModel, table=True):
    """A performance target (绩效目标) registered by the finance platform, using indicators."""

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=128, unique=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    fiscal_year: int | None = None
    project: str | None = None
    text: str | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class TargetIndicator(SQLModel, table=True):
    """One row of a target's indicator table."""

    __tablename__ = "target_indicator"
    # Covering index: impact queries go indicator → targets.
    __table_args__ = (Index("ix_target_indicator_indicator_target", "indicator_id", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    comparator: str | None = Field(default=None, max_length=16)
    value: str | None = None
    unit: str | None = Field(default=None, max_length=100)
    raw_value: str | None = None


class OutboxEvent(SQLModel, table=True):
    """Written in the same transaction as a catalogue change; the graph projector consumes it in order."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=32)
    entity_key: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class GraphSyncState(SQLModel, table=True):
    """Single row per graph backend: the last outbox event applied to it."""

    __tablename__ = "graph_sync_state"

    backend: str = Field(primary_key=True, max_length=32)
    last_event_id: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
