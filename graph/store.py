"""The graph-store interface shared by the embedded (SQL) and the Neo4j implementation.

Both pass the same contract tests (``tests/graph/test_contract.py``) and return equal results for
equal data; the routes depend only on this protocol.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol, runtime_checkable

from graph.errors import InvalidGraphQuery
from graph.results import DepartmentProfile, GraphStats, Impact, RelatedIndicator, Subgraph

MAX_DEPTH: Final = 3
MAX_NEIGHBOURHOOD_NODES: Final = 1000
MAX_IMPACT_PAGE: Final = 500
MAX_RELATED: Final = 200
TARGETS_PER_INDICATOR: Final = 20
"""``Impact`` lists at most this many targets per indicator (``target_count`` has them all)."""


@runtime_checkable
class GraphStore(Protocol):
    """Read queries over the knowledge graph."""

    def neighbourhood(
        self, node_id: str, *, depth: int = 1, limit: int = 200, as_of: datetime | None = None
    ) -> Subgraph:
        """Nodes within ``depth`` (1..3) hops of ``node_id`` ("Indicator:WSJK-00012"), at most
        ``limit`` nodes (root included) in (distance, label, key) order. Revision nodes (the
        history layer) are never part of it.

        With ``as_of`` (an instant: the state just before it) BASED_ON comes from each indicator's
        revision in force then, and Indicator nodes show that revision's ``name``, ``status`` and
        number (``revision``); indicators created later keep today's properties, and every other
        relationship type and label is as today. An Indicator root that did not exist yet is
        not found. Raises ``GraphNodeNotFound`` for an unknown node, ``InvalidGraphQuery`` for
        bad bounds.
        """
        ...

    def impact(
        self, basis_id: int, *, limit: int = 50, offset: int = 0, as_of: datetime | None = None
    ) -> Impact:
        """Indicators resting on any edition of the basis's chain (SUPERSEDES/AMENDS, both ways),
        one page by code grouped by department, with the targets using them and totals.

        With ``as_of``: the chain of bases and links that existed then (valid_from before it;
        rows without revisions always count), and the indicators whose revision in force then
        rested on it, with that revision's name, status and clauses. Editions show today's
        record, owners and targets are today's. A basis that did not exist yet is not found.
        """
        ...

    def department_profile(self, code: str) -> DepartmentProfile:
        """A department's duties and strategic goals, the indicators measuring them, and gaps."""
        ...

    def related(self, code: str, *, limit: int = 20) -> list[RelatedIndicator]:
        """Other indicators ranked by shared bases/duties/goals (3), RELATED_TO (4), same sector
        (1) and same category (1), ties by code."""
        ...

    def stats(self) -> GraphStats:
        """Node and relationship counts and the graph checksum."""
        ...

    def health(self) -> None:
        """Return when the backend answers; raise ``GraphUnavailable`` otherwise."""
        ...

    def close(self) -> None:
        """Release what the store holds (the Neo4j driver, when the store created it)."""
        ...


def check_neighbourhood_args(depth: int, limit: int) -> None:
    """Reject depths outside 1..3 and limits outside 1..MAX_NEIGHBOURHOOD_NODES."""
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidGraphQuery(f"depth must be between 1 and {MAX_DEPTH}, not {depth}")
    if not 1 <= limit <= MAX_NEIGHBOURHOOD_NODES:
        raise InvalidGraphQuery(f"limit must be between 1 and {MAX_NEIGHBOURHOOD_NODES}, not {limit}")


def check_page_args(limit: int, offset: int, *, maximum: int = MAX_IMPACT_PAGE) -> None:
    """Reject page sizes outside 1..maximum and negative offsets."""
    if not 1 <= limit <= maximum:
        raise InvalidGraphQuery(f"limit must be between 1 and {maximum}, not {limit}")
    if offset < 0:
        raise InvalidGraphQuery(f"offset must not be negative, not {offset}")
