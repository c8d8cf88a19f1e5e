"""Errors raised by the graph stores and the projector.

They are service domain errors, so the service's one problem+json handler renders them with
their status (404 for an unknown node, 503 when the graph backend cannot answer).
"""

from __future__ import annotations

from service.errors import DomainError


class GraphError(DomainError):
    """Any failure of a graph query or projection that is not the caller's fault."""

    status, slug, title = 500, "graph-error", "Graph error"


class GraphNodeNotFound(GraphError):
    """The node named by the request does not exist in the graph."""

    status, slug, title = 404, "not-found", "Not found"

    def __init__(self, node_id: str) -> None:
        super().__init__(f"Graph node {node_id} does not exist", extra={"node_id": node_id})
        self.node_id = node_id


class GraphUnavailable(GraphError):
    """The graph backend cannot answer now (server down, restarting, connection lost)."""

    status, slug, title = 503, "graph-unavailable", "Graph unavailable"


class InvalidGraphQuery(GraphError, ValueError):
    """A query argument is out of range (depth outside 1..3, negative limit …)."""

    status, slug, title = 422, "validation-failed", "Validation failed"
