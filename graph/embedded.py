"""The default graph store: every query answered straight from the relational tables.

No server and no copy: the graph is the relational schema read through the projection specs
(``graph.projection.specs_for``). Edition chains use ``WITH RECURSIVE``; the neighbourhood walks
one BFS level per statement (a UNION over the relationship specs, ordered and limited in SQL), so a
hub node (a category with 20k indicators) costs one bounded query instead of a path explosion.
SQL runs unchanged on SQLite and PostgreSQL; on PostgreSQL keys sort with ``COLLATE "C"`` so the
order is by code point, as in Python and Neo4j.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    Table,
    and_,
    cast,
    exists,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.types import NullType, TypeDecorator

from graph.errors import GraphNodeNotFound, GraphUnavailable
from graph.model import HISTORY_LABELS, INTEGER_KEYED, NodeLabel, RelType, node_id, parse_node_id, utc
from graph.projection import (
    T_BASIS,
    T_BASIS_LINK,
    T_BASIS_REVISION,
    T_CATEGORY,
    T_DEPARTMENT,
    T_DUTY,
    T_GOAL,
    T_INDICATOR,
    T_INDICATOR_BASIS,
    T_INDICATOR_DUTY,
    T_INDICATOR_GOAL,
    T_RELATION,
    T_REVISION,
    T_REVISION_BASIS,
    T_SECTOR,
    T_TARGET,
    T_TARGET_INDICATOR,
    EdgeRow,
    EdgeSpec,
    GraphSpecs,
    checksum,
    chunks,
    count_edges,
    count_nodes,
    edge_rows,
    key_values,
    node_rows,
    read_all,
    revision_name,
    specs_for,
)
from graph.results import (
    REASON_WEIGHTS,
    BasisEdition,
    BasisRef,
    DepartmentProfile,
    EditionLink,
    GraphStats,
    Impact,
    IndicatorRef,
    ReasonKind,
    RelatedIndicator,
    Subgraph,
    TargetUse,
)
from graph.shaping import (
    ImpactRow,
    NodeRef,
    ProfileItem,
    RelatedRow,
    RevisionProps,
    apply_revisions,
    shape_impact,
    shape_profile,
    shape_related,
    shape_subgraph,
)
from graph.store import MAX_RELATED, check_neighbourhood_args, check_page_args

log = logging.getLogger("graph.embedded")

EDITION_RELATIONS = ("supersedes", "amends")


class EmbeddedGraphStore:
    """``GraphStore`` over the relational database (SQLite or PostgreSQL) of ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._specs: GraphSpecs = specs_for(engine.dialect.name)
        self._postgres = engine.dialect.name == "postgresql"

    # --- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except OperationalError as e:
            # The database itself is gone or locked up: the graph cannot answer either.
            raise GraphUnavailable(f"graph (relational) backend unavailable: {e.orig}") from e

    def _sortable(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A text key that sorts by code point on both dialects."""
        # No CAST on text columns, so SQLite can walk the unique index on indicator.code in order.
        as_text = column if _is_text(column) else cast(column, String)
        return as_text.collate("C") if self._postgres else as_text

    # --- GraphStore -------------------------------------------------------------------------------

    def neighbourhood(
        self, node_id: str, *, depth: int = 1, limit: int = 200, as_of: datetime | None = None
    ) -> Subgraph:
        """See ``GraphStore.neighbourhood``."""
        check_neighbourhood_args(depth, limit)
        root = parse_node_id(node_id)
        if root is None or root[0] in HISTORY_LABELS:
            raise GraphNodeNotFound(node_id)
        specs = self._walk_specs(as_of)
        with self._connect() as conn:
            if not self._exists(conn, root):
                raise GraphNodeNotFound(node_id)
            if as_of is not None and root[0] == NodeLabel.Indicator:
                if not self._revisions_as_of(conn, [root[1]], as_of):  # it did not exist yet
                    raise GraphNodeNotFound(node_id)
            distances: dict[NodeRef, int] = {root: 0}
            frontier: list[NodeRef] = [root]
            truncated = False
            for level in range(1, depth + 1):
                remaining = limit - len(distances)
                # Already-seen nodes may come first in (label, key) order: over-fetch by their
                # number so that ``remaining`` new ones (plus one, to detect truncation) arrive.
                candidates = self._neighbours(conn, frontier, specs, take=remaining + len(distances) + 1)
                fresh = [n for n in candidates if n not in distances]
                if len(fresh) > remaining:
                    truncated, fresh = True, fresh[:remaining]
                for n in fresh:
                    distances[n] = level
                frontier = fresh
                if truncated or not frontier:
                    break
            props: Mapping[NodeRef, Mapping[str, Any]] = self._props(conn, distances)
            edges = self._edges_between(conn, distances, specs)
            if as_of is not None:
                codes = [key for label, key in distances if label == NodeLabel.Indicator]
                props = apply_revisions(props, self._revisions_as_of(conn, codes, as_of))
        return shape_subgraph(
            root=root,
            depth=depth,
            limit=limit,
            distances=distances,
            props=props,
            edges=edges,
            truncated=truncated,
        )

    def impact(
        self, basis_id: int, *, limit: int = 50, offset: int = 0, as_of: datetime | None = None
    ) -> Impact:
        """See ``GraphStore.impact``."""
        check_page_args(limit, offset)
        with self._connect() as conn:
            chain = self._edition_chain(conn, basis_id, as_of)
            if not chain:
                raise GraphNodeNotFound(node_id(NodeLabel.LegalBasis, str(basis_id)))
            editions = [
                BasisEdition(id=r.id, doc_no=r.doc_no, title=r.title, kind=r.kind, status=r.status)
                for r in conn.execute(
                    select(
                        T_BASIS.c.id, T_BASIS.c.doc_no, T_BASIS.c.title, T_BASIS.c.kind, T_BASIS.c.status
                    ).where(T_BASIS.c.id.in_(chain))
                )
            ]
            link_where = [T_BASIS_LINK.c.basis_id.in_(chain), T_BASIS_LINK.c.relation.in_(EDITION_RELATIONS)]
            if as_of is not None:  # a link to an edition that did not exist yet is not in the chain
                link_where.append(T_BASIS_LINK.c.target_id.in_(chain))
            links = [
                EditionLink(from_id=r.basis_id, to_id=r.target_id, relation=r.relation)
                for r in conn.execute(select(T_BASIS_LINK).where(*link_where))
            ]
            if as_of is None:
                page, totals = self._impact_page(conn, chain, limit=limit, offset=offset)
                bases = self._page_bases(conn, [r.row_id for r in page], chain, revisions=False)
            else:
                page, totals = self._impact_page_as_of(conn, chain, as_of, limit=limit, offset=offset)
                bases = self._page_bases(conn, [r.row_id for r in page], chain, revisions=True)
            targets = self._page_targets(conn, [r.id for r in page])
        rows = [
            ImpactRow(
                code=r.code,
                name=r.name,
                status=r.status,
                department_code=r.dept_code,
                department_name=r.dept_name,
                bases=bases.get(r.row_id, []),
                targets=targets.get(r.id, []),
                target_count=len(targets.get(r.id, [])),
            )
            for r in page
        ]
        return shape_impact(
            basis_id=basis_id,
            editions=editions,
            links=links,
            totals=totals,
            rows=rows,
            limit=limit,
            offset=offset,
        )

    def department_profile(self, code: str) -> DepartmentProfile:
        """See ``GraphStore.department_profile``."""
        d, parent = T_DEPARTMENT, T_DEPARTMENT.alias("parent")
        with self._connect() as conn:
            dept = conn.execute(
                select(d.c.id, d.c.name, parent.c.code.label("parent_code"))
                .select_from(d.outerjoin(parent, d.c.parent_id == parent.c.id))
                .where(d.c.code == code)
            ).one_or_none()
            if dept is None:
                raise GraphNodeNotFound(node_id(NodeLabel.Department, code))
            items: list[ProfileItem] = []
            sources: tuple[tuple[Literal["duty", "goal"], Table, Table, ColumnElement[int]], ...] = (
                ("duty", T_DUTY, T_INDICATOR_DUTY, T_INDICATOR_DUTY.c.duty_id),
                ("goal", T_GOAL, T_INDICATOR_GOAL, T_INDICATOR_GOAL.c.goal_id),
            )
            for kind, table, link, link_col in sources:
                measured: dict[int, list[IndicatorRef]] = defaultdict(list)
                for r in conn.execute(
                    select(table.c.id, T_INDICATOR.c.code, T_INDICATOR.c.name, T_INDICATOR.c.status)
                    .select_from(
                        table.join(link, link_col == table.c.id).join(
                            T_INDICATOR, link.c.indicator_id == T_INDICATOR.c.id
                        )
                    )
                    .where(table.c.department_id == dept.id)
                ):
                    measured[r.id].append(IndicatorRef(code=r.code, name=r.name, status=r.status))
                for item in conn.execute(
                    select(table.c.id, table.c.name).where(table.c.department_id == dept.id)
                ):
                    items.append(
                        ProfileItem(
                            kind=kind, id=item.id, name=item.name, indicators=measured.get(item.id, [])
                        )
                    )
            owned = conn.execute(
                select(func.count()).select_from(T_INDICATOR).where(T_INDICATOR.c.department_id == dept.id)
            ).scalar_one()
        return shape_profile(
            code=code, name=dept.name, parent_code=dept.parent_code, items=items, owned=int(owned)
        )

    def related(self, code: str, *, limit: int = 20) -> list[RelatedIndicator]:
        """See ``GraphStore.related``."""
        check_page_args(limit, 0, maximum=MAX_RELATED)
        with self._connect() as conn:
            me = conn.execute(
                select(T_INDICATOR.c.id, T_INDICATOR.c.sector_id, T_INDICATOR.c.category_id).where(
                    T_INDICATOR.c.code == code
                )
            ).one_or_none()
            if me is None:
                raise GraphNodeNotFound(node_id(NodeLabel.Indicator, code))
            cand = self._related_candidates(me.id, me.sector_id, me.category_id).subquery("cand")
            i = T_INDICATOR
            top = conn.execute(
                select(cand.c.other, i.c.code, i.c.name, func.sum(cand.c.weight).label("score"))
                .select_from(cand.join(i, i.c.id == cand.c.other))
                .group_by(cand.c.other, i.c.code, i.c.name)
                .order_by(func.sum(cand.c.weight).desc(), self._sortable(i.c.code))
                .limit(limit)
            ).all()
            reasons: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
            if top:
                for r in conn.execute(
                    select(cand.c.other, cand.c.kind, cand.c.via, cand.c.name).where(
                        cand.c.other.in_([t.other for t in top])
                    )
                ):
                    reasons[r.other].append((r.kind, r.via, r.name))
        rows = [RelatedRow(code=t.code, name=t.name, reasons=reasons[t.other]) for t in top]
        return shape_related(rows, limit=limit)

    def stats(self) -> GraphStats:
        """See ``GraphStore.stats`` (reads the whole projection: seconds on 100k indicators)."""
        with self._connect() as conn:
            nodes, edges = read_all(conn)
        node_counts, edge_counts = count_nodes(nodes), count_edges(edges)
        return GraphStats(
            nodes=node_counts,
            edges=edge_counts,
            total_nodes=sum(node_counts.values()),
            total_edges=sum(edge_counts.values()),
            checksum=checksum(nodes, edges),
        )

    def health(self) -> None:
        """See ``GraphStore.health``."""
        try:
            with self._connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as e:
            raise GraphUnavailable(f"graph (relational) backend unavailable: {e.orig}") from e

    def close(self) -> None:
        """Nothing to release: the engine belongs to the caller."""

    # --- neighbourhood helpers --------------------------------------------------------------------

    def _exists(self, conn: Connection, node: NodeRef) -> bool:
        label, key = node
        if label == NodeLabel.FundCategory:
            spec = self._specs.edge(RelType.FUNDED_BY, NodeLabel.Indicator, NodeLabel.FundCategory)
            stmt = select(literal(1)).select_from(*spec.source).where(*spec.where, spec.end_key == key)
        else:
            node_spec = self._specs.nodes[label]
            values = key_values(label, [key])
            if not values:
                return False
            stmt = select(literal(1)).select_from(*node_spec.source).where(node_spec.key == values[0])
        return conn.execute(stmt.limit(1)).first() is not None

    def _walk_specs(self, as_of: datetime | None) -> list[EdgeSpec]:
        """The relationships a neighbourhood walks: today's, or as of ``as_of`` with BASED_ON taken
        from the revisions in force then (every other type as today)."""
        specs = self._specs.walkable()
        if as_of is None:
            return specs
        r, rb, i = T_REVISION, T_REVISION_BASIS, T_INDICATOR
        based_on = EdgeSpec(
            RelType.BASED_ON,
            NodeLabel.Indicator,
            NodeLabel.LegalBasis,
            i.c.code,
            rb.c.legal_basis_id,
            (rb.join(r, rb.c.revision_id == r.c.id).join(i, r.c.indicator_id == i.c.id),),
            props=(("clause", rb.c.clause),),
            where=in_force(as_of),
        )
        # Swapped in place, so the walk's order and limits stay those of today's graph.
        return [
            based_on if (s.type, s.start) == (RelType.BASED_ON, NodeLabel.Indicator) else s for s in specs
        ]

    def _revisions_as_of(
        self, conn: Connection, codes: Sequence[str], as_of: datetime
    ) -> dict[NodeRef, RevisionProps]:
        """The revision in force at ``as_of`` of each of the indicators ``codes`` that had one."""
        r, i = T_REVISION, T_INDICATOR
        out: dict[NodeRef, RevisionProps] = {}
        for chunk in chunks(sorted(codes)):
            for row in conn.execute(
                select(i.c.code, r.c.number, revision_name().label("name"), r.c.status)
                .select_from(r.join(i, r.c.indicator_id == i.c.id))
                .where(i.c.code.in_(chunk), *in_force(as_of))
            ):
                out[(NodeLabel.Indicator, row.code)] = RevisionProps(row.number, row.name, row.status)
        return out

    def _neighbours(
        self, conn: Connection, frontier: Sequence[NodeRef], specs: Sequence[EdgeSpec], *, take: int
    ) -> list[NodeRef]:
        """The first ``take`` distinct neighbours (either direction) of ``frontier`` by (label, key).

        One statement per relationship spec and direction, each returning only its own first
        ``take`` keys: the global first ``take`` are among them, and a hub (a fund type on half of
        all indicators) is cut short by an index-ordered scan instead of being read whole.
        """
        by_label: dict[NodeLabel, list[str]] = defaultdict(list)
        for label, key in frontier:
            by_label[label].append(key)
        found: set[NodeRef] = set()
        for spec in specs:
            for near, near_key, far, far_key in (
                (spec.start, spec.start_key, spec.end, spec.end_key),
                (spec.end, spec.end_key, spec.start, spec.start_key),
            ):
                keys = key_values(near, by_label.get(near, []))
                if not keys:
                    continue
                # Integer keys sort as text ("10" < "9") and only ever come in small fan-outs (an
                # indicator's bases, a department's duties): those are sorted below, in Python.
                ordered = far not in INTEGER_KEYED
                far_col = (self._sortable(far_key) if ordered else far_key).label("key")
                stmt = (
                    select(far_col)
                    .select_from(*spec.source)
                    .where(*spec.where, near_key.in_(keys))
                    .distinct()
                )
                if ordered:
                    # PostgreSQL wants the ORDER BY of a SELECT DISTINCT in its select list.
                    stmt = stmt.order_by(far_col).limit(take)
                found.update((far, str(value)) for (value,) in conn.execute(stmt))
        return sorted(found, key=lambda node: (node[0].value, node[1]))[:take]

    def _props(self, conn: Connection, nodes: dict[NodeRef, int]) -> dict[NodeRef, dict[str, Any]]:
        by_label: dict[NodeLabel, list[str]] = defaultdict(list)
        for label, key in nodes:
            by_label[label].append(key)
        props: dict[NodeRef, dict[str, Any]] = {}
        for label, keys in by_label.items():
            if label == NodeLabel.FundCategory:
                props.update({(label, k): {"name": k} for k in keys})
                continue
            for row in node_rows(conn, self._specs.nodes[label], keys=sorted(keys)):
                props[(label, row.key)] = row.props
        return props

    def _edges_between(
        self, conn: Connection, nodes: dict[NodeRef, int], specs: Sequence[EdgeSpec]
    ) -> list[EdgeRow]:
        by_label: dict[NodeLabel, list[str]] = defaultdict(list)
        for label, key in nodes:
            by_label[label].append(key)
        edges: list[EdgeRow] = []
        for spec in specs:
            if spec.start in by_label and spec.end in by_label:
                edges.extend(
                    edge_rows(
                        conn,
                        spec,
                        start_keys=sorted(by_label[spec.start]),
                        end_keys=sorted(by_label[spec.end]),
                    )
                )
        return edges

    # --- impact helpers ---------------------------------------------------------------------------

    def _edition_chain(self, conn: Connection, basis_id: int, as_of: datetime | None = None) -> list[int]:
        """Ids of every edition linked to ``basis_id`` through SUPERSEDES/AMENDS, either way; as of
        ``as_of`` only through bases and links that existed then."""
        link = T_BASIS_LINK
        valid: list[ColumnElement[bool]] = [link.c.relation.in_(EDITION_RELATIONS)]
        anchor: list[ColumnElement[bool]] = [T_BASIS.c.id == basis_id]
        if as_of is not None:
            # A link holds from its newer (start) basis's first revision; both ends must exist.
            valid += [basis_exists(link.c.basis_id, as_of), basis_exists(link.c.target_id, as_of)]
            anchor.append(basis_exists(T_BASIS.c.id, as_of))
        both_ways = union_all(
            select(link.c.basis_id.label("a"), link.c.target_id.label("b")).where(*valid),
            select(link.c.target_id.label("a"), link.c.basis_id.label("b")).where(*valid),
        ).cte("edition_link")
        # The anchor reads the basis itself, so an unknown id gives an empty chain (→ 404);
        # UNION (not UNION ALL) stops the recursion on cycles.
        chain = select(cast(T_BASIS.c.id, Integer).label("id")).where(*anchor).cte("chain", recursive=True)
        chain = chain.union(
            select(both_ways.c.b).select_from(both_ways.join(chain, both_ways.c.a == chain.c.id))
        )
        return sorted(int(r[0]) for r in conn.execute(select(chain.c.id)))

    def _impact_page(
        self, conn: Connection, chain: list[int], *, limit: int, offset: int
    ) -> tuple[Sequence[Any], tuple[int, int, int]]:
        """Today's page of indicators on ``chain`` (``row_id`` = indicator id) and the totals."""
        i, d = T_INDICATOR, T_DEPARTMENT
        affected = (
            select(T_INDICATOR_BASIS.c.indicator_id.label("id"))
            .where(T_INDICATOR_BASIS.c.legal_basis_id.in_(chain))
            .distinct()
        )
        page = conn.execute(
            select(
                i.c.id,
                i.c.id.label("row_id"),
                i.c.code,
                i.c.name,
                i.c.status,
                d.c.code.label("dept_code"),
                d.c.name.label("dept_name"),
            )
            .select_from(i.outerjoin(d, i.c.department_id == d.c.id))
            .where(i.c.id.in_(affected.scalar_subquery()))
            .order_by(self._sortable(i.c.code))
            .limit(limit)
            .offset(offset)
        ).all()
        return page, self._impact_totals(conn, affected)

    def _impact_page_as_of(
        self, conn: Connection, chain: list[int], as_of: datetime, *, limit: int, offset: int
    ) -> tuple[Sequence[Any], tuple[int, int, int]]:
        """The page as of ``as_of`` (``row_id`` = the revision in force) and the totals.

        The revisions in force are found once (each is read from its table row, the costly part)
        and feed both the page keys and the totals in a single statement.
        """
        rb, r, i, d, ti = T_REVISION_BASIS, T_REVISION, T_INDICATOR, T_DEPARTMENT, T_TARGET_INDICATOR
        affected = (
            select(r.c.indicator_id.label("id"), r.c.id.label("revision_id"), i.c.code, i.c.department_id)
            .select_from(rb.join(r, r.c.id == rb.c.revision_id).join(i, i.c.id == r.c.indicator_id))
            .where(rb.c.legal_basis_id.in_(chain), *in_force(as_of))
            .distinct()
            .cte("affected")
            .prefix_with("MATERIALIZED")
        )
        totals = (
            select(func.count()).select_from(affected).scalar_subquery().label("n_indicators"),
            select(func.count(ti.c.target_id.distinct()))
            .where(ti.c.indicator_id.in_(select(affected.c.id)))
            .scalar_subquery()
            .label("n_targets"),
            select(func.count(affected.c.department_id.distinct())).scalar_subquery().label("n_departments"),
        )
        keys = conn.execute(
            select(affected.c.revision_id, *totals)
            .order_by(self._sortable(affected.c.code))
            .limit(limit)
            .offset(offset)
        ).all()
        # Name and owner only for the page: the snapshot JSON is not parsed for 10k rows to sort them.
        if not keys:  # past the last page: the totals still count
            row = conn.execute(select(*totals)).one()
            return [], (int(row[0]), int(row[1]), int(row[2]))
        page = conn.execute(
            select(
                i.c.id,
                r.c.id.label("row_id"),
                i.c.code,
                revision_name().label("name"),
                r.c.status,
                d.c.code.label("dept_code"),
                d.c.name.label("dept_name"),
            )
            .select_from(r.join(i, i.c.id == r.c.indicator_id).outerjoin(d, i.c.department_id == d.c.id))
            .where(r.c.id.in_([k.revision_id for k in keys]))
        ).all()
        first = keys[0]
        return page, (int(first.n_indicators), int(first.n_targets), int(first.n_departments))

    def _impact_totals(self, conn: Connection, affected_ids: Select[Any]) -> tuple[int, int, int]:
        """(indicators, targets, departments) over the indicators of ``affected_ids`` (distinct
        ids in a column ``id``)."""
        ti, i = T_TARGET_INDICATOR, T_INDICATOR
        # Materialised once, read three times (SQLite >= 3.35 and PostgreSQL >= 12 accept the hint).
        affected = affected_ids.cte("affected").prefix_with("MATERIALIZED")
        row = conn.execute(
            select(
                select(func.count()).select_from(affected).scalar_subquery(),
                select(func.count(ti.c.target_id.distinct()))
                .where(ti.c.indicator_id.in_(select(affected.c.id)))
                .scalar_subquery(),
                select(func.count(i.c.department_id.distinct()))
                .where(i.c.id.in_(select(affected.c.id)))
                .scalar_subquery(),
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def _page_bases(
        self, conn: Connection, ids: list[int], chain: list[int], *, revisions: bool
    ) -> dict[int, list[BasisRef]]:
        """Links to ``chain`` of the given indicators (or, with ``revisions``, indicator revisions)."""
        out: dict[int, list[BasisRef]] = defaultdict(list)
        if not ids:
            return out
        link = T_REVISION_BASIS if revisions else T_INDICATOR_BASIS
        owner = link.c.revision_id if revisions else link.c.indicator_id
        for r in conn.execute(
            select(owner.label("owner"), link.c.legal_basis_id, link.c.clause, T_BASIS.c.doc_no)
            .select_from(link.join(T_BASIS, T_BASIS.c.id == link.c.legal_basis_id))
            .where(owner.in_(ids), link.c.legal_basis_id.in_(chain))
        ):
            out[r.owner].append(BasisRef(basis_id=r.legal_basis_id, doc_no=r.doc_no, clause=r.clause))
        return out

    def _page_targets(self, conn: Connection, ids: list[int]) -> dict[int, list[TargetUse]]:
        """Targets per indicator; like USES, a target listing an indicator twice counts once."""
        out: dict[int, list[TargetUse]] = defaultdict(list)
        if not ids:
            return out
        ti, t, d = T_TARGET_INDICATOR, T_TARGET, T_DEPARTMENT
        seen: set[tuple[int, int]] = set()
        for r in conn.execute(
            select(
                ti.c.indicator_id,
                ti.c.target_id,
                ti.c.value,
                ti.c.unit,
                t.c.external_id,
                t.c.fiscal_year,
                t.c.project,
                d.c.code,
            )
            .select_from(ti.join(t, t.c.id == ti.c.target_id).outerjoin(d, d.c.id == t.c.department_id))
            .where(ti.c.indicator_id.in_(ids))
            .order_by(ti.c.id)
        ):
            if (r.indicator_id, r.target_id) in seen:
                continue
            seen.add((r.indicator_id, r.target_id))
            out[r.indicator_id].append(
                TargetUse(
                    external_id=r.external_id,
                    fiscal_year=r.fiscal_year,
                    project=r.project,
                    department_code=r.code,
                    value=r.value,
                    unit=r.unit,
                )
            )
        return out

    # --- related helpers --------------------------------------------------------------------------

    def _related_candidates(
        self, me: int, sector_id: int | None, category_id: int | None
    ) -> CompoundSelect[Any]:
        """(other, kind, weight, via, name) per reason another indicator is related to ``me``."""

        def reason(kind: ReasonKind) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
            return literal(kind.value, String).label("kind"), literal(REASON_WEIGHTS[kind], Integer).label(
                "weight"
            )

        ib1, ib2 = T_INDICATOR_BASIS.alias("ib1"), T_INDICATOR_BASIS.alias("ib2")
        id1, id2 = T_INDICATOR_DUTY.alias("id1"), T_INDICATOR_DUTY.alias("id2")
        ig1, ig2 = T_INDICATOR_GOAL.alias("ig1"), T_INDICATOR_GOAL.alias("ig2")
        rel, i = T_RELATION, T_INDICATOR
        parts: list[Select[Any]] = [
            select(ib2.c.indicator_id.label("other"), *reason(ReasonKind.shared_legal_basis),
                   cast(T_BASIS.c.id, String).label("via"), T_BASIS.c.doc_no.label("name"))
            .select_from(ib1.join(ib2, ib1.c.legal_basis_id == ib2.c.legal_basis_id).join(T_BASIS, T_BASIS.c.id == ib1.c.legal_basis_id))
            .where(ib1.c.indicator_id == me, ib2.c.indicator_id != me),
            select(id2.c.indicator_id, *reason(ReasonKind.shared_duty), cast(T_DUTY.c.id, String), T_DUTY.c.name)
            .select_from(id1.join(id2, id1.c.duty_id == id2.c.duty_id).join(T_DUTY, T_DUTY.c.id == id1.c.duty_id))
            .where(id1.c.indicator_id == me, id2.c.indicator_id != me),
            select(ig2.c.indicator_id, *reason(ReasonKind.shared_goal), cast(T_GOAL.c.id, String), T_GOAL.c.name)
            .select_from(ig1.join(ig2, ig1.c.goal_id == ig2.c.goal_id).join(T_GOAL, T_GOAL.c.id == ig1.c.goal_id))
            .where(ig1.c.indicator_id == me, ig2.c.indicator_id != me),
            # An explicit relation counts in either direction, once per relationship.
            select(rel.c.to_id, *reason(ReasonKind.related_to), literal(None, String), rel.c.kind)
            .where(rel.c.from_id == me, rel.c.to_id != me),
            select(rel.c.from_id, *reason(ReasonKind.related_to), literal(None, String), rel.c.kind)
            .where(rel.c.to_id == me, rel.c.from_id != me),
        ]  # fmt: skip
        if sector_id is not None:
            parts.append(
                select(i.c.id, *reason(ReasonKind.same_sector), T_SECTOR.c.code, T_SECTOR.c.name)
                .select_from(i.join(T_SECTOR, T_SECTOR.c.id == i.c.sector_id))
                .where(and_(i.c.sector_id == sector_id, i.c.id != me))
            )
        if category_id is not None:
            parts.append(
                select(
                    i.c.id,
                    *reason(ReasonKind.same_category),
                    cast(T_CATEGORY.c.id, String),
                    T_CATEGORY.c.name,
                )
                .select_from(i.join(T_CATEGORY, T_CATEGORY.c.id == i.c.category_id))
                .where(and_(i.c.category_id == category_id, i.c.id != me))
            )
        return union_all(*parts)


def in_force(as_of: datetime) -> tuple[ColumnElement[bool], ...]:
    """``indicator_revision`` rows in force at ``as_of``: valid from before it, and the next
    revision (which ends this one) not yet valid — the ``valid_to`` of the graph, in SQL."""
    r, later = T_REVISION, T_REVISION.alias("later_revision")
    as_of = utc(as_of)  # SQLite compares the stored UTC text, so the bound value must be UTC too
    return (
        r.c.valid_from < as_of,
        ~exists().where(
            later.c.indicator_id == r.c.indicator_id,
            later.c.number == r.c.number + 1,
            later.c.valid_from < as_of,
        ),
    )


def basis_exists(basis_id: ColumnElement[Any], as_of: datetime) -> ColumnElement[bool]:
    """The basis existed at ``as_of``: its first revision was valid before (none: always there)."""
    first, as_of = T_BASIS_REVISION.alias("first_revision"), utc(as_of)
    return ~exists().where(
        first.c.legal_basis_id == basis_id, first.c.number == 1, first.c.valid_from >= as_of
    )


def _is_text(column: ColumnElement[Any]) -> bool:
    kind = column.type
    if isinstance(kind, TypeDecorator):  # sqlmodel's AutoString wraps String
        kind = kind.impl_instance
    # NullType: the untyped value column of json_each, which holds text.
    return isinstance(kind, String | NullType)
