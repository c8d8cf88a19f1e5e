"""Graph queries over HTTP: neighbourhood, impact of a legal basis, department profile, related."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from graph.results import DepartmentProfile, Impact, RelatedIndicator, Subgraph
from service.auth.access import READ
from service.deps import EntityId, OffsetParam, PastDep, SessionDep
from service.errors import problem_responses
from service.knowledge.runtime import GraphRuntime
from service.knowledge.service import as_of_instant, department_code, graph_node, indicator_code

router = APIRouter(prefix="/v1", tags=["graph"])


def get_graph(request: Request) -> GraphRuntime:
    runtime: GraphRuntime = request.app.state.catalog.graph
    return runtime


GraphDep = Annotated[GraphRuntime, Depends(get_graph)]

@router.get(
    "/graph/neighbourhood",
    operation_id="graphNeighbourhood",
    dependencies=[Depends(READ)],
    response_model=Subgraph,
    responses=problem_responses(404, 422, 503),
)
def neighbourhood(
    graph: GraphDep,
    response: Response,
    node: Annotated[str, Query(description="<Label>:<key>, e.g. Indicator:WSJK-00012", max_length=200)],
    session: SessionDep,
    depth: Annotated[int, Query(ge=1, le=3)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    *,
    past: PastDep,
) -> Subgraph:
    """Nodes and edges around one node, capped, for drawing.

    With ``as_of`` or ``release``, BASED_ON links and indicator names/status are those of the
    revisions in force then; other relationships are today's.
    """
    at = as_of_instant(session, past)
    root = graph_node(session, node)
    result, backend = graph.read(lambda g: g.neighbourhood(root, depth=depth, limit=limit, as_of=at))
    response.headers["X-Graph-Backend"] = backend
    return result


@router.get(
    "/legal-bases/{basis_id}/impact",
    operation_id="legalBasisImpact",
    dependencies=[Depends(READ)],
    response_model=Impact,
    responses=problem_responses(404, 422, 503),
)
def impact(
    basis_id: EntityId,
    graph: GraphDep,
    response: Response,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetParam = 0,
    *,
    past: PastDep,
) -> Impact:
    """Indicators resting on this basis or any edition of its chain, by department, with their targets.

    With ``as_of`` or ``release``: the chain as it existed then and the indicators whose revision
    in force then rested on it, with that revision's name, status and clauses.
    """
    at = as_of_instant(session, past)
    result, backend = graph.read(lambda g: g.impact(basis_id, limit=limit, offset=offset, as_of=at))
    response.headers["X-Graph-Backend"] = backend
    return result


@router.get(
    "/departments/{code}/profile",
    operation_id="departmentProfile",
    dependencies=[Depends(READ)],
    response_model=DepartmentProfile,
    responses=problem_responses(404, 503),
)
def department_profile(
    code: str, graph: GraphDep, response: Response, session: SessionDep
) -> DepartmentProfile:
    """Duties and strategic goals with their indicators, and the gaps (nothing measures them)."""
    stored = department_code(session, code)
    result, backend = graph.read(lambda g: g.department_profile(stored))
    response.headers["X-Graph-Backend"] = backend
    return result


@router.get(
    "/indicators/{code}/related",
    operation_id="relatedIndicators",
    dependencies=[Depends(READ)],
    response_model=list[RelatedIndicator],
    responses=problem_responses(404, 503),
)
def related(
    code: str,
    graph: GraphDep,
    response: Response,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[RelatedIndicator]:
    """Indicators ranked by shared legal basis, duty/goal, explicit relation, sector and category."""
    stored = indicator_code(session, code)
    result, backend = graph.read(lambda g: g.related(stored, limit=limit))
    response.headers["X-Graph-Backend"] = backend
    return result
