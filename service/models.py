"""Relational schema of the catalogue (SQLModel tables).

The database is the source of truth; the search index and the graph are
projections of these tables. Enum-valued columns store the English values of
``service.domain``; Chinese stays in the data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, MetaData, UniqueConstraint
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


# ``code_key`` (service/codes.py) is the code folded for comparison; its unique index is what stops a
# second spelling of a code (``jyt`` next to ``JYT``). It is NULL only on rows an upgrade found
# colliding with an older row's key: those stay reachable by their exact code (migration c0de5a1e0001).


class Sector(SQLModel, table=True):
    __table_args__ = (Index("uq_sector_code_key", "code_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    code_key: str | None = Field(default=None, max_length=128)
    name: str = Field(max_length=200, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="sector.id")


class Department(SQLModel, table=True):
    __table_args__ = (Index("uq_department_code_key", "code_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    code_key: str | None = Field(default=None, max_length=128)
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
    __table_args__ = (
        Index("ix_indicator_kind_name", "kind", "name"),
        Index("uq_indicator_code_key", "code_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    code_key: str | None = Field(default=None, max_length=128)
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
    value_max: float | None = None  # upper bound when the value is a range (value_num is the lower)
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
    effective_from: date | None = None
    expires_on: date | None = None
    superseded_by: str | None = Field(default=None, max_length=64)
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # newest revision number
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


# --- versions, releases, change sets and the change feed -------------------------------------------
#
# Revision rows are append-only: a write inserts a new revision and never updates or deletes one. The
# ``indicator`` and ``legal_basis`` tables hold the newest state, derived from the newest revision.
# A revision is valid from ``valid_from`` until the next revision's ``valid_from``; storing no
# ``valid_to`` keeps history free of in-place updates.


class IndicatorRevision(SQLModel, table=True):
    __tablename__ = "indicator_revision"
    __table_args__ = (
        UniqueConstraint("indicator_id", "number", name="uq_indicator_revision_indicator_number"),
        Index("ix_indicator_revision_indicator_valid", "indicator_id", "valid_from", "number"),
        # Covering index for as-of graph walks, which reach revisions by id (rows carry big snapshots).
        Index("ix_indicator_revision_id_validity", "id", "indicator_id", "number", "valid_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id")
    code: str = Field(max_length=64)
    number: int
    change: str = Field(max_length=8)  # INITIAL | MAJOR | MINOR | PATCH | NONE
    status: str = Field(max_length=16)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str | None = None
    author: str | None = Field(default=None, max_length=200)
    change_set_id: int | None = Field(default=None, foreign_key="change_set.id", index=True)
    valid_from: datetime = Field(sa_type=DateTime(timezone=True))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    change_seq: int = 0


class IndicatorRevisionBasis(SQLModel, table=True):
    """The legal-basis links a revision carried: lets as-of graph queries walk BASED_ON of the past."""

    __tablename__ = "indicator_revision_basis"
    __table_args__ = (Index("ix_indicator_revision_basis_basis_revision", "legal_basis_id", "revision_id"),)

    revision_id: int = Field(foreign_key="indicator_revision.id", primary_key=True)
    legal_basis_id: int = Field(foreign_key="legal_basis.id", primary_key=True)
    clause: str | None = None


class LegalBasisRevision(SQLModel, table=True):
    __tablename__ = "legal_basis_revision"
    __table_args__ = (
        UniqueConstraint("legal_basis_id", "number", name="uq_legal_basis_revision_basis_number"),
        Index("ix_legal_basis_revision_basis_valid", "legal_basis_id", "valid_from", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    legal_basis_id: int = Field(foreign_key="legal_basis.id")
    number: int
    status: str = Field(max_length=32)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str | None = None
    author: str | None = Field(default=None, max_length=200)
    change_set_id: int | None = Field(default=None, foreign_key="change_set.id", index=True)
    valid_from: datetime = Field(sa_type=DateTime(timezone=True))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Release(SQLModel, table=True):
    """A named, frozen published set: the revision of every published indicator at release time."""

    # ``name_key``: the name folded like a code (service/codes.py), so "2026.A" and "2026.a" are one name.
    __table_args__ = (Index("uq_release_name_key", "name_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    name_key: str | None = Field(default=None, max_length=128)
    effective_on: date
    notes: str | None = None
    author: str | None = Field(default=None, max_length=200)
    indicator_count: int = 0
    change_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    # Change counts against the previous release, taken once at publication: a release never changes,
    # so listing releases need not diff them again.
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ReleaseItem(SQLModel, table=True):
    __tablename__ = "release_item"

    release_id: int = Field(foreign_key="release.id", primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", primary_key=True)
    revision_id: int = Field(foreign_key="indicator_revision.id")
    number: int


class ChangeSet(SQLModel, table=True):
    """A reviewed bundle of indicator changes, opened by a policy change (or a proposal) and applied at once."""

    __tablename__ = "change_set"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=500)
    origin: str = Field(max_length=16)  # edition | repeal | manual | proposal
    legal_basis_id: int | None = Field(default=None, foreign_key="legal_basis.id", index=True)
    new_basis_id: int | None = Field(default=None, foreign_key="legal_basis.id")
    # No foreign key: the proposal already references its change set, and a cycle would make SQLite
    # rebuild this table in the migration.
    proposal_id: int | None = Field(default=None, index=True)
    effective_on: date | None = None
    summary: str | None = None
    status: str = Field(default="draft", max_length=16, index=True)  # draft | applied | discarded
    targets: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    author: str | None = Field(default=None, max_length=200)
    applied_by: str | None = Field(default=None, max_length=200)
    applied_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ChangeSetItem(SQLModel, table=True):
    __tablename__ = "change_set_item"
    __table_args__ = (
        UniqueConstraint("change_set_id", "indicator_id", name="uq_change_set_item_set_indicator"),
    )

    id: int | None = Field(default=None, primary_key=True)
    change_set_id: int = Field(foreign_key="change_set.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    action: str = Field(max_length=16)  # rebase | revise_value | retire | no_change
    proposed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    decision: str = Field(default="pending", max_length=16)  # pending | accepted | rejected
    note: str | None = None
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    base_revision: int = 0  # the indicator revision the item was proposed against
    version: int = 1


class ChangeEvent(SQLModel, table=True):
    """The finance platform's change feed; ordered by ``(change_seq, id)``, which is commit order.

    Every catalogue write bumps the single ``catalog_state`` row first, so writers serialise on that
    row lock until commit and a later ``change_seq`` always commits later: a cursor never skips.
    """

    __tablename__ = "change_event"
    __table_args__ = (Index("ix_change_event_seq_id", "change_seq", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    change_seq: int
    type: str = Field(max_length=32)
    entity: str = Field(max_length=32)
    key: str = Field(max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


# --- access: API keys (service/auth) -----------------------------------------------------------------


class ApiKey(SQLModel, table=True):
    """An API key; only a SHA-256 of its secret is kept, so a stolen table opens nothing."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=16)  # the public part of the key, icat_<id>_<secret>
    secret_hash: str = Field(max_length=64)
    owner: str = Field(max_length=200, index=True)  # the actor: audit entries and assignments name it
    role: str = Field(max_length=16)
    departments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    created_by: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_by: str | None = Field(default=None, max_length=200)
    rotated_from: str | None = Field(default=None, max_length=16)
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


# --- audit trail (service/audit) -----------------------------------------------------------------------


class AuditEntry(SQLModel, table=True):
    """One recorded write: who (actor, role, key), when, which request and route, what entity, the
    values before and after, and why. Append-only: database triggers refuse UPDATE, DELETE and
    TRUNCATE. Hash-chained: ``hash`` is SHA-256 over ``prev_hash`` and the entry's canonical JSON
    (``service/audit/chain.py``), so an edit that got past the triggers still shows.
    """

    __tablename__ = "audit_entry"
    # One index per filter of GET /v1/audit, each ending in id: a filtered page is a keyset walk.
    __table_args__ = (
        Index("ix_audit_entry_entity", "entity_type", "entity_id", "id"),
        Index("ix_audit_entry_actor", "actor", "id"),
        Index("ix_audit_entry_role", "role", "id"),
        Index("ix_audit_entry_key_id", "key_id", "id"),
        Index("ix_audit_entry_action", "action", "id"),
        Index("ix_audit_entry_route", "route", "id"),
        Index("ix_audit_entry_request_id", "request_id"),
        Index("ix_audit_entry_at", "at"),
    )

    # The entry's position in the chain, taken from audit_head under its lock: no sequence, no gaps.
    id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=DateTime(timezone=True))
    actor: str = Field(max_length=200)
    role: str = Field(max_length=16)
    key_id: str | None = Field(default=None, max_length=16)
    request_id: str = Field(max_length=64)
    method: str | None = Field(default=None, max_length=10)
    route: str | None = Field(default=None, max_length=300)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=200)
    action: str = Field(max_length=32)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason: str | None = None
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """Single row: the newest entry of the chain. Every append locks it, so concurrent writers queue
    instead of forking the chain; ``verify`` also checks it against the last entry (a cut tail shows)."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = Field(default=0, sa_type=BigInteger)
    last_hash: str = Field(max_length=64)
    updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


# --- proposals and review (service/proposals) ----------------------------------------------------------


class Proposal(SQLModel, table=True):
    """A department's proposal of new or changed indicators, checked at submission and reviewed."""

    __tablename__ = "proposal"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=500)
    department_code: str = Field(max_length=64, index=True)
    reason: str | None = None
    state: str = Field(default="draft", max_length=24, index=True)  # see service.domain.PROPOSAL_MOVES
    proposer: str = Field(max_length=200, index=True)  # the actor (key owner), not the key
    proposer_key_id: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    version: int = 1
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    checked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    submitted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    change_set_id: int | None = Field(default=None, foreign_key="change_set.id", index=True)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    decision: str | None = Field(default=None, max_length=24)
    decision_reason: str | None = None
    # Every state move (from, to, by, at, reason), oldest first: the review's own trail.
    history: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ProposalItem(SQLModel, table=True):
    __tablename__ = "proposal_item"
    __table_args__ = (UniqueConstraint("proposal_id", "seq", name="uq_proposal_item_proposal_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    seq: int
    action: str = Field(max_length=8)  # create | revise | retire
    indicator_code: str | None = Field(default=None, max_length=64, index=True)  # create: set on approval
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    base_revision: int | None = None  # revise/retire: the indicator's revision at submission


class ProposalReviewer(SQLModel, table=True):
    __tablename__ = "proposal_reviewer"

    proposal_id: int = Field(foreign_key="proposal.id", primary_key=True)
    reviewer: str = Field(max_length=200, primary_key=True, index=True)  # an actor with a reviewer key
    assigned_by: str = Field(max_length=200)
    assigned_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ProposalComment(SQLModel, table=True):
    __tablename__ = "proposal_comment"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="proposal_item.id", index=True)
    field: str | None = Field(default=None, max_length=64)
    parent_id: int | None = Field(default=None, foreign_key="proposal_comment.id")
    author: str = Field(max_length=200)
    role: str = Field(max_length=16)
    body: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
